"""Visual outputs of a detection: heat-map overlay video and PNG contact sheet.

- `write_overlay(video_path, result, out_mp4)`: the original video, every frame, with the forgery mask as a JET
  heat-map (blended where mask > 0.05), the face box, the video label/score and the per-frame score; with several
  faces (`result.tracks`), every face's mask (the highest where they meet) and its box with its own score ("face K
  0.76"), each face drawn only near the frames where it was analysed. The video is streamed frame by frame
  (decode -> draw -> encode), so memory does not grow with its duration; `frames=` (the frames detection kept)
  draws those frames only, without decoding. Between analysed frames the mask, box and score are linearly
  interpolated; before the first / after the last one they are held.
  Also writes the contact sheet next to the video (`OUT.png`) unless `contact_sheet=False`.
- `save_contact_sheet(png, result, ...)`: a grid of the analysed frames with their overlays and per-frame scores.

`result` is a `DetectionResult` or the pipeline's dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from processing.video_io import VideoWriter, iter_video_frames, probe_video

from .progress import progress_bar

MASK_THRESHOLD = 0.05
HEAT_ALPHA = 0.5
FAKE_RGB = (230, 40, 40)
REAL_RGB = (40, 200, 80)
INCONCLUSIVE_RGB = (245, 185, 40)
MIN_FONT_SCALE = 0.33  # ~8 px capitals: the smallest caption that stays readable (176x144 video)
BOX_RGB = (255, 220, 0)


@dataclass
class _Track:
    track_id: int
    score: float
    indices: np.ndarray  # (N,) sorted
    masks: np.ndarray  # (N, H, W)
    scores: np.ndarray  # (N,)
    boxes: np.ndarray  # (N, 4)
    padded: np.ndarray  # (N,) bool


@dataclass
class _Analysis:
    label: str
    score: float
    indices: np.ndarray  # (N,) sorted: the best track's analysed frames (the contact sheet: every track's)
    masks: np.ndarray  # (N, H, W)
    scores: np.ndarray  # (N,)
    boxes: np.ndarray  # (N, 4)
    fps: float
    total_frames: int = 0
    threshold: float = 0.5
    tracks: list[_Track] = field(default_factory=list)


def _label_rgb(label: str) -> tuple:
    return {"fake": FAKE_RGB, "real": REAL_RGB}.get(label, INCONCLUSIVE_RGB)


def _as_track(data: dict, track_id: int = 0) -> _Track:
    indices = np.asarray(data["frame_indices"], dtype=np.int64).reshape(-1)
    masks = np.asarray(data["masks"], dtype=np.float32)
    frames = data.get("frames") or [{"index": int(i), "score": float("nan"), "face_box": None} for i in indices]
    scores = np.array([f["score"] for f in frames], dtype=np.float64)
    boxes = np.array([f["face_box"] if f.get("face_box") is not None else [np.nan] * 4 for f in frames], np.float64)
    padded = np.array([bool(f.get("padded", False)) for f in frames], dtype=bool)
    order = np.argsort(indices, kind="stable")
    return _Track(track_id=int(data.get("track_id", track_id)), score=float(data.get("score", float("nan"))),
                  indices=indices[order], masks=masks[order], scores=scores[order], boxes=boxes[order],
                  padded=padded[order])


def _as_analysis(result) -> _Analysis:
    data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    if "masks" not in data or data["masks"] is None:
        raise ValueError("the detection result has no masks (use the pipeline dict or DetectionResult)")
    best = _as_track(data)
    tracks = [_as_track(t, k) for k, t in enumerate(data.get("tracks") or []) if t.get("masks") is not None]
    if len(tracks) < 2:
        tracks = [best]
    return _Analysis(
        label=str(data["label"]), score=float(data["score"]), indices=best.indices, masks=best.masks,
        scores=best.scores, boxes=best.boxes, fps=float(data.get("fps") or 0.0),
        total_frames=int(data.get("total_frames") or 0), threshold=float(data.get("threshold") or 0.5),
        tracks=tracks,
    )


def _interp_at(a, index: int) -> tuple[np.ndarray, float, np.ndarray, bool]:
    """Mask, score, box of one track (or the best track of an `_Analysis`) at original frame `index`
    (interpolated between analysed frames, held at the ends)."""
    idx = a.indices
    j = int(np.searchsorted(idx, index))
    if j < len(idx) and idx[j] == index:
        return a.masks[j], float(a.scores[j]), a.boxes[j], True
    if j == 0:
        return a.masks[0], float(a.scores[0]), a.boxes[0], False
    if j >= len(idx):
        return a.masks[-1], float(a.scores[-1]), a.boxes[-1], False
    lo, hi = idx[j - 1], idx[j]
    t = float(index - lo) / float(hi - lo)
    mask = (1.0 - t) * a.masks[j - 1] + t * a.masks[j]
    return mask, float((1 - t) * a.scores[j - 1] + t * a.scores[j]), (1 - t) * a.boxes[j - 1] + t * a.boxes[j], False


def _visible(track: _Track, index: int) -> bool:
    """With several faces, a face is drawn only near frames in which it was analysed and present (within 1.5
    sampling steps of one; a face that left or entered the picture is not drawn where it was not)."""
    shown = track.indices[~track.padded]
    if not len(shown):
        return False
    step = float(np.median(np.diff(track.indices))) if len(track.indices) > 1 else 1.0
    return bool(np.min(np.abs(shown - index)) <= 1.5 * max(step, 1.0))


def _faces_at(a: _Analysis, index: int) -> list[tuple[_Track, np.ndarray, float, np.ndarray, bool]]:
    """`(track, mask, score, box, analysed)` of every face drawn at frame `index` (one face: always the best)."""
    if len(a.tracks) == 1:
        return [(a.tracks[0], *_interp_at(a.tracks[0], index))]
    return [(t, *_interp_at(t, index)) for t in a.tracks if _visible(t, index)]


def _font_scale(height: int) -> float:
    return max(0.5, height / 720.0 * 1.2)  # 0.6 at 360 px; narrow frames shrink it to fit (`_fit_scale`)


def _put_label(image: np.ndarray, text: str, org: tuple[int, int], color, scale: float) -> None:
    """Text with a dark backing box (readable on any frame); `org` is the top-left corner."""
    import cv2

    thickness = max(1, int(round(scale * 2)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = org
    pad = max(2, int(4 * scale))
    x1, y1 = min(image.shape[1], x + w + 2 * pad), min(image.shape[0], y + h + base + 2 * pad)
    region = image[y:y1, x:x1]
    region[:] = (region.astype(np.float32) * 0.35).astype(np.uint8)
    cv2.putText(image, text, (x + pad, y + pad + h), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


def render_frame(
    frame: np.ndarray, mask: np.ndarray | None, box=None, lines: Sequence[tuple[str, tuple]] = (), scale=None
) -> np.ndarray:
    """One RGB frame with the JET heat-map of `mask` (same H, W) blended where mask > 0.05, the face box and text
    lines `(text, rgb)` at the top left."""
    import cv2

    out = frame.copy()
    if mask is not None:
        mask = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
        if mask.shape != frame.shape[:2]:
            mask = cv2.resize(mask, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
        heat = cv2.cvtColor(cv2.applyColorMap((mask * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        where = mask > MASK_THRESHOLD
        out[where] = (out[where] * (1 - HEAT_ALPHA) + heat[where] * HEAT_ALPHA).astype(np.uint8)
    scale = _font_scale(frame.shape[0]) if scale is None else scale
    scale = _fit_scale([text for text, _ in lines], frame.shape[1], scale)
    if box is not None and np.all(np.isfinite(box)):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), BOX_RGB, max(1, int(round(scale * 2))), cv2.LINE_AA)
    y = max(2, int(6 * scale))
    for text, color in lines:
        _put_label(out, text, (max(2, int(6 * scale)), y), color, scale)
        y += int(34 * scale) + 4
    return out


def _fit_scale(texts: Sequence[str], width: int, scale: float) -> float:
    """The largest font scale <= `scale` at which every caption fits the frame width (not below
    `MIN_FONT_SCALE`)."""
    import cv2

    while scale > MIN_FONT_SCALE:
        thickness = max(1, int(round(scale * 2)))
        widest = max((cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0] for t in texts), default=0)
        if widest + 2 * max(2, int(4 * scale)) + max(2, int(6 * scale)) <= width:
            break
        scale = max(MIN_FONT_SCALE, scale - 0.04)
    return scale


SMALL_FRAME_WIDTH = 400  # narrower frames get the short captions


def _frame_lines(a: _Analysis, index: int, score: float, analysed: bool, width: int = 1280
                 ) -> list[tuple[str, tuple]]:
    """The two captions: the video verdict (colour: red fake, green real, amber inconclusive) and this frame's
    score (`*`: an analysed frame); short forms on frames narrower than `SMALL_FRAME_WIDTH`."""
    frame_color = FAKE_RGB if score >= a.threshold else REAL_RGB
    mark = " *" if analysed else ""
    if width < SMALL_FRAME_WIDTH:
        return [(f"{a.label.upper()} {a.score:.2f}", _label_rgb(a.label)), (f"#{index} {score:.2f}{mark}", frame_color)]
    return [
        (f"{a.label.upper()}  P(fake) {a.score:.2f}", _label_rgb(a.label)),
        (f"frame {index}  score {score:.2f}{mark}", frame_color),
    ]


def _draw_faces(image: np.ndarray, faces, threshold: float, scale: float) -> None:
    """Each face's box and caption ("face K 0.76", red at or above the threshold, green below) on `image`."""
    import cv2

    for track, _, score, box, _ in faces:
        if box is None or not np.all(np.isfinite(box)):
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        color = FAKE_RGB if track.score >= threshold else REAL_RGB
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), color, max(1, int(round(scale * 2))), cv2.LINE_AA)
        caption = f"face {track.track_id} {track.score:.2f}"
        size = max(MIN_FONT_SCALE, scale * 0.8)
        height = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, size, 1)[0][1]
        _put_label(image, caption, (max(0, x0), max(0, y0 - height - 2 * max(2, int(4 * size)) - 2)), color, size)


