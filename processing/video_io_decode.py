"""Decoding frames of a video file to RGB arrays (part of `processing.video_io`, which re-exports the public names;
import them from there).

- `iter_wanted_frames(path, wanted, index)` -> `(i, av.VideoFrame, rotation)` for the wanted display indices, in
  ascending order: with a usable `PacketIndex` the decoder seeks to the keyframe before each wanted frame (about
  one keyframe interval decoded per frame), else one sequential pass; the frames are those sequential decoding
  gives.
- `iter_video_frames(path)` -> `(index, (H, W, 3) uint8 RGB)` for every frame, sequentially.
- `_rgb_frames(path, wanted, packets)` -> `(index, (H, W, 3) uint8 RGB, rotation)`, rotated to display orientation
  and resized to the first frame's size if the resolution changes mid-stream; `_iter_decoded` (sequential decoding),
  `_read_image` (a still image as `(H, W, 3)` RGB): helpers of `video_io.py`.

A stream that cannot be decoded at all raises `VideoDecodeError`; a corrupt tail stops decoding quietly (logged),
and the callers compare the frames they got with those they needed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import VideoDecodeError
from .video_io_probe import IMAGE_EXTENSIONS, PacketIndex, _check_path, _one_line, _open

__all__ = ["iter_video_frames", "iter_wanted_frames"]

logger = logging.getLogger(__name__)


class _SeekFailed(Exception):
    """Timestamps did not lead to the wanted frame: fall back to sequential decoding."""


def _iter_seeking(p: Path, wanted: list[int], index: PacketIndex, stats: dict):
    """Yield `(i, frame, rotation)` for the sorted display indices `wanted`, seeking to the keyframe before a wanted
    frame whenever that keyframe lies ahead of the decoder. Raises `_SeekFailed` when a timestamp is not found."""
    import av

    display, keys = index.display_pts, index.keyframe_pts
    container, stream = _open(p)
    stream.thread_type = "AUTO"
    frames, current = None, -1  # decoded-frame iterator; display index of the last frame it gave
    try:
        for i in wanted:
            if i >= len(display):
                raise _SeekFailed(f"frame {i} is past the {len(display)} indexed frames")
            target = int(display[i])
            k = int(np.searchsorted(keys, target, side="right")) - 1
            if k < 0:
                raise _SeekFailed(f"no keyframe before frame {i}")
            key_index = int(np.searchsorted(display, keys[k]))
            if frames is None or key_index > current + 1:
                container.seek(int(keys[k]), stream=stream, backward=True, any_frame=False)
                frames, current = container.decode(stream), key_index - 1
                stats["seeks"] = stats.get("seeks", 0) + 1
            for frame in frames:
                stats["decoded"] = stats.get("decoded", 0) + 1
                if frame.pts is None:
                    raise _SeekFailed("decoded frame without timestamp")
                current = int(np.searchsorted(display, frame.pts))
                if frame.pts < target:
                    continue
                if frame.pts != target:
                    raise _SeekFailed(f"frame {i} (pts {target}) not found after seeking")
                yield i, frame, int(getattr(frame, "rotation", 0) or 0)
                break
            else:
                raise _SeekFailed(f"stream ended before frame {i}")
    except av.error.FFmpegError as exc:
        raise _SeekFailed(_one_line(exc)) from None
    finally:
        container.close()


def iter_wanted_frames(path, wanted, index: PacketIndex | None = None, stats: dict | None = None):
    """Yield `(i, av.VideoFrame, rotation)` for each wanted frame index `i` (display order), in ascending order.

    With a usable `PacketIndex` the decoder seeks to the keyframe before each wanted frame when that skips work,
    so sampling 16 frames of a 10-minute video decodes about 16 GOPs instead of the whole video; the frames are
    the ones sequential decoding gives. Without one (or when a timestamp does not lead to its frame) it decodes
    sequentially, which also reports corrupt files. `stats` (optional dict) receives `decoded` and `seeks` counts.
    """
    p = Path(path)
    wanted = sorted({int(i) for i in wanted})
    stats = {} if stats is None else stats
    last = -1
    if index is not None and index.display_pts is not None and wanted:
        try:
            for item in _iter_seeking(p, wanted, index, stats):
                last = item[0]
                yield item
            return
        except _SeekFailed as exc:
            logger.debug("video '%s': sequential decoding after frame %d (%s)", p, last, exc)
            stats["fallback"] = str(exc)
    rest = {i for i in wanted if i > last}
    for i, frame, rotation in _iter_decoded(p, wanted=rest):
        stats["decoded"] = stats.get("decoded", 0) + 1
        if frame is not None:
            yield i, frame, rotation


def _apply_rotation(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate to display orientation; `rotation` is the counter-clockwise angle of the display matrix."""
    k = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


