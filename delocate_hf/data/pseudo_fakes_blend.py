"""What a pseudo-fake blends in, and how: the SBI-style source transforms and the compositing that makes the mask
exactly the changed pixels (part of :mod:`delocate_hf.data.pseudo_fakes`; private to it).

- ``_draw_sbi(rng, strength)``: the self-blend source transform's parameters (colour, frequency, resolution, affine
  jitter), drawn in a fixed order (same seed -> same fake).
- ``_sbi_source(frame (H, W, 3) uint8, centre (2,), size, params)`` -> ``(H, W, 3)`` float32 RGB in [0, 255].
- ``_similarity(src (N, 2), dst (N, 2))`` -> ``(2, 3)`` least-squares similarity transform (Umeyama), for part swaps.
- ``_composite(real (H, W, 3) uint8, source (H, W, 3) float32, blend (H, W), threshold)`` -> fake ``(H, W, 3)`` uint8,
  mask ``(H, W)`` uint8 and the count of pixels nudged by one grey level (see the module docstring of
  :mod:`delocate_hf.data.pseudo_fakes`).
- ``_work_box(blend (T, H, W), threshold, margin)`` -> ``(y0, y1, x0, x1)``; ``_blend_clip(frames (T, H, W, 3),
  source_fn, blend (T, H, W), threshold, active, size)`` -> fake frames, masks ``(T, H, W)`` uint8, nudged count.
"""

from __future__ import annotations

import cv2
import numpy as np


# --------------------------------------------------------------------------- sources
def _draw_sbi(rng: np.random.Generator, strength: float = 1.0) -> dict:
    """SBI-like source transform parameters (magnitudes close to SBI's albumentations settings at `strength` 1;
    `strength` scales every colour, frequency and geometry deviation, e.g. 2 for twice as visible blends)."""
    k = float(strength)
    shift = rng.uniform(-12, 12, size=3)
    c = int(rng.integers(3))
    shift[c] = np.sign(shift[c] or 1.0) * max(abs(shift[c]), 6.0)  # at least one clearly visible channel shift
    p = {  # drawn in this order (same seed -> same fake)
        "hue_deg": float(rng.uniform(-5, 5)) * k,
        "saturation": 1.0 + (float(rng.uniform(0.85, 1.15)) - 1.0) * k,
        "value": 1.0 + (float(rng.uniform(0.9, 1.1)) - 1.0) * k,
        "rgb_shift": [float(s) * k for s in shift],
        "contrast": 1.0 + (float(rng.uniform(0.9, 1.1)) - 1.0) * k,
        "brightness": float(rng.uniform(-10, 10)) * k,
        "frequency": str(rng.choice(["sharpen", "blur", "none"])),
        "frequency_amount": float(rng.uniform(0.4, 1.2)) * k,
        "downscale": float(rng.uniform(0.35, 0.8)) if rng.random() < 0.5 else 1.0,
        "translate": [float(v) * k for v in rng.uniform(-0.025, 0.025, size=2)],
        "scale": 1.0 + (float(rng.uniform(0.96, 1.04)) - 1.0) * k,
        "rotate_deg": float(rng.uniform(-2.5, 2.5)) * k,
    }
    if p["downscale"] < 1.0:
        p["downscale"] = max(0.1, 1.0 - (1.0 - p["downscale"]) * k)
    return {**p, "strength": k}


def _sbi_source(frame: np.ndarray, centre: np.ndarray, size: float, p: dict) -> np.ndarray:
    """Self-blend source of one frame `(H, W, 3)` uint8 -> float32 RGB in [0, 255]."""
    h, w = frame.shape[:2]
    hsv = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)  # H in degrees, S and V in [0, 1]
    hsv[..., 0] = np.mod(hsv[..., 0] + p["hue_deg"], 360.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * p["saturation"], 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * p["value"], 0, 1)
    x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    x = (x - 128.0) * p["contrast"] + 128.0 + p["brightness"] + np.asarray(p["rgb_shift"], np.float32)
    x = np.clip(x, 0, 255).astype(np.float32)
    if p["frequency"] == "sharpen":
        x = x + p["frequency_amount"] * (x - cv2.GaussianBlur(x, (0, 0), 1.0))
    elif p["frequency"] == "blur":
        x = cv2.GaussianBlur(x, (0, 0), 0.5 + p["frequency_amount"])
    if p["downscale"] < 1.0:
        small = (max(1, round(w * p["downscale"])), max(1, round(h * p["downscale"])))
        x = cv2.resize(cv2.resize(x, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR)
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), p["rotate_deg"], p["scale"])
    m[:, 2] += np.asarray(p["translate"]) * size
    x = cv2.warpAffine(x, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return np.clip(x, 0, 255)


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform `(2, 3)` mapping points `src` `(N, 2)` onto `dst` (Umeyama)."""
    src, dst = src.astype(np.float64), dst.astype(np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    u, sv, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sv) @ sign) / max(s.var(0).sum(), 1e-12))
    return np.concatenate([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]], axis=1)


# --------------------------------------------------------------------------- blending
def _composite(real: np.ndarray, source: np.ndarray, blend: np.ndarray, threshold: float):
    """Blend one frame; returns (fake uint8 (H, W, 3), mask uint8 (H, W), nudged pixel count)."""
    mask = blend > threshold
    if not mask.any():
        return real.copy(), mask.astype(np.uint8), 0
    w = np.clip((blend - threshold) / (1.0 - threshold), 0.0, 1.0)[..., None]
    r = real.astype(np.float32)
    fake = np.clip(np.rint(r + w * (source - r)), 0, 255).astype(np.uint8)
    stuck = mask & (fake == real).all(-1)
    nudged = int(stuck.sum())
    if nudged:
        ys, xs = np.nonzero(stuck)
        diff = source[ys, xs] - r[ys, xs]  # (N, 3)
        c = np.abs(diff).argmax(-1)
        step = np.where(diff[np.arange(len(c)), c] < 0, -1, 1)
        value = real[ys, xs, c].astype(np.int16)
        step = np.where((value + step < 0) | (value + step > 255), -step, step)
        fake[ys, xs, c] = (value + step).astype(np.uint8)
    return fake, mask.astype(np.uint8), nudged


def _work_box(blend: np.ndarray, threshold: float, margin: int) -> tuple[int, int, int, int]:
    """Union box (y0, y1, x0, x1) of `blend > threshold` over frames, grown by `margin` and clipped."""
    h, w = blend.shape[1:]
    any_t = (blend > threshold).any(0)
    ys, xs = np.nonzero(any_t.any(1))[0], np.nonzero(any_t.any(0))[0]
    if not len(ys):
        return 0, 0, 0, 0
    return (max(0, ys[0] - margin), min(h, ys[-1] + 1 + margin), max(0, xs[0] - margin), min(w, xs[-1] + 1 + margin))


def _blend_clip(frames, source_fn, blend, threshold, active, size):
    """Composite the `active` frames inside the clip's work box; `source_fn(i, box)` gives the source crop."""
    out, masks, nudged = frames.copy(), np.zeros(blend.shape, np.uint8), 0
    box = _work_box(blend, threshold, margin=int(np.ceil(0.12 * size)) + 8)
    y0, y1, x0, x1 = box
    if y1 <= y0 or x1 <= x0:
        return out, masks, nudged
    for i in active:
        out[i, y0:y1, x0:x1], masks[i, y0:y1, x0:x1], n = _composite(
            frames[i, y0:y1, x0:x1], source_fn(i, box), blend[i, y0:y1, x0:x1], threshold
        )
        nudged += n
    return out, masks, nudged