def _render(frame: np.ndarray, a: _Analysis, index: int, lines_for=None, scale=None, shrink: float = 1.0
            ) -> tuple[np.ndarray, np.ndarray | None, float, bool]:
    """Frame `index` with every face drawn: one face as before (its mask, box, captions); several: the masks
    combined (maximum), each face's box and score. `shrink`: `frame` is the source frame scaled by this factor
    (thumbnails; masks are resized, boxes scaled). Returns the image, the combined mask, the frame score (highest
    face), and whether the frame was analysed."""
    import cv2

    faces = _faces_at(a, index)
    if shrink != 1.0:
        size = (frame.shape[1], frame.shape[0])
        faces = [(t, cv2.resize(np.asarray(m, np.float32), size, interpolation=cv2.INTER_LINEAR), sc,
                  None if b is None else np.asarray(b, np.float64) * shrink, an) for t, m, sc, b, an in faces]
    mask = np.max(np.stack([f[1] for f in faces]), axis=0) if faces else None
    score = max((f[2] for f in faces), default=float("nan"))
    analysed = any(f[4] for f in faces)
    lines = lines_for(score, analysed) if lines_for is not None else []
    if len(a.tracks) == 1:
        return render_frame(frame, mask, faces[0][3], lines, scale=scale), mask, score, analysed
    image = render_frame(frame, mask, None, lines, scale=scale)
    used = _fit_scale([t for t, _ in lines], frame.shape[1], _font_scale(frame.shape[0]) if scale is None else scale)
    _draw_faces(image, faces, a.threshold, used)
    return image, mask, score, analysed


