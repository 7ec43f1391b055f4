"""Facial-part ROI token masks for VideoMAE pre-training (Delocate §3.1, ablations of Tables 5/6).

Token layout
------------
A clip of ``T`` frames of ``S x S`` pixels is cut by VideoMAE's Conv3d patch embedding into
``T' = T // tubelet_size`` temporal indices and ``G x G`` spatial patches (``G = S // patch_size``).
The embedding output is flattened over ``(T', H', W')``, so token ``t * G * G + row * G + col``
covers frames ``[t * tubelet_size, (t + 1) * tubelet_size)`` and pixels
``y in [row * patch, (row + 1) * patch)``, ``x in [col * patch, (col + 1) * patch)``.

ROI boxes come from the face processor as float ``roi_boxes (T, 3, 4)`` in crop pixels
``x0, y0, x1, y1`` (``x1``/``y1`` exclusive, i.e. a box with integer corners covers pixel columns
``x0 .. x1 - 1``), part order :data:`PARTS` = ``("eyes", "cheek_nose", "lips")``. A patch belongs to a
part at temporal index ``t`` when it overlaps (with positive area) the part's box in *either* frame
of that tubelet.

Masking ratio
-------------
As in the paper (§4.4, "Influence of the masking ratio"), for the ROI strategies the ratio is the
fraction of the *chosen part's* tokens that are masked, not of the whole face. Counts are
``round(ratio * n)`` rounded half up (:func:`num_to_mask`), clamped to at least one masked token and
at least one visible token of the clip (VideoMAE needs both).

Strategies (:data:`MASKING_STRATEGIES`, Table 6)
-----------------------------------------------
* ``roi`` (proposed): pick one part uniformly at random and mask ``round(ratio * n_part)`` of that
  part's tokens (over all temporal indices) at random. Default ratio 0.75.
* ``eyes`` / ``cheek_nose`` / ``lips``: the same, with the part fixed.
* ``no_roi`` ("w/o ROIs"): the count the ``roi`` strategy would give (random part's count), but
  at random positions over the whole face crop. ``part_index`` is -1.
* ``mae``: MAE random masking, ``round(ratio * N)`` of all ``N`` tokens. Default 0.75.
* ``tube``: VideoMAE tube masking, ``round(ratio * G * G)`` spatial positions masked identically at
  every temporal index. Default 0.9.

``ratio=None`` means the strategy default (0.9 for ``tube``, 0.75 otherwise).

Equal-count policy for batches
------------------------------
``VideoMAEForPreTraining`` gathers the visible tokens with a reshape to ``(B, -1, C)``, so every sample
of a batch must mask the same number of tokens. ROI masks do not: each sample masks
``round(ratio * n_part)`` tokens of *its* chosen part and parts differ in size between parts, faces and
clips. :func:`equalize_mask_counts` therefore trims the batch to the **minimum** masked count: in every
sample above the minimum it un-masks randomly chosen masked tokens until the sample has exactly the
minimum count. Tokens are only ever removed from a mask, never added, so every masked token stays
inside the sample's chosen part (for ``roi`` and the fixed-part strategies) and the effective ratio of a
sample is at most its nominal ratio. ``mae`` and ``tube`` masks already have equal counts when the
clips have the same shape, and are left unchanged. A sample with no masked token makes the batch
unusable and raises ``ValueError``.

Randomness
----------
Every function takes ``rng``: ``None`` (fresh entropy), an ``int`` seed or a ``numpy.random.Generator``.
:class:`RoiMaskingCollator` owns one generator seeded with ``seed``, so a sequence of calls is
reproducible; inside ``torch.utils.data.DataLoader`` workers it re-seeds from ``(seed, worker seed)`` so
that workers do not produce identical masks.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

try:  # the face processor owns the part order; fall back to an identical definition
    from .face_parts import PARTS  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on which files exist in the tree
    PARTS = ("eyes", "cheek_nose", "lips")

MASKING_STRATEGIES = ("roi", "eyes", "cheek_nose", "lips", "no_roi", "mae", "tube")
DEFAULT_RATIOS = {"tube": 0.9}
DEFAULT_RATIO = 0.75

__all__ = [
    "DEFAULT_RATIO",
    "DEFAULT_RATIOS",
    "MASKING_STRATEGIES",
    "PARTS",
    "RoiMaskingCollator",
    "equalize_mask_counts",
    "generate_token_mask",
    "num_to_mask",
    "num_tokens",
    "part_token_sets",
    "resolve_ratio",
]


# --------------------------------------------------------------------------------------- helpers
def _as_rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def _check_geometry(image_size: int, patch_size: int, tubelet_size: int) -> int:
    for name, value in (("image_size", image_size), ("patch_size", patch_size), ("tubelet_size", tubelet_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if image_size % patch_size:
        raise ValueError(f"image_size {image_size} is not divisible by patch_size {patch_size}")
    return image_size // patch_size


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch.Tensor without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_boxes(roi_boxes: Any, tubelet_size: int) -> np.ndarray:
    if roi_boxes is None:
        raise ValueError("roi_boxes is required (shape (T, 3, 4)); got None")
    boxes = _to_numpy(roi_boxes)
    if boxes.ndim != 3 or boxes.shape[1:] != (len(PARTS), 4):
        raise ValueError(f"roi_boxes must have shape (T, {len(PARTS)}, 4) (x0, y0, x1, y1 per part), got {boxes.shape}")
    if boxes.shape[0] == 0:
        raise ValueError("roi_boxes has zero frames")
    if boxes.shape[0] % tubelet_size:
        raise ValueError(f"number of frames T={boxes.shape[0]} is not divisible by tubelet_size={tubelet_size}")
    boxes = boxes.astype(np.float64, copy=False)
    if not np.all(np.isfinite(boxes)):
        raise ValueError("roi_boxes contains NaN or infinite coordinates")
    return boxes


def resolve_ratio(strategy: str, ratio: float | None) -> float:
    """Validate ``strategy`` and ``ratio``; ``ratio=None`` gives the strategy default."""
    if strategy not in MASKING_STRATEGIES:
        raise ValueError(f"unknown masking strategy {strategy!r}; valid strategies: {', '.join(MASKING_STRATEGIES)}")
    if ratio is None:
        return DEFAULT_RATIOS.get(strategy, DEFAULT_RATIO)
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        raise ValueError(f"ratio must be a number in (0, 1), got {ratio!r}") from None
    if not (0.0 < r < 1.0):
        raise ValueError(f"ratio must be in the open interval (0, 1), got {ratio!r}")
    return r


def num_to_mask(n: int, ratio: float) -> int:
    """``round(ratio * n)`` rounded half up, clamped to ``[1, n]`` (0 when ``n == 0``)."""
    if n <= 0:
        return 0
    return int(min(max(math.floor(ratio * n + 0.5), 1), n))


def num_tokens(num_frames: int, image_size: int = 224, patch_size: int = 16, tubelet_size: int = 2) -> int:
    """Sequence length of VideoMAE for a clip of ``num_frames`` frames."""
    g = _check_geometry(image_size, patch_size, tubelet_size)
    if num_frames % tubelet_size:
        raise ValueError(f"number of frames T={num_frames} is not divisible by tubelet_size={tubelet_size}")
    return (num_frames // tubelet_size) * g * g


# --------------------------------------------------------------------------------------- public API
def part_token_sets(
    roi_boxes: Any, image_size: int = 224, patch_size: int = 16, tubelet_size: int = 2
) -> np.ndarray:
    """Tokens of every facial part: bool array ``(3, num_tokens)`` in VideoMAE token order.

    For part ``p`` and temporal index ``t``, the patches that overlap the part's box in any frame
    ``t * tubelet_size .. (t + 1) * tubelet_size - 1`` are set. Boxes are clipped to the crop; an
    empty or out-of-crop box contributes no token.
    """
    g = _check_geometry(image_size, patch_size, tubelet_size)
    boxes = _check_boxes(roi_boxes, tubelet_size)
    t_frames = boxes.shape[0]
    t_tokens = t_frames // tubelet_size
    grid = np.zeros((len(PARTS), t_tokens, g, g), dtype=bool)
    p = float(patch_size)
    for f in range(t_frames):
        t = f // tubelet_size
        for k in range(len(PARTS)):
            x0, y0, x1, y1 = boxes[f, k]
            x0, y0 = max(x0, 0.0), max(y0, 0.0)
            x1, y1 = min(x1, float(image_size)), min(y1, float(image_size))
            if x1 <= x0 or y1 <= y0:
                continue
            # patch c spans [c*p, (c+1)*p): it overlaps [x0, x1) iff c*p < x1 and (c+1)*p > x0
            c0, c1 = int(math.floor(x0 / p)), int(math.ceil(x1 / p))  # c in [c0, c1)
            r0, r1 = int(math.floor(y0 / p)), int(math.ceil(y1 / p))
            grid[k, t, r0:r1, c0:c1] = True
    return grid.reshape(len(PARTS), t_tokens * g * g)


def generate_token_mask(
    roi_boxes: Any,
    strategy: str = "roi",
    ratio: float | None = None,
    image_size: int = 224,
    patch_size: int = 16,
    tubelet_size: int = 2,
    rng: Any = None,
) -> tuple[np.ndarray, int]:
    """One clip's token mask. Returns ``(mask bool (num_tokens,), part_index)``.

    ``part_index`` is the index into :data:`PARTS` of the masked part, -1 for ``no_roi``/``mae``/``tube``.
    See the module docstring for the strategies; ``ratio=None`` is the strategy default.
    """
    ratio = resolve_ratio(strategy, ratio)
    g = _check_geometry(image_size, patch_size, tubelet_size)
    rng = _as_rng(rng)
    boxes = _check_boxes(roi_boxes, tubelet_size)
    t_tokens = boxes.shape[0] // tubelet_size
    n = t_tokens * g * g
    mask = np.zeros(n, dtype=bool)

    if strategy == "mae":
        k = min(num_to_mask(n, ratio), n - 1) if n > 1 else 1
        mask[rng.choice(n, size=k, replace=False)] = True
        return mask, -1
    if strategy == "tube":
        s = g * g
        k = min(num_to_mask(s, ratio), s - 1) if s > 1 else 1
        spatial = np.zeros(s, dtype=bool)
        spatial[rng.choice(s, size=k, replace=False)] = True
        return np.tile(spatial, t_tokens), -1

    sets = part_token_sets(boxes, image_size, patch_size, tubelet_size)
    counts = sets.sum(axis=1)
    if strategy in ("roi", "no_roi"):
        needed = range(len(PARTS))
    else:
        needed = (PARTS.index(strategy),)
    for k_part in needed:
        if counts[k_part] == 0:
            raise ValueError(
                f"facial part {PARTS[k_part]!r} covers zero tokens (boxes outside the {image_size}px crop "
                "or empty); cannot build an ROI mask"
            )
    part = int(rng.integers(len(PARTS))) if strategy in ("roi", "no_roi") else PARTS.index(strategy)
    k = num_to_mask(int(counts[part]), ratio)
    if strategy == "no_roi":
        k = min(k, n - 1) if n > 1 else k
        mask[rng.choice(n, size=k, replace=False)] = True
        return mask, -1
    candidates = np.flatnonzero(sets[part])
    if n > 1:  # a part covering the whole crop still leaves one visible token
        k = min(k, n - 1)
    mask[rng.choice(candidates, size=k, replace=False)] = True
    return mask, part


def equalize_mask_counts(masks: Any, rng: Any = None):
    """Trim a batch of masks ``(B, N)`` to the minimum masked count (see module docstring).

    Un-masks random masked tokens of every sample above the minimum; never masks a new token.
    Accepts a numpy array or a torch bool tensor and returns the same type (and device).
    """
    is_torch = hasattr(masks, "detach")
    arr = _to_numpy(masks)
    if arr.ndim != 2:
        raise ValueError(f"masks must have shape (B, N), got {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError("masks must be boolean (or 0/1)")
        arr = arr.astype(bool)
    out = arr.copy()
    if out.shape[0] == 0:
        return masks
    counts = out.sum(axis=1)
    m = int(counts.min())
    if m == 0:
        raise ValueError(f"sample {int(counts.argmin())} of the batch has no masked token; cannot equalize")
    rng = _as_rng(rng)
    for b in np.flatnonzero(counts > m):
        on = np.flatnonzero(out[b])
        out[b, rng.choice(on, size=on.size - m, replace=False)] = False
    if is_torch:
        import torch

        return torch.from_numpy(out).to(masks.device)
    return out


class RoiMaskingCollator:
    """Data collator for VideoMAE pre-training with facial-part ROI masks.

    Each feature is a mapping with ``pixel_values`` ``(T, 3, S, S)`` (tensor or array) and ``roi_boxes``
    ``(T, 3, 4)``, plus optional extra keys (``labels``, ...). Returns a dict of stacked torch tensors
    (non-numeric values are returned as lists) plus ``bool_masked_pos`` ``(B, N)`` bool with equal counts
    per sample (:func:`equalize_mask_counts`) and ``masked_part`` ``(B,)`` long (-1 when no part).
    """

    def __init__(
        self,
        strategy: str = "roi",
        ratio: float | None = None,
        image_size: int = 224,
        patch_size: int = 16,
        tubelet_size: int = 2,
        seed: int | None = None,
    ) -> None:
        self.ratio = resolve_ratio(strategy, ratio)
        self.strategy = strategy
        _check_geometry(image_size, patch_size, tubelet_size)
        self.image_size = image_size
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._worker_key: tuple | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(strategy={self.strategy!r}, ratio={self.ratio}, image_size={self.image_size}, "
            f"patch_size={self.patch_size}, tubelet_size={self.tubelet_size}, seed={self.seed})"
        )

    def _generator(self) -> np.random.Generator:
        try:
            from torch.utils.data import get_worker_info

            info = get_worker_info()
        except ImportError:  # pragma: no cover
            info = None
        if info is not None:
            key = (os.getpid(), info.id, info.seed)
            if key != self._worker_key:
                entropy = [info.seed] if self.seed is None else [self.seed, info.seed]
                self._rng = np.random.default_rng(entropy)
                self._worker_key = key
        return self._rng

    @staticmethod
    def _stack(values: Sequence[Any]):
        import torch

        first = values[0]
        if isinstance(first, torch.Tensor):
            return torch.stack([torch.as_tensor(v) for v in values])
        if isinstance(first, np.ndarray) or (isinstance(first, (list, tuple)) and not isinstance(first, str)):
            try:
                arr = np.stack([np.asarray(v) for v in values])
            except ValueError:
                return list(values)
            if arr.dtype.kind in "biuf":
                return torch.from_numpy(np.ascontiguousarray(arr))
            return list(values)
        if isinstance(first, (bool, np.bool_)):
            return torch.tensor([bool(v) for v in values])
        if isinstance(first, (int, np.integer)):
            return torch.tensor([int(v) for v in values], dtype=torch.long)
        if isinstance(first, (float, np.floating)):
            return torch.tensor([float(v) for v in values], dtype=torch.float32)
        return list(values)

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        if not features:
            raise ValueError("RoiMaskingCollator got an empty batch")
        rng = self._generator()
        masks, parts = [], []
        for i, feat in enumerate(features):
            if "pixel_values" not in feat or "roi_boxes" not in feat:
                raise ValueError(f"feature {i} needs 'pixel_values' and 'roi_boxes', has {sorted(feat)}")
            shape = tuple(feat["pixel_values"].shape)
            boxes = _to_numpy(feat["roi_boxes"])
            if len(shape) != 4 or shape[-1] != self.image_size or shape[-2] != self.image_size:
                raise ValueError(
                    f"feature {i}: pixel_values must be (T, C, {self.image_size}, {self.image_size}), got {shape}"
                )
            if boxes.ndim >= 1 and boxes.shape[0] != shape[0]:
                raise ValueError(f"feature {i}: roi_boxes has {boxes.shape[0]} frames, pixel_values has {shape[0]}")
            mask, part = generate_token_mask(
                boxes, self.strategy, self.ratio, self.image_size, self.patch_size, self.tubelet_size, rng=rng
            )
            masks.append(mask)
            parts.append(part)
        if len({m.shape[0] for m in masks}) != 1:
            raise ValueError("all clips of a batch must have the same number of frames")
        bool_masked_pos = equalize_mask_counts(np.stack(masks), rng=rng)

        batch: dict[str, Any] = {}
        for key in features[0]:
            values = [f[key] for f in features]
            batch[key] = self._stack(values)
        if isinstance(batch.get("roi_boxes"), torch.Tensor):
            batch["roi_boxes"] = batch["roi_boxes"].float()
        batch["bool_masked_pos"] = torch.from_numpy(bool_masked_pos)
        batch["masked_part"] = torch.tensor(parts, dtype=torch.long)
        return batch
