"""`memory`: peak memory and wall time of `delocate detect` against the video's frame size (issue 30).

The shipped real clip (`single_face.mp4`, 640x360, 72 frames at 30 fps) looped to `--video-frames` frames (288: 9.6 s)
and upscaled to each `--sizes` entry (640x360, 1920x1080, 3840x2160), H.264; then, in a fresh process each,
`delocate detect VIDEO --frames 128 --json --quiet` with the shipped model, once without and once with `--overlay`
(at its default display size): the child's own peak RSS (`wait4`) and its wall time. The model sees the same face
crops at every size; only the pixels around them differ, so memory should follow the analysis, not the pixels.

Targets: peak RSS at the largest size within 1.5x of the smallest without the overlay and within 2x with it (each
against the same run at the smallest size); the largest size's wall time with the overlay within 3x of without.
Wall times on a shared machine are noisy (the load average is recorded); peak RSS is the main figure.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .common import DEFAULT_VIDEO, delocate_command, git_commit, in_fresh_process, loadavg, run_child
from .table import markdown_table, metric_table

DEFAULT_SIZES = ("640x360", "1920x1080", "3840x2160")
RSS_TARGET, RSS_OVERLAY_TARGET, WALL_OVERLAY_TARGET = 1.5, 2.0, 3.0


def parse_size(text: str) -> tuple[int, int]:
    """"1920x1080" -> (1920, 1080) (width, height)."""
    width, height = (int(v) for v in str(text).lower().split("x"))
    return width, height


def make_video(source: str, out: str, width: int, height: int, frames: int) -> dict:
    """`source` looped to `frames` frames and resized to `width` x `height`, encoded one frame at a time (H.264,
    fast preset); runs in a fresh process."""
    import cv2

    from processing.video_io import VideoWriter, iter_video_frames, probe_video

    info = probe_video(source)
    loop = [f for _, f in iter_video_frames(source)]
    with VideoWriter(out, fps=info.fps or 30.0, crf=20, options={"preset": "ultrafast"}) as writer:
        for k in range(frames):
            frame = loop[k % len(loop)]
            if frame.shape[:2] != (height, width):
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
            writer.write(frame)
    return {"path": out, "frames": frames, "fps": info.fps, "bytes": Path(out).stat().st_size}


def _detect(video: str, frames: int, overlay: str | None, model: str | None, overlay_size: str | None) -> dict:
    command = delocate_command() + ["detect", video, "--frames", str(frames), "--json", "--quiet"]
    if model:
        command += ["--model", model]
    if overlay:
        command += ["--overlay", overlay] + (["--overlay-size", str(overlay_size)] if overlay_size else [])
    wall, peak, code, out, err = run_child(command)
    if code != 0:
        raise RuntimeError(f"delocate detect failed ({code}): {err.strip()[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_mb": peak, "score": result["score"], "label": result["label"],
            "analysed_frames": len(result["frame_indices"]), "frame_size": result["frame_size"],
            "loadavg": loadavg()}


def memory_targets(result: dict) -> list[tuple[str, str, str, bool | None]]:
    """`(metric, value, target, met)` rows: the largest size against the smallest."""
    rows = result["rows"]
    small, large = rows[0], rows[-1]
    plain = large["detect"]["peak_rss_mb"] / small["detect"]["peak_rss_mb"]
    overlay = large["overlay"]["peak_rss_mb"] / small["overlay"]["peak_rss_mb"]
    wall = large["overlay"]["wall_s"] / large["detect"]["wall_s"]
    return [
        (f"peak RSS {large['size']} / {small['size']}, without overlay", f"{plain:.2f}x", f"<= {RSS_TARGET:g}x",
         plain <= RSS_TARGET),
        (f"peak RSS {large['size']} / {small['size']}, with overlay", f"{overlay:.2f}x",
         f"<= {RSS_OVERLAY_TARGET:g}x", overlay <= RSS_OVERLAY_TARGET),
        (f"wall time {large['size']}, with / without overlay", f"{wall:.2f}x", f"<= {WALL_OVERLAY_TARGET:g}x",
         wall <= WALL_OVERLAY_TARGET),
    ]


def _gb(mb: float) -> str:
    return f"{mb / 1024:.2f} GB"


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {s % 60:.0f} s"


def memory_table(result: dict) -> str:
    """The issue's table (video | peak RSS | wall time | with --overlay: peak RSS | wall time) and the targets."""
    body = [(r["size"], _gb(r["detect"]["peak_rss_mb"]), _seconds(r["detect"]["wall_s"]),
             _gb(r["overlay"]["peak_rss_mb"]), _seconds(r["overlay"]["wall_s"])) for r in result["rows"]]
    frames = result["frames"]
    return (markdown_table(["video", "peak RSS", "wall time", "with `--overlay OUT.mp4`: peak RSS", "wall time"], body)
            + "\n\n" + metric_table(memory_targets(result)) + "\n\n"
            + f"`delocate detect VIDEO --frames {frames}` ({result['model']}) on `single_face.mp4` looped to "
              f"{result['video_frames']} frames and upscaled; overlay at "
              f"{result['overlay_size'] or 'its default size (at most 1280 px wide)'}; commit {result['commit']}, "
              f"load average {result['loadavg_start']} at start, {result['loadavg_end']} at end.\n")


