"""Detection and localization metrics in pure numpy (no scikit-learn needed).

Detection (binary, label 1 = fake, higher score = more likely fake):

* :func:`roc_auc` - area under the ROC curve; tied scores count 1/2 (Mann-Whitney U with average ranks),
  identical to ``sklearn.metrics.roc_auc_score``.
* :func:`roc_curve` - ``(fpr, tpr, thresholds)`` over distinct thresholds, first point at ``+inf``.
* :func:`equal_error_rate` - ``(eer, threshold)``: the point where FPR == FNR, linearly interpolated on
  the ROC segment where ``FPR - FNR`` changes sign.
* :func:`average_precision` - step-wise AP, ``sum_n (R_n - R_{n-1}) P_n`` (sklearn's definition).
* :func:`accuracy` - ``mean((score >= threshold) == label)``.
* :func:`video_level_scores` / :func:`video_level_labels` - frame -> video aggregation.
* :func:`pair_win_rate` - how often a fake scores higher than *its own source* real clip (ties count 1/2): a model
  that follows the scene rather than the manipulation cannot score well on it, whatever its AUC.

Localization (paper §3.2 Eq. 5 and Table 3; [Kong et al., 2022]):

* Predicted masks are binarised with ``pred >= threshold`` (0.5, Eq. 5); predictions are expected to be
  normalised to ``[0, 1]`` already (e.g. a sigmoid output). Ground-truth masks are binarised the same way.
* :func:`iou` - ``|P & G| / |P | G|``. **When both the prediction and the ground truth are empty (a real
  face correctly predicted as untampered) the IoU is defined as 1.0.**
* :func:`pbca` - pixel-wise binary classification accuracy, ``mean(P == G)``.
* ``reduction="mean"`` averages per-image values (the paper's protocol), ``"micro"`` pools all pixels of
  the dataset (``sum |P & G| / sum |P | G|``; 1.0 when every union is empty), ``"none"`` returns the
  per-image array.

Masks may be one 2-D array, a 3-D stack ``(N, H, W)`` or a list of 2-D arrays of varying sizes.
All functions raise ``ValueError`` with a clear message on length/shape mismatch, empty input, NaN,
non-binary labels or (for AUC/EER/AP) a single class.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

__all__ = [
    "accuracy",
    "average_precision",
    "equal_error_rate",
    "iou",
    "pair_win_rate",
    "pbca",
    "roc_auc",
    "roc_curve",
    "video_level_labels",
    "video_level_scores",
]

REDUCTIONS = ("mean", "micro", "none")
VIDEO_REDUCES = ("mean", "max", "median")


# ----------------------------------------------------------------------------- validation helpers
def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_binary(labels: Any, scores: Any, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    y = _to_numpy(labels)
    s = _to_numpy(scores)
    y = y.reshape(-1) if (y.ndim == 2 and y.shape[1] == 1) else y
    s = s.reshape(-1) if (s.ndim == 2 and s.shape[1] == 1) else s
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D, got shapes {y.shape} and {s.shape}")
    if y.shape[0] != s.shape[0]:
        raise ValueError(f"length mismatch: {y.shape[0]} labels but {s.shape[0]} scores")
    if y.shape[0] == 0:
        raise ValueError("labels and scores are empty")
    try:
        s = s.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("scores must be numeric") from None
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    if y.dtype == bool:
        y = y.astype(np.int64)
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("labels must be 0/1 (real/fake)") from None
    if not np.isin(yf, (0.0, 1.0)).all():
        raise ValueError(f"labels must be binary 0/1 (real/fake), got values {np.unique(yf)[:5].tolist()}")
    y = yf.astype(np.int64)
    if need_both and (y.min() == y.max()):
        raise ValueError(
            f"only one class present in labels (all {int(y[0])}); AUC/EER/AP need both real (0) and fake (1)"
        )
    return y, s


# ----------------------------------------------------------------------------- detection
def roc_curve(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points over distinct thresholds (descending). Returns ``(fpr, tpr, thresholds)``.

    The first point is ``(0, 0)`` at threshold ``+inf``; point ``i`` predicts fake for
    ``score >= thresholds[i]``. Tied scores form a single point.
    """
    y, s = _check_binary(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s_sorted)), y_sorted.size - 1]
    tps = np.cumsum(y_sorted)[last_of_group]
    fps = (last_of_group + 1) - tps
    pos, neg = tps[-1], fps[-1]
    tpr = np.r_[0.0, tps / pos]
    fpr = np.r_[0.0, fps / neg]
    thresholds = np.r_[np.inf, s_sorted[last_of_group]]
    return fpr, tpr, thresholds


