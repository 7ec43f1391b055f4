#!/usr/bin/env python
"""Benchmarks for delocate-hf. One subcommand per component; results go to `outputs/benchmark/<name>.json`.

    python scripts/benchmark.py processor [--video PATH] [--frames N] [--backends mediapipe dlib68]
    python scripts/benchmark.py face-sizes [--sizes 24 32 ...]  # detection rate + landmark error vs face height
    python scripts/benchmark.py faces-fps                    # processor fps before / after #13 (scripts/benchmark_faces.py)
    python scripts/benchmark.py hardware [--quick]          # fp32 matmul GFLOP/s (torch threads = cores)
    python scripts/benchmark.py models [--configs tiny base] # forward s/clip, FLOPs/clip, fused vs bare VideoMAE
    python scripts/benchmark.py detect [--configs tiny base] # `delocate detect` s/video, peak RSS, FLOP floor
    python scripts/benchmark.py all                          # everything + benchmark.json / benchmark.md table

Every measurement whose peak RSS is reported runs in its own fresh process. Timings are wall-clock on a machine
that may be shared: the load average is recorded next to the results.

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
import statistics
import subprocess
import sys
import tempfile
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


# ----------------------------------------------------------------------------------------------- face sizes
FACE_SIZE_BACKENDS = {
    # name: (landmark backend, settings for still images)
    "mediapipe-before": ("mediapipe", {"detector": None}),  # FaceMesh's own short-range detector only
    "mediapipe": ("mediapipe", {}),  # full-range detection + crop fit + retries (the default)
    "mediapipe-tile320": ("mediapipe", {"tile_size": 320}),  # finer detector tiles: smaller faces, slower
    "dlib68": ("dlib68", {}),
}
FACE_CONDITIONS = ("plain", "rotated45", "dark", "low_contrast", "grayscale")
MEDIA = REPO.parent / "shared" / "media"


def _read_rgb(path) -> "np.ndarray":
    import cv2

    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"cannot read image '{path}'")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _face_size_sources(media: Path) -> list[dict]:
    """Real faces at their native size: every face of the group photos sample1-6.jpg and two frames of
    single_face.mp4, each with its 468 reference points (the default MediaPipe landmarker at native resolution) and
    dlib's 68 (None where dlib misses it)."""
    import numpy as np

    from processing.landmarks import get_landmarker
    from processing.video_io import read_video

    images = [(p.name, _read_rgb(p)) for p in sorted(media.glob("sample*.jpg"))]
    clip = read_video(media / "single_face.mp4", sampling="all")
    images += [(f"single_face.mp4#{i}", clip.frames[i]) for i in (0, len(clip) // 2)]
    reference = get_landmarker("mediapipe", static_image_mode=True, max_num_faces=10)
    try:
        dlib = get_landmarker("dlib68")
    except ImportError:
        dlib = None
    sources = []
    for name, image in images:
        dlib_faces = dlib.detect(image) if dlib is not None else []
        for face in reference.detect(image):
            match = [f for f in dlib_faces if face.box[0] < f.center[0] < face.box[2]
                     and face.box[1] < f.center[1] < face.box[3]]
            sources.append({"name": name, "image": image, "points": face.points, "box": face.box,
                            "dlib": match[0].points if match else None})
    reference.close()
    return sources


def _place_face(source: dict, size: int, canvas_hw: tuple[int, int], rng, background: int = 114):
    """A window of 2.5x the face height around the face, rescaled so the face is `size` px high, pasted at a random
    place of a gray canvas. Returns the canvas and a function mapping source pixel coordinates to canvas ones."""
    import cv2
    import numpy as np

    image, box = source["image"], source["box"]
    h_face = float(box[3] - box[1])
    scale = size / h_face
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = 1.25 * h_face
    x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
    x1, y1 = int(min(cx + half, image.shape[1])), int(min(cy + half, image.shape[0]))
    window = image[y0:y1, x0:x1]
    new_w, new_h = max(1, round(window.shape[1] * scale)), max(1, round(window.shape[0] * scale))
    window = cv2.resize(window, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    ch, cw = canvas_hw
    window = window[:ch, :cw]
    canvas = np.full((ch, cw, 3), background, np.uint8)
    ox = int(rng.integers(0, cw - window.shape[1] + 1))
    oy = int(rng.integers(0, ch - window.shape[0] + 1))
    canvas[oy : oy + window.shape[0], ox : ox + window.shape[1]] = window
    sx, sy = new_w / (x1 - x0), new_h / (y1 - y0)
    window_box = np.array([ox, oy, ox + window.shape[1], oy + window.shape[0]], np.float32)

    def to_canvas(points):
        return (np.asarray(points, np.float32) - [x0, y0]) * [sx, sy] + [ox, oy]

    return canvas, to_canvas, window_box


def _apply_condition(canvas, condition: str):
    """The canvas under a hard condition, and the affine (or None) that moved its pixels."""
    import cv2
    import numpy as np

    from processing.face_detection import rotate_frame

    if condition == "plain":
        return canvas, None
    if condition == "rotated45":
        return rotate_frame(canvas, 45.0)
    if condition == "dark":
        return (canvas.astype(np.float32) * 0.15).astype(np.uint8), None
    if condition == "low_contrast":
        return (128 + (canvas.astype(np.float32) - 128) * 0.15).astype(np.uint8), None
    if condition == "grayscale":
        return np.repeat(cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1), None
    raise ValueError(f"unknown condition {condition!r}")


def _nme(points68, reference68) -> float:
    """Mean point error over the outer-eye-corner distance of the reference (68-point layout)."""
    import numpy as np

    iod = float(np.linalg.norm(reference68[36] - reference68[45]))
    return float(np.linalg.norm(points68 - reference68, axis=1).mean() / max(iod, 1e-6))


def _face_sizes_worker(sizes, backends, conditions, condition_sizes, canvas_hw, seed) -> dict:
    import numpy as np

    from processing.face_detection import transform_points
    from processing.landmarks import crop_reference_points, get_landmarker

    sources = _face_size_sources(MEDIA)
    landmarkers = {}
    for name in backends:
        kind, settings = FACE_SIZE_BACKENDS[name]
        try:
            landmarkers[name] = get_landmarker(kind, **({"static_image_mode": True, "max_num_faces": 10, **settings}
                                                        if kind == "mediapipe" else settings))
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
    rows = []
    for condition in conditions:
        for size in sizes if condition == "plain" else condition_sizes:
            rng = np.random.default_rng([seed, size, FACE_CONDITIONS.index(condition)])
            cases = []
            for source in sources:
                canvas, to_canvas, window_box = _place_face(source, size, canvas_hw, rng)
                frame, affine = _apply_condition(canvas, condition)

                def move(points, to_canvas=to_canvas, affine=affine):
                    pts = to_canvas(points)
                    return pts if affine is None else transform_points(pts, affine)

                corners = np.array([[window_box[0], window_box[1]], [window_box[2], window_box[1]],
                                    [window_box[2], window_box[3]], [window_box[0], window_box[3]]], np.float32)
                window = corners if affine is None else transform_points(corners, affine)
                cases.append((source, frame, move, window))
            for name, landmarker in landmarkers.items():
                found, errors, false_faces, seconds = 0, [], 0, 0.0
                for source, frame, move, window in cases:
                    ref = move(source["points"])
                    box = [ref[:, 0].min(), ref[:, 1].min(), ref[:, 0].max(), ref[:, 1].max()]
                    start = time.perf_counter()
                    faces = landmarker.detect(frame)
                    seconds += time.perf_counter() - start
                    hits = [f for f in faces if box[0] < f.center[0] < box[2] and box[1] < f.center[1] < box[3]]
                    wx0, wy0 = window.min(0)
                    wx1, wy1 = window.max(0)
                    false_faces += sum(not (wx0 <= f.center[0] <= wx1 and wy0 <= f.center[1] <= wy1) for f in faces)
                    if not hits:
                        continue
                    found += 1
                    reference68 = crop_reference_points(ref, "mediapipe") if name != "dlib68" else (
                        None if source["dlib"] is None else move(source["dlib"]))
                    if reference68 is not None:
                        face = min(hits, key=lambda f: float(np.linalg.norm(f.center - reference68.mean(0))))
                        errors.append(_nme(crop_reference_points(face.points, landmarker.name), reference68))
                rows.append({
                    "backend": name, "condition": condition, "face_height": size, "faces": len(cases),
                    "found": found, "detection_rate": found / len(cases),
                    "nme_median": float(np.median(errors)) if errors else None,
                    "nme_mean": float(np.mean(errors)) if errors else None, "nme_faces": len(errors),
                    "false_faces": false_faces, "ms_per_frame": 1000 * seconds / len(cases),
                })
                r = rows[-1]
                nme = "-" if r["nme_median"] is None else f"{100 * r['nme_median']:.1f}%"
                print(f"  {condition:>12} {size:>4} px  {name:<18} found {found:>2}/{len(cases)}  NME {nme:>6}  "
                      f"{r['ms_per_frame']:.0f} ms/frame", flush=True)
    for landmarker in landmarkers.values():
        landmarker.close()
    return {"sources": [{"name": s["name"], "native_face_height": float(s["box"][3] - s["box"][1]),
                         "dlib_reference": s["dlib"] is not None} for s in sources], "rows": rows}


def _landmarker_fps_worker(frames_per_clip: int, repeats: int, backends: list[tuple[str, str, dict]]) -> list[dict]:
    """Frames per second of `detect` over real clips in video mode (a fresh track per repeat, best repeat)."""
    import numpy as np

    from processing.landmarks import get_landmarker
    from processing.video_io import read_video

    frames = read_video(MEDIA / "single_face.mp4", sampling="all", max_frames=frames_per_clip).frames
    clips = {"single_face.mp4 640x360": frames, "face 1/3 size in 1280x720": _distant_face_clip(frames)}
    noface = read_video(MEDIA / "face_noface.mov", sampling="all")
    clips["face-less frames 960x540 (face_noface.mov cartoon)"] = noface.frames[noface.frame_indices >= 80][
        :frames_per_clip]
    rows = []
    for label, kind, settings in backends:
        try:
            landmarker = get_landmarker(kind, **settings)
        except ImportError as exc:
            print(f"skipping {label}: {exc}", file=sys.stderr)
            continue
        for clip_name, clip in clips.items():
            landmarker.reset()
            landmarker.detect(clip[0])  # build graphs / load models outside the timing
            best, found = float("inf"), 0
            for _ in range(max(1, repeats)):
                landmarker.reset()
                start = time.perf_counter()
                faces = [landmarker.detect(f) for f in clip]
                best = min(best, time.perf_counter() - start)
                found = sum(bool(f) for f in faces)
            rows.append({"backend": label, "clip": clip_name, "frames": len(clip), "fps": len(clip) / best,
                         "frames_with_face": int(found)})
            print(f"  {label:<34} {clip_name:<52} {len(clip) / best:6.1f} fps  face in {found}/{len(clip)}", flush=True)
        landmarker.close()
    return rows


def _distant_face_clip(frames, scale: float = 1 / 3, size: tuple[int, int] = (720, 1280)):
    """The real clip shrunk by `scale` (its face ~50 px high) in the middle of a larger gray frame."""
    import cv2
    import numpy as np

    h, w = frames.shape[1:3]
    small = [cv2.resize(f, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) for f in frames]
    out = np.full((len(frames), *size, 3), 114, np.uint8)
    sh, sw = small[0].shape[:2]
    y0, x0 = (size[0] - sh) // 2 + size[0] // 6, (size[1] - sw) // 2 + size[1] // 5
    for t, f in enumerate(small):
        out[t, y0 : y0 + sh, x0 : x0 + sw] = f
    return out


def _min_face_height(rows: list[dict], backend: str, rate: float = 0.9, nme: float = 0.10) -> int | None:
    """Smallest face height from which on (all larger sizes too) the backend finds >= `rate` of the faces with a
    median NME <= `nme` (plain condition)."""
    plain = sorted((r for r in rows if r["backend"] == backend and r["condition"] == "plain"),
                   key=lambda r: r["face_height"])
    ok = [r["detection_rate"] >= rate and r["nme_median"] is not None and r["nme_median"] <= nme for r in plain]
    for i, r in enumerate(plain):
        if all(ok[i:]):
            return r["face_height"]
    return None


def face_sizes_table(result: dict) -> str:
    """Markdown: one row per face height (plain), one column per backend (found / median NME), then the hard
    conditions, the minimum face height per backend and the landmarker's frames per second."""
    rows = result["rows"]
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    n = rows[0]["faces"] if rows else 0
    lines = [f"| face height (px), {result['canvas'][1]}x{result['canvas'][0]} frame | "
             + " | ".join(backends) + " |", "|---|" + "---|" * len(backends)]

    def cell(r):
        if r is None:
            return ""
        nme = "–" if r["nme_median"] is None else f"{100 * r['nme_median']:.1f} %"
        return f"{r['found']}/{r['faces']} · {nme}"

    index = {(r["backend"], r["condition"], r["face_height"]): r for r in rows}
    for condition in dict.fromkeys(r["condition"] for r in rows):
        for size in sorted({r["face_height"] for r in rows if r["condition"] == condition}):
            label = f"{size}" if condition == "plain" else f"{size}, {condition.replace('_', ' ')}"
            lines.append(f"| {label} | " + " | ".join(cell(index.get((b, condition, size))) for b in backends) + " |")
    mins = {b: _min_face_height(rows, b) for b in backends}
    lines.append("| **faces from (px up)** | " + " | ".join("none" if mins[b] is None else f"**{mins[b]}**"
                                                         for b in backends) + " |")
    ms = {b: statistics.mean(r["ms_per_frame"] for r in rows if r["backend"] == b) for b in backends}
    lines.append("| ms per frame (mean over all rows) | " + " | ".join(f"{ms[b]:.0f}" for b in backends) + " |")
    lines.append("")
    lines.append(f"Each cell: faces found / {n} real faces, median landmark error (NME: mean 68-point error over the "
                 "outer-eye-corner distance). 'faces from N px up': found >= 90 % with median NME <= 10 % at N px and "
                 "every larger size.")
    if result.get("fps"):
        lines += ["", "| landmarker (video mode) | clip | frames/s | frames with a face |", "|---|---|---|---|"]
        for r in result["fps"]:
            lines.append(f"| {r['backend']} | {r['clip']} | {r['fps']:.1f} | {r['frames_with_face']}/{r['frames']} |")
    return "\n".join(lines) + "\n"


def run_face_sizes(args) -> dict:
    start = time.perf_counter()
    load_start = [round(v, 2) for v in os.getloadavg()]
    canvas_hw = (int(args.canvas[1]), int(args.canvas[0]))
    result = _in_fresh_process(_face_sizes_worker, list(args.sizes), list(args.backends), list(args.conditions),
                               list(args.condition_sizes), canvas_hw, args.seed)
    fps_backends = [
        ("mediapipe-before", "mediapipe", {"detector": None}),
        ("mediapipe (detect_every=4, default)", "mediapipe", {}),
        ("mediapipe (detect_every=1)", "mediapipe", {"detect_every": 1}),
        ("dlib68", "dlib68", {}),
    ]
    fps = [] if args.fps_frames <= 0 else _in_fresh_process(_landmarker_fps_worker, args.fps_frames, args.repeats,
                                                             fps_backends)
    out = {"benchmark": "face_sizes", "canvas": list(canvas_hw), "sizes": list(args.sizes),
           "conditions": list(args.conditions), "condition_sizes": list(args.condition_sizes), "seed": args.seed,
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_start": load_start,
                       "loadavg_end": [round(v, 2) for v in os.getloadavg()]},
           "commit": _git_commit(), "elapsed_s": None, **result, "fps": fps}
    out["min_face_height"] = {b: _min_face_height(out["rows"], b) for b in dict.fromkeys(r["backend"]
                                                                                         for r in out["rows"])}
    out["elapsed_s"] = time.perf_counter() - start
    table = face_sizes_table(out)
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "face_sizes.md").write_text(table)
    print("\n" + table)
    print(f"{out['elapsed_s']:.0f} s")
    return out


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(REPO), capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def add_face_sizes_parser(subparsers) -> None:
    p = subparsers.add_parser("face-sizes", help="detection rate and landmark error vs face height, per backend; "
                                                 "landmarker frames per second")
    p.add_argument("--sizes", type=int, nargs="+", default=[24, 32, 48, 64, 96, 128, 192, 256],
                   help="face heights in pixels (plain condition)")
    p.add_argument("--backends", nargs="+", default=list(FACE_SIZE_BACKENDS), choices=list(FACE_SIZE_BACKENDS))
    p.add_argument("--conditions", nargs="+", default=list(FACE_CONDITIONS), choices=list(FACE_CONDITIONS))
    p.add_argument("--condition-sizes", type=int, nargs="+", default=[32, 64, 128],
                   help="face heights for the conditions other than plain")
    p.add_argument("--canvas", type=int, nargs=2, default=[1280, 720], metavar=("WIDTH", "HEIGHT"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps-frames", type=int, default=48,
                   help="frames per clip for the frames-per-second rows (0: skip)")
    p.add_argument("--repeats", type=int, default=2, help="timed repeats of the frames-per-second rows (best)")
    p.set_defaults(func=run_face_sizes, name="face_sizes")


# ----------------------------------------------------------------------------------------------- sampling
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

        seek_s, clip = _best_of(lambda: video_io.read_video(path, num_frames=clip_frames), repeats)
        seq_s, (frames, indices) = _best_of(sequential, repeats)
        same = indices == clip.frame_indices.tolist() and all(
            np.array_equal(a, b) for a, b in zip(frames, clip.frames))
        stats = {}
        list(video_io.iter_wanted_frames(path, clip.frame_indices, video_io.packet_index(path), stats))
    return {"frames": total, "fps": fps, "frame_size": [h, w], "gop_seconds": gop_seconds, "clip_frames": clip_frames,
            "seeking_s": seek_s, "sequential_s": seq_s, "speedup": seq_s / seek_s, "same_frames": bool(same),
            "decoded_frames_seeking": stats.get("decoded"), "seeks": stats.get("seeks")}


def run_sampling(args) -> dict:
    video = str(Path(args.video).expanduser())
    row = _in_fresh_process(_sampling_worker, video, args.seconds, args.gop_seconds, args.clip_frames, args.repeats)
    print(f"one {row['clip_frames']}-frame clip from a {row['frames']}-frame ({args.seconds:.0f} s) video, keyframe every "
          f"{args.gop_seconds:g} s: seeking {row['seeking_s']:.2f} s ({row['decoded_frames_seeking']} frames decoded), "
          f"sequential {row['sequential_s']:.2f} s -> {row['speedup']:.1f}x; same frames: {row['same_frames']}")
    return {"benchmark": "sampling", "video": video, **row}


def add_sampling_parser(subparsers) -> None:
    p = subparsers.add_parser("sampling", help="sampling one clip from a long video: seeking vs sequential decoding")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="real video to loop (default: shared single_face.mp4)")
    p.add_argument("--seconds", type=float, default=120.0, help="length of the looped video")
    p.add_argument("--gop-seconds", type=float, default=2.0, help="keyframe interval of the looped video")
    p.add_argument("--clip-frames", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2)
    p.set_defaults(func=run_sampling, name="sampling")


# ----------------------------------------------------------------------------------------------- shared helpers
def _machine() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "loadavg": [round(v, 2) for v in os.getloadavg()],
    }


