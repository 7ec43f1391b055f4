"""DFDC (Deepfake Detection Challenge) as video records.

Two published forms, detected by :func:`load_dfdc`:

Training parts (``dfdc_train_all.zip``; also the Kaggle ``train_sample_videos`` folder)::

    <root>/dfdc_train_part_0/metadata.json      {"aaqaifqrwn.mp4": {"label": "FAKE", "split": "train",
    <root>/dfdc_train_part_0/aaqaifqrwn.mp4                         "original": "vudstovrck.mp4"}, ...}
    ...                                         REAL entries have "original": null

``root`` may be the folder holding the ``dfdc_train_part_*`` folders, a folder one level above
it (e.g. the folder holding ``dfdc_train_all/``), or a single part (a folder with ``metadata.json``).

Public test set::

    <root>/labels.csv        "filename,label" with label 1 = fake, 0 = real
    <root>/<filename>        the videos, beside labels.csv or in <root>/videos/
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from datasets import Dataset

from .records import (
    FAKE,
    REAL,
    SPLITS,
    DatasetLayoutError,
    check_missing,
    make_record,
    records_to_dataset,
    require_dir,
)

__all__ = ["load_dfdc", "find_dfdc_parts"]

DATASET_NAME = "DFDC"
FAKE_DOMAIN = "DFDC"
_PART_GLOB = "dfdc_train_part_*"


def find_dfdc_parts(root: Path) -> list[Path]:
    """Training-part folders under ``root`` (``root`` itself when it holds ``metadata.json``)."""
    if (root / "metadata.json").is_file():
        return [root]
    parts = [p for p in root.glob(_PART_GLOB) if p.is_dir()]
    if not parts:
        parts = [p for p in root.glob(f"*/{_PART_GLOB}") if p.is_dir()]
    return sorted(parts, key=lambda p: (len(p.name), p.name, str(p)))


def load_dfdc(root: str | Path, *, allow_missing: bool = False) -> Dataset:
    """DFDC videos as a :class:`datasets.Dataset` of records; the form of ``root`` is detected.

    Training parts give ``split`` from each metadata entry (``"train"``), the public test set
    (``labels.csv``) gives ``split="test"``. ``source_video`` of a fake is its ``original``,
    looked up across all parts given. ``allow_missing`` skips listed videos absent from disk.
    """
    root = Path(root).expanduser().absolute()
    require_dir(root, "a DFDC folder: dfdc_train_part_*/metadata.json training parts or a test folder with labels.csv")
    parts = find_dfdc_parts(root)
    if parts:
        return _load_parts(root, parts, allow_missing)
    if (root / "labels.csv").is_file():
        return _load_test_set(root, allow_missing)
    raise DatasetLayoutError(
        f"{root} holds neither DFDC training parts ({root / _PART_GLOB / 'metadata.json'}) "
        f"nor the DFDC test set form ({root / 'labels.csv'} with filename,label columns)"
    )


def _read_metadata(path: Path) -> dict[str, dict]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetLayoutError(f"{path} is not valid JSON ({err}); expected DFDC metadata") from None
    expected = (
        'expected a JSON object {"<file>.mp4": {"label": "REAL"|"FAKE", "split": "train", '
        '"original": "<file>.mp4"|null}}'
    )
    if not isinstance(meta, dict) or not meta:
        raise DatasetLayoutError(f"{path} is malformed; {expected}")
    for name, entry in meta.items():
        if not isinstance(entry, dict) or str(entry.get("label", "")).upper() not in ("REAL", "FAKE"):
            raise DatasetLayoutError(f"{path} is malformed at entry {name!r}; {expected}")
    return meta


def _load_parts(root: Path, parts: list[Path], allow_missing: bool) -> Dataset:
    metas = []
    for part in parts:
        meta_path = part / "metadata.json"
        if not meta_path.is_file():
            raise DatasetLayoutError(f"{meta_path} does not exist; expected the metadata of DFDC part {part.name}")
        metas.append((part, _read_metadata(meta_path)))
    # Where each real video lives, so a fake's "original" is found in whichever part holds it.
    location = {}
    for part, meta in metas:
        for name in meta:
            if (part / name).is_file():
                location.setdefault(name, part / name)

    records, missing = [], []
    for part, meta in metas:
        for name, entry in sorted(meta.items()):
            path = part / name
            if not path.is_file():
                missing.append(path)
                continue
            fake = str(entry["label"]).upper() == "FAKE"
            source = ""
            if fake and entry.get("original"):
                source = location.get(entry["original"], "")
            split = entry.get("split") if entry.get("split") in SPLITS else "train"
            records.append(
                make_record(
                    video_path=path, label=FAKE if fake else REAL, dataset=DATASET_NAME,
                    manipulation=FAKE_DOMAIN if fake else "real", video_id=Path(name).stem,
                    split=split, source_video=source,
                )
            )
    check_missing(missing, what="DFDC videos named in metadata.json", allow_missing=allow_missing)
    return records_to_dataset(records, where=root)


def _load_test_set(root: Path, allow_missing: bool) -> Dataset:
    labels_path = root / "labels.csv"
    video_dir = root / "videos" if (root / "videos").is_dir() else root
    expected = "expected a CSV with header 'filename,label' and label 1 = fake, 0 = real"
    with labels_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"filename", "label"} <= {f.strip() for f in reader.fieldnames}:
            raise DatasetLayoutError(f"{labels_path} has columns {reader.fieldnames}; {expected}")
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    records, missing = [], []
    for lineno, row in enumerate(rows, 2):
        label = row.get("label", "")
        try:
            value = float(label)
        except ValueError:
            value = -1.0
        if not row.get("filename") or value not in (0.0, 1.0):
            raise DatasetLayoutError(f"{labels_path}:{lineno} is malformed ({row}); {expected}")
        path = video_dir / row["filename"]
        if not path.is_file():
            missing.append(path)
            continue
        fake = value == 1.0
        records.append(
            make_record(
                video_path=path, label=FAKE if fake else REAL, dataset=DATASET_NAME,
                manipulation=FAKE_DOMAIN if fake else "real", video_id=Path(row["filename"]).stem,
                split="test",
            )
        )
    if not rows:
        raise DatasetLayoutError(f"{labels_path} lists no videos; {expected}")
    check_missing(missing, what=f"DFDC test videos named in {labels_path.name}", allow_missing=allow_missing)
    return records_to_dataset(records, where=root)