def write_overlay(
    video_path, result, out_mp4, contact_sheet: bool | str | Path = True, progress: bool | None = None,
    frames: dict[int, np.ndarray] | None = None,
) -> tuple[Path, Path | None]:
    """Write the overlay video and, by default, the contact sheet `out_mp4` with `.png`: every face's mask (the
    highest where they meet), box and score.

    The video holds every source frame, decoded again from `video_path` in one streaming pass; with `frames`
    (original frame index -> RGB frame `(H, W, 3)` uint8, e.g. `detect_video(..., keep_frames=True)`'s
    `result.analysed_frames`) it holds those frames only, nothing is decoded (`video_path` may be None), and it
    plays at the rate that keeps the source's duration (at least 1 frame per second).

    Returns `(mp4_path, png_path or None)`.
    """
    a = _as_analysis(result)
    out_mp4 = Path(out_mp4)
    if frames is not None:
        if not frames:
            raise ValueError("no frames to draw the overlay on")
        duration = a.total_frames / a.fps if a.fps and a.total_frames else 0.0
        fps = max(1.0, len(frames) / duration) if duration else (a.fps or 25.0)
        source = ((int(i), frames[i]) for i in sorted(frames))
    else:
        fps = a.fps or probe_video(video_path).fps or 25.0
        source = iter_video_frames(video_path)
    wanted = set(int(i) for t in a.tracks for i in t.indices)
    tiles: dict[int, np.ndarray] = {}
    encoder = VideoWriter(out_mp4, fps=fps)  # opens the file on its first frame
    total = len(frames) if frames is not None else (a.total_frames or None)
    bar = progress_bar(total, f"delocate: overlay {out_mp4.name}", progress)
    try:
        for index, frame in source:
            image, mask, score, analysed = _render(
                frame, a, index, lambda sc, an: _frame_lines(a, index, sc, an, frame.shape[1]))
            encoder.write(image)
            if index in wanted:
                tiles[index] = _thumbnail(frame, a, index)
            bar.update(1)
    finally:
        bar.close()
        encoder.close()
    png = None
    if contact_sheet:
        png = out_mp4.with_suffix(".png") if contact_sheet is True else Path(contact_sheet)
        _write_sheet(png, a, [tiles[i] for i in sorted(tiles)])
    return out_mp4, png


