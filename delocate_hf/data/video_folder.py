"""A user's own videos as records: ``real/`` and ``fake/<manipulation>/`` folders.

Layout::

    <root>/real/**/*.mp4                   label 0, manipulation "real"
    <root>/fake/<manipulation>/**/*.mp4    label 1, manipulation "<manipulation>"
    <root>/fake/*.mp4                      label 1, manipulation "fake" (no domain given)
    <root>/masks/<manipulation>/<same relative path>   optional ground-truth mask videos

Any of ``.mp4 .avi .mov .mkv .webm .m4v``. Either ``real/`` or ``fake/`` may be absent, not both.
"""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from .records import (
    FAKE,
    REAL,
    DatasetLayoutError,
    list_videos,
    make_record,
    records_to_dataset,
    require_dir,
)

__all__ = ["load_video_folder"]


def load_video_folder(root: str | Path, *, split: str = "test", dataset: str | None = None) -> Dataset:
    """Videos under ``root/real`` and ``root/fake/<manipulation>`` as a :class:`datasets.Dataset`.

    ``split`` tags every record; ``dataset`` defaults to the root folder's name. ``video_id`` is
    the path relative to ``real/`` or ``fake/<manipulation>/`` without extension.
    """
    root = Path(root).expanduser().absolute()
    require_dir(root, "a folder with real/ and fake/<manipulation>/ subfolders of videos")
    real_dir, fake_dir, mask_root = root / "real", root / "fake", root / "masks"
    if not real_dir.is_dir() and not fake_dir.is_dir():
        raise DatasetLayoutError(
            f"{root} has neither {real_dir} nor {fake_dir}; expected real/*.mp4 and fake/<manipulation>/*.mp4"
        )
    name = dataset if dataset is not None else root.name
    records = []
    if real_dir.is_dir():
        for path in list_videos(real_dir, recursive=True):
            records.append(
                make_record(
                    video_path=path, label=REAL, dataset=name, manipulation="real",
                    video_id=path.relative_to(real_dir).with_suffix("").as_posix(), split=split,
                )
            )
    if fake_dir.is_dir():
        for path in list_videos(fake_dir, recursive=True):
            rel = path.relative_to(fake_dir)
            manipulation = rel.parts[0] if len(rel.parts) > 1 else "fake"
            inner = Path(*rel.parts[1:]) if len(rel.parts) > 1 else rel
            mask = mask_root / rel
            records.append(
                make_record(
                    video_path=path, label=FAKE, dataset=name, manipulation=manipulation,
                    video_id=inner.with_suffix("").as_posix(), split=split,
                    mask_path=mask if mask.is_file() else "",
                )
            )
    return records_to_dataset(records, where=root)
