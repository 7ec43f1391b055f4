"""Pseudo-fake clips with exact per-frame masks, made from real face clips.

Every family blends a *source* into the real clip through a soft, landmark-driven weight map, with one set of drawn
parameters for the whole clip (temporally consistent, as real deepfakes are) while the regions follow the landmarks
frame by frame. The families serve as meta-learning domains:

- ``self_blend``: SBI-style (Shiohara & Yamasaki, CVPR 2022). The source is the frame itself after a colour
  (HSV, RGB shift, contrast/brightness), frequency (sharpen / blur / none) and resolution (downscale-upscale)
  transform plus a small affine jitter of the face; blended through the soft face-oval hull.
- ``part_eyes`` / ``part_cheek_nose`` / ``part_lips``: the same self-blend, but only inside one facial part
  (:data:`processing.face_parts.PARTS`): randomly located local traces, the paper's premise.
- ``flicker``: a self-blend or part blend (drawn) in a random non-empty strict subset of the frames only (a run or a
  scattered set); masks are empty in the other frames.
- ``part_swap``: one part of another identity (``donor_frames``/``donor_landmarks``), aligned by a landmark
  similarity transform, Reinhard colour-matched (LAB, statistics pooled over the clip) and feathered.

Masks. ``blend`` holds the soft weights ``b`` (``alpha * blur(deformed region)``) and ``masks = b > threshold``.
Pixels are blended with ``w = clip((b - threshold) / (1 - threshold), 0, 1)``, which is 0 wherever the mask is 0, so
nothing outside the mask changes. Inside the mask, a pixel whose blended value rounds back to the real value (weak
transform, saturated pixel, weight just above the threshold) is moved by one grey level in the channel where the
source differs most (``params["nudged_fraction"]`` records how many). Hence ``masks`` is *exactly* the set of pixels
that changed (``|fake - real| > 0`` in any channel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from processing.face_parts import PARTS, part_indices

__all__ = [
    "FAMILIES",
    "FAMILIES_WITHOUT_SWAP",
    "FF_METHOD_FAMILIES",
    "PseudoFake",
    "PseudoFakeVideoMaker",
    "make_pseudo_fake",
    "pseudo_fake_video_maker",
    "region_hard_masks",
]

FAMILIES = ("self_blend", "part_eyes", "part_cheek_nose", "part_lips", "flicker", "part_swap")
FAMILIES_WITHOUT_SWAP = FAMILIES[:-1]
# A suggested family per FaceForensics++ method folder (one meta-learning domain each) for miniature layouts.
FF_METHOD_FAMILIES = {
    "Deepfakes": "self_blend",
    "Face2Face": "part_lips",
    "FaceSwap": "part_eyes",
    "NeuralTextures": "part_cheek_nose",
    "FaceShifter": "flicker",
}
DEFAULT_THRESHOLD = 0.1

# Face outline: MediaPipe FACEMESH_FACE_OVAL (36 points, forehead included); dlib 68: jaw 0-16 + brows 17-26.
_FACE_OVAL = {
    "mediapipe": [10, 21, 54, 58, 67, 93, 103, 109, 127, 132, 136, 148, 149, 150, 152, 162, 172, 176, 234, 251, 284,
                  288, 297, 323, 332, 338, 356, 361, 365, 377, 378, 379, 389, 397, 400, 454],
    "dlib68": list(range(27)),
}  # fmt: skip
_PART_FAMILIES = {f"part_{p}": p for p in PARTS}
_BLEND_FAMILIES = ("self_blend",) + tuple(_PART_FAMILIES)


@dataclass
class PseudoFake:
    """A pseudo-fake clip.

    Attributes:
        frames: `(T, H, W, 3)` uint8 RGB manipulated clip.
        masks: `(T, H, W)` uint8 in {0, 1}; `blend > threshold`, exactly the pixels that differ from the real clip.
        blend: `(T, H, W)` float32 soft blend weights in [0, 1] (0 in untouched frames).
        family: one of :data:`FAMILIES`.
        params: what was drawn (JSON-serialisable).
    """

    frames: np.ndarray
    masks: np.ndarray
    blend: np.ndarray
    family: str
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- regions
def _backend_key(backend_name: str, num_points: int) -> str:
    name = str(backend_name).lower()
    if name in ("mediapipe", "mp", "facemesh"):
        return "mediapipe"
    if name in ("dlib68", "dlib"):
        return "dlib68"
    if num_points in (468, 478):
        return "mediapipe"
    if num_points == 68:
        return "dlib68"
    raise ValueError(f"unknown landmark layout: backend {backend_name!r} with {num_points} points")


def _fill_hull(canvas: np.ndarray, points: np.ndarray, value: int = 1) -> None:
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))  # 4 fractional bits (sub-pixel)
    cv2.fillConvexPoly(canvas, hull, value, lineType=cv2.LINE_8, shift=4)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def face_size(landmarks: np.ndarray, backend_name: str) -> float:
    """Median (over frames) of the larger side of the face-outline box, in pixels. `landmarks` `(T, K, 2)`."""
    key = _backend_key(backend_name, landmarks.shape[1])
    oval = landmarks[:, _FACE_OVAL[key]]
    side = np.maximum(np.ptp(oval[..., 0], axis=-1), np.ptp(oval[..., 1], axis=-1))
    return float(max(np.median(side), 1.0))


def region_hard_masks(landmarks: np.ndarray, backend_name: str, region: str, image_size: tuple[int, int]) -> np.ndarray:
    """Binary region masks `(T, H, W)` uint8 {0, 1} from landmarks `(T, K, 2)`.

    `region`: "face" (outline hull), "eyes" / "lips" (hull of the part's landmarks), or "cheek_nose" (hull of the
    nose and cheek landmarks minus the eyes and lips hulls, grown by 3% of the face size).
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    key = _backend_key(backend_name, landmarks.shape[1])
    h, w = image_size
    parts = part_indices(key)
    include = _FACE_OVAL[key] if region == "face" else parts[region]
    exclude = [parts["eyes"], parts["lips"]] if region == "cheek_nose" else []
    grow = max(1, int(round(0.03 * face_size(landmarks, key))))
    out = np.zeros((len(landmarks), h, w), dtype=np.uint8)
    for t, pts in enumerate(landmarks):
        _fill_hull(out[t], pts[include])
        if exclude:
            cut = np.zeros((h, w), dtype=np.uint8)
            for idx in exclude:
                _fill_hull(cut, pts[idx])
            out[t][cv2.dilate(cut, _disk(grow)) > 0] = 0
    return out