def roc_auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve; a (fake, real) pair with tied scores counts 1/2."""
    y, s = _check_binary(labels, scores)
    # average ranks (1-based) of the scores, ties share their mean rank
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    ranks = np.empty(s.size, dtype=np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks[order] = np.repeat(avg, ends - starts)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def equal_error_rate(labels: Any, scores: Any) -> tuple[float, float]:
    """Equal error rate and its threshold: ``(eer, threshold)``.

    Walks the ROC (:func:`roc_curve`) and finds the first point where ``FPR - FNR >= 0``. If it is exactly 0
    there, that point's FPR and threshold are returned. Otherwise FPR and FNR are linearly interpolated on
    the segment from the previous point, where they are equal at fraction
    ``a = -d_prev / (d - d_prev)`` (``d = FPR - FNR``); the threshold is interpolated with the same
    ``a`` between the two points' thresholds, except on the first segment (previous threshold ``+inf``)
    where the second point's threshold is returned. Perfect separation gives ``(0.0, min fake score)``.
    """
    fpr, tpr, thr = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    d = fpr - fnr  # -1 at the first point, +1 at the last
    i = int(np.argmax(d >= 0))
    if d[i] == 0:
        return float(fpr[i]), float(thr[i])
    a = -d[i - 1] / (d[i] - d[i - 1])
    eer = fpr[i - 1] + a * (fpr[i] - fpr[i - 1])
    if np.isfinite(thr[i - 1]):
        threshold = thr[i - 1] + a * (thr[i] - thr[i - 1])
    else:
        threshold = thr[i]
    return float(eer), float(threshold)


def average_precision(labels: Any, scores: Any) -> float:
    """Average precision ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds (no interpolation)."""
    y, s = _check_binary(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s_sorted)), y_sorted.size - 1]
    tps = np.cumsum(y_sorted)[last_of_group].astype(np.float64)
    predicted = (last_of_group + 1).astype(np.float64)
    precision = tps / predicted
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def accuracy(labels: Any, scores: Any, threshold: float = 0.5) -> float:
    """Fraction of samples where ``(score >= threshold)`` equals the 0/1 label."""
    y, s = _check_binary(labels, scores, need_both=False)
    return float(np.mean((s >= threshold).astype(np.int64) == y))


def pair_win_rate(fake_scores: Any, source_scores: Any) -> float:
    """Fraction of (fake, its source real clip) pairs where the fake scores higher; ties count 1/2.
    `fake_scores` and `source_scores` `(N,)`, element i of both from the same pair."""
    fake, real = _to_numpy(fake_scores).astype(np.float64).ravel(), _to_numpy(source_scores).astype(np.float64).ravel()
    if fake.shape != real.shape or fake.size == 0:
        raise ValueError(f"pair_win_rate needs two equal-length non-empty score arrays, got {fake.shape} and {real.shape}")
    return float(np.mean((fake > real) + 0.5 * (fake == real)))


def _group(video_ids: Sequence[Hashable], n: int) -> tuple[list, np.ndarray]:
    ids = list(_to_numpy(video_ids).tolist()) if not isinstance(video_ids, (list, tuple)) else list(video_ids)
    if len(ids) != n:
        raise ValueError(f"length mismatch: {n} frame values but {len(ids)} video ids")
    index: dict = {}
    inverse = np.empty(n, dtype=np.int64)
    for j, vid in enumerate(ids):
        inverse[j] = index.setdefault(vid, len(index))
    return list(index), inverse


def video_level_scores(
    frame_scores: Any, video_ids: Sequence[Hashable], reduce: str = "mean"
) -> tuple[list, np.ndarray]:
    """Aggregate frame (or clip) scores per video. Returns ``(ids, scores)``.

    ``ids`` are the distinct video ids in order of first appearance; ``reduce`` is ``"mean"``, ``"max"``
    or ``"median"``.
    """
    if reduce not in VIDEO_REDUCES:
        raise ValueError(f"unknown reduce {reduce!r}; valid: {', '.join(VIDEO_REDUCES)}")
    s = _to_numpy(frame_scores).astype(np.float64).reshape(-1)
    if s.size == 0:
        raise ValueError("frame_scores is empty")
    if not np.all(np.isfinite(s)):
        raise ValueError("frame_scores contain NaN or infinite values")
    ids, inverse = _group(video_ids, s.size)
    fn = {"mean": np.mean, "max": np.max, "median": np.median}[reduce]
    out = np.array([fn(s[inverse == k]) for k in range(len(ids))], dtype=np.float64)
    return ids, out


def video_level_labels(frame_labels: Any, video_ids: Sequence[Hashable]) -> tuple[list, np.ndarray]:
    """One label per video (same order as :func:`video_level_scores`); raises if a video mixes labels."""
    y = _to_numpy(frame_labels).reshape(-1)
    if y.size == 0:
        raise ValueError("frame_labels is empty")
    ids, inverse = _group(video_ids, y.size)
    out = np.empty(len(ids), dtype=np.int64)
    for k, vid in enumerate(ids):
        vals = np.unique(y[inverse == k])
        if vals.size != 1:
            raise ValueError(f"video {vid!r} has inconsistent frame labels {vals.tolist()}")
        out[k] = int(vals[0])
    return ids, out


# ----------------------------------------------------------------------------- localization
def _mask_list(x: Any, name: str) -> list[np.ndarray]:
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"{name} is empty")
        items = [_to_numpy(m) for m in x]
        if all(m.ndim == 1 for m in items):  # one mask given as a list of rows
            items = [np.asarray(items)]
    else:
        arr = _to_numpy(x)
        if arr.ndim == 2:
            items = [arr]
        elif arr.ndim == 3:
            items = list(arr)
        else:
            raise ValueError(f"{name} must be a 2-D mask, an (N, H, W) stack or a list of 2-D masks, got {arr.shape}")
        if len(items) == 0:
            raise ValueError(f"{name} is empty")
    out = []
    for i, m in enumerate(items):
        if m.ndim != 2:
            raise ValueError(f"{name}[{i}] must be a 2-D mask, got shape {m.shape}")
        try:
            m = m.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{i}] is not numeric") from None
        if np.isnan(m).any():
            raise ValueError(f"{name}[{i}] contains NaN")
        out.append(m)
    return out


def _binarised_pairs(pred: Any, gt: Any, threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
    p = _mask_list(pred, "pred")
    g = _mask_list(gt, "gt")
    if len(p) != len(g):
        raise ValueError(f"length mismatch: {len(p)} predicted masks but {len(g)} ground-truth masks")
    pairs = []
    for i, (a, b) in enumerate(zip(p, g)):
        if a.shape != b.shape:
            raise ValueError(f"mask {i}: prediction shape {a.shape} != ground-truth shape {b.shape}")
        pairs.append((a >= threshold, b >= threshold))
    return pairs


def _reduce(values: np.ndarray, num: float, den: float, reduction: str, empty_value: float):
    if reduction == "none":
        return values
    if reduction == "mean":
        return float(values.mean())
    return float(num / den) if den > 0 else empty_value


def iou(pred: Any, gt: Any, threshold: float = 0.5, reduction: str = "mean"):
    """Intersection over union of binarised masks (``>= threshold``, Eq. 5).

    Both empty -> 1.0. ``reduction``: ``"mean"`` per-image mean, ``"micro"`` dataset-wide pooled,
    ``"none"`` per-image array.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
    pairs = _binarised_pairs(pred, gt, threshold)
    inter = np.array([np.logical_and(a, b).sum() for a, b in pairs], dtype=np.float64)
    union = np.array([np.logical_or(a, b).sum() for a, b in pairs], dtype=np.float64)
    per_image = np.where(union > 0, inter / np.maximum(union, 1.0), 1.0)
    return _reduce(per_image, inter.sum(), union.sum(), reduction, 1.0)


def pbca(pred: Any, gt: Any, threshold: float = 0.5, reduction: str = "mean"):
    """Pixel-wise binary classification accuracy of binarised masks (``>= threshold``, Eq. 5).

    ``reduction``: ``"mean"`` per-image mean, ``"micro"`` over all pixels of the dataset (differs from
    ``"mean"`` only when image sizes differ), ``"none"`` per-image array.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
    pairs = _binarised_pairs(pred, gt, threshold)
    correct = np.array([(a == b).sum() for a, b in pairs], dtype=np.float64)
    total = np.array([a.size for a, _ in pairs], dtype=np.float64)
    per_image = np.where(total > 0, correct / np.maximum(total, 1.0), 1.0)
    return _reduce(per_image, correct.sum(), total.sum(), reduction, 1.0)

