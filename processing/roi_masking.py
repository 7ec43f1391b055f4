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

One masker
----------
:func:`batch_token_masks` is the one token masker: the processor (``DelocateFaceProcessor.generate_mask``,
``return_bool_masked_pos=True``) and training (``delocate_hf.training.data.batch_token_masks``, stages 1 and 2)
both call it, so a batch gets the same masks from either for the same boxes, settings and generator.

Randomness
----------
Every function takes ``rng``: ``None`` (fresh entropy), an ``int`` seed or a ``numpy.random.Generator``.
One generator drives a whole batch (each clip's mask in batch order, then the equalisation), so a seeded
generator reproduces the batch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .face_parts import PARTS  # the part order of the ROI boxes

MASKING_STRATEGIES = ("roi", "eyes", "cheek_nose", "lips", "no_roi", "mae", "tube")
DEFAULT_RATIOS = {"tube": 0.9}
DEFAULT_RATIO = 0.75

__all__ = [
    "DEFAULT_RATIO",
    "DEFAULT_RATIOS",
    "MASKING_STRATEGIES",
    "PARTS",
    "batch_token_masks",
    "equalize_mask_counts",
    "generate_token_mask",
    "num_to_mask",
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


def batch_token_masks(
    roi_boxes: Any,
    strategy: str = "roi",
    ratio: float | None = None,
    image_size: int = 224,
    patch_size: int = 16,
    tubelet_size: int = 2,
    rng: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The token masks of a batch: ``roi_boxes`` ``(B, T, 3, 4)`` (or one clip ``(T, 3, 4)``; numpy or torch)
    -> ``(bool_masked_pos (B, N) bool, masked_part (B,) int64)``.

    One :func:`generate_token_mask` per clip, in batch order, then :func:`equalize_mask_counts` (every sample
    masks the same number of tokens, as VideoMAE needs), all drawn from the one generator ``rng``.
    ``masked_part`` is the index into :data:`PARTS` of each clip's masked part (-1 for ``no_roi`` / ``mae`` /
    ``tube``). ``ratio=None`` is the strategy default.
    """
    rng = _as_rng(rng)
    boxes = _to_numpy(roi_boxes)
    if boxes.ndim == 3:
        boxes = boxes[None]
    if boxes.ndim != 4 or boxes.shape[0] == 0:
        raise ValueError(f"roi_boxes must have shape (B, T, {len(PARTS)}, 4) with B >= 1, got {boxes.shape}")
    results = [generate_token_mask(b, strategy, ratio, image_size, patch_size, tubelet_size, rng=rng) for b in boxes]
    masks = equalize_mask_counts(np.stack([mask for mask, _ in results]), rng)
    return masks, np.array([part for _, part in results], dtype=np.int64)