def _iter_decoded(p: Path, max_frames: int | None = None, wanted: set[int] | None = None, size=None):
    """Yield `(index, av.VideoFrame or None, rotation)` for each decoded frame; frames not in `wanted` are None;
    `size=(width, height)` rescales the kept frames (area interpolation).

    Raises `VideoDecodeError` if the stream cannot be decoded at all, and stops quietly at a corrupt tail (the caller
    compares the number of frames it got with what it needed).
    """
    import av

    container, stream = _open(p)
    stream.thread_type = "AUTO"
    index = 0
    try:
        try:
            for frame in container.decode(stream):
                if max_frames is not None and index >= max_frames:
                    break
                keep = wanted is None or index in wanted
                if keep and size is not None and (frame.width, frame.height) != tuple(size):
                    frame = frame.reformat(width=int(size[0]), height=int(size[1]), interpolation="AREA")
                yield index, (frame if keep else None), int(getattr(frame, "rotation", 0) or 0)
                index += 1
                if wanted is not None and index > max(wanted, default=-1):
                    break
        except av.error.FFmpegError as exc:
            if index == 0:
                raise VideoDecodeError(f"cannot decode video '{p}': no decodable frame ({_one_line(exc)})") from None
            logger.warning("video '%s': decoding stopped after %d frames (%s)", p, index, _one_line(exc))
    finally:
        container.close()


def _rgb_frames(p: Path, wanted, packets: PacketIndex | None = None, max_frames: int | None = None):
    """Yield `(index, (H, W, 3) uint8 RGB, rotation)` for the sorted indices `wanted` (every frame when None):
    seeking with a usable `packets` index, else one sequential pass. Frames are rotated to display orientation
    and, when the resolution changes mid-stream, resized to the first frame's size."""
    if wanted is not None and packets is not None and packets.display_pts is not None:
        source = iter_wanted_frames(p, wanted, packets)
    else:
        source = _iter_decoded(p, max_frames=max_frames, wanted=None if wanted is None else set(wanted))
    shape = None
    for index, frame, rotation in source:
        if frame is None:
            continue
        image = _apply_rotation(frame.to_ndarray(format="rgb24"), rotation)
        if shape is None:
            shape = image.shape
        elif image.shape != shape:
            import cv2

            image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        yield index, image, rotation


def iter_video_frames(path, max_frames: int | None = None, size: tuple[int, int] | None = None
                      ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield `(frame_index, frame)` for every frame, `frame` uint8 RGB `(H, W, 3)`, decoding sequentially (memory
    does not grow with the video). `size=(width, height)` rescales each frame before conversion (area)."""
    p = _check_path(path)
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        yield 0, _read_image(p)
        return
    for index, frame, rotation in _iter_decoded(p, max_frames=max_frames, size=size):
        yield index, _apply_rotation(frame.to_ndarray(format="rgb24"), rotation)


def _read_image(p: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if image is None:
        raise VideoDecodeError(f"cannot decode image '{p}': not a readable image file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
