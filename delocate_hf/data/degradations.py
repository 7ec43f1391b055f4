"""Global, clip-consistent image degradations: blur, down/up-scaling, sensor noise, JPEG compression.

Real deepfakes reach a detector blurred, rescaled, noisy and re-compressed, and so do real videos. If only the fakes
carried such degradations, a detector could learn "blurry means fake" (a *global shortcut*) instead of the blending
traces of the manipulation. Training therefore draws these degradations with **the same distribution for real and
fake clips** (`delocate_hf.training.pseudo_fake_dataset`), and evaluation checks that degraded real clips do not
score as fake (`delocate_hf.training.evaluate`).

Every operation takes uint8 frames `(T, H, W, 3)` and returns the same shape; one set of parameters is drawn per clip
(a video is degraded as a whole), noise and JPEG blocks differ per frame as in real footage.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["DEGRADATIONS", "DegradationSettings", "apply_degradation", "compressed_at_low_resolution",
           "random_degradations"]

DEGRADATIONS = ("blur", "resize", "noise", "jpeg")


@dataclass(frozen=True)
class DegradationSettings:
    """Probability of each degradation per clip and the ranges its strength is drawn from.

    Sizes are relative to a 128 px face crop (blur sigma) or to the crop (resize factor), so the same settings
    suit any crop size. `probability=0` switches degradations off.
    """

    probability: float = 0.25
    blur_sigma: tuple[float, float] = (0.4, 1.6)  # Gaussian sigma in px at 128 px
    resize_factor: tuple[float, float] = (0.35, 0.85)  # down-scale, then back up
    noise_std: tuple[float, float] = (1.0, 6.0)  # grey levels
    jpeg_quality: tuple[int, int] = (35, 95)
    # Probability that a rescaled clip gets its noise and JPEG at the small size, before it is scaled back up (a small
    # face in a compressed video, enlarged by the face crop), instead of at full size after it. 0: off.
    low_resolution_codec: float = 0.0

    def __post_init__(self):
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"degradation probability must be in [0, 1], got {self.probability}")
        if not 0.0 <= self.low_resolution_codec <= 1.0:
            raise ValueError(f"low_resolution_codec must be a probability in [0, 1], got {self.low_resolution_codec}")


def apply_degradation(frames: np.ndarray, name: str, strength: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Degrades uint8 `frames (T, H, W, 3)` with `name` at `strength` (sigma, factor, std or JPEG quality)."""
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape}")
    h, w = frames.shape[1:3]
    if name == "blur":
        sigma = float(strength) * max(h, w) / 128.0
        return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])
    if name == "resize":
        return _scale_to(_scale_by(frames, strength), (h, w))
    if name == "noise":
        rng = rng if rng is not None else np.random.default_rng(0)
        noisy = frames.astype(np.float32) + rng.normal(0.0, float(strength), size=frames.shape).astype(np.float32)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if name == "jpeg":
        params = [int(cv2.IMWRITE_JPEG_QUALITY), int(round(strength))]
        out = []
        for f in frames:
            ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(f[..., ::-1]), params)
            out.append(cv2.imdecode(buffer, cv2.IMREAD_COLOR)[..., ::-1] if ok else f)
        return np.ascontiguousarray(np.stack(out))
    raise ValueError(f"unknown degradation {name!r}; choose one of {DEGRADATIONS}")


def _scale_by(frames: np.ndarray, factor: float) -> np.ndarray:
    """Down-scales `(T, H, W, 3)` frames by `factor` (area interpolation), at least 2 px a side."""
    h, w = frames.shape[1:3]
    small = (max(2, round(w * factor)), max(2, round(h * factor)))
    return np.stack([cv2.resize(f, small, interpolation=cv2.INTER_AREA) for f in frames])


def _scale_to(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scales `(T, h, w, 3)` frames back up to `size = (H, W)` (bilinear)."""
    return np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for f in frames])


def compressed_at_low_resolution(frames: np.ndarray, factor: float, quality: float) -> np.ndarray:
    """A small face in a compressed video, enlarged by the face crop: uint8 `frames (T, H, W, 3)` down-scaled by
    `factor`, JPEG-compressed at that size with `quality`, scaled back up (what `low_resolution_codec` does to a
    rescaled training clip, without its noise)."""
    return _scale_to(apply_degradation(_scale_by(frames, factor), "jpeg", quality), frames.shape[1:3])


def random_degradations(frames: np.ndarray, rng: np.random.Generator,
                        settings: DegradationSettings = DegradationSettings()) -> tuple[np.ndarray, dict]:
    """Each degradation applied with `settings.probability`, in the order of a real pipeline (blur and
    rescaling of the camera/editing, then sensor noise, then compression). Returns `(frames, {name: strength})`;
    with `settings.low_resolution_codec`, a rescaled clip may get noise and JPEG at its small size (then
    `drawn["low_resolution_codec"] = 1.0`)."""
    drawn: dict[str, float] = {}
    full_size = None  # set while the clip is held at its small size
    for name in DEGRADATIONS:
        if rng.random() >= settings.probability:
            continue
        low, high = {"blur": settings.blur_sigma, "resize": settings.resize_factor, "noise": settings.noise_std,
                     "jpeg": settings.jpeg_quality}[name]
        strength = float(rng.uniform(low, high))
        if name == "resize" and settings.low_resolution_codec > 0 and rng.random() < settings.low_resolution_codec:
            full_size = frames.shape[1:3]
            frames = _scale_by(frames, strength)
            drawn["low_resolution_codec"] = 1.0
        else:
            frames = apply_degradation(frames, name, strength, rng)
        drawn[name] = strength
    if full_size is not None:
        frames = _scale_to(frames, full_size)
    return frames, drawn
