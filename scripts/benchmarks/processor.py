"""`processor`: decoding, landmarks and aligned crops of both landmark backends (speed and peak memory, each backend
in a fresh process), MediaPipe against dlib68 (target >= 3x)."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import sys
from pathlib import Path

from .common import DEFAULT_VIDEO, best_of, peak_rss_mb
from .table import markdown_table


def _processor_worker(backend_name: str, video: str, frames: int, repeats: int, clip_frames: int) -> dict:
    """Runs in a fresh process so that peak RSS is per backend."""
    from processing.alignment import align_faces
    from processing.face_parts import part_boxes
    from processing.image_processing_delocate import DelocateFaceProcessor
    from processing.landmarks import get_landmarker, track_faces
    from processing.video_io import read_video

    rss_start = peak_rss_mb()
    decode_s, clip = best_of(lambda: read_video(video, sampling="all", max_frames=frames or None), repeats)
    n = len(clip)
    uniform_s, _ = best_of(lambda: read_video(video, num_frames=clip_frames), repeats)

    backend = get_landmarker(backend_name)
    backend.detect(clip.frames[0])  # load models / build the graph outside the timed loop

    def pipeline():
        track = track_faces(clip.frames, backend, max_gap=None)
        aligned = align_faces(clip.frames, track.landmarks, size=224, backend_name=backend.name)
        part_boxes(aligned.landmarks, backend.name, 224)
        return track

    pipe_s, track = best_of(pipeline, repeats)
    landmark_s, _ = best_of(lambda: [backend.detect(f) for f in clip.frames], repeats)

    processor = DelocateFaceProcessor(num_frames=clip_frames, landmark_backend=backend_name)
    processor(video, return_tensors="np")  # warm-up
    proc_s, _ = best_of(lambda: processor(video, return_tensors="np"), repeats)
    return {
        "backend": backend_name,
        "video": str(video),
        "frame_size": list(clip.size),
        "frames": n,
        "decode_fps": n / decode_s,
        "decode_uniform_clip_s": uniform_s,
        "landmarks_fps": n / landmark_s,
        "landmarks_crop_fps": n / pipe_s,
        "face_found_ratio": float(track.detected.mean()),
        "processor_clip_frames": clip_frames,
        "processor_clip_s": proc_s,
        "processor_clips_per_s": 1.0 / proc_s,
        "peak_rss_mb": peak_rss_mb(),
        "rss_at_start_mb": rss_start,
    }


def run_processor(args) -> dict:
    video = str(Path(args.video).expanduser())
    ctx = mp.get_context("spawn")
    rows = []
    for name in args.backends:
        with ctx.Pool(1) as pool:
            try:
                rows.append(pool.apply(_processor_worker, (name, video, args.frames, args.repeats, args.clip_frames)))
            except ImportError as exc:  # e.g. dlib not installed
                print(f"skipping {name}: {exc}", file=sys.stderr)
    by_name = {r["backend"]: r for r in rows}
    if "mediapipe" in by_name and "dlib68" in by_name:
        speedup = by_name["mediapipe"]["landmarks_crop_fps"] / by_name["dlib68"]["landmarks_crop_fps"]
    else:
        speedup = None
    result = {
        "benchmark": "processor",
        "video": video,
        "frames": args.frames,
        "repeats": args.repeats,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "results": rows,
        "mediapipe_vs_dlib68_speedup": speedup,
        "target_speedup": 3.0,
    }
    print(markdown_table(
        ["backend", "frames (HxW)", "decode fps", "landmarks fps", "landmarks+crop fps",
         f"processor s/clip ({args.clip_frames} fr)", "peak RSS MiB", "face found"],
        [(r["backend"], f"{r['frames']} ({r['frame_size'][0]}x{r['frame_size'][1]})", f"{r['decode_fps']:.0f}",
          f"{r['landmarks_fps']:.1f}", f"{r['landmarks_crop_fps']:.1f}", f"{r['processor_clip_s']:.2f}",
          f"{r['peak_rss_mb']:.0f}", f"{r['face_found_ratio']:.0%}") for r in rows]))
    if speedup is not None:
        verdict = "meets" if speedup >= 3.0 else "MISSES"
        print(f"\nmediapipe / dlib68 landmarks+crop speed: {speedup:.1f}x ({verdict} the >= 3x target)")
    return result


def add_processor_parser(subparsers) -> None:
    p = subparsers.add_parser("processor", help="decode / landmarks+crop speed and peak memory of both backends")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="video file (default: the shipped single_face.mp4)")
    p.add_argument("--frames", type=int, default=64, help="frames to decode and process (0 = all)")
    p.add_argument("--clip-frames", type=int, default=16, help="frames per clip for the end-to-end processor timing")
    p.add_argument("--repeats", type=int, default=2, help="timed repeats (best is reported)")
    p.add_argument("--backends", nargs="+", default=["mediapipe", "dlib68"], choices=["mediapipe", "dlib68"])
    p.set_defaults(func=run_processor, name="processor")
