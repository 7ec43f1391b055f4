"""Evaluation metrics for Delocate.

* :mod:`delocate_hf.metrics.functional` - pure-numpy AUC / EER / AP / accuracy and IoU / PBCA.
* ``deepfake_detection/`` and ``forgery_localization/`` - ``evaluate.Metric`` scripts, loadable offline with
  ``evaluate.load("<path to the folder>")`` or :func:`load_metric`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .functional import (
    accuracy,
    average_precision,
    equal_error_rate,
    iou,
    pbca,
    roc_auc,
    roc_curve,
    video_level_labels,
    video_level_scores,
)

METRICS_DIR = Path(__file__).resolve().parent
AVAILABLE_METRICS = ("deepfake_detection", "forgery_localization")

__all__ = [
    "AVAILABLE_METRICS",
    "METRICS_DIR",
    "accuracy",
    "average_precision",
    "equal_error_rate",
    "iou",
    "load_metric",
    "metric_path",
    "pbca",
    "roc_auc",
    "roc_curve",
    "video_level_labels",
    "video_level_scores",
]


def metric_path(name: str) -> str:
    """Absolute path of a bundled ``evaluate`` metric folder (works offline, no Hub lookup)."""
    if name not in AVAILABLE_METRICS:
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(AVAILABLE_METRICS)}")
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        raise FileNotFoundError(f"metric script missing: {path / (name + '.py')}")
    return str(path)


def load_metric(name: str, **kwargs: Any):
    """``evaluate.load`` of a bundled metric by name (``"deepfake_detection"`` or ``"forgery_localization"``).

    Extra keyword arguments go to ``evaluate.load`` (e.g. ``experiment_id``, ``num_process``).
    """
    import evaluate

    return evaluate.load(metric_path(name), **kwargs)
