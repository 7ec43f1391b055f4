"""The video-record schema shared by every data-set loader, and the helpers they use.

Every loader in :mod:`delocate_hf.data` returns a :class:`datasets.Dataset` whose rows are
*video records*: one row per video file, no pixels. The schema is :data:`VIDEO_RECORD_FEATURES`:

``video_path``   absolute path of the video file.
``label``        ``0`` real / ``1`` fake (``ClassLabel(names=["real", "fake"])``).
``dataset``      ``"FaceForensics++"``, ``"Celeb-DF-v2"``, ``"DFDC"``, ``"DeeperForensics-1.0"``
                 or a user-chosen name for :func:`~delocate_hf.data.load_video_folder`.
``manipulation`` the forgery domain: ``"real"`` for real videos, otherwise e.g. ``"Deepfakes"``,
                 ``"Face2Face"``, ``"FaceSwap"``, ``"NeuralTextures"``, ``"FaceShifter"``,
                 ``"DeepFakeDetection"``, ``"DFDC"``, ``"Celeb-synthesis"``, ``"DeeperForensics"``.
``source_video`` for a fake: absolute path of the real video whose frames it was rendered on
                 (the *target* video, pixel-aligned with the fake) when the data set tells us;
                 ``""`` otherwise and for real videos.
``mask_path``    ground-truth manipulation-mask video shipped with the data set, else ``""``.
``split``        ``"train"``, ``"val"``, ``"test"`` (``""`` only when a data set has no split
                 information and none was asked for).
``compression``  ``"raw"``, ``"c23"``, ``"c40"`` (FaceForensics++ / DeeperForensics reals), else ``""``.
``video_id``     data-set specific identifier, unique within (dataset, manipulation), e.g.
                 ``"000_003"`` (FF++), ``"id0_id1_0000"`` (Celeb-DF), ``"end_to_end/000_M101"``
                 (DeeperForensics: perturbation variant / file stem).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from datasets import ClassLabel, Dataset, Features, Value

__all__ = [
    "DatasetLayoutError",
    "VIDEO_RECORD_FEATURES",
    "VIDEO_EXTENSIONS",
    "LABEL_NAMES",
    "REAL",
    "FAKE",
    "SPLITS",
    "check_missing",
    "make_record",
    "records_to_dataset",
    "list_videos",
    "require_dir",
    "require_file",
]

LABEL_NAMES = ["real", "fake"]
REAL = 0
FAKE = 1
SPLITS = ("train", "val", "test")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")

VIDEO_RECORD_FEATURES = Features(
    {
        "video_path": Value("string"),
        "label": ClassLabel(names=LABEL_NAMES),
        "dataset": Value("string"),
        "manipulation": Value("string"),
        "source_video": Value("string"),
        "mask_path": Value("string"),
        "split": Value("string"),
        "compression": Value("string"),
        "video_id": Value("string"),
    }
)


class DatasetLayoutError(FileNotFoundError):
    """The folder given to a loader does not have the published layout of that data set.

    The message names the missing / malformed path and what was expected there.
    """


def make_record(
    *,
    video_path: str | Path,
    label: int,
    dataset: str,
    manipulation: str,
    video_id: str,
    split: str = "",
    compression: str = "",
    source_video: str | Path = "",
    mask_path: str | Path = "",
) -> dict:
    """One row of :data:`VIDEO_RECORD_FEATURES` (paths made absolute, no file access)."""
    if label not in (REAL, FAKE):
        raise ValueError(f"label must be 0 (real) or 1 (fake), got {label!r}")
    return {
        "video_path": _abs(video_path),
        "label": int(label),
        "dataset": dataset,
        "manipulation": manipulation,
        "source_video": _abs(source_video) if source_video else "",
        "mask_path": _abs(mask_path) if mask_path else "",
        "split": split,
        "compression": compression,
        "video_id": video_id,
    }


def _abs(path: str | Path) -> str:
    return str(Path(path).expanduser().absolute())


def _sort_key(record: Mapping) -> tuple:
    return (
        SPLITS.index(record["split"]) if record["split"] in SPLITS else len(SPLITS),
        record["label"],
        record["manipulation"],
        record["video_id"],
        record["video_path"],
    )


def records_to_dataset(records: Iterable[Mapping], *, where: str | Path | None = None) -> Dataset:
    """Sort records deterministically and build a :class:`datasets.Dataset` with the shared schema.

    An empty result raises :class:`DatasetLayoutError` (``where`` names the folder searched).
    """
    rows = sorted((dict(r) for r in records), key=_sort_key)
    if not rows:
        raise DatasetLayoutError(
            f"no videos found{f' under {where}' if where is not None else ''} for the requested "
            "selection (check the root folder, compression, split and manipulations)"
        )
    return Dataset.from_list(rows, features=VIDEO_RECORD_FEATURES)


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a directory, else :class:`DatasetLayoutError` explaining ``what`` was expected."""
    if not path.is_dir():
        state = "is not a directory" if path.exists() else "does not exist"
        raise DatasetLayoutError(f"{path} {state}; expected {what}")
    return path


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else :class:`DatasetLayoutError` explaining ``what`` was expected."""
    if not path.is_file():
        state = "is not a file" if path.exists() else "does not exist"
        raise DatasetLayoutError(f"{path} {state}; expected {what}")
    return path


def list_videos(folder: Path, *, recursive: bool = False) -> list[Path]:
    """Video files in ``folder`` (by extension, hidden files skipped), sorted by path."""
    pattern = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in pattern
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")
    )


def check_missing(missing: list[Path], *, what: str, allow_missing: bool) -> None:
    """Raise :class:`DatasetLayoutError` for files a list/split file names but that are absent."""
    if missing and not allow_missing:
        shown = ", ".join(str(p) for p in missing[:5])
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise DatasetLayoutError(
            f"{len(missing)} {what} listed but missing on disk: {shown}{more}; "
            "pass allow_missing=True to skip them"
        )
