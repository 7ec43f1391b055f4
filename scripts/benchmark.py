#!/usr/bin/env python
"""Benchmarks for delocate-hf. One subcommand per component; results go to `outputs/benchmark/<name>.json`.

    python scripts/benchmark.py processor [--video PATH] [--frames N] [--backends mediapipe dlib68]

To add a benchmark: write `add_<name>_parser(subparsers)` that registers a subcommand whose `func` takes the parsed
args and returns a dict, and append it to `SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_VIDEO = REPO.parent / "shared" / "media" / "single_face.mp4"
OUTPUT_DIR = REPO / "outputs" / "benchmark"


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _best_of(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


# ----------------------------------------------------------------------------------------------- processor
def _processor_worker(backend_name: str, video: str, frames: int, repeats: int, clip_frames: int) -> dict:
    """Runs in a fresh process so that peak RSS is per backend."""
    from processing.alignment import align_faces
    from processing.face_parts import part_boxes
    from processing.image_processing_delocate import DelocateFaceProcessor
    from processing.landmarks import get_landmarker, track_faces
    from processing.video_io import read_video

    rss_start = _peak_rss_mb()
    decode_s, clip = _best_of(lambda: read_video(video, sampling="all", max_frames=frames or None), repeats)
    n = len(clip)
    uniform_s, _ = _best_of(lambda: read_video(video, num_frames=clip_frames), repeats)

    backend = get_landmarker(backend_name)
    backend.detect(clip.frames[0])  # load models / build the graph outside the timed loop

    def pipeline():
        track = track_faces(clip.frames, backend, max_gap=None)
        aligned = align_faces(clip.frames, track.landmarks, size=224, backend_name=backend.name)
        part_boxes(aligned.landmarks, backend.name, 224)
        return track

    pipe_s, track = _best_of(pipeline, repeats)
    landmark_s, _ = _best_of(lambda: [backend.detect(f) for f in clip.frames], repeats)

    processor = DelocateFaceProcessor(num_frames=clip_frames, landmark_backend=backend_name)
    processor(video, return_tensors="np")  # warm-up
    proc_s, _ = _best_of(lambda: processor(video, return_tensors="np"), repeats)
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
        "peak_rss_mb": _peak_rss_mb(),
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
    header = (
        "| backend | frames (HxW) | decode fps | landmarks fps | landmarks+crop fps | processor s/clip "
        f"({args.clip_frames} fr) | peak RSS MiB | face found |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        print(
            f"| {r['backend']} | {r['frames']} ({r['frame_size'][0]}x{r['frame_size'][1]}) | {r['decode_fps']:.0f} "
            f"| {r['landmarks_fps']:.1f} | {r['landmarks_crop_fps']:.1f} | {r['processor_clip_s']:.2f} "
            f"| {r['peak_rss_mb']:.0f} | {r['face_found_ratio']:.0%} |"
        )
    if speedup is not None:
        verdict = "meets" if speedup >= 3.0 else "MISSES"
        print(f"\nmediapipe / dlib68 landmarks+crop speed: {speedup:.1f}x ({verdict} the >= 3x target)")
    return result


def add_processor_parser(subparsers) -> None:
    p = subparsers.add_parser("processor", help="decode / landmarks+crop speed and peak memory of both backends")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="video file (default: shared single_face.mp4)")
    p.add_argument("--frames", type=int, default=64, help="frames to decode and process (0 = all)")
    p.add_argument("--clip-frames", type=int, default=16, help="frames per clip for the end-to-end processor timing")
    p.add_argument("--repeats", type=int, default=2, help="timed repeats (best is reported)")
    p.add_argument("--backends", nargs="+", default=["mediapipe", "dlib68"], choices=["mediapipe", "dlib68"])
    p.set_defaults(func=run_processor, name="processor")


SUBCOMMANDS = [add_processor_parser]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR), help="where <benchmark>.json is written")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    args = parser.parse_args(argv)
    result = args.func(args)
    out = Path(args.output_dir) / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
