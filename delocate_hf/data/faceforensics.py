"""FaceForensics++ (and its DeepFakeDetection part) as video records.

Published layout (what the official ``faceforensics_download_v4.py`` script writes,
https://github.com/ondyari/FaceForensics)::

    <root>/
      original_sequences/youtube/<raw|c23|c40>/videos/000.mp4 ... 999.mp4
      original_sequences/actors/<raw|c23|c40>/videos/01__exit_phone_room.mp4 ...   (DeepFakeDetection reals)
      manipulated_sequences/<Method>/<raw|c23|c40>/videos/<target>_<source>.mp4     (e.g. 000_003.mp4)
      manipulated_sequences/<Method>/masks/videos/<target>_<source>.mp4             (no masks for FaceShifter)
      manipulated_sequences/DeepFakeDetection/<comp>/videos/01_02__outside_talking_still_laughing__YVGY8LOK.mp4
      splits/{train,val,test}.json      (copied from dataset/splits/ of the official repository)

``<Method>`` is one of ``Deepfakes``, ``Face2Face``, ``FaceSwap``, ``NeuralTextures``,
``FaceShifter``. A split file is a JSON list of ``["a", "b"]`` id pairs; the split's real videos
are every id in its pairs, its fakes are ``a_b`` and ``b_a`` for each pair (720/140/140 ids).
In ``<target>_<source>.mp4`` the first id is the target video whose frames were manipulated,
so ``source_video`` of a fake is ``original_sequences/youtube/<comp>/videos/<target>.mp4``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Sequence

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
    require_file,
)

__all__ = ["load_faceforensics", "FF_METHODS", "FF_COMPRESSIONS", "read_ff_split"]

DATASET_NAME = "FaceForensics++"
FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
DFD = "DeepFakeDetection"
FF_COMPRESSIONS = ("raw", "c23", "c40")
_COMPRESSION_ALIASES = {"c0": "raw", "raw": "raw", "c23": "c23", "hq": "c23", "c40": "c40", "lq": "c40"}
_FF_FAKE_NAME = re.compile(r"^(\d{3})_(\d{3})$")
_DFD_FAKE_NAME = re.compile(r"^(\d+)_(\d+)__(.+)__([A-Za-z0-9]+)$")


def _normalize_compression(compression: str) -> str:
    try:
        return _COMPRESSION_ALIASES[str(compression).lower()]
    except KeyError:
        raise ValueError(
            f"compression must be one of {FF_COMPRESSIONS} (or c0/hq/lq), got {compression!r}"
        ) from None


def read_ff_split(path: str | Path) -> list[tuple[str, str]]:
    """Parse an official FF++ split file (JSON list of ``["tgt", "src"]`` string pairs)."""
    path = Path(path)
    require_file(path, 'an official FaceForensics++ split file: a JSON list of ["000", "003"] id pairs')
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetLayoutError(f"{path} is not valid JSON ({err}); expected a list of id pairs") from None
    ok = isinstance(data, list) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(i, (str, int)) for i in p)
        for p in data
    )
    if not ok or not data:
        raise DatasetLayoutError(
            f"{path} is malformed: expected a non-empty JSON list of [\"tgt\", \"src\"] id pairs "
            f'like [["071", "054"], ...]'
        )
    return [(_norm_id(a), _norm_id(b)) for a, b in data]


def _norm_id(value) -> str:
    return f"{int(value):03d}" if isinstance(value, int) or str(value).isdigit() else str(value)


def _split_membership(pairs: Iterable[tuple[str, str]]) -> tuple[set[str], set[str]]:
    real_ids, fake_names = set(), set()
    for a, b in pairs:
        real_ids.update((a, b))
        fake_names.update((f"{a}_{b}", f"{b}_{a}"))
    return real_ids, fake_names


def load_faceforensics(
    root: str | Path,
    compression: str = "c23",
    split: str | None = "train",
    manipulations: Sequence[str] | None = None,
    *,
    splits_dir: str | Path | None = None,
    allow_missing: bool = False,
) -> Dataset:
    """FaceForensics++ videos of one compression level as a :class:`datasets.Dataset` of records.

    Args:
        root: the FF++ root (holding ``original_sequences/`` and ``manipulated_sequences/``).
        compression: ``"raw"`` (alias ``"c0"``), ``"c23"`` or ``"c40"``.
        split: ``"train"``, ``"val"``, ``"test"`` (selected through ``<splits_dir>/<split>.json``)
            or ``None``/``"all"`` for every video on disk (then ``split`` of each record comes
            from the split files when they exist, else ``""``).
        manipulations: method folder names to include. ``None``: every FF++ method
            (Deepfakes, Face2Face, FaceSwap, NeuralTextures, FaceShifter) present on disk for
            this compression. ``"DeepFakeDetection"`` must be asked for explicitly; it brings
            its own reals (``original_sequences/actors``), has no official split and is given
            ``split="test"``. ``[]``: real videos only.
        splits_dir: folder with ``train.json``/``val.json``/``test.json``; default ``<root>/splits``.
        allow_missing: skip videos a split file names but that are not on disk (default: error).

    Raises:
        DatasetLayoutError: missing folder / split file, malformed split file, listed videos
            missing, or nothing found.
    """
    root = Path(root).expanduser().absolute()
    comp = _normalize_compression(compression)
    if split == "all":
        split = None
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, 'all' or None, got {split!r}")
    require_dir(root, "the FaceForensics++ root folder holding original_sequences/ and manipulated_sequences/")
    orig_dir = require_dir(
        root / "original_sequences", "original_sequences/youtube/<comp>/videos/*.mp4 (FaceForensics++ layout)"
    )
    manip_root = root / "manipulated_sequences"

    methods = _resolve_methods(manip_root, comp, manipulations)
    ff_methods = [m for m in methods if m != DFD]
    want_dfd = DFD in methods
    if want_dfd and split in ("train", "val"):
        raise ValueError(
            "DeepFakeDetection has no official train/val split in FaceForensics++; "
            "load it with split='test' or split=None"
        )
    include_youtube = bool(ff_methods) or not want_dfd

    splits_dir = Path(splits_dir).expanduser().absolute() if splits_dir is not None else root / "splits"
    records: list[dict] = []
    if include_youtube:
        real_dir = require_dir(
            orig_dir / "youtube" / comp / "videos",
            f"the FaceForensics++ original videos 000.mp4 ... 999.mp4 (compression {comp!r})",
        )
        records += _load_youtube_part(
            root, real_dir, comp, split, ff_methods, splits_dir, allow_missing
        )
    if want_dfd and split in (None, "test"):
        records += _load_dfd(root, comp)
    return records_to_dataset(records, where=root)


def _resolve_methods(manip_root: Path, comp: str, manipulations: Sequence[str] | None) -> list[str]:
    known = FF_METHODS + (DFD,)
    if manipulations is None:
        require_dir(manip_root, f"manipulated_sequences/<Method>/{comp}/videos with Method in {FF_METHODS}")
        found = [m for m in FF_METHODS if (manip_root / m / comp / "videos").is_dir()]
        if not found:
            raise DatasetLayoutError(
                f"{manip_root} has no <Method>/{comp}/videos folder for any of {FF_METHODS}; "
                f"expected e.g. {manip_root / 'Deepfakes' / comp / 'videos'}"
            )
        return found
    if isinstance(manipulations, str):
        manipulations = [manipulations]
    methods = []
    for m in manipulations:
        if m not in known:
            raise ValueError(f"unknown FaceForensics++ manipulation {m!r}; expected one of {known}")
        if m not in methods:
            methods.append(m)
    for m in methods:
        require_dir(
            manip_root / m / comp / "videos",
            f"the {m} manipulated videos (<target>_<source>.mp4) at compression {comp!r}",
        )
    return methods


def _load_youtube_part(
    root: Path,
    real_dir: Path,
    comp: str,
    split: str | None,
    methods: list[str],
    splits_dir: Path,
    allow_missing: bool,
) -> list[dict]:
    manip_root = root / "manipulated_sequences"
    records: list[dict] = []
    missing: list[Path] = []

    def real_record(vid: str, path: Path, split_name: str) -> dict:
        return make_record(
            video_path=path, label=REAL, dataset=DATASET_NAME, manipulation="real",
            video_id=vid, split=split_name, compression=comp,
        )

    def fake_record(method: str, name: str, path: Path, split_name: str) -> dict:
        m = _FF_FAKE_NAME.match(name)
        source = real_dir / f"{m.group(1)}.mp4" if m else None
        mask = manip_root / method / "masks" / "videos" / f"{name}.mp4"
        return make_record(
            video_path=path, label=FAKE, dataset=DATASET_NAME, manipulation=method,
            video_id=name, split=split_name, compression=comp,
            source_video=source if source is not None and source.is_file() else "",
            mask_path=mask if mask.is_file() else "",
        )

    if split is not None:
        pairs = read_ff_split(splits_dir / f"{split}.json")
        real_ids, fake_names = _split_membership(pairs)
        for vid in sorted(real_ids):
            path = real_dir / f"{vid}.mp4"
            if path.is_file():
                records.append(real_record(vid, path, split))
            else:
                missing.append(path)
        for method in methods:
            fake_dir = manip_root / method / comp / "videos"
            for name in sorted(fake_names):
                path = fake_dir / f"{name}.mp4"
                if path.is_file():
                    records.append(fake_record(method, name, path, split))
                else:
                    missing.append(path)
        check_missing(missing, what=f"FaceForensics++ videos of split {split!r}", allow_missing=allow_missing)
        return records

    # Every video on disk; split labels from the split files when they are there.
    real_split: dict[str, str] = {}
    fake_split: dict[str, str] = {}
    for name in SPLITS:
        if (splits_dir / f"{name}.json").is_file():
            ids, fakes = _split_membership(read_ff_split(splits_dir / f"{name}.json"))
            real_split.update(dict.fromkeys(ids, name))
            fake_split.update(dict.fromkeys(fakes, name))
    for path in list_videos(real_dir):
        records.append(real_record(path.stem, path, real_split.get(path.stem, "")))
    for method in methods:
        for path in list_videos(manip_root / method / comp / "videos"):
            records.append(fake_record(method, path.stem, path, fake_split.get(path.stem, "")))
    return records


def _load_dfd(root: Path, comp: str) -> list[dict]:
    """DeepFakeDetection: fakes ``<a>_<b>__<scene>__<hash>.mp4``, reals ``actors/<a>__<scene>.mp4``."""
    actors_dir = require_dir(
        root / "original_sequences" / "actors" / comp / "videos",
        f"the DeepFakeDetection real videos <actor>__<scene>.mp4 (compression {comp!r})",
    )
    fake_dir = root / "manipulated_sequences" / DFD / comp / "videos"
    mask_dir = root / "manipulated_sequences" / DFD / "masks" / "videos"
    records = [
        make_record(
            video_path=p, label=REAL, dataset=DATASET_NAME, manipulation="real",
            video_id=p.stem, split="test", compression=comp,
        )
        for p in list_videos(actors_dir)
    ]
    for path in list_videos(fake_dir):
        m = _DFD_FAKE_NAME.match(path.stem)
        source = actors_dir / f"{m.group(1)}__{m.group(3)}.mp4" if m else None
        mask = mask_dir / path.name
        records.append(
            make_record(
                video_path=path, label=FAKE, dataset=DATASET_NAME, manipulation=DFD,
                video_id=path.stem, split="test", compression=comp,
                source_video=source if source is not None and source.is_file() else "",
                mask_path=mask if mask.is_file() else "",
            )
        )
    return records
