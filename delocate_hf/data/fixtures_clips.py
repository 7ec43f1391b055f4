"""The clips the miniature benchmark layouts are made of (part of :mod:`delocate_hf.data.fixtures`, which
re-exports the public names; import them from there).

- :func:`read_clip`: frames of a real video, ``uint8 (T, H, W, 3)`` RGB (downscaled to ``max_width``, even sizes).
- :func:`write_video`: ``(T, H, W, 3)`` RGB or ``(T, H, W)`` gray -> H.264 yuv420p, byte-identical between runs.
- :func:`placeholder_fake`: the default ``make_fake(frames (T, H, W, 3), rng) -> (fake (T, H, W, 3), masks
  (T, H, W))`` hook; ``_apply_fake`` calls a hook and checks its shapes.
- ``_ClipBank``: short segments of the source videos, segment ``i`` playing identity ``i``; ``_rng(seed, *keys)``:
  a generator that depends only on the seed and the keys.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from processing.video_io import iter_video_frames, probe_video
from processing.video_io import write_video as _write_video

__all__ = ["FPS", "MAX_WIDTH", "MakeFake", "placeholder_fake", "read_clip", "write_video"]

MakeFake = Callable[[np.ndarray, np.random.Generator], "tuple[np.ndarray, np.ndarray]"]

FPS = 25
MAX_WIDTH = 320


# --------------------------------------------------------------------------- video I/O
def read_clip(
    path: str | Path,
    start: int = 0,
    frames: int | None = None,
    size: tuple[int, int] | None = None,
    max_width: int = MAX_WIDTH,
) -> np.ndarray:
    """Decode frames ``[start, start + frames)`` of ``path`` as ``uint8 (T, H, W, 3)`` RGB.

    ``size=(width, height)`` resizes; otherwise frames wider than ``max_width`` are downscaled
    (aspect kept). Sizes are rounded to even numbers (yuv420p needs them).
    """
    info = probe_video(path)
    target = _target_size(info.width, info.height, size, max_width)
    stop = None if frames is None else start + frames
    out = [image for index, image in iter_video_frames(path, max_frames=stop, size=target) if index >= start]
    if not out:
        raise ValueError(f"{path}: no frames decoded from frame {start}")
    return np.stack(out)


def _target_size(w: int, h: int, size: tuple[int, int] | None, max_width: int) -> tuple[int, int]:
    if size is not None:
        tw, th = size
    elif w > max_width:
        tw, th = max_width, round(h * max_width / w)
    else:
        tw, th = w, h
    return max(2, tw - tw % 2), max(2, th - th % 2)


def write_video(path: str | Path, frames: np.ndarray, fps: int = FPS, crf: int = 23) -> Path:
    """Encode ``uint8 (T, H, W, 3)`` RGB (or ``(T, H, W)`` gray) frames to an H.264 yuv420p file, single-threaded so
    that a fixture is the same bytes on every run (`processing.video_io.VideoWriter`)."""
    frames = np.asarray(frames, dtype=np.uint8)
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"frame size {w}x{h} must be even for yuv420p")
    return _write_video(path, frames, fps=fps, crf=crf, threads=1)


# --------------------------------------------------------------------------- placeholder fake
def placeholder_fake(frames: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """PLACEHOLDER manipulation until ``delocate_hf.data.pseudo_fakes`` provides real pseudo-fakes.

    Inside a soft ellipse around the usual face position (centre of the frame, slightly above
    the middle, drifting a little over time) the clip gets a random colour shift plus a blur,
    alpha-blended through the soft ellipse. Returns ``(fake uint8 (T,H,W,3), masks uint8 (T,H,W))``
    where the mask is *exactly* the set of pixels whose value changed (255) or not (0).
    """
    frames = np.asarray(frames, dtype=np.uint8)
    t, h, w = frames.shape[:3]
    shift = (rng.uniform(18, 45, size=3) * rng.choice([-1.0, 1.0], size=3)).astype(np.float32)
    cx, cy = w * rng.uniform(0.45, 0.55), h * rng.uniform(0.38, 0.5)
    ax, ay = w * rng.uniform(0.16, 0.22), h * rng.uniform(0.24, 0.32)
    phase = rng.uniform(0, 2 * np.pi)
    feather = max(3, int(min(ax, ay) * 0.25)) | 1
    # Everything happens in a box holding the ellipse, its feathering and its drift.
    pad = int(0.03 * w) + feather + 4
    x0, x1 = max(0, int(cx - ax) - pad), min(w, int(cx + ax) + pad + 1)
    y0, y1 = max(0, int(cy - ay) - pad), min(h, int(cy + ay) + pad + 1)
    fake = frames.copy()
    masks = np.zeros((t, h, w), dtype=np.uint8)
    for i in range(t):
        drift = 0.03 * w * np.sin(phase + 2 * np.pi * i / max(t, 8))
        hard = np.zeros((y1 - y0, x1 - x0), np.float32)
        centre = (int(round(cx + drift)) - x0, int(round(cy)) - y0)
        cv2.ellipse(hard, centre, (int(ax), int(ay)), 0, 0, 360, 1.0, -1)
        alpha = cv2.GaussianBlur(hard, (feather, feather), 0)[..., None]
        crop = frames[i, y0:y1, x0:x1]
        manipulated = np.clip(cv2.GaussianBlur(crop, (5, 5), 0).astype(np.float32) + shift, 0, 255)
        blended = crop.astype(np.float32) * (1 - alpha) + manipulated * alpha
        out = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        fake[i, y0:y1, x0:x1] = out
        masks[i, y0:y1, x0:x1] = (out != crop).max(axis=-1).view(np.uint8) * 255
    return fake, masks


def _apply_fake(make_fake: MakeFake | None, clip: np.ndarray, rng: np.random.Generator):
    fake, masks = (make_fake or placeholder_fake)(clip, rng)
    fake, masks = np.asarray(fake, dtype=np.uint8), np.asarray(masks, dtype=np.uint8)
    if fake.shape != clip.shape or masks.shape != clip.shape[:3]:
        raise ValueError(
            f"make_fake returned shapes {fake.shape} / {masks.shape}; expected {clip.shape} / {clip.shape[:3]}"
        )
    return fake, masks


# --------------------------------------------------------------------------- identities
class _ClipBank:
    """Short segments of the source videos; segment ``i`` plays the role of identity ``i``."""

    def __init__(self, sources: Sequence[str | Path], frames: int, size: tuple[int, int] | None):
        if not sources:
            raise ValueError("need at least one real source video")
        self.sources = [Path(s) for s in sources]
        for s in self.sources:
            if not s.is_file():
                raise FileNotFoundError(f"source video {s} does not exist")
        self.frames, self.size = frames, size

    def _source(self, k: int) -> np.ndarray:
        return _decoded_source(str(self.sources[k].resolve()), self.size)

    def clips(self, n: int) -> list[np.ndarray]:
        per_source = -(-n // len(self.sources))
        out = []
        for i in range(n):
            video = self._source(i % len(self.sources))
            j = i // len(self.sources)
            room = max(0, len(video) - self.frames)
            start = round(j * room / (per_source - 1)) if per_source > 1 else 0
            clip = video[start : start + self.frames]
            if len(clip) < self.frames:  # short source: loop it
                reps = -(-self.frames // len(video))
                clip = np.concatenate([video] * reps)[: self.frames]
            out.append(np.ascontiguousarray(clip))
        return out


@functools.lru_cache(maxsize=8)
def _decoded_source(path: str, size: tuple[int, int] | None) -> np.ndarray:
    clip = read_clip(path, size=size)
    clip.flags.writeable = False
    return clip


def _rng(seed: int, *keys: object) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the string keys (stable across runs)."""
    return np.random.default_rng([seed, *(zlib.crc32(str(key).encode("utf-8")) for key in keys)])
