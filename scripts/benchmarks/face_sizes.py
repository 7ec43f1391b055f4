"""`face-sizes`: how small a face each landmark backend finds. 24 real faces (the 22 people of the group photos
`tests/media/sample1-6.jpg` and two frames of the shipped `single_face.mp4`) shrunk to a face height of 24-256 px at a
random place of a gray frame, plain and under hard conditions (rolled 45°, dark, low contrast, grayscale): faces found
and median landmark error (NME) per backend; then the landmarkers' frames per second in video mode."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

from .common import DEFAULT_VIDEO, MEDIA, git_commit, in_fresh_process, loadavg
from .table import markdown_table


FACE_SIZE_BACKENDS = {
    # name: (landmark backend, settings for still images)
    "mediapipe-before": ("mediapipe", {"detector": None}),  # FaceMesh's own short-range detector only
    "mediapipe": ("mediapipe", {}),  # full-range detection + crop fit + retries (the default)
    "mediapipe-tile320": ("mediapipe", {"tile_size": 320}),  # finer detector tiles: smaller faces, slower
    "dlib68": ("dlib68", {}),
}
FACE_CONDITIONS = ("plain", "rotated45", "dark", "low_contrast", "grayscale")


def _read_rgb(path):
    import cv2

    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"cannot read image '{path}'")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _face_size_sources(media: Path) -> list[dict]:
    """Real faces at their native size: every face of the group photos sample1-6.jpg and two frames of
    single_face.mp4, each with its 468 reference points (the default MediaPipe landmarker at native resolution) and
    dlib's 68 (None where dlib misses it)."""
    from processing.landmarks import get_landmarker
    from processing.video_io import read_video

    images = [(p.name, _read_rgb(p)) for p in sorted(media.glob("sample*.jpg"))]
    clip = read_video(DEFAULT_VIDEO, sampling="all")
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
    from processing.landmarks import get_landmarker
    from processing.video_io import read_video

    frames = read_video(DEFAULT_VIDEO, sampling="all", max_frames=frames_per_clip).frames
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

    def cell(r):
        if r is None:
            return ""
        nme = "–" if r["nme_median"] is None else f"{100 * r['nme_median']:.1f} %"
        return f"{r['found']}/{r['faces']} · {nme}"

    index = {(r["backend"], r["condition"], r["face_height"]): r for r in rows}
    body = []
    for condition in dict.fromkeys(r["condition"] for r in rows):
        for size in sorted({r["face_height"] for r in rows if r["condition"] == condition}):
            label = f"{size}" if condition == "plain" else f"{size}, {condition.replace('_', ' ')}"
            body.append([label] + [cell(index.get((b, condition, size))) for b in backends])
    mins = {b: _min_face_height(rows, b) for b in backends}
    body.append(["**faces from (px up)**"] + ["none" if mins[b] is None else f"**{mins[b]}**" for b in backends])
    ms = {b: statistics.mean(r["ms_per_frame"] for r in rows if r["backend"] == b) for b in backends}
    body.append(["ms per frame (mean over all rows)"] + [f"{ms[b]:.0f}" for b in backends])
    lines = [markdown_table([f"face height (px), {result['canvas'][1]}x{result['canvas'][0]} frame", *backends], body),
             "", f"Each cell: faces found / {n} real faces, median landmark error (NME: mean 68-point error over the "
                 "outer-eye-corner distance). 'faces from N px up': found >= 90 % with median NME <= 10 % at N px and "
                 "every larger size."]
    if result.get("fps"):
        lines += ["", markdown_table(["landmarker (video mode)", "clip", "frames/s", "frames with a face"],
                                     [(r["backend"], r["clip"], f"{r['fps']:.1f}", f"{r['frames_with_face']}/{r['frames']}")
                                      for r in result["fps"]])]
    return "\n".join(lines) + "\n"


def run_face_sizes(args) -> dict:
    start = time.perf_counter()
    load_start = loadavg()
    canvas_hw = (int(args.canvas[1]), int(args.canvas[0]))
    result = in_fresh_process(_face_sizes_worker, list(args.sizes), list(args.backends), list(args.conditions),
                               list(args.condition_sizes), canvas_hw, args.seed)
    fps_backends = [
        ("mediapipe-before", "mediapipe", {"detector": None}),
        ("mediapipe (detect_every=4, default)", "mediapipe", {}),
        ("mediapipe (detect_every=1)", "mediapipe", {"detect_every": 1}),
        ("dlib68", "dlib68", {}),
    ]
    fps = [] if args.fps_frames <= 0 else in_fresh_process(_landmarker_fps_worker, args.fps_frames, args.repeats,
                                                             fps_backends)
    out = {"benchmark": "face_sizes", "canvas": list(canvas_hw), "sizes": list(args.sizes),
           "conditions": list(args.conditions), "condition_sizes": list(args.condition_sizes), "seed": args.seed,
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_start": load_start,
                       "loadavg_end": loadavg()},
           "commit": git_commit(), "elapsed_s": None, **result, "fps": fps}
    out["min_face_height"] = {b: _min_face_height(out["rows"], b) for b in dict.fromkeys(r["backend"]
                                                                                         for r in out["rows"])}
    out["elapsed_s"] = time.perf_counter() - start
    table = face_sizes_table(out)
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "face_sizes.md").write_text(table)
    print("\n" + table)
    print(f"{out['elapsed_s']:.0f} s")
    return out


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