def _thumbnail(frame, a: _Analysis, index: int, width: int = 320) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    scale = width / float(w)
    small = cv2.resize(frame, (width, max(2, int(round(h * scale)))), interpolation=cv2.INTER_AREA)

    def lines(score, analysed):
        return [(f"#{index}  {score:.2f}", FAKE_RGB if score >= a.threshold else REAL_RGB)]

    return _render(small, a, index, lines, scale=0.6, shrink=scale)[0]


def _write_sheet(png: Path, a: _Analysis, tiles: list[np.ndarray], columns: int | None = None) -> Path:
    import cv2

    if not tiles:
        raise ValueError("no analysed frame to put on the contact sheet")
    columns = columns or min(4, len(tiles))
    rows = -(-len(tiles) // columns)
    th, tw = tiles[0].shape[:2]
    gap, header = 6, 40
    sheet = np.full((header + rows * (th + gap) + gap, columns * (tw + gap) + gap, 3), 24, dtype=np.uint8)
    color = _label_rgb(a.label)
    title = f"{a.label.upper()}  P(fake) {a.score:.2f}  ({len(tiles)} analysed frames; frame score top-left)"
    cv2.putText(sheet, title, (gap + 2, 27), cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, 2, cv2.LINE_AA)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        y, x = header + r * (th + gap), gap + c * (tw + gap)
        tile = tile if tile.shape[:2] == (th, tw) else cv2.resize(tile, (tw, th))
        sheet[y:y + th, x:x + tw] = tile
    png.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write contact sheet '{png}'")
    return png


def save_contact_sheet(png, result, video_path=None, frames: Sequence[np.ndarray] | None = None,
                       columns: int | None = None, thumb_width: int = 320) -> Path:
    """A PNG grid of the analysed frames with every face's heat-map, box and score.

    The frames come from `frames` (one RGB frame per analysed frame, in sorted frame-index order of every face's
    analysed frames) or are decoded from `video_path` (one sequential pass that stops after the last analysed frame).
    """
    a = _as_analysis(result)
    indices = sorted(set(int(i) for t in a.tracks for i in t.indices))
    if frames is None:
        if video_path is None:
            raise ValueError("pass video_path or frames")
        wanted, picked = set(indices), {}
        for index, frame in iter_video_frames(video_path, max_frames=max(indices) + 1):
            if index in wanted:
                picked[index] = frame
        pairs = [(i, picked[i]) for i in indices if i in picked]
    else:
        pairs = list(zip(indices, frames))
    tiles = [_thumbnail(f, a, i, thumb_width) for i, f in pairs]
    return _write_sheet(Path(png), a, tiles, columns)


__all__ = ["render_frame", "save_contact_sheet", "write_overlay"]
