"""Video decoding, frame sampling and encoding: the public owner of video I/O. Every caller goes through its public
API (this module's names, nothing private); PyAV is opened only in the `processing/video_io*.py` files:

- `probe_video(path)` -> `VideoInfo` (fps, declared frames, duration, size) without decoding; `check_video_file`
  checks the path and the container only.
- `sample_frame_indices(total, num_frames, strategy)`: which frames a clip keeps. Inference (frames of a video) and
  training (frames of a cached face clip) both call it, so a model is trained on the sampling it is run on.
- `read_video(path, num_frames, sampling)` -> `VideoClip`; `read_frames(path, indices)` -> the given frames;
  `iter_clips(video, clip_len, num_clips)` -> consecutive `VideoClip`s over a path or an array `(T, H, W, 3)`
  (`as_frame_array` is the array-input check); `iter_video_frames(path)` -> every frame, in order.
- `VideoWriter` / `write_video`: H.264 encoding.

The work is split by job, and this module re-exports the public names of each file:

- `video_io_probe.py`: opening the container without decoding (`check_video_file`, `probe_video`, `packet_index`).
- `video_io_sampling.py`: which frame indices a clip keeps (`sample_frame_indices`).
- `video_io_decode.py`: decoding wanted frames to RGB, seeking (`iter_wanted_frames`, `iter_video_frames`).
- `video_io_write.py`: encoding (`VideoWriter`, `write_video`).
- here: `VideoClip` and the readers built from those (`read_video`, `read_frames`, `iter_clips`, `as_frame_array`).

Sampling never holds the whole video in memory: a demuxing pass (no decoding, `packet_index`) counts and indexes
the frames, then the decoder seeks to the keyframe before each wanted frame (one sequential pass when timestamps
cannot be trusted) and converts only the wanted frames to RGB, rotated to display orientation.

Every failure is a typed, one-line error from `processing.errors`:

- missing path, directory, empty file, not a video, no video stream, truncated file -> `VideoDecodeError`
- fewer decodable frames than the sampling mode needs -> `VideoTooShortError`
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DelocateInputError, VideoDecodeError, VideoTooShortError
from .video_io_decode import _iter_decoded, _read_image, _rgb_frames, iter_video_frames, iter_wanted_frames
from .video_io_probe import (
    IMAGE_EXTENSIONS,
    PacketIndex,
    VideoInfo,
    _check_path,
    _count_frames,
    _header,
    _is_truncated,
    check_video_file,
    packet_index,
    probe_video,
)
from .video_io_sampling import (
    DEFAULT_STRIDE,
    SAMPLING_MODES,
    _fit_num_clips,
    _wanted_or_raise,
    sample_frame_indices,
    sample_indices,
)
from .video_io_write import VideoWriter, write_video

__all__ = [
    "DEFAULT_STRIDE",
    "IMAGE_EXTENSIONS",
    "SAMPLING_MODES",
    "PacketIndex",
    "VideoClip",
    "VideoInfo",
    "VideoWriter",
    "as_frame_array",
    "check_video_file",
    "iter_clips",
    "iter_video_frames",
    "iter_wanted_frames",
    "packet_index",
    "probe_video",
    "read_frames",
    "read_video",
    "sample_frame_indices",
    "sample_indices",
    "write_video",
]

logger = logging.getLogger(__name__)


@dataclass
class VideoClip:
    """Sampled frames of one video.

    Attributes:
        frames: `(T, H, W, 3)` uint8 RGB frames (display orientation, rotation metadata applied).
        frame_indices: `(T,)` int64 index of each frame in the decoded stream.
        fps: average frame rate of the stream (0.0 when unknown, e.g. a still image or an array).
        total_frames: number of decodable frames in the source (after `max_frames`).
        size: `(H, W)` of the frames.
        path: source file, or None for in-memory input.
        rotation: display-matrix rotation that was applied (degrees counter-clockwise).
        clip_index, num_clips: position of this clip among those `iter_clips` yields.
        name: how messages name the source (`'path'` or `array of shape (...)`).
    """

    frames: np.ndarray
    frame_indices: np.ndarray
    fps: float
    total_frames: int
    size: tuple[int, int]
    path: str | None = None
    rotation: int = field(default=0)
    clip_index: int = 0
    num_clips: int = 1
    name: str = ""

    def __len__(self) -> int:
        return int(self.frames.shape[0])



def _clip(found: list, fps: float, total: int, p: Path, frames: np.ndarray | None = None) -> VideoClip:
    """`VideoClip` from `_rgb_frames` items `(index, image, rotation)` (`frames`: their images, already stacked)."""
    if not found:
        raise VideoDecodeError(f"cannot decode video '{p}': no decodable frame")
    frames = np.stack([image for _, image, _ in found]) if frames is None else frames
    return VideoClip(frames=frames, frame_indices=np.asarray([i for i, _, _ in found], dtype=np.int64), fps=fps,
                     total_frames=int(total), size=(int(frames.shape[1]), int(frames.shape[2])), path=str(p),
                     rotation=found[-1][2], name=f"'{p}'")


def _single_frame_clip(image, num_frames, sampling, fps, path, rotation=0) -> VideoClip:
    repeat = 1 if sampling == "all" or not num_frames else int(num_frames)
    return VideoClip(frames=np.repeat(image[None], repeat, axis=0), frame_indices=np.zeros(repeat, dtype=np.int64),
                     fps=fps, total_frames=1, size=(int(image.shape[0]), int(image.shape[1])), path=path,
                     rotation=rotation, name=f"'{path}'")


def read_video(
    path,
    num_frames: int | None = 16,
    sampling: str = "uniform",
    stride: int | None = None,
    max_frames: int | None = None,
    allow_single_frame: bool = False,
) -> VideoClip:
    """Decode and sample frames of a video file.

    Args:
        path: video file (anything FFmpeg reads), or a still image when `allow_single_frame=True`.
        num_frames: frames to return for "uniform"/"stride" sampling (ignored by "all").
        sampling: "uniform" (segment centres over the whole video), "all", or "stride" (every `stride`-th frame);
            see `sample_frame_indices`.
        stride: step for "stride" sampling (default 2).
        max_frames: only consider the first `max_frames` frames of the video (memory guard for "all").
        allow_single_frame: accept a single-frame source (still image or 1-frame video). With "uniform"/"stride"
            sampling that frame is repeated `num_frames` times.

    Returns:
        `VideoClip` with `frames` `(T, H, W, 3)` uint8 RGB.
    """
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}")
    p = _check_path(path)
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        if not allow_single_frame:
            raise VideoTooShortError(
                f"video '{p}' is a still image (1 frame); pass allow_single_frame=True to use images"
            )
        return _single_frame_clip(_read_image(p), num_frames, sampling, fps=0.0, path=str(p))
    if sampling == "all":
        declared, fps = _header(p)
        found = list(_rgb_frames(p, None, max_frames=max_frames))
        if max_frames is None and _is_truncated(declared, len(found)):
            raise VideoDecodeError(
                f"cannot decode video '{p}': file is truncated (container declares {declared} frames, "
                f"only {len(found)} decodable)"
            )
        if len(found) < 2 and not allow_single_frame:
            raise VideoTooShortError(
                f"video '{p}' has {len(found)} decodable frame(s), 2 needed (sampling='all'); "
                "pass allow_single_frame=True to accept it"
            )
        return _clip(found, fps, len(found), p)
    total, fps, packets = _count_frames(p)
    if max_frames is not None:
        total = min(total, int(max_frames))
    wanted = _wanted_or_raise(p, total, num_frames, sampling, stride, allow_single_frame)
    found = list(_rgb_frames(p, wanted, packets))
    if len(found) < len(wanted):  # the packet count over-estimated the decodable frames (corrupt tail): resample
        total = sum(1 for _ in _iter_decoded(p, max_frames=max_frames))
        wanted = _wanted_or_raise(p, total, num_frames, sampling, stride, allow_single_frame)
        found = list(_rgb_frames(p, wanted, max_frames=max_frames))
    if found and len(wanted) == 1 and total == 1 and num_frames and num_frames > 1:
        return _single_frame_clip(found[0][1], num_frames, sampling, fps=fps, path=str(p), rotation=found[0][2])
    return _clip(found, fps, total, p)


def read_frames(path, indices: Sequence[int]) -> VideoClip:
    """The frames at `indices` (that order, repeats allowed) of a video file, decoded as `read_video` does
    (seeking, rotation applied): `frames` `(N, H, W, 3)` uint8 RGB. An index past the last decodable frame gets
    the last decodable frame; `frame_indices` `(N,)` says which frame each one is, `total_frames` how many there
    are. `ValueError` without indices, `VideoDecodeError` when nothing decodes."""
    p = _check_path(path)
    wanted = [int(i) for i in indices]
    if not wanted:
        raise ValueError("read_frames needs at least one frame index")
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        image = _read_image(p)
        return VideoClip(np.repeat(image[None], len(wanted), axis=0), np.zeros(len(wanted), dtype=np.int64), 0.0,
                         1, (int(image.shape[0]), int(image.shape[1])), str(p), name=f"'{p}'")
    packets = packet_index(p)
    last = packets.count - 1 if packets.count else max(wanted)
    targets = sorted({min(i, last) for i in wanted})
    found = {i: (i, image, rotation) for i, image, rotation in _rgb_frames(p, targets, packets)}
    if targets[-1] not in found:  # corrupt tail: the last decodable frame stands in for the missing ones
        tail = None
        for tail in _rgb_frames(p, None):
            pass
        if tail is not None:
            found[tail[0]] = tail
    if not found:
        raise VideoDecodeError(f"cannot decode video '{p}': no decodable frame")
    keys = sorted(found)
    picked = [found[keys[max(0, bisect.bisect_right(keys, min(i, last)) - 1)]] for i in wanted]
    total = packets.count if targets[-1] in found or not packets.count else keys[-1] + 1
    _, fps = _header(p)
    return _clip(picked, fps, total, p)


def as_frame_array(video) -> tuple[np.ndarray, str]:
    """Frames given in memory -> `(frames (T, H, W, 3) uint8 RGB, name for messages)`. Takes a numpy array or torch
    tensor `(T, H, W, 3)` / `(T, 3, H, W)` / one frame `(H, W, 3)`, or a list of `(H, W, 3)` frames; floats in
    [0, 1] are scaled to 0..255. Anything else -> `DelocateInputError`."""
    if hasattr(video, "detach") and hasattr(video, "cpu"):  # torch tensor
        video = video.detach().cpu().numpy()
    if isinstance(video, (list, tuple)):
        video = np.stack([np.asarray(f) for f in video]) if len(video) else np.zeros((0,))
    arr = np.asarray(video)
    name = f"array of shape {tuple(arr.shape)}"
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] != 3 and arr.shape[1] == 3:
        arr = arr.transpose(0, 2, 3, 1)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype.kind not in "uifb":
        raise DelocateInputError(f"cannot use {name}: expected a video path or RGB frames (T, H, W, 3)")
    if arr.dtype != np.uint8:
        scale = 255.0 if arr.dtype.kind == "f" and arr.size and arr.max() <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
    return arr, name



def iter_clips(video, clip_len: int, num_clips: int = 1, allow_single_frame: bool = False,
               on_frame: Callable[[int, int], None] | None = None) -> Iterator[VideoClip]:
    """Yield `num_clips` consecutive `VideoClip`s of `clip_len` frames sampled uniformly (`sample_frame_indices`)
    over `video`: a path (seeking; one clip of decoded frames held at a time) or frames (`as_frame_array`).

    A video too short for `num_clips` gives fewer clips (logged), one shorter than a clip `VideoTooShortError`. A
    still image (or a 1-frame video with `allow_single_frame`) gives one clip of the repeated frame. `on_frame(done,
    total)` is called after each decoded frame (a progress bar); each clip's `name` names the source in messages.
    """
    if not isinstance(video, (str, os.PathLike)):
        arr, name = as_frame_array(video)
        total = int(arr.shape[0])
        num_clips = _fit_num_clips(total, clip_len, num_clips, name)
        indices = sample_frame_indices(total, num_clips * clip_len, "uniform")
        for k in range(num_clips):
            idx = indices[k * clip_len:(k + 1) * clip_len]
            yield VideoClip(arr[idx], idx, 0.0, total, (int(arr.shape[1]), int(arr.shape[2])), None, 0, k, num_clips,
                            name)
        return
    p = _check_path(video)
    if p.suffix.lower() in IMAGE_EXTENSIONS:  # still image: one clip of the repeated frame
        yield read_video(p, num_frames=clip_len, allow_single_frame=allow_single_frame)
        return
    total, fps, packets = _count_frames(p)
    if total == 1 and allow_single_frame:
        yield read_video(p, num_frames=clip_len, allow_single_frame=True)
        return
    name = f"'{p}'"
    num_clips = _fit_num_clips(total, clip_len, num_clips, name)
    indices = sample_frame_indices(total, num_clips * clip_len, "uniform").tolist()
    # each clip's frames are written into one array as they are decoded (no list of frames stacked afterwards), and
    # a clip is not held here while the next one is decoded: a clip of 8 4K frames is 200 MB
    emitted, buffer, frames = 0, [], None
    for done, (index, image, rotation) in enumerate(_rgb_frames(p, indices, packets), start=1):
        if on_frame is not None:
            on_frame(done, len(indices))
        if frames is None:
            frames = np.empty((clip_len, *image.shape), dtype=image.dtype)
        frames[len(buffer)] = image
        buffer.append((index, None, rotation))
        if len(buffer) == clip_len:
            clip = _clip(buffer, fps, total, p, frames=frames)
            clip.clip_index, clip.num_clips = emitted, num_clips
            emitted, buffer, frames = emitted + 1, [], None
            yield clip
            clip = None
    if emitted < num_clips:  # corrupt tail: the packet count promised more frames than decode
        if emitted == 0:
            raise VideoDecodeError(f"cannot decode video {name}: decoding stopped before {clip_len} frames")
        logger.warning("video %s: decoding stopped early, analysed %d of %d clips", name, emitted, num_clips)
