"""Video decoding, frame sampling and encoding: the one module that opens PyAV. Every caller goes through its
public API:

- `probe_video(path)` -> `VideoInfo` (fps, declared frames, duration, size) without decoding; `check_video_file`
  checks the path and the container only.
- `sample_frame_indices(total, num_frames, strategy)`: which frames a clip keeps. Inference (frames of a video) and
  training (frames of a cached face clip) both call it, so a model is trained on the sampling it is run on.
- `read_video(path, num_frames, sampling)` -> `VideoClip`; `read_frames(path, indices)` -> the given frames;
  `iter_clips(video, clip_len, num_clips)` -> consecutive `VideoClip`s over a path or an array `(T, H, W, 3)`
  (`as_frame_array` is the array-input check); `iter_video_frames(path)` -> every frame, in order.
- `VideoWriter` / `write_video`: H.264 encoding.

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

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SAMPLING_MODES = ("uniform", "all", "stride")
DEFAULT_STRIDE = 2


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


@dataclass
class VideoInfo:
    """Container metadata of a video (`probe_video`): duration (s), average fps, frame count (declared by the
    container, else counted from packets), frame width and height (coded size, before rotation)."""

    duration_s: float
    fps: float
    frames: int
    width: int
    height: int


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__


def _check_path(path) -> Path:
    """Raise `VideoDecodeError` for paths that cannot be a video file."""
    if not isinstance(path, (str, os.PathLike)):
        raise VideoDecodeError(f"cannot decode video {path!r}: expected a file path, got {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise VideoDecodeError(f"cannot decode video '{p}': file does not exist")
    if p.is_dir():
        raise VideoDecodeError(f"cannot decode video '{p}': path is a directory, not a video file")
    if p.stat().st_size == 0:
        raise VideoDecodeError(f"cannot decode video '{p}': file is empty (0 bytes)")
    return p


def _looks_like_media(p: Path) -> bool:
    """True if the file starts like an MP4/MOV, Matroska/WebM or AVI container (so a failed open means damage)."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head[:4] in (b"\x1aE\xdf\xa3", b"RIFF")


def _open(p: Path):
    """Open a container and return `(container, video_stream)`; typed errors on failure."""
    import av

    try:
        container = av.open(str(p), mode="r")
    except av.error.FFmpegError as exc:  # InvalidDataError, EOFError ...
        text = getattr(exc, "strerror", None) or _one_line(exc)
        if _looks_like_media(p) or isinstance(exc, av.error.EOFError):
            reason = f"file is truncated or incomplete ({text})"
        else:
            reason = f"not a video file ({text})"
        raise VideoDecodeError(f"cannot decode video '{p}': {reason}") from None
    except (OSError, ValueError) as exc:
        raise VideoDecodeError(f"cannot decode video '{p}': {_one_line(exc)}") from None
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"cannot decode video '{p}': no video stream in the file")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        container.close()
        raise VideoDecodeError(f"cannot decode video '{p}': unsupported video codec")
    return container, stream


def _stream_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    try:
        return float(rate) if rate else 0.0
    except (TypeError, ZeroDivisionError):
        return 0.0


def check_video_file(path) -> Path:
    """The path as a `Path` once it is an existing, non-empty file that opens as a video (or has an image
    extension); `VideoDecodeError` otherwise. Opens the container only (no demuxing, no decoding)."""
    p = _check_path(path)
    if p.suffix.lower() not in IMAGE_EXTENSIONS:
        _open(p)[0].close()
    return p


def probe_video(path) -> VideoInfo:
    """`VideoInfo` from the container metadata, without decoding; when the header has no duration (e.g. browser
    MediaRecorder WebM) a demuxing pass measures it from the packet timestamps. Typed errors for bad files."""
    p = _check_path(path)
    container, stream = _open(p)
    try:
        fps, frames = _stream_fps(stream), int(stream.frames or 0)
        duration = 0.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = float(container.duration) / 1_000_000  # av.time_base
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
    finally:
        container.close()
    if duration <= 0 and frames > 0 and fps > 0:
        duration = frames / fps
    if duration <= 0:
        packets = packet_index(p)
        frames = frames or packets.count
        duration = packets.end_s if packets.end_s > 0 else packets.count / (fps if 0 < fps <= 240 else 25.0)
    return VideoInfo(duration_s=duration, fps=fps, frames=frames, width=width, height=height)