def _soft_weights(
    hard: np.ndarray, size: float, rng: np.random.Generator, region: str, alpha_range=(0.6, 1.0)
) -> tuple[np.ndarray, dict]:
    """Deform (dilate/erode), feather (Gaussian) and scale the hard masks: `(T, H, W)` float32 blend weights."""
    whole = region == "face"
    grow = float(rng.uniform(-0.03, 0.03) if whole else rng.uniform(-0.005, 0.015))
    sigma = float(rng.uniform(0.012, 0.03) if whole else rng.uniform(0.006, 0.015))
    alpha = float(rng.uniform(*alpha_range))
    radius = int(round(abs(grow) * size))
    sigma_px = max(0.5, sigma * size)
    out = np.empty(hard.shape, dtype=np.float32)
    for t, m in enumerate(hard):
        if radius:
            m = cv2.dilate(m, _disk(radius)) if grow > 0 else cv2.erode(m, _disk(radius))
        out[t] = cv2.GaussianBlur(m.astype(np.float32), (0, 0), sigma_px, borderType=cv2.BORDER_CONSTANT)
    out *= alpha
    return np.clip(out, 0.0, 1.0), {"grow": grow, "blur_sigma": sigma, "alpha": alpha}


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


def _region_centres(hard: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    centres = np.empty((len(hard), 2), dtype=np.float32)
    for t, m in enumerate(hard):
        ys, xs = np.nonzero(m)
        centres[t] = (xs.mean(), ys.mean()) if len(xs) else landmarks[t].mean(0)
    return centres


def _self_blend(frames, landmarks, key, region, rng, threshold, active, strength=1.0):
    size = face_size(landmarks, key)
    hard = region_hard_masks(landmarks, key, region, frames.shape[1:3])
    blend, soft_params = _soft_weights(hard, size, rng, region)
    p = _draw_sbi(rng, strength)
    centres = _region_centres(hard, landmarks)
    blend[np.setdiff1d(np.arange(len(frames)), active)] = 0.0

    def source(i, box):
        y0, y1, x0, x1 = box
        return _sbi_source(frames[i, y0:y1, x0:x1], centres[i] - (x0, y0), size, p)

    out, masks, nudged = _blend_clip(frames, source, blend, threshold, active, size)
    return out, masks, blend, {"region": region, "face_size": size, **soft_params, **p}, nudged


def _part_swap(frames, landmarks, key, rng, threshold, donor_frames, donor_landmarks, part=None):
    size = face_size(landmarks, key)
    part = str(part or rng.choice(PARTS))
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    hard = region_hard_masks(landmarks, key, part, frames.shape[1:3])
    blend, soft_params = _soft_weights(hard, size, rng, part, alpha_range=(0.85, 1.0))  # a swap replaces
    offset = int(rng.integers(len(donor_frames)))
    y0, y1, x0, x1 = box = _work_box(blend, threshold, margin=int(np.ceil(0.12 * size)) + 8)
    h, w = y1 - y0, x1 - x0
    warped = np.zeros((len(frames), h, w, 3), dtype=np.float32)
    for t in range(len(frames) if h > 0 and w > 0 else 0):
        d = (offset + t) % len(donor_frames)
        m = _similarity(donor_landmarks[d], landmarks[t])
        m[:, 2] -= (x0, y0)  # into work-box coordinates
        warped[t] = cv2.warpAffine(np.asarray(donor_frames[d], np.uint8), m, (w, h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT101)
    # Reinhard colour transfer in LAB, statistics pooled over the region of every frame (one transfer per clip).
    crop = frames[:, y0:y1, x0:x1]
    lab_d = np.stack([cv2.cvtColor(x / 255.0, cv2.COLOR_RGB2LAB) for x in warped])
    lab_t = np.stack([cv2.cvtColor(x.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB) for x in crop])
    sel = hard[:, y0:y1, x0:x1].astype(bool)
    if not sel.any():
        sel = np.ones(sel.shape, dtype=bool)
    mu_d, sd_d = lab_d[sel].mean(0), lab_d[sel].std(0) + 1e-3
    mu_t, sd_t = lab_t[sel].mean(0), lab_t[sel].std(0) + 1e-3
    matched = ((lab_d - mu_d) / sd_d * sd_t + mu_t).astype(np.float32)
    sources = np.stack([np.clip(cv2.cvtColor(x, cv2.COLOR_LAB2RGB), 0, 1) * 255 for x in matched])
    out, masks, nudged = _blend_clip(frames, lambda i, _: sources[i], blend, threshold, range(len(frames)), size)
    params = {"region": part, "part": part, "face_size": size, "donor_offset": offset,
              "donor_frames": int(len(donor_frames)), "lab_mean_shift": [float(v) for v in mu_t - mu_d],
              "lab_std_ratio": [float(v) for v in sd_t / sd_d], **soft_params}
    return out, masks, blend, params, nudged


def make_pseudo_fake(
    frames: np.ndarray,
    landmarks: np.ndarray,
    backend_name: str,
    family: str,
    rng: np.random.Generator,
    donor_frames: np.ndarray | None = None,
    donor_landmarks: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    strength: float = 1.0,
) -> PseudoFake:
    """Manipulate a real clip.

    Args:
        frames: `(T, H, W, 3)` uint8 RGB real clip (full frames or aligned crops).
        landmarks: `(T, K, 2)` float pixel (x, y) landmarks in the same coordinates.
        backend_name: "mediapipe" (468/478 points) or "dlib68" (68 points).
        family: one of :data:`FAMILIES`.
        rng: every random choice is drawn from it (same seed -> byte-identical output).
        donor_frames, donor_landmarks: `(Td, Hd, Wd, 3)` uint8 and `(Td, K, 2)` of another identity; required (only)
            by "part_swap".
        threshold: `masks = blend > threshold`.
        strength: scale of the self-blend source transforms (1: SBI-like magnitudes; larger: more visible blends,
            e.g. for a curriculum). "part_swap" ignores it.

    Returns:
        :class:`PseudoFake` (`masks` = exactly the changed pixels; see the module docstring).
    """
    frames = np.ascontiguousarray(np.asarray(frames, dtype=np.uint8))
    landmarks = np.asarray(landmarks, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    if landmarks.ndim != 3 or landmarks.shape[0] != frames.shape[0] or landmarks.shape[2] != 2:
        raise ValueError(f"landmarks must be (T={frames.shape[0]}, K, 2), got {landmarks.shape}")
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if not 0.0 < strength <= 10.0:
        raise ValueError(f"strength must be in (0, 10], got {strength}")
    key = _backend_key(backend_name, landmarks.shape[1])
    num = len(frames)
    params: dict = {"family": family, "backend": key, "threshold": float(threshold)}

    if family == "part_swap":
        if donor_frames is None or donor_landmarks is None:
            raise ValueError("family 'part_swap' needs donor_frames and donor_landmarks (another identity)")
        donor_frames = np.asarray(donor_frames, dtype=np.uint8)
        donor_landmarks = np.asarray(donor_landmarks, dtype=np.float32)
        if donor_landmarks.shape[1:] != landmarks.shape[1:] or len(donor_landmarks) != len(donor_frames):
            raise ValueError(f"donor landmarks {donor_landmarks.shape} do not match donor frames "
                             f"{donor_frames.shape[:1]} / target landmarks {landmarks.shape[1:]}")
        out, masks, blend, sub, nudged = _part_swap(frames, landmarks, key, rng, threshold, donor_frames,
                                                    donor_landmarks)
    elif family == "flicker":
        if num < 2:
            raise ValueError("family 'flicker' needs at least 2 frames")
        inner = str(rng.choice(_BLEND_FAMILIES))
        count = int(rng.integers(1, num))
        if rng.random() < 0.5:
            start = int(rng.integers(0, num - count + 1))
            active, layout = np.arange(start, start + count), "run"
        else:
            active, layout = np.sort(rng.choice(num, size=count, replace=False)), "scattered"
        region = "face" if inner == "self_blend" else _PART_FAMILIES[inner]
        out, masks, blend, sub, nudged = _self_blend(frames, landmarks, key, region, rng, threshold, active, strength)
        sub = {"inner_family": inner, "layout": layout, "frames": [int(i) for i in active], **sub}
    else:
        region = "face" if family == "self_blend" else _PART_FAMILIES[family]
        out, masks, blend, sub, nudged = _self_blend(frames, landmarks, key, region, rng, threshold, np.arange(num),
                                                     strength)
    params.update(sub)
    params["nudged_fraction"] = float(nudged / max(int(masks.sum()), 1))
    return PseudoFake(frames=out, masks=masks, blend=blend.astype(np.float32), family=family, params=params)


# --------------------------------------------------------------------------- fixtures hook
class PseudoFakeVideoMaker:
    """`make_fake(frames, rng) -> (fake_frames, masks)` for :mod:`delocate_hf.data.fixtures`.

    Tracks the face with the landmark backend, draws a family from `families` (with `rng`) and returns
    `fake` `(T, H, W, 3)` uint8 and `masks` `(T, H, W)` uint8 in {0, `mask_value`} (default 255, the fixtures'
    white-on-black convention; 1 gives {0, 1}). `last_family`, `last_params` and `last_result` (:class:`PseudoFake`)
    describe the latest call. "part_swap" needs `donors`: real clips `(Td, Hd, Wd, 3)` of other identities.
    `rng=None` draws from a generator seeded with `seed` (so successive calls differ, reproducibly).
    """

    def __init__(
        self,
        backend: str = "mediapipe",
        families: Sequence[str] = FAMILIES_WITHOUT_SWAP,
        seed: int = 0,
        threshold: float = DEFAULT_THRESHOLD,
        mask_value: int = 255,
        donors: Sequence[np.ndarray] | None = None,
    ):
        families = tuple(families)
        unknown = [f for f in families if f not in FAMILIES]
        if not families or unknown:
            raise ValueError(f"families must be a non-empty subset of {FAMILIES}, got {families}")
        if "part_swap" in families and not donors:
            raise ValueError("family 'part_swap' needs donors (real clips of other identities)")
        self.backend = backend
        self.families = families
        self.seed = seed
        self.threshold = float(threshold)
        self.mask_value = int(mask_value)
        self.donors = [np.asarray(d, dtype=np.uint8) for d in donors or []]
        self._donor_landmarks: dict[int, np.ndarray] = {}
        self._landmarker = None
        self._rng = np.random.default_rng(seed)
        self.last_family: str | None = None
        self.last_params: dict | None = None
        self.last_result: PseudoFake | None = None

    @property
    def backend_name(self) -> str:
        return self._get_landmarker().name

    def _get_landmarker(self):
        if self._landmarker is None:
            from processing.landmarks import get_landmarker

            self._landmarker = get_landmarker(self.backend) if isinstance(self.backend, str) else self.backend
        return self._landmarker

    def landmarks(self, frames: np.ndarray) -> np.ndarray:
        """`(T, K, 2)` landmarks of the tracked face (gaps interpolated; no face at all raises)."""
        from processing.landmarks import track_faces

        return track_faces(frames, self._get_landmarker(), max_gap=None).landmarks

    def for_family(self, family: str) -> "PseudoFakeVideoMaker":
        """A maker that always uses `family` (shares the landmark backend)."""
        other = PseudoFakeVideoMaker(self.backend, (family,), self.seed, self.threshold, self.mask_value, self.donors)
        other._landmarker, other._donor_landmarks = self._landmarker, self._donor_landmarks
        return other

    def __call__(self, frames: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        rng = self._rng if rng is None else rng
        frames = np.asarray(frames, dtype=np.uint8)
        family = str(rng.choice(self.families))
        landmarks = self.landmarks(frames)
        donor_frames = donor_landmarks = None
        if family == "part_swap":
            d = int(rng.integers(len(self.donors)))
            if d not in self._donor_landmarks:
                self._donor_landmarks[d] = self.landmarks(self.donors[d])
            donor_frames, donor_landmarks = self.donors[d], self._donor_landmarks[d]
        result = make_pseudo_fake(frames, landmarks, self.backend_name, family, rng, donor_frames, donor_landmarks,
                                  threshold=self.threshold)
        self.last_family, self.last_params, self.last_result = family, result.params, result
        return result.frames, result.masks * np.uint8(self.mask_value)


def pseudo_fake_video_maker(
    backend: str = "mediapipe", families: Sequence[str] = FAMILIES_WITHOUT_SWAP, seed: int = 0, **kwargs
) -> PseudoFakeVideoMaker:
    """The fixtures hook `make_fake(frames (T, H, W, 3), rng) -> (fake, masks (T, H, W))`; see
    :class:`PseudoFakeVideoMaker` (kwargs: `threshold`, `mask_value`, `donors`)."""
    return PseudoFakeVideoMaker(backend=backend, families=families, seed=seed, **kwargs)
