"""Opening a video container and reading what it declares, without decoding (part of `processing.video_io`, which
re-exports the public names; import them from there).

- `check_video_file(path)`: the path is an existing, non-empty file that opens as a video (container only).
- `probe_video(path)` -> `VideoInfo`: duration (s), fps, frame count, coded width / height.
- `packet_index(path)` -> `PacketIndex`: one demuxing pass (no decoding) that counts the frames and, where the
  timestamps allow, gives each frame's display timestamp `(frames,)` and the keyframes' `(keyframes,)`, which is
  what the decoder (`video_io_decode`) seeks with.
- `_count_frames(path)` -> `(frames, fps, PacketIndex)`, the count the samplers start from, refusing truncated
  files; `_open`, `_check_path`, `_header`, `_one_line`: helpers shared by the `video_io*` files only.

Failures are typed one-line errors: missing path, directory, empty file, not a video, no video stream, unsupported
codec, truncated file -> `VideoDecodeError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import VideoDecodeError

__all__ = ["IMAGE_EXTENSIONS", "PacketIndex", "VideoInfo", "check_video_file", "packet_index", "probe_video"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


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