def _in_fresh_process(fn, *args):
    """`fn(*args)` in a fresh spawned process (so its peak RSS is its own); returns its result."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _median_time(fn, warmup: int, repeats: int) -> tuple[float, list[float]]:
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def _delocate_config(name: str, attn: str = "sdpa"):
    from modeling import DelocateConfig

    config = {"tiny": DelocateConfig.tiny, "small": DelocateConfig.small, "base": DelocateConfig}[name]()
    config._attn_implementation = attn
    return config


def count_flops(model, inputs) -> tuple[int, dict[str, int]]:
    """FLOPs of `model(inputs)` with `torch.utils.flop_counter.FlopCounterMode` (a multiply-add = 2 FLOPs).

    torch's table has no entry for the CPU SDPA kernel (`_scaled_dot_product_flash_attention_for_cpu`), which would
    silently drop the attention matmuls (a quarter of VideoMAE-B's work): it is mapped to torch's own SDPA formula.
    Returns the total and the per-module totals of the direct children of the top module.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    aten = torch.ops.aten
    mapping = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        mapping[aten._scaled_dot_product_flash_attention_for_cpu] = cpu_sdpa_flop
    with torch.inference_mode(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        model(inputs)
    per_module = {}
    top = type(model).__name__
    for name, counts in counter.get_flop_counts().items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == top:
            per_module[parts[1]] = int(sum(counts.values()))
    return int(counter.get_total_flops()), per_module


# ----------------------------------------------------------------------------------------------- hardware
def _matmul_gflops(size: int, repeats: int, dtype: str = "float32") -> dict:
    import torch

    a, b = torch.randn(size, size, dtype=getattr(torch, dtype)), torch.randn(size, size, dtype=getattr(torch, dtype))
    out = torch.empty(size, size, dtype=getattr(torch, dtype))
    torch.mm(a, b, out=out)  # warm-up
    median, times = _median_time(lambda: torch.mm(a, b, out=out), warmup=1, repeats=repeats)
    flops = 2 * size**3
    return {"size": size, "dtype": dtype, "repeats": repeats, "median_s": median, "best_s": min(times),
            "gflops_median": flops / median / 1e9, "gflops_best": flops / min(times) / 1e9}


def _hardware_worker(sizes: list[int], repeats: int, dtypes: tuple[str, ...] = ("float32",)) -> dict:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    rows = [_matmul_gflops(size, repeats, dtype) for dtype in dtypes for size in sizes]
    return {"machine": _machine(), "matmul": rows}


def run_hardware(args) -> dict:
    sizes = [512, 1024] if args.quick else args.sizes
    repeats = 2 if args.quick else args.repeats
    measured = _in_fresh_process(_hardware_worker, sizes, repeats, ("float32", "bfloat16"))
    best = {dtype: max(r["gflops_best"] for r in measured["matmul"] if r["dtype"] == dtype)
            for dtype in ("float32", "bfloat16")}
    result = {"benchmark": "hardware", "quick": bool(args.quick), **measured, "matmul_gflops": best["float32"],
              "matmul_gflops_bf16": best["bfloat16"]}
    print("| matmul | median s | GFLOP/s (median) | GFLOP/s (best) |")
    print("|---|---|---|---|")
    for r in measured["matmul"]:
        print(f"| {r['size']}x{r['size']} {r['dtype']} | {r['median_s']:.3f} | {r['gflops_median']:.1f} "
              f"| {r['gflops_best']:.1f} |")
    print(f"\nmatmul: fp32 {best['float32']:.1f}, bf16 {best['bfloat16']:.1f} GFLOP/s on "
          f"{measured['machine']['torch_threads']} threads (load average {measured['machine']['loadavg']})")
    return result


def add_hardware_parser(subparsers) -> None:
    p = subparsers.add_parser("hardware", help="fp32 and bf16 matmul GFLOP/s with torch threads = CPU cores")
    p.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096], help="square matmul sizes")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per size")
    p.add_argument("--quick", action="store_true", help="small matmuls, 2 repeats (seconds; for tests)")
    p.set_defaults(func=run_hardware, name="hardware")


