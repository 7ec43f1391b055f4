"""Encoding frames to a video file (part of `processing.video_io`, which re-exports these names; import them from
there): `VideoWriter` writes `(H, W, 3)` uint8 RGB frames one at a time (H.264 yuv420p, MPEG-4 Part 2 without
libx264), `write_video(path, frames (T, H, W, 3))` a whole clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["VideoWriter", "write_video"]


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
