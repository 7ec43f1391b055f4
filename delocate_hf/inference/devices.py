"""Device checks of inference: `resolve_device(name)` -> `torch.device`, one-line `DelocateInputError` when CUDA is
asked but missing. Imports only torch and `processing.errors` (it ships as remote code with the pipeline)."""

from __future__ import annotations

from typing import Any

from processing.errors import DelocateInputError


def resolve_device(device) -> Any:
    """`torch.device` for a name ("cpu", "cuda", "cuda:1"); `DelocateInputError` when CUDA is asked but missing."""
    import torch

    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DelocateInputError("device 'cuda' requested but CUDA is not available; use --device cpu")
    return device


__all__ = ["resolve_device"]
