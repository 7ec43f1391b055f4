"""DeeperForensics-1.0 as video records (fakes from DeeperForensics, reals from FaceForensics++).

Published layout (https://github.com/EndlessSora/DeeperForensics-1.0, dataset/README.md)::

    <root>/
      manipulated_videos/<variant>/<target_id>_<source_id>.mp4     e.g. end_to_end/000_M101.mp4
      lists/splits/{train,val,test}.txt                            one manipulated video name per line
      lists/manipulated_videos_lists/ ...  lists/source_videos_lists/ ...   (not needed here)
      source_videos/<actor>/...                                    (DF-VAE inputs, NOT the real class)

The 11 variants are ``end_to_end``, ``reenact_postprocess``, ``end_to_end_level_{1..5}``,
``end_to_end_random_level`` and ``end_to_end_mix_{2,3,4}_distortions``, 1,000 videos each.
``<target_id>`` is the three-digit FaceForensics++ id of the target video and ``<source_id>``
the DeeperForensics actor (``M``/``W`` + 3 digits). The real class is the FF++ target videos
(the README asks for the c23 ones), which DeeperForensics does not ship: they come from
``<faceforensics_root>/original_sequences/youtube/<compression>/videos/<target_id>.mp4``.
The split lists name fakes; a real video belongs to the split of the fakes made from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from datasets import Dataset

from .records import (
    FAKE,
    REAL,
    SPLITS,
    DatasetLayoutError,
    check_missing,
    list_videos,
    make_record,
    records_to_dataset,
    require_dir,
)

__all__ = ["load_deeperforensics", "DF_VARIANTS", "read_df_split"]

DATASET_NAME = "DeeperForensics-1.0"
FAKE_DOMAIN = "DeeperForensics"
DF_VARIANTS = (
    "end_to_end",
    "reenact_postprocess",
    *(f"end_to_end_level_{i}" for i in range(1, 6)),
    "end_to_end_random_level",
    *(f"end_to_end_mix_{j}_distortions" for j in range(2, 5)),
)
_FAKE_NAME = re.compile(r"^(\d{3})_([A-Za-z]\d+)$")


def read_df_split(path: Path) -> set[str]:
    """Stems of the manipulated videos named in a DeeperForensics split list."""
    if not path.is_file():
        raise DatasetLayoutError(
            f"{path} does not exist; expected a DeeperForensics split list (one manipulated video "
            "name such as 000_M101.mp4 per line)"
        )
    names = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        stem = Path(line.split()[0].replace("\\", "/")).stem
        if not _FAKE_NAME.match(stem):
            raise DatasetLayoutError(
                f"{path}:{lineno} is malformed ({line!r}); expected a manipulated video name "
                "<target_id>_<source_id>.mp4 such as 000_M101.mp4"
            )
        names.add(stem)
    if not names:
        raise DatasetLayoutError(f"{path} is empty; expected manipulated video names")
    return names


def load_deeperforensics(
    root: str | Path,
    faceforensics_root: str | Path,
    split: str | None = None,
    *,
    variants: Sequence[str] | None = None,
    compression: str = "c23",
    splits_dir: str | Path | None = None,
    allow_missing: bool = False,
) -> Dataset:
    """DeeperForensics-1.0 fakes plus their FF++ target (real) videos as a :class:`datasets.Dataset`.

    Args:
        root: the DeeperForensics-1.0 root (holding ``manipulated_videos/``).
        faceforensics_root: the FaceForensics++ root providing the real target videos.
        split: ``"train"``/``"val"``/``"test"`` from ``lists/splits/<split>.txt``, or ``None``
            for all videos (tagged from the lists when present, else ``""``).
        variants: manipulated-video subfolders to include (default: every one on disk).
        compression: which FF++ originals to pair with (the DeeperForensics README says c23).
        splits_dir: folder with the split lists; default ``<root>/lists/splits``.
        allow_missing: skip fakes listed in a split / real targets not on disk (default: error).

    ``video_id`` of a fake is ``"<variant>/<stem>"`` (the same stem exists in every variant).
    """
    root = Path(root).expanduser().absolute()
    ff_root = Path(faceforensics_root).expanduser().absolute()
    if split == "all":
        split = None
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, 'all' or None, got {split!r}")
    if compression == "c0":
        compression = "raw"
    require_dir(root, "the DeeperForensics-1.0 root folder holding manipulated_videos/ and lists/")
    manip_root = require_dir(
        root / "manipulated_videos",
        f"DeeperForensics manipulated videos in <variant>/<target>_<source>.mp4 folders (variants: {DF_VARIANTS})",
    )
    real_dir = require_dir(
        ff_root / "original_sequences" / "youtube" / compression / "videos",
        "the FaceForensics++ original (target) videos <id>.mp4 that are the real class of DeeperForensics",
    )

    if variants is None:
        variant_dirs = [d for d in sorted(manip_root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
        if not variant_dirs:
            raise DatasetLayoutError(f"{manip_root} has no variant folders; expected e.g. {manip_root / 'end_to_end'}")
    else:
        if isinstance(variants, str):
            variants = [variants]
        variant_dirs = [
            require_dir(manip_root / v, f"the DeeperForensics {v} manipulated videos") for v in dict.fromkeys(variants)
        ]

    splits_dir = Path(splits_dir).expanduser().absolute() if splits_dir is not None else root / "lists" / "splits"
    membership: dict[str, str] = {}
    if split is not None:
        membership = dict.fromkeys(read_df_split(splits_dir / f"{split}.txt"), split)
    else:
        for name in SPLITS:
            if (splits_dir / f"{name}.txt").is_file():
                for stem in read_df_split(splits_dir / f"{name}.txt"):
                    membership.setdefault(stem, name)

    records, missing = [], []
    real_splits: dict[tuple[str, str], Path] = {}
    for vdir in variant_dirs:
        on_disk = {p.stem: p for p in list_videos(vdir)}
        if split is not None:
            wanted = sorted(membership)
            missing += [vdir / f"{stem}.mp4" for stem in wanted if stem not in on_disk]
        else:
            wanted = sorted(on_disk)
        for stem in wanted:
            if stem not in on_disk:
                continue
            path = on_disk[stem]
            rec_split = membership.get(stem, "")
            m = _FAKE_NAME.match(stem)
            source = real_dir / f"{m.group(1)}.mp4" if m else None
            if source is not None:
                real_splits.setdefault((m.group(1), rec_split), source)
            records.append(
                make_record(
                    video_path=path, label=FAKE, dataset=DATASET_NAME, manipulation=FAKE_DOMAIN,
                    video_id=f"{vdir.name}/{stem}", split=rec_split,
                    source_video=source if source is not None and source.is_file() else "",
                )
            )
    check_missing(missing, what="DeeperForensics manipulated videos", allow_missing=allow_missing)

    real_missing = []
    for (target, rec_split), path in sorted(real_splits.items()):
        if not path.is_file():
            real_missing.append(path)
            continue
        records.append(
            make_record(
                video_path=path, label=REAL, dataset=DATASET_NAME, manipulation="real",
                video_id=target, split=rec_split, compression=compression,
            )
        )
    check_missing(real_missing, what="FaceForensics++ target (real) videos", allow_missing=allow_missing)
    return records_to_dataset(records, where=root)
