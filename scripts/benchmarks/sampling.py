"""`sampling`: one clip sampled uniformly from a long video (the real clip looped to minutes, a keyframe every few
seconds): seeking against one sequential decoding pass (the previous method), and whether both give the same frames."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .common import DEFAULT_VIDEO, best_of, in_fresh_process


def _sampling_worker(video: str, seconds: float, gop_seconds: float, clip_frames: int, repeats: int) -> dict:
    """One `clip_frames` clip sampled uniformly from a long video (the real video looped to `seconds`, H.264 with a
    keyframe every `gop_seconds`): seeking vs one sequential decoding pass (the previous method)."""
    import numpy as np

    from processing import video_io

    source = video_io.read_video(video, sampling="all")
    fps = source.fps or 25.0
    total = int(round(seconds * fps))
    with tempfile.TemporaryDirectory(prefix="delocate-bench-long-") as folder:
        path = Path(folder) / "long.mp4"
        h, w = source.size
        with video_io.VideoWriter(path, fps=round(fps), crf=23, codec="libx264",
                                  options={"g": str(max(1, round(gop_seconds * fps)))}) as writer:
            for index in range(total):
                writer.write(source.frames[index % len(source)][: h - h % 2, : w - w % 2])

        def sequential():
            packets = video_io.packet_index(path)
            wanted = video_io.sample_frame_indices(packets.count, clip_frames, "uniform").tolist()
            decoded = list(video_io.iter_wanted_frames(path, wanted))  # no packet index: one sequential pass
            return [f.to_ndarray(format="rgb24") for _, f, _ in decoded], [i for i, _, _ in decoded]

        seek_s, clip = best_of(lambda: video_io.read_video(path, num_frames=clip_frames), repeats)
        seq_s, (frames, indices) = best_of(sequential, repeats)
        same = indices == clip.frame_indices.tolist() and all(
            np.array_equal(a, b) for a, b in zip(frames, clip.frames))
        stats = {}
        list(video_io.iter_wanted_frames(path, clip.frame_indices, video_io.packet_index(path), stats))
    return {"frames": total, "fps": fps, "frame_size": [h, w], "gop_seconds": gop_seconds, "clip_frames": clip_frames,
            "seeking_s": seek_s, "sequential_s": seq_s, "speedup": seq_s / seek_s, "same_frames": bool(same),
            "decoded_frames_seeking": stats.get("decoded"), "seeks": stats.get("seeks")}


def run_sampling(args) -> dict:
    video = str(Path(args.video).expanduser())
    row = in_fresh_process(_sampling_worker, video, args.seconds, args.gop_seconds, args.clip_frames, args.repeats)
    print(f"one {row['clip_frames']}-frame clip from a {row['frames']}-frame ({args.seconds:.0f} s) video, keyframe every "
          f"{args.gop_seconds:g} s: seeking {row['seeking_s']:.2f} s ({row['decoded_frames_seeking']} frames decoded), "
          f"sequential {row['sequential_s']:.2f} s -> {row['speedup']:.1f}x; same frames: {row['same_frames']}")
    return {"benchmark": "sampling", "video": video, **row}


def add_sampling_parser(subparsers) -> None:
    p = subparsers.add_parser("sampling", help="sampling one clip from a long video: seeking vs sequential decoding")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="real video to loop (default: the shipped single_face.mp4)")
    p.add_argument("--seconds", type=float, default=120.0, help="length of the looped video")
    p.add_argument("--gop-seconds", type=float, default=2.0, help="keyframe interval of the looped video")
    p.add_argument("--clip-frames", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2)
    p.set_defaults(func=run_sampling, name="sampling")