@dataclass
class PacketIndex:
    """What one demuxing pass (no decoding) tells about a video stream.

    Attributes:
        count: video packets with data, i.e. frames.
        read_error: demuxing stopped on an error (corrupt tail).
        display_pts: `(count,)` sorted timestamps: `display_pts[i]` is frame `i`'s (display order); None when the
            timestamps cannot index frames (missing, repeated, or packets the demuxer marks to discard).
        keyframe_pts: sorted timestamps of the keyframes (None with `display_pts`).
        end_s: end of the last packet in seconds (0.0 without timestamps).
    """

    count: int
    read_error: bool
    display_pts: np.ndarray | None = None
    keyframe_pts: np.ndarray | None = None
    end_s: float = 0.0


def packet_index(path) -> PacketIndex:
    """Demux (without decoding) to count frames and, where timestamps allow, index frames and keyframes."""
    import av

    container, stream = _open(Path(path))
    pts, keys, error, trusted, end = [], [], False, True, 0.0
    try:
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None and packet.time_base:
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            if packet.size and packet.dts is not None:
                pts.append(packet.pts)
                trusted = trusted and packet.pts is not None and not packet.is_discard
                if packet.is_keyframe:
                    keys.append(packet.pts)
    except av.error.FFmpegError:
        error = True
    finally:
        container.close()
    index = PacketIndex(count=len(pts), read_error=error, end_s=end)
    if trusted and pts and keys:
        display = np.sort(np.asarray(pts, dtype=np.int64))
        if (np.diff(display) > 0).all():
            index.display_pts, index.keyframe_pts = display, np.sort(np.asarray(keys, dtype=np.int64))
    return index


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


def sample_frame_indices(
    total_frames: int, num_frames: int | None, strategy: str = "uniform", stride: int | None = None
) -> np.ndarray:
    """Frame indices `(T,)` int64 to keep from `total_frames` frames (of a video, or of a cached clip).

    - "uniform": the centre of each of `num_frames` equal segments (covers the whole video, no repeats; all
      frames when `total_frames == num_frames`).
    - "stride": every `stride`-th frame from 0, `num_frames` of them (all of them if `num_frames` is None).
    - "all": every frame.
    Raises `ValueError` if there are too few frames (callers turn it into `VideoTooShortError`).
    """
    if strategy not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {strategy!r}")
    if strategy == "all":
        return np.arange(total_frames, dtype=np.int64)
    if strategy == "uniform":
        if num_frames is None or num_frames < 1:
            raise ValueError(f"num_frames must be >= 1 for uniform sampling, got {num_frames}")
        if total_frames < num_frames:
            raise ValueError(f"has {total_frames} decodable frames, {num_frames} needed (sampling='uniform')")
        seg = total_frames / num_frames
        return np.minimum(((np.arange(num_frames) + 0.5) * seg).astype(np.int64), total_frames - 1)
    stride = DEFAULT_STRIDE if stride is None else int(stride)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    indices = np.arange(0, total_frames, stride, dtype=np.int64)
    if num_frames is not None:
        if len(indices) < num_frames:
            raise ValueError(
                f"has {total_frames} decodable frames, {(num_frames - 1) * stride + 1} needed "
                f"(sampling='stride', stride={stride}, num_frames={num_frames})"
            )
        indices = indices[:num_frames]
    return indices


sample_indices = sample_frame_indices  # the name used before `sample_frame_indices`


def _is_truncated(declared: int, found: int) -> bool:
    """The container index (e.g. MP4 'stsz') lists clearly more frames than the file holds."""
    return declared > 0 and found < 0.9 * declared - 1


def _header(p: Path) -> tuple[int, float]:
    """`(declared frame count, fps)` from the container header."""
    container, stream = _open(p)
    try:
        return int(stream.frames or 0), _stream_fps(stream)
    finally:
        container.close()


def _count_frames(p: Path) -> tuple[int, float, PacketIndex]:
    """`(frames, fps, packet index)` from the header and one demuxing pass; `VideoDecodeError` when the file holds
    clearly fewer frames than its container declares (truncated) or none."""
    declared, fps = _header(p)
    packets = packet_index(p)
    counted = packets.count
    if (packets.read_error and declared > counted) or _is_truncated(declared, counted):
        raise VideoDecodeError(
            f"cannot decode video '{p}': file is truncated (container declares {declared} frames, "
            f"only {counted} readable)"
        )
    total = counted if counted > 0 else declared
    if total <= 0:
        raise VideoDecodeError(f"cannot decode video '{p}': no decodable frame")
    return total, fps, packets


def _wanted_or_raise(p, total, num_frames, sampling, stride, allow_single_frame) -> list[int]:
    if total <= 0:
        raise VideoDecodeError(f"cannot decode video '{p}': no decodable frame")
    if total == 1 and allow_single_frame:
        return [0]
    try:
        return sample_frame_indices(total, num_frames, sampling, stride).tolist()
    except ValueError as exc:
        if "needed" in str(exc):
            raise VideoTooShortError(f"video '{p}' {exc}") from None
        raise