def run_memory(args) -> dict:
    sizes = [parse_size(s) for s in args.sizes]
    result = {"benchmark": "memory", "frames": args.frames, "video_frames": args.video_frames,
              "model": args.model or "the shipped default model", "overlay_size": args.overlay_size,
              "commit": git_commit(), "loadavg_start": loadavg(), "rows": []}
    with tempfile.TemporaryDirectory(prefix="delocate-bench-memory-") as folder:
        for width, height in sizes:
            size = f"{width}x{height}"
            video = str(Path(folder) / f"single_face_{size}.mp4")
            print(f"memory: {size}: writing {args.video_frames} frames ...", flush=True)
            made = in_fresh_process(make_video, str(args.video), video, width, height, args.video_frames)
            row = {"size": size, "video": made}
            for key, overlay in (("detect", None), ("overlay", str(Path(folder) / f"overlay_{size}.mp4"))):
                print(f"memory: {size}: delocate detect --frames {args.frames}"
                      f"{' --overlay' if overlay else ''} ...", flush=True)
                row[key] = _detect(video, args.frames, overlay, args.model, args.overlay_size)
                print(f"memory: {size}{' + overlay' if overlay else ''}: peak RSS "
                      f"{row[key]['peak_rss_mb']:.0f} MiB, {row[key]['wall_s']:.1f} s", flush=True)
            result["rows"].append(row)
            Path(video).unlink()
    result["loadavg_end"] = loadavg()
    result["targets"] = [{"metric": m, "value": v, "target": t, "met": met} for m, v, t, met in memory_targets(result)]
    table = memory_table(result)
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "memory.md").write_text(table)
    print("\n" + table)
    return result


def add_memory_parser(subparsers) -> None:
    p = subparsers.add_parser("memory", help="peak RSS and wall time of `delocate detect` (with and without "
                                             "--overlay) against the frame size: 640x360 to 3840x2160")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="real clip to loop and upscale (default: the shipped "
                                                               "single_face.mp4)")
    p.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), metavar="WxH",
                   help="frame sizes, smallest first (default: 640x360 1920x1080 3840x2160)")
    p.add_argument("--frames", type=int, default=128, help="frames analysed (`delocate detect --frames`)")
    p.add_argument("--video-frames", type=int, default=288, help="frames of each test video (the clip looped)")
    p.add_argument("--model", default=None, help="detector folder (default: the shipped model)")
    p.add_argument("--overlay-size", default=None, help="`--overlay-size` of the overlay runs (default: its default)")
    p.set_defaults(func=run_memory, name="memory")
