"""Pseudo-fake clips with exact per-frame masks, made from real face clips.

Every family blends a *source* into the real clip through a soft, landmark-driven weight map, with one set of drawn
parameters for the whole clip (temporally consistent, as real deepfakes are) while the regions follow the landmarks
frame by frame. The families serve as meta-learning domains:

- ``self_blend``: SBI-style (Shiohara & Yamasaki, CVPR 2022). The source is the frame itself after a colour
  (HSV, RGB shift, contrast/brightness), frequency (sharpen / blur / none) and resolution (downscale-upscale)
  transform plus a small affine jitter of the face; blended through the soft face-oval hull.
- ``part_eyes`` / ``part_cheek_nose`` / ``part_lips``: the same self-blend, but only inside one facial part
  (:data:`processing.face_parts.PARTS`): randomly located local traces, the paper's premise.
- ``local_blend``: the same self-blend inside a random face region (one or two ellipses of random size and shape,
  anchored to inner landmarks, clipped to the face outline: ``random_region_hard_masks``), no facial part in
  particular. A training family (not among :data:`FAMILIES`, the families of the evaluation and of "all"): it teaches
  a blending trace anywhere on the face, so that named parts (``part_*``) can stay held out.
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

The work is split by job, and this module re-exports the public names of each file:

- ``pseudo_fakes_regions.py``: where to blend (``region_hard_masks``, ``face_size``, the soft blend weights).
- ``pseudo_fakes_blend.py``: what to blend in and how (SBI source transforms, the similarity transform of part swaps,
  compositing with exact masks).
- here: the families (``FAMILIES``, ``make_pseudo_fake`` -> ``PseudoFake``) and the fixtures hook
  (``PseudoFakeVideoMaker``, ``pseudo_fake_video_maker``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from processing.face_parts import PARTS

from .pseudo_fakes_blend import _blend_clip, _draw_sbi, _sbi_source, _similarity, _work_box
from .pseudo_fakes_regions import (
    _backend_key,
    _region_centres,
    _soft_weights,
    face_size,
    random_region_hard_masks,
    region_hard_masks,
)

__all__ = [
    "FAMILIES",
    "FAMILIES_WITHOUT_SWAP",
    "FF_METHOD_FAMILIES",
    "KNOWN_FAMILIES",
    "TRAINING_FAMILIES",
    "PseudoFake",
    "PseudoFakeVideoMaker",
    "face_size",
    "make_pseudo_fake",
    "random_region_hard_masks",
    "pseudo_fake_video_maker",
    "region_hard_masks",
    "source_transformed_clip",
]

FAMILIES = ("self_blend", "part_eyes", "part_cheek_nose", "part_lips", "flicker", "part_swap")
FAMILIES_WITHOUT_SWAP = FAMILIES[:-1]
# Families made for training only (not in FAMILIES, hence not in "all" nor in the evaluation's fixed fakes).
TRAINING_FAMILIES = ("local_blend",)
KNOWN_FAMILIES = FAMILIES + TRAINING_FAMILIES
# A suggested family per FaceForensics++ method folder (one meta-learning domain each) for miniature layouts.
FF_METHOD_FAMILIES = {
    "Deepfakes": "self_blend",
    "Face2Face": "part_lips",
    "FaceSwap": "part_eyes",
    "NeuralTextures": "part_cheek_nose",
    "FaceShifter": "flicker",
}
DEFAULT_THRESHOLD = 0.1

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


def _self_blend(frames, landmarks, key, region, rng, threshold, active, strength=1.0, hard=None):
    size = face_size(landmarks, key)
    hard = region_hard_masks(landmarks, key, region, frames.shape[1:3]) if hard is None else hard
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
        family: one of :data:`KNOWN_FAMILIES` (:data:`FAMILIES` and the training family "local_blend").
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
    if family not in KNOWN_FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {KNOWN_FAMILIES}")
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
    elif family == "local_blend":
        hard, drawn = random_region_hard_masks(landmarks, key, frames.shape[1:3], rng)
        out, masks, blend, sub, nudged = _self_blend(frames, landmarks, key, "local", rng, threshold, np.arange(num),
                                                     strength, hard=hard)
        sub = {**drawn, **sub}
    else:
        region = "face" if family == "self_blend" else _PART_FAMILIES[family]
        out, masks, blend, sub, nudged = _self_blend(frames, landmarks, key, region, rng, threshold, np.arange(num),
                                                     strength)
    params.update(sub)
    params["nudged_fraction"] = float(nudged / max(int(masks.sum()), 1))
    return PseudoFake(frames=out, masks=masks, blend=blend.astype(np.float32), family=family, params=params)


def source_transformed_clip(frames: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> tuple[np.ndarray, dict]:
    """A real clip `(T, H, W, 3)` uint8 put *whole* through one draw of the self-blend source transform's colour,
    blur / sharpen and down-scaling (one draw for the clip; not its affine jitter, which would only move the frame).

    A self-blend's blended-in face is such a transformed copy, so it is, on average, blurrier (blur and down-scaling
    are drawn more often than sharpening) and off-colour compared with untouched real faces. Showing some real
    clips transformed as a whole gives real faces the same distribution of those *absolute* properties: only the
    inconsistency between the blended region and its surroundings then tells a fake. Returns `(frames uint8 same
    shape, params)`; nothing is blended, so there is no mask.
    """
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape}")
    h, w = frames.shape[1:3]
    p = {**_draw_sbi(rng, strength), "translate": [0.0, 0.0], "scale": 1.0, "rotate_deg": 0.0}
    centre, size = np.asarray([(w - 1) / 2.0, (h - 1) / 2.0]), float(max(h, w))
    out = np.stack([np.rint(_sbi_source(f, centre, size, p)) for f in frames]).astype(np.uint8)
    return out, p


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
