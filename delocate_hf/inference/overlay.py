"""Visual outputs of a detection: heat-map overlay video and PNG contact sheet, drawn while streaming.

- `write_overlay(video_path, result, out_mp4, size=...)`: the original video, every frame, with the forgery mask as a
  JET heat-map (blended where mask > 0.05), the face box, the video label/score and the per-frame score; with several
  faces (`result.tracks`), every face's mask (the highest where they meet) and its box with its own score ("face K
  0.76"), each face drawn only near the frames where it was analysed. Frames are decoded, drawn and encoded one at a
  time, at a display size (`size`: at most `DEFAULT_OVERLAY_WIDTH` = 1280 px wide by default, never upscaled) or at
  the video's own size (`size="source"`): memory grows neither with the video's duration nor with its frame size
  (each mask is pasted straight at the display size, `FrameMasks.frame(i, size)`, the last few kept). `frames=`
  (frames detection kept, at any size) draws those frames only, without decoding. Between analysed frames the mask,
  box and score are linearly interpolated; before the first / after the last one they are held.
  Also writes the contact sheet next to the video (`OUT.png`) unless `contact_sheet=False`.
- `save_contact_sheet(png, result, ...)`: a grid of the analysed frames with their overlays and per-frame scores
  (thumbnails made while decoding: one frame held at a time).

`result` is a `DetectionResult` or the pipeline's dict (masks as `FrameMasks` or as a `(N, H, W)` array).
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
DEFAULT_OVERLAY_WIDTH = 1280  # `write_overlay` / `--overlay-size` default: wider videos are drawn scaled down to it
SOURCE_SIZE = "source"  # `size=` value: draw at the video's own frame size
MASK_CACHE = 4  # pasted masks kept per face (the two around the frame being drawn, and the thumbnail's)


@dataclass
class _Track:
    track_id: int
    score: float
    indices: np.ndarray  # (N,) sorted
    masks: object  # FrameMasks or (N, H, W) array, in the detection's order
    rows: np.ndarray  # (N,) row of `masks` for each sorted position
    scores: np.ndarray  # (N,)
    boxes: np.ndarray  # (N, 4), original-frame pixels
    padded: np.ndarray  # (N,) bool
    cache: dict = field(default_factory=dict, repr=False)  # (position, (h, w)) -> pasted mask

    def mask(self, j: int, size: tuple[int, int]) -> np.ndarray:
        """Mask at sorted position `j` in a frame of `size` (h, w): pasted straight at that size (`FrameMasks`), or
        the stored frame-size mask resized; the last `MASK_CACHE` are kept."""
        key = (int(j), tuple(size))
        if key not in self.cache:
            while len(self.cache) >= MASK_CACHE:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = _paste_mask(self.masks, int(self.rows[j]), key[1])
        return self.cache[key]


def _paste_mask(masks, row: int, size: tuple[int, int]) -> np.ndarray:
    if hasattr(masks, "frame"):  # FrameMasks: pasted at `size` directly
        return masks.frame(row, size)
    import cv2

    mask = np.asarray(masks[row], dtype=np.float32)
    if mask.shape != tuple(size):
        mask = cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return mask


@dataclass
class _Analysis:
    label: str
    score: float
    fps: float
    frame_size: tuple[int, int]  # (H, W) of the video: what face boxes and masks refer to
    total_frames: int = 0
    threshold: float = 0.5
    tracks: list[_Track] = field(default_factory=list)  # every face (one face: the best track)


def _label_rgb(label: str) -> tuple:
    return {"fake": FAKE_RGB, "real": REAL_RGB}.get(label, INCONCLUSIVE_RGB)


def _as_track(data: dict, track_id: int = 0) -> _Track:
    indices = np.asarray(data["frame_indices"], dtype=np.int64).reshape(-1)
    masks = data["masks"] if hasattr(data["masks"], "frame") else np.asarray(data["masks"], dtype=np.float32)
    frames = data.get("frames") or [{"index": int(i), "score": float("nan"), "face_box": None} for i in indices]
    scores = np.array([f["score"] for f in frames], dtype=np.float64)
    boxes = np.array([f["face_box"] if f.get("face_box") is not None else [np.nan] * 4 for f in frames], np.float64)
    padded = np.array([bool(f.get("padded", False)) for f in frames], dtype=bool)
    order = np.argsort(indices, kind="stable")
    return _Track(track_id=int(data.get("track_id", track_id)), score=float(data.get("score", float("nan"))),
                  indices=indices[order], masks=masks, rows=order, scores=scores[order], boxes=boxes[order],
                  padded=padded[order])


def _as_analysis(result) -> _Analysis:
    data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    if "masks" not in data or data["masks"] is None:
        raise ValueError("the detection result has no masks (use the pipeline dict or DetectionResult)")
    best = _as_track(data)
    tracks = [_as_track(t, k) for k, t in enumerate(data.get("tracks") or []) if t.get("masks") is not None]
    if len(tracks) < 2:
        tracks = [best]
    size = data.get("frame_size")
    frame_size = tuple(int(v) for v in (size if size is not None and all(size) else data["masks"].shape[1:3]))
    return _Analysis(
        label=str(data["label"]), score=float(data["score"]), fps=float(data.get("fps") or 0.0),
        frame_size=frame_size, total_frames=int(data.get("total_frames") or 0),
        threshold=float(data.get("threshold") or 0.5), tracks=tracks,
    )


def _interp_at(track: _Track, index: int, size: tuple[int, int]) -> tuple[np.ndarray, float, np.ndarray, bool]:
    """Mask (in a frame of `size` (h, w)), score, box (original-frame pixels) of one face at original frame `index`
    (interpolated between analysed frames, held at the ends)."""
    idx = track.indices
    j = int(np.searchsorted(idx, index))
    if j < len(idx) and idx[j] == index:
        return track.mask(j, size), float(track.scores[j]), track.boxes[j], True
    if j == 0:
        return track.mask(0, size), float(track.scores[0]), track.boxes[0], False
    if j >= len(idx):
        return track.mask(len(idx) - 1, size), float(track.scores[-1]), track.boxes[-1], False
    lo, hi = idx[j - 1], idx[j]
    t = float(index - lo) / float(hi - lo)
    mask = (1.0 - t) * track.mask(j - 1, size) + t * track.mask(j, size)
    score = float((1 - t) * track.scores[j - 1] + t * track.scores[j])
    return mask, score, (1 - t) * track.boxes[j - 1] + t * track.boxes[j], False


def _visible(track: _Track, index: int) -> bool:
    """With several faces, a face is drawn only near frames in which it was analysed and present (within 1.5
    sampling steps of one; a face that left or entered the picture is not drawn where it was not)."""
    shown = track.indices[~track.padded]
    if not len(shown):
        return False
    step = float(np.median(np.diff(track.indices))) if len(track.indices) > 1 else 1.0
    return bool(np.min(np.abs(shown - index)) <= 1.5 * max(step, 1.0))


def _faces_at(a: _Analysis, index: int, size: tuple[int, int]
              ) -> list[tuple[_Track, np.ndarray, float, np.ndarray, bool]]:
    """`(track, mask, score, box, analysed)` of every face drawn at frame `index` in a frame of `size` (h, w): masks
    at that size, boxes scaled to it (one face: always the best)."""
    shown = a.tracks if len(a.tracks) == 1 else [t for t in a.tracks if _visible(t, index)]
    scale = np.array([size[1] / a.frame_size[1], size[0] / a.frame_size[0]] * 2)
    faces = []
    for t in shown:
        mask, score, box, analysed = _interp_at(t, index, size)
        faces.append((t, mask, score, None if box is None else np.asarray(box, np.float64) * scale, analysed))
    return faces


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


def _render(frame: np.ndarray, a: _Analysis, index: int, lines_for=None, scale=None
            ) -> tuple[np.ndarray, np.ndarray | None, float, bool]:
    """Frame `index` (the source frame at any size: masks are pasted and boxes scaled to it) with every face drawn:
    one face as before (its mask, box, captions); several: the masks combined (maximum), each face's box and score.
    Returns the image, the combined mask, the frame score (highest face), and whether the frame was analysed."""
    faces = _faces_at(a, index, frame.shape[:2])
    mask = faces[0][1] if len(faces) == 1 else (np.max(np.stack([f[1] for f in faces]), axis=0) if faces else None)
    score = max((f[2] for f in faces), default=float("nan"))
    analysed = any(f[4] for f in faces)
    lines = lines_for(score, analysed) if lines_for is not None else []
    if len(a.tracks) == 1:
        return render_frame(frame, mask, faces[0][3], lines, scale=scale), mask, score, analysed
    image = render_frame(frame, mask, None, lines, scale=scale)
    used = _fit_scale([t for t, _ in lines], frame.shape[1], _font_scale(frame.shape[0]) if scale is None else scale)
    _draw_faces(image, faces, a.threshold, used)
    return image, mask, score, analysed


def overlay_size(frame_size: tuple[int, int], size=DEFAULT_OVERLAY_WIDTH) -> tuple[int, int]:
    """`(h, w)` an overlay of a `frame_size` (H, W) video is drawn at: `size` "source" (or None) keeps the video's
    size; a width in pixels scales wider videos down to it (height in proportion, even; never upscaled)."""
    height, width = (int(v) for v in frame_size)
    if size is None or (isinstance(size, str) and size.lower() == SOURCE_SIZE):
        return height, width
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) < 16:
        raise ValueError(f"overlay size must be a width >= 16 pixels or {SOURCE_SIZE!r}, got {size!r}")
    if width <= int(size):
        return height, width
    w = int(size) - int(size) % 2
    return max(2, 2 * int(round(height * w / width / 2))), w


def _scaled(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if frame.shape[:2] == tuple(size):
        return frame
    return cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def _decode_scaled(video_path, frame_size: tuple[int, int], size: tuple[int, int], max_frames: int | None = None):
    """`(index, frame)` of every frame of the video at `size` (h, w), one at a time; the decoder scales the coded
    picture before its conversion to RGB (a rotated video's coded size is the display size turned)."""
    decode_size = None
    if tuple(size) != tuple(frame_size):
        info = probe_video(video_path)
        if (info.height, info.width) == tuple(frame_size):
            decode_size = (size[1], size[0])
        elif (info.width, info.height) == tuple(frame_size):
            decode_size = (size[0], size[1])
    for index, frame in iter_video_frames(video_path, max_frames=max_frames, size=decode_size):
        yield index, _scaled(frame, size)


def write_overlay(
    video_path, result, out_mp4, contact_sheet: bool | str | Path = True, progress: bool | None = None,
    frames: dict[int, np.ndarray] | None = None, size=DEFAULT_OVERLAY_WIDTH,
) -> tuple[Path, Path | None]:
    """Write the overlay video and, by default, the contact sheet `out_mp4` with `.png`: every face's mask (the
    highest where they meet), box and score.

    The video holds every source frame, decoded again from `video_path` in one streaming pass (decode, draw, encode
    one frame at a time); with `frames` (original frame index -> RGB frame `(h, w, 3)` uint8 at the video's size
    or smaller, e.g. `detect_video(..., keep_frames=1280)`'s `result.analysed_frames`) it holds those frames only,
    nothing is decoded (`video_path` may be None), and it plays at the rate that keeps the source's duration (at
    least 1 frame per second).

    `size`: a width in pixels (default `DEFAULT_OVERLAY_WIDTH` = 1280): videos wider than that are drawn scaled
    down to it (masks pasted straight at that size), narrower ones at their own size; "source": the video's size.

    Returns `(mp4_path, png_path or None)`.
    """
    a = _as_analysis(result)
    out_mp4 = Path(out_mp4)
    target = overlay_size(a.frame_size, size)
    if frames is not None:
        if not frames:
            raise ValueError("no frames to draw the overlay on")
        duration = a.total_frames / a.fps if a.fps and a.total_frames else 0.0
        fps = max(1.0, len(frames) / duration) if duration else (a.fps or 25.0)
        kept_size = next(iter(frames.values())).shape[:2]
        if kept_size[1] < target[1]:  # frames kept smaller than the display size are drawn at their size
            target = tuple(int(v) for v in kept_size)
        source = ((int(i), _scaled(frames[i], target)) for i in sorted(frames))
    else:
        fps = a.fps or probe_video(video_path).fps or 25.0
        source = _decode_scaled(video_path, a.frame_size, target)
    wanted = set(int(i) for t in a.tracks for i in t.indices)
    tiles: dict[int, np.ndarray] = {}
    encoder = VideoWriter(out_mp4, fps=fps)  # opens the file on its first frame
    total = len(frames) if frames is not None else (a.total_frames or None)
    bar = progress_bar(total, f"delocate: overlay {out_mp4.name}", progress)
    try:
        for index, frame in source:
            image, _, _, _ = _render(frame, a, index, lambda sc, an: _frame_lines(a, index, sc, an, frame.shape[1]))
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
    """Frame `index` (any size) drawn `width` pixels wide, for the contact sheet."""
    h, w = frame.shape[:2]
    small = _scaled(frame, (max(2, int(round(h * width / float(w)))), width))

    def lines(score, analysed):
        return [(f"#{index}  {score:.2f}", FAKE_RGB if score >= a.threshold else REAL_RGB)]

    return _render(small, a, index, lines, scale=0.6)[0]


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
    analysed frames, at any size) or are decoded from `video_path` (one sequential pass that stops after the last
    analysed frame; each frame is decoded at about the thumbnail's size and drawn at once, none is kept).
    """
    a = _as_analysis(result)
    indices = sorted(set(int(i) for t in a.tracks for i in t.indices))
    if frames is None:
        if video_path is None:
            raise ValueError("pass video_path or frames")
        wanted, tiles = set(indices), {}
        size = overlay_size(a.frame_size, thumb_width)
        for index, frame in _decode_scaled(video_path, a.frame_size, size, max_frames=max(indices) + 1):
            if index in wanted:
                tiles[index] = _thumbnail(frame, a, index, thumb_width)
        picked = [tiles[i] for i in indices if i in tiles]
    else:
        picked = [_thumbnail(f, a, i, thumb_width) for i, f in zip(indices, frames)]
    return _write_sheet(Path(png), a, picked, columns)


__all__ = ["DEFAULT_OVERLAY_WIDTH", "SOURCE_SIZE", "overlay_size", "render_frame", "save_contact_sheet",
           "write_overlay"]