# ----------------------------------------------------------------------------------------------- models
def _build_model(config_name: str, kind: str, attn: str):
    """`fused`: DelocateForDeepfakeDetection as configured (base: localizer on 4 of 16 frames); `fused_every_frame`:
    the localizer on every frame; `bare`: transformers' VideoMAEForVideoClassification, same encoder."""
    import torch
    from transformers import VideoMAEForVideoClassification

    from modeling import DelocateForDeepfakeDetection

    torch.manual_seed(0)
    config = _delocate_config(config_name, attn)
    if kind == "fused_every_frame":
        config.localization_frames = None
    if kind in ("fused", "fused_every_frame"):
        model = DelocateForDeepfakeDetection(config)
    elif kind == "bare":
        videomae_config = config.to_videomae_config()
        videomae_config.num_labels = 1
        videomae_config._attn_implementation = attn
        model = VideoMAEForVideoClassification(videomae_config)
    else:
        raise ValueError(kind)
    return model.eval(), config


def _models_worker(config_name: str, kind: str, attn: str, warmup: int, repeats: int, components: bool) -> dict:
    import torch

    rss_start = _peak_rss_mb()
    model, config = _build_model(config_name, kind, attn)
    inputs = torch.randn(1, config.num_frames, config.num_channels, config.image_size, config.image_size)
    with torch.inference_mode():
        median, times = _median_time(lambda: model(inputs), warmup, repeats)
        row = {
            "config": config_name, "model": kind, "class": type(model).__name__, "attn_implementation": attn,
            "input_shape": list(inputs.shape),
            "parameters": sum(p.numel() for p in model.parameters()), "torch_threads": torch.get_num_threads(),
            "forward_s": median, "forward_times_s": times,
        }
        if components and kind == "fused":  # where the fused detector's time goes
            from modeling.modeling_delocate import localized_frame_indices

            frames = inputs[:, localized_frame_indices(config.num_frames, config.localization_frames)].flatten(0, 1)
            row["localized_frames"] = int(frames.shape[0])
            row["encoder_s"] = _median_time(lambda: model._classify(inputs), 0, repeats)[0]
            row["localizer_s"] = _median_time(lambda: model.localizer(frames), 0, repeats)[0]
    row["peak_rss_mb"] = _peak_rss_mb()
    row["rss_at_start_mb"] = rss_start
    flops, per_module = count_flops(model, inputs)
    row["flops"] = flops
    row["flops_per_module"] = per_module
    row["achieved_gflops"] = flops / median / 1e9
    row["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    return row


def _interleaved_worker(config_name: str, kinds: tuple[str, ...], attn: str, rounds: int) -> dict:
    """Forward times of several models timed in turn, round after round, in one process: slow phases of a shared
    machine hit every model alike, so the ratios are steadier than from separate processes. Returns
    {kind: [seconds per round]}."""
    import torch

    models = {kind: _build_model(config_name, kind, attn) for kind in kinds}
    config = next(iter(models.values()))[1]
    inputs = torch.randn(1, config.num_frames, config.num_channels, config.image_size, config.image_size)
    times = {kind: [] for kind in kinds}
    with torch.inference_mode():
        for kind, (model, _) in models.items():  # warm-up
            model(inputs)
        for _ in range(rounds):
            for kind, (model, _) in models.items():
                start = time.perf_counter()
                model(inputs)
                times[kind].append(time.perf_counter() - start)
    return times


def run_models(args) -> dict:
    rows = []
    for config_name in args.configs:
        base_like = config_name == "base"
        warmup, repeats = (args.warmup, args.repeats) if base_like else (max(args.warmup, 3), max(args.repeats, 20))
        # the tiny/small presets already localize every frame
        kinds = ("fused", "fused_every_frame", "bare") if base_like else ("fused", "bare")
        for attn in args.attn:
            for kind in kinds:
                print(f"models: {config_name} {kind} ({attn}) ...", file=sys.stderr, flush=True)
                rows.append(_in_fresh_process(_models_worker, config_name, kind, attn, warmup, repeats,
                                              not args.no_components))
            if base_like and args.rounds:
                # the forward times that the ratios use: all models in one process, timed in turn
                print(f"models: {config_name} {'/'.join(kinds)} ({attn}) interleaved x{args.rounds} ...",
                      file=sys.stderr, flush=True)
                interleaved = _in_fresh_process(_interleaved_worker, config_name, kinds, attn, args.rounds)
                for row in rows[-len(kinds):]:
                    row["separate_process_forward_s"] = row["forward_s"]
                    row["forward_times_s"] = interleaved[row["model"]]
                    row["forward_s"] = statistics.median(interleaved[row["model"]])
                    row["achieved_gflops"] = row["flops"] / row["forward_s"] / 1e9
                    row["timing"] = f"median of {args.rounds} interleaved rounds"
    ratios = {}
    for config_name in args.configs:
        for attn in args.attn:
            fused = next(r for r in rows if (r["config"], r["model"], r["attn_implementation"]) == (config_name, "fused", attn))
            bare = next(r for r in rows if (r["config"], r["model"], r["attn_implementation"]) == (config_name, "bare", attn))
            ratios[f"{config_name}_{attn}"] = {
                "time_ratio": fused["forward_s"] / bare["forward_s"],
                "flop_ratio": fused["flops"] / bare["flops"],
            }
            every = [r for r in rows if (r["config"], r["model"], r["attn_implementation"])
                     == (config_name, "fused_every_frame", attn)]
            if every:
                ratios[f"{config_name}_{attn}_every_frame"] = {
                    "time_ratio": every[0]["forward_s"] / bare["forward_s"],
                    "flop_ratio": every[0]["flops"] / bare["flops"],
                }
    result = {"benchmark": "models", "machine": _machine(), "results": rows, "fused_vs_bare": ratios,
              "target_fused_vs_bare": 1.3}
    print("| config | model | attention | params | GFLOP/clip | forward s/clip | achieved GFLOP/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['class']}{' (every frame)' if r['model'] == 'fused_every_frame' else ''} | {r['attn_implementation']} | {r['parameters'] / 1e6:.2f} M "
              f"| {r['flops'] / 1e9:.2f} | {r['forward_s']:.3f} | {r['achieved_gflops']:.1f} | {r['peak_rss_mb']:.0f} |")
    for key, value in ratios.items():
        print(f"fused / bare VideoMAE ({key}): time {value['time_ratio']:.2f}x, FLOPs {value['flop_ratio']:.2f}x "
              "(target <= 1.3x)")
    return result


def add_models_parser(subparsers) -> None:
    p = subparsers.add_parser("models", help="forward time and FLOPs per clip; fused detector vs bare VideoMAE")
    p.add_argument("--configs", nargs="+", default=["tiny", "base"], choices=["tiny", "small", "base"])
    p.add_argument("--attn", nargs="+", default=["sdpa"], choices=["sdpa", "eager"],
                   help="VideoMAE attention implementation(s) to time")
    p.add_argument("--warmup", type=int, default=1, help="untimed forwards first (tiny/small: at least 3)")
    p.add_argument("--repeats", type=int, default=3, help="timed forwards, median reported (tiny/small: at least 20)")
    p.add_argument("--no-components", action="store_true", help="skip the encoder / localizer split of the fused model")
    p.add_argument("--rounds", type=int, default=7,
                   help="base config: rounds of the interleaved timing the ratios use (0: separate processes only)")
    p.set_defaults(func=run_models, name="models")


# ----------------------------------------------------------------------------------------------- detect
def _save_detector_worker(config_name: str, folder: str) -> dict:
    """Randomly initialised `DelocateForDeepfakeDetection` + matching processor saved into `folder` (speed does
    not depend on training); returns the model's FLOPs per clip."""
    import torch

    from modeling import DelocateForDeepfakeDetection
    from processing.image_processing_delocate import DelocateFaceProcessor

    torch.manual_seed(0)
    config = _delocate_config(config_name)
    config.architectures = ["DelocateForDeepfakeDetection"]
    model = DelocateForDeepfakeDetection(config).eval()
    model.save_pretrained(folder)
    DelocateFaceProcessor(num_frames=config.num_frames, size=config.image_size).save_pretrained(folder)
    inputs = torch.zeros(1, config.num_frames, config.num_channels, config.image_size, config.image_size)
    flops, per_module = count_flops(model, inputs)
    return {"flops": flops, "flops_per_module": per_module, "num_frames": config.num_frames,
            "image_size": config.image_size}


def _delocate_command() -> list[str]:
    script = Path(sys.executable).parent / "delocate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "delocate_hf.cli"]


def _run_child(command: list[str]) -> tuple[float, float, int, str, str]:
    """Runs `command`; returns (wall s, the child's own peak RSS MiB via wait4, exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=str(REPO))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
        return wall, peak, proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def _detect_stages_worker(folder: str, video: str, dtype: str = "float32", warm_calls: int = 5) -> dict:
    """Where `delocate detect`'s time goes, stage by stage, in one fresh process (same code path as the CLI), then
    `warm_calls` more `detect_video` calls with the model loaded (what each video of a multi-video call costs)."""
    start = time.perf_counter()
    import torch

    from delocate_hf.inference import detect as D
    from processing.video_io import iter_clips

    timings = {"import_s": time.perf_counter() - start}
    t = time.perf_counter()
    model, processor = D.load_detector(folder, dtype=dtype)
    timings["load_model_s"] = time.perf_counter() - t
    clip_len = D.clip_length(model)
    t = time.perf_counter()
    clips = list(iter_clips(video, clip_len, 1))
    timings["decode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    feats = processor(clips[0].frames, num_frames=clip_len, sampling="uniform", return_tensors="pt")
    timings["face_processor_s"] = time.perf_counter() - t
    with torch.inference_mode():
        t = time.perf_counter()
        model(pixel_values=feats["pixel_values"].to(model.dtype))
        timings["forward_s"] = time.perf_counter() - t
    # each warm call is preceded by a matmul measurement, so that the floor follows the machine's speed of the
    # moment (a shared machine has slow phases that would otherwise count as software overhead)
    calls, rates = [], []
    for _ in range(max(1, warm_calls)):
        rates.append(_matmul_gflops(2048, 2)["gflops_best"])
        start = time.perf_counter()
        D.detect_video(video, model, processor, progress=False)
        calls.append(time.perf_counter() - start)
    timings["detect_video_s"], timings["detect_video_times_s"] = statistics.median(calls), calls
    timings["interleaved_matmul_gflops"], timings["interleaved_matmul_gflops_all"] = statistics.median(rates), rates
    timings["attn_implementation"] = model.config._attn_implementation
    timings["torch_threads"] = torch.get_num_threads()
    return timings


def _matmul_rates(args, gflops: dict | None) -> dict:
    """{"float32": GFLOP/s, "bfloat16": GFLOP/s}: from `gflops`, a full `hardware` run saved earlier, or measured."""
    if gflops is not None:
        return gflops
    previous = Path(args.output_dir) / "hardware.json"
    if previous.is_file():
        saved = json.loads(previous.read_text())
        if not saved.get("quick") and "matmul_gflops_bf16" in saved:
            return {"float32": saved["matmul_gflops"], "bfloat16": saved["matmul_gflops_bf16"]}
    print("detect: measuring matmul GFLOP/s ...", file=sys.stderr, flush=True)
    measured = _in_fresh_process(_hardware_worker, [2048], 3, ("float32", "bfloat16"))
    return {dtype: max(r["gflops_best"] for r in measured["matmul"] if r["dtype"] == dtype)
            for dtype in ("float32", "bfloat16")}


def _time_cli(command: list[str], repeats: int) -> tuple[float, list[dict], str]:
    """Median wall seconds of `repeats` runs of `command` (a `delocate detect` line), the runs, the last stdout."""
    runs, out = [], ""
    for _ in range(max(1, repeats)):
        wall, peak, code, out, err = _run_child(command)
        if code != 0:
            raise RuntimeError(f"delocate detect failed ({code}): {err.strip()[-2000:]}")
        runs.append({"wall_s": wall, "peak_rss_mb": peak})
    return statistics.median(r["wall_s"] for r in runs), runs, out


def run_detect(args, gflops: dict | None = None) -> dict:
    """End-to-end `delocate detect` per video, two ways, in fresh processes:

    * one-shot: `delocate detect VIDEO` (import + model load + decode + faces + forward), median of `repeats` runs;
    * warm: the median of `warm_calls` `detect_video` calls in one process with the model loaded (decode, faces,
      forward, masks pasted back: what each video of `delocate detect a.mp4 b.mp4 ...`, the pipeline or the Space
      costs), cross-checked by the CLI's marginal seconds per video when one call analyses N copies of the video
      (`(t(N videos) - t(1 video)) / (N - 1)`).

    Each is compared with the FLOP floor of the model work (FLOPs per clip / measured matmul GFLOP/s, fp32; for
    bfloat16 runs also against the bf16 matmul rate)."""
    video = str(Path(args.video).expanduser())
    rates = _matmul_rates(args, gflops)
    rows = []
    for config_name in args.configs:
        dtypes = ["float32", "bfloat16"] if config_name == "base" else ["float32"]
        with tempfile.TemporaryDirectory(prefix=f"delocate-bench-{config_name}-") as folder:
            print(f"detect: saving a random {config_name} detector ...", file=sys.stderr, flush=True)
            saved = _in_fresh_process(_save_detector_worker, config_name, folder)
            for dtype in dtypes:
                base_cmd = _delocate_command() + ["detect", "--model", folder, "--json", "--quiet", "--dtype", dtype]
                print(f"detect: {config_name} {dtype} `delocate detect` x{args.repeats} ...", file=sys.stderr,
                      flush=True)
                one, runs, out = _time_cli(base_cmd + [video], args.repeats)
                print(f"detect: {config_name} {dtype} `delocate detect` on {args.warm_videos} videos ...",
                      file=sys.stderr, flush=True)
                many, many_runs, _ = _time_cli(base_cmd + [video] * args.warm_videos, 1)
                marginal = (many - one) / (args.warm_videos - 1)
                print(f"detect: {config_name} {dtype} stages and warm `detect_video` x{args.warm_calls} ...",
                      file=sys.stderr, flush=True)
                stages = _in_fresh_process(_detect_stages_worker, folder, video, dtype, args.warm_calls)
                warm = stages["detect_video_s"]
                floor = saved["flops"] / (rates["float32"] * 1e9)
                interleaved_floor = saved["flops"] / (stages["interleaved_matmul_gflops"] * 1e9)
                row = {
                    "config": config_name, "dtype": dtype,
                    "clip": f"{saved['num_frames']}x{saved['image_size']}^2",
                    "command": "delocate detect VIDEO [VIDEO ...] --model DIR --json --quiet --dtype " + dtype,
                    "seconds_per_video": one, "runs": runs,
                    "warm_videos": args.warm_videos, "seconds_for_warm_videos": many,
                    "cli_marginal_seconds_per_video": marginal, "cli_marginal_ratio_to_floor": marginal / floor,
                    "warm_calls": args.warm_calls, "warm_seconds_per_video": warm, "stages": stages,
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in runs + many_runs),
                    "flops_per_clip": saved["flops"], "flops_per_module": saved["flops_per_module"],
                    "flop_floor_s": floor, "ratio_to_floor": one / floor, "warm_ratio_to_floor": warm / floor,
                    "interleaved_flop_floor_s": interleaved_floor,
                    "warm_ratio_to_interleaved_floor": warm / interleaved_floor,
                    "result": json.loads(out.strip().splitlines()[-1]) if out.strip() else None,
                }
                if dtype == "bfloat16":
                    row["bf16_flop_floor_s"] = saved["flops"] / (rates["bfloat16"] * 1e9)
                    row["warm_ratio_to_bf16_floor"] = warm / row["bf16_flop_floor_s"]
                rows.append(row)
    result = {"benchmark": "detect", "video": video, "machine": _machine(), "matmul_gflops": rates["float32"],
              "matmul_gflops_bf16": rates["bfloat16"], "results": rows, "target_ratio_to_floor": 1.2}
    print("| config | dtype | clip | one-shot s/video | warm s/video | fp32 FLOP floor s | one-shot ratio "
          "| warm ratio | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['dtype']} | {r['clip']} | {r['seconds_per_video']:.2f} "
              f"| {r['warm_seconds_per_video']:.2f} | {r['flop_floor_s']:.2f} | {r['ratio_to_floor']:.2f} "
              f"| {r['warm_ratio_to_floor']:.2f} | {r['peak_rss_mb']:.0f} |")
        if r.get("stages"):
            print("   stages: " + ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items()
                                            if k.endswith("_s") and isinstance(v, float)))
    return result


def add_detect_parser(subparsers) -> None:
    p = subparsers.add_parser("detect", help="end-to-end `delocate detect` seconds per video, peak RSS, FLOP floor")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="video file (default: shared single_face.mp4)")
    p.add_argument("--configs", nargs="+", default=["tiny", "base"], choices=["tiny", "small", "base"])
    p.add_argument("--repeats", type=int, default=2, help="one-video runs of the CLI per config (median reported)")
    p.add_argument("--warm-videos", type=int, default=4,
                   help="videos in the one call that measures the warm (marginal) seconds per video")
    p.add_argument("--warm-calls", type=int, default=5, help="warm `detect_video` calls (median reported)")
    p.set_defaults(func=run_detect, name="detect")


# ----------------------------------------------------------------------------------------------- all
def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _gflop(flops: float) -> str:
    return f"{flops / 1e9:.1f}" if flops >= 1e10 else f"{flops / 1e9:.4f}"


HELP_TARGET_S = 2.0  # issue 16: `delocate --help` / `delocate detect --help` answer in under 2 s


def run_help(args) -> dict:
    """Wall seconds of `delocate --help` and `delocate detect --help` (median of `repeats` fresh processes each),
    the whole entry point included (interpreter start, `import delocate_hf`, argparse)."""
    results = {}
    for argv in (["--help"], ["detect", "--help"]):
        runs = []
        for _ in range(args.repeats):
            wall, peak, code, out, err = _run_child(_delocate_command() + argv)
            if code != 0:
                raise RuntimeError(f"delocate {' '.join(argv)} failed ({code}): {err.strip()[-300:]}")
            runs.append({"wall_s": wall, "peak_rss_mb": peak})
        wall = float(statistics.median(r["wall_s"] for r in runs))
        results[" ".join(argv)] = {"wall_s": wall, "runs": runs, "met": wall < HELP_TARGET_S}
        print(f"delocate {' '.join(argv)}: {wall:.2f} s (median of {args.repeats})", flush=True)
    return {"benchmark": "help", "target_s": HELP_TARGET_S, "results": results, "machine": _machine()}


def add_help_parser(subparsers) -> None:
    p = subparsers.add_parser("help", help="seconds until `delocate --help` / `delocate detect --help` answer")
    p.add_argument("--repeats", type=int, default=5, help="fresh processes per command (median)")
    p.set_defaults(func=run_help, name="help")


def markdown_table(summary: dict) -> str:
    """One table: metric, value, target, met?"""
    rows = []

    def add(metric, value, target="", met=None):
        rows.append((metric, value, target, "" if met is None else ("yes" if met else "**no**")))

    proc = {r["backend"]: r for r in summary["processor"]["results"]}
    if proc:
        first = next(iter(proc.values()))
        add(f"decode fps ({first['frame_size'][1]}x{first['frame_size'][0]}, PyAV, all frames)",
            f"{first['decode_fps']:.0f}")
    for name, r in proc.items():
        add(f"landmarks+crop fps, {name}", f"{r['landmarks_crop_fps']:.1f}")
        add(f"face processor s/clip (16 fr), {name}", f"{r['processor_clip_s']:.2f}")
        add(f"peak RSS MiB, processor {name}", f"{r['peak_rss_mb']:.0f}")
    speedup = summary["processor"].get("mediapipe_vs_dlib68_speedup")
    add("processor speed: mediapipe / dlib68 landmarks+crop fps", f"{_fmt(speedup, '.2f')}x", ">= 3x",
        None if speedup is None else speedup >= 3.0)

    sampling = summary.get("sampling")
    if sampling:
        add(f"sample one {sampling['clip_frames']}-frame clip from a {sampling['frames'] / sampling['fps']:.0f} s "
            f"video (keyframe every {sampling['gop_seconds']:g} s): seeking / sequential decoding s",
            f"{sampling['seeking_s']:.2f} / {sampling['sequential_s']:.2f} ({sampling['speedup']:.1f}x, "
            f"{'same' if sampling['same_frames'] else '**different**'} frames)")

    hw = summary["hardware"]
    sizes = "/".join(sorted({str(r["size"]) for r in hw["matmul"]}, key=int))
    add(f"fp32 matmul GFLOP/s ({hw['machine']['torch_threads']} threads, best of {sizes})", f"{hw['matmul_gflops']:.1f}")
    if hw.get("matmul_gflops_bf16"):
        add(f"bf16 matmul GFLOP/s ({hw['machine']['torch_threads']} threads, best of {sizes})",
            f"{hw['matmul_gflops_bf16']:.1f}")

    models = summary["models"]
    for r in models["results"]:
        label = r["config"] + " " + {"fused": "fused detector", "bare": "bare VideoMAEForVideoClassification",
                                     "fused_every_frame": "fused detector, every frame localized"}[r["model"]]
        if r["model"] == "fused" and r.get("localized_frames") not in (None, r["input_shape"][1]):
            label += f" ({r['localized_frames']} of {r['input_shape'][1]} frames localized)"
        if r["attn_implementation"] != "sdpa":
            label += f" ({r['attn_implementation']})"
        add(f"GFLOP/clip, {label}", _gflop(r["flops"]))
        add(f"forward s/clip, {label}", f"{r['forward_s']:.3f} ({r['achieved_gflops']:.0f} GFLOP/s)")
        if "encoder_s" in r:
            add(f"  of which encoder / localizer s, {r['config']}",
                f"{r['encoder_s']:.3f} / {r['localizer_s']:.3f}")
        add(f"peak RSS MiB, {label}", f"{r['peak_rss_mb']:.0f}")
    for key, value in models["fused_vs_bare"].items():
        # the target is for the paper's base config as shipped (not the every-frame variant); tiny forwards last
        # milliseconds and mostly time thread overhead
        base = key.startswith("base") and not key.endswith("every_frame")
        add(f"fused / bare VideoMAE time, {key.replace('_', ' ')} (FLOP ratio {value['flop_ratio']:.2f}x)",
            f"{value['time_ratio']:.2f}x", "<= 1.3x" if base else "", (value["time_ratio"] <= 1.3) if base else None)

    detect = summary["detect"]
    for r in detect["results"]:
        name = f"{r['config']} {r.get('dtype', 'float32')}"
        fp32_target = r["config"] == "base" and r.get("dtype", "float32") == "float32"
        add(f"FLOP floor s, {r['config']} ({_gflop(r['flops_per_clip'])} GFLOP / {detect['matmul_gflops']:.0f} "
            "GFLOP/s fp32)", f"{r['flop_floor_s']:.4f}" if r["flop_floor_s"] < 0.1 else f"{r['flop_floor_s']:.2f}")
        ratio = lambda value: f"{value:.{0 if value >= 100 else 2}f}x"  # noqa: E731
        add(f"`delocate detect` one-shot s/video, {name} ({r['clip']}; import + load + work)",
            f"{r['seconds_per_video']:.2f} ({ratio(r['ratio_to_floor'])} floor)")
        if "warm_seconds_per_video" in r:
            add(f"end-to-end warm s/video, {name} (median of {r.get('warm_calls', 5)} `detect_video` calls, model "
                "loaded)", f"{r['warm_seconds_per_video']:.2f}")
            if "warm_ratio_to_interleaved_floor" in r:
                st = r["stages"]
                add(f"end-to-end warm / fp32 FLOP floor, {name} (matmul measured before each call: "
                    f"{st['interleaved_matmul_gflops']:.0f} GFLOP/s, floor {r['interleaved_flop_floor_s']:.2f} s)",
                    ratio(r["warm_ratio_to_interleaved_floor"]), "<= 1.2x" if fp32_target else "",
                    (r["warm_ratio_to_interleaved_floor"] <= 1.2) if fp32_target else None)
                add(f"end-to-end warm / fp32 FLOP floor of the run's start, {name}", ratio(r["warm_ratio_to_floor"]))
            else:
                add(f"end-to-end warm / fp32 FLOP floor, {name}", ratio(r["warm_ratio_to_floor"]),
                    "<= 1.2x" if fp32_target else "", (r["warm_ratio_to_floor"] <= 1.2) if fp32_target else None)
        if "cli_marginal_seconds_per_video" in r:
            add(f"  cross-check: `delocate detect` marginal s/video, {name} (1 vs {r['warm_videos']} videos per call)",
                f"{r['cli_marginal_seconds_per_video']:.2f} ({ratio(r['cli_marginal_ratio_to_floor'])} floor)")
        if "warm_ratio_to_bf16_floor" in r:
            add(f"end-to-end warm / bf16 FLOP floor ({detect['matmul_gflops_bf16']:.0f} GFLOP/s), {name}",
                ratio(r["warm_ratio_to_bf16_floor"]))
        add(f"peak RSS MiB, `delocate detect` {name}", f"{r['peak_rss_mb']:.0f}")
        if r.get("stages"):
            st = r["stages"]
            add(f"  stages, {name}: import / load / decode / face processor / first forward s",
                " / ".join(f"{st[k]:.2f}" for k in ("import_s", "load_model_s", "decode_s", "face_processor_s",
                                                     "forward_s")))

    for command, r in (summary.get("help") or {}).get("results", {}).items():
        add(f"`delocate {command}` s (fresh process)", f"{r['wall_s']:.2f}", f"< {HELP_TARGET_S:g} s", r["met"])

    m = summary["machine"]
    timing = next((r["timing"] for r in models["results"] if r.get("timing")), None)
    lines = [
        f"Video: `{Path(summary['video']).name}`; machine: {m['cpus']} CPU cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), load average {summary['loadavg_start']} at start, "
        f"{summary['loadavg_end']} at end; {summary['elapsed_s']:.0f} s in all."
        + (f" Base-config forward times: {timing} (the models timed in turn in one process)." if timing else ""),
        "",
        "| metric | value | target | met? |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"


def run_all(args) -> dict:
    start, load_start = time.perf_counter(), [round(v, 2) for v in os.getloadavg()]
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sub = argparse.Namespace(video=args.video, output_dir=args.output_dir)

    def save(name, result):
        (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        return result

    print("== hardware", flush=True)
    hardware = save("hardware", run_hardware(argparse.Namespace(**vars(sub), quick=False, sizes=[2048, 4096],
                                                                repeats=3)))
    print("\n== processor", flush=True)
    processor = save("processor", run_processor(argparse.Namespace(**vars(sub), frames=64, clip_frames=16,
                                                                   repeats=2, backends=["mediapipe", "dlib68"])))
    print("\n== sampling", flush=True)
    sampling = save("sampling", run_sampling(argparse.Namespace(**vars(sub), seconds=120.0, gop_seconds=2.0,
                                                                 clip_frames=16, repeats=2)))
    print("\n== models", flush=True)
    models = save("models", run_models(argparse.Namespace(**vars(sub), configs=["tiny", "base"], attn=args.attn,
                                                          warmup=1, repeats=args.repeats, no_components=False,
                                                          rounds=args.rounds)))
    print("\n== detect", flush=True)
    detect = save("detect", run_detect(argparse.Namespace(**vars(sub), configs=["tiny", "base"],
                                                          repeats=args.detect_repeats, warm_videos=4,
                                                          warm_calls=5),
                                       gflops={"float32": hardware["matmul_gflops"],
                                               "bfloat16": hardware["matmul_gflops_bf16"]}))
    print("\n== help", flush=True)
    help_times = save("help", run_help(argparse.Namespace(repeats=5)))
    summary = {
        "benchmark": "all", "video": str(args.video), "machine": _machine(),
        "loadavg_start": load_start, "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "elapsed_s": time.perf_counter() - start,
        "hardware": hardware, "processor": processor, "sampling": sampling, "models": models, "detect": detect,
        "help": help_times,
    }
    table = markdown_table(summary)
    (out_dir / "benchmark.md").write_text(table)
    print("\n" + table)
    print(f"wrote {out_dir / 'benchmark.md'}")
    return summary


def add_all_parser(subparsers) -> None:
    p = subparsers.add_parser("all", help="every benchmark; writes benchmark.json and benchmark.md (one table)")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="video file (default: shared single_face.mp4)")
    p.add_argument("--attn", nargs="+", default=["sdpa"], choices=["sdpa", "eager"])
    p.add_argument("--repeats", type=int, default=2, help="timed base-config forwards per separate process")
    p.add_argument("--rounds", type=int, default=7, help="interleaved base-config rounds for the fused/bare ratios")
    p.add_argument("--detect-repeats", type=int, default=2, help="`delocate detect` runs per config (median)")
    p.set_defaults(func=run_all, name="benchmark")


def run_table(args) -> dict:
    summary = json.loads((Path(args.output_dir) / "benchmark.json").read_text())
    table = markdown_table(summary)
    (Path(args.output_dir) / "benchmark.md").write_text(table)
    print(table)
    return summary


def add_table_parser(subparsers) -> None:
    p = subparsers.add_parser("table", help="re-render benchmark.md from the last `all` run's benchmark.json")
    p.set_defaults(func=run_table, name="benchmark")


from benchmark_faces import add_faces_fps_parser  # noqa: E402  (scripts/ is on sys.path: run as a script)

SUBCOMMANDS = [add_processor_parser, add_face_sizes_parser, add_faces_fps_parser, add_sampling_parser,
               add_hardware_parser, add_models_parser, add_detect_parser, add_help_parser, add_all_parser,
               add_table_parser]


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
