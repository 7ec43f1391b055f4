"""Celeb-DF (v2) as video records.

Published layout (https://github.com/yuezunli/celeb-deepfakeforensics, Celeb-DF-v2/README.md)::

    <root>/
      Celeb-real/id0_0000.mp4 ...            590 celebrity videos  (id<X>_<NNNN>)
      YouTube-real/00000.mp4 ...             300 extra real videos
      Celeb-synthesis/id0_id1_0000.mp4 ...   5639 DeepFakes: Celeb-real/id0_0000.mp4 with id1's face
      List_of_testing_videos.txt             518 lines "<label> <relative path>", label 1 = REAL, 0 = FAKE

The list's label is the *inverse* of our convention (ours: 0 real / 1 fake); it is checked
against the folder each listed video lives in. ``split="test"`` is the listed videos,
``split="train"`` every other video on disk (Celeb-DF has no validation split).
Copies re-organised as ``Celeb-real/videos/*.mp4`` and spelled ``Youtube-real`` are accepted too.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import Dataset

from .records import (
    FAKE,
    REAL,
    DatasetLayoutError,
    check_missing,
    list_videos,
    make_record,
    records_to_dataset,
    require_dir,
    require_file,
)

__all__ = ["load_celebdf", "read_celebdf_test_list"]

DATASET_NAME = "Celeb-DF-v2"
FAKE_DOMAIN = "Celeb-synthesis"
TEST_LIST = "List_of_testing_videos.txt"
_FOLDERS = {"celeb-real": REAL, "youtube-real": REAL, "celeb-synthesis": FAKE}
_SYNTH_NAME = re.compile(r"^(id\d+)_(id\d+)_(\d+)$")


def read_celebdf_test_list(path: str | Path) -> list[tuple[int, str]]:
    """``[(our_label, relative_path)]`` from ``List_of_testing_videos.txt`` (its 1 = real becomes 0)."""
    path = Path(path)
    require_file(path, f"the official Celeb-DF-v2 test list {TEST_LIST} ('<1 real|0 fake> <folder>/<file>.mp4' lines)")
    entries = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1") or "/" not in parts[1]:
            raise DatasetLayoutError(
                f"{path}:{lineno} is malformed ({line.strip()!r}); expected '<1 real|0 fake> "
                "<folder>/<file>.mp4', e.g. '1 YouTube-real/00170.mp4'"
            )
        entries.append((REAL if parts[0] == "1" else FAKE, parts[1].replace("\\", "/")))
    if not entries:
        raise DatasetLayoutError(f"{path} is empty; expected the 518 Celeb-DF-v2 test videos")
    return entries


def _video_dir(folder: Path) -> Path:
    return folder / "videos" if (folder / "videos").is_dir() else folder


def load_celebdf(
    root: str | Path,
    split: str | None = "test",
    *,
    test_list: str | Path | None = None,
    allow_missing: bool = False,
) -> Dataset:
    """Celeb-DF-v2 videos as a :class:`datasets.Dataset` of records.

    Args:
        root: the Celeb-DF-v2 root (``Celeb-real/``, ``Celeb-synthesis/``, ``YouTube-real/``).
        split: ``"test"`` (the official list), ``"train"`` (every video not listed), or
            ``None``/``"all"`` (everything, each record tagged train/test).
        test_list: path of the test list; default ``<root>/List_of_testing_videos.txt``.
        allow_missing: skip listed test videos that are not on disk (default: error).
    """
    root = Path(root).expanduser().absolute()
    if split == "all":
        split = None
    if split not in (None, "train", "test"):
        raise ValueError(f"Celeb-DF-v2 has splits 'train' and 'test' (or None/'all'), got {split!r}")
    require_dir(root, "the Celeb-DF-v2 root folder holding Celeb-real/, Celeb-synthesis/ and YouTube-real/")

    folders: dict[str, Path] = {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in _FOLDERS:
            folders[child.name.lower()] = child
    for needed in ("Celeb-real", "Celeb-synthesis"):
        if needed.lower() not in folders:
            require_dir(root / needed, f"the Celeb-DF-v2 {needed} folder of .mp4 videos")

    listed = read_celebdf_test_list(Path(test_list) if test_list is not None else root / TEST_LIST)
    test_paths: set[Path] = set()
    missing: list[Path] = []
    for label, rel in listed:
        top, _, rest = rel.partition("/")
        folder = folders.get(top.lower())
        if folder is None or _FOLDERS[top.lower()] != label:
            what = "unknown folder" if folder is None else "label disagrees with its folder"
            raise DatasetLayoutError(
                f"{root / TEST_LIST}: entry {rel!r} ({what}); expected Celeb-real/ or YouTube-real/ "
                "with label 1 (real) and Celeb-synthesis/ with label 0 (fake)"
                + (f"; folder {root / top} not found" if folder is None else "")
            )
        path = _video_dir(folder) / rest
        if path.is_file():
            test_paths.add(path)
        else:
            missing.append(path)
    if split in (None, "test"):
        check_missing(missing, what="Celeb-DF-v2 test videos", allow_missing=allow_missing)

    real_dir = _video_dir(folders["celeb-real"])
    records = []
    for lower, folder in folders.items():
        label = _FOLDERS[lower]
        for path in list_videos(_video_dir(folder)):
            in_test = path in test_paths
            rec_split = "test" if in_test else "train"
            if split is not None and rec_split != split:
                continue
            source = ""
            if label == FAKE:
                m = _SYNTH_NAME.match(path.stem)
                candidate = real_dir / f"{m.group(1)}_{m.group(3)}{path.suffix}" if m else None
                if candidate is not None and candidate.is_file():
                    source = candidate
            records.append(
                make_record(
                    video_path=path, label=label, dataset=DATASET_NAME,
                    manipulation=FAKE_DOMAIN if label == FAKE else "real",
                    video_id=path.stem, split=rec_split, source_video=source,
                )
            )
    return records_to_dataset(records, where=root)
