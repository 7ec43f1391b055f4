"""Loading a detector: `load_detector(model, device, dtype)` -> `(DelocateForDeepfakeDetection, DelocateFaceProcessor)`,
the shipped default model, compute precision and device checks. Every failure is a one-line `DelocateInputError`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from processing.errors import DelocateInputError

from .devices import resolve_device

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "default_model"
DTYPES = ("float32", "bfloat16", "float16")


class ModelLoadError(DelocateInputError):
    """The model (folder or Hub id) cannot be loaded, or the shipped default model is missing."""


def default_model_path() -> Path:
    """The default checkpoint shipped inside the package (`delocate_hf/default_model/`).

    Raises `ModelLoadError` when it is missing (e.g. a source checkout where it was not built yet).
    """
    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        raise ModelLoadError("the shipped default model is missing: run `make default-model` or pass --model")
    return DEFAULT_MODEL_DIR


def load_detector(model: str | os.PathLike | None = None, device: str | None = "cpu", dtype: str | None = None):
    """Load `(DelocateForDeepfakeDetection, DelocateFaceProcessor)` from a folder or Hub id (None = shipped default).

    `dtype` (one of `DTYPES`, None = as saved, float32) sets the compute precision: bfloat16 runs 1.5-1.7x faster
    on CPUs with AVX512-BF16 / AMX (fake probabilities move by ~1e-3), float16 is for CUDA.
    Every failure is a one-line `ModelLoadError` (a `DelocateInputError`).
    """
    torch_dtype = resolve_dtype(dtype, device)
    import modeling  # noqa: F401  (registers the Auto classes)
    import processing  # noqa: F401
    from transformers import AutoImageProcessor, AutoModel

    name = str(default_model_path() if model is None else model)
    try:
        detector = AutoModel.from_pretrained(name)
        processor = AutoImageProcessor.from_pretrained(name)
    except Exception as exc:  # OSError, HFValidationError, ValueError (unknown model type) ...
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ModelLoadError(f"cannot load model '{name}': {text}") from None
    from modeling import DelocateForDeepfakeDetection

    if not isinstance(detector, DelocateForDeepfakeDetection):
        raise ModelLoadError(
            f"cannot use model '{name}': expected a DelocateForDeepfakeDetection checkpoint, "
            f"got {type(detector).__name__}"
        )
    if device is not None:
        detector.to(resolve_device(device))
    if torch_dtype is not None:
        detector.to(torch_dtype)
    return detector.eval(), processor


def resolve_dtype(dtype: str | None, device: str | None = "cpu") -> Any:
    """`torch.dtype` for a `DTYPES` name (None -> None: keep the checkpoint's float32)."""
    import torch

    if dtype is None:
        return None
    if dtype not in DTYPES:
        raise DelocateInputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "float16" and str(device or "cpu").startswith("cpu"):
        raise DelocateInputError("dtype float16 needs a CUDA device (--device cuda); on CPU use bfloat16")
    if dtype == "bfloat16" and str(device or "cpu").startswith("cpu") and not _cpu_has_fast_bfloat16():
        logger.warning("this CPU has no native bfloat16 (AVX512-BF16 / AMX): bfloat16 may be slower than float32")
    return getattr(torch, dtype)


def _cpu_has_fast_bfloat16() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private oneDNN probe missing in this torch build
        return False


__all__ = ["DEFAULT_MODEL_DIR", "DTYPES", "ModelLoadError", "default_model_path", "load_detector", "resolve_device",
           "resolve_dtype"]