def _clip(found: list, fps: float, total: int, p: Path) -> VideoClip:
    """`VideoClip` from `_rgb_frames` items `(index, image, rotation)`."""
    if not found:
        raise VideoDecodeError(f"cannot decode video '{p}': no decodable frame")
    frames = np.stack([image for _, image, _ in found])
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


def _fit_num_clips(total: int, clip_len: int, num_clips: int, name: str) -> int:
    if total >= num_clips * clip_len:
        return num_clips
    if total < clip_len:
        frames = f"{total} decodable frame{'s' if total != 1 else ''}"
        raise VideoTooShortError(f"video {name} has {frames}, {clip_len} needed (one clip)")
    fitted = total // clip_len
    logger.warning("video %s has %d frames: analysing %d clips of %d instead of %d", name, total, fitted, clip_len,
                   num_clips)
    return fitted


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
    emitted, buffer = 0, []
    for done, (index, image, rotation) in enumerate(_rgb_frames(p, indices, packets), start=1):
        if on_frame is not None:
            on_frame(done, len(indices))
        buffer.append((index, image, rotation))
        if len(buffer) == clip_len:
            clip = _clip(buffer, fps, total, p)
            clip.clip_index, clip.num_clips = emitted, num_clips
            yield clip
            emitted, buffer = emitted + 1, []
    if emitted < num_clips:  # corrupt tail: the packet count promised more frames than decode
        if emitted == 0:
            raise VideoDecodeError(f"cannot decode video {name}: decoding stopped before {clip_len} frames")
        logger.warning("video %s: decoding stopped early, analysed %d of %d clips", name, emitted, num_clips)


class VideoWriter:
    """Frame-by-frame H.264 (yuv420p) encoder, MPEG-4 Part 2 when the FFmpeg build has no libx264; a context manager.

    `write(image)` takes `(H, W, 3)` uint8 RGB or `(H, W)` gray; every frame must have the first frame's size. Odd
    sizes are padded by one replicated pixel (yuv420p needs even sizes). Memory does not grow with the video.

    Args:
        path: output file (parent folders are created).
        fps: frame rate (0 or less: 25).
        crf: libx264 quality, 0 lossless .. 51 (18: visually lossless); MPEG-4 maps it to a quantiser.
        codec: force a codec (default: libx264 when available).
        threads: encoder threads (1 makes the output byte-identical between runs).
        options: extra encoder options (e.g. `{"g": "50"}` for a keyframe every 50 frames).
    """

    def __init__(self, path, fps: float = 25.0, crf: int = 18, codec: str | None = None, threads: int | None = None,
                 options: dict | None = None):
        self.path = Path(path)
        self.fps, self.crf, self.threads = fps if fps and fps > 0 else 25.0, int(crf), threads
        self.options = dict(options or {})
        self.codec = codec
        self.container = self.stream = None
        self.size = None  # (H, W) of the frames written
        self.frames_written = 0

    def _open(self, height: int, width: int) -> None:
        import av
        from fractions import Fraction

        codec = self.codec or ("libx264" if "libx264" in av.codecs_available else "mpeg4")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.path), mode="w")
        self.stream = self.container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self.stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        else:
            self.stream.options = {"qscale": str(max(2, min(31, self.crf // 2)))}
        self.stream.options = {**self.stream.options, **{str(k): str(v) for k, v in self.options.items()}}
        if self.threads is not None:
            self.stream.codec_context.thread_count = int(self.threads)
        self.size = (height, width)

    def write(self, image: np.ndarray) -> None:
        import av

        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"a frame must be (H, W, 3) RGB or (H, W) gray, got shape {image.shape}")
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        if self.container is None:
            self._open(*image.shape[:2])
        elif image.shape[:2] != self.size:
            raise ValueError(f"frame {self.frames_written} is {image.shape[1]}x{image.shape[0]}, the video is "
                             f"{self.size[1]}x{self.size[0]}")
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        if self.container is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            self.container = None
        return self.path

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_video(path, frames: np.ndarray | Sequence[np.ndarray], fps: float = 25.0, codec: str | None = None,
                crf: int = 18, threads: int | None = None) -> Path:
    """Encode `frames` `(T, H, W, 3)` uint8 RGB (or `(T, H, W)` gray) to `path` with a `VideoWriter`. Returns the
    path."""
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[-1] != 3) or len(frames) == 0:
        raise ValueError(f"frames must be (T, H, W, 3) or (T, H, W) with T >= 1, got shape {frames.shape}")
    with VideoWriter(path, fps=fps, crf=crf, codec=codec, threads=threads) as writer:
        for image in frames:
            writer.write(image)
    return Path(path)
