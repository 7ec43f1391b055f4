"""What a face-clip cache holds (part of :mod:`delocate_hf.data.preprocess`, which re-exports these names; import
them from there): :func:`face_clip_features` / :data:`FACE_CLIP_FEATURES` (the clip columns after the record columns:
``faces`` uint8 ``(T, S, S, 3)``, ``landmarks`` float32 ``(T, K, 2)``, ``roi_boxes`` float32 ``(T, 3, 4)``,
``face_affines`` float32 ``(T, 2, 3)``, ``frame_indices`` int64 ``(T,)``, ``frame_size`` int32 ``(2,)``, ``masks``
uint8 ``(T, S, S)``, ``mask_source``, ``mask_message``), :data:`ERROR_FEATURES` (one row per failed video),
:data:`MASK_SOURCES` and :class:`PreprocessResult`. The module docstring of ``preprocess`` explains every column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datasets import Array3D, Array4D, Dataset, Features, List, Value

from .records import VIDEO_RECORD_FEATURES

__all__ = ["CLIP_COLUMNS", "ERROR_FEATURES", "FACE_CLIP_FEATURES", "MASK_SOURCES", "PreprocessResult",
           "face_clip_features"]

MASK_SOURCES = ("real", "dataset", "difference", "none")
CLIP_COLUMNS = (
    "faces",
    "landmarks",
    "roi_boxes",
    "face_affines",
    "frame_indices",
    "frame_size",
    "masks",
    "mask_source",
    "mask_message",
)

ERROR_FEATURES = Features(
    {
        "index": Value("int64"),
        "video_path": Value("string"),
        "video_id": Value("string"),
        "dataset": Value("string"),
        "manipulation": Value("string"),
        "label": Value("int64"),
        "error_type": Value("string"),
        "message": Value("string"),
    }
)


def face_clip_features(
    num_frames: int | None = 16,
    size: int = 224,
    num_landmarks: int = 468,
    record_features: Features | None = None,
) -> Features:
    """The face-clip schema for clips of ``num_frames`` (``None``: variable) frames of ``size`` px.

    ``record_features`` (default :data:`VIDEO_RECORD_FEATURES`) are the leading record columns.
    """
    t, s, k = (None if num_frames is None else int(num_frames)), int(size), int(num_landmarks)
    features = dict(record_features if record_features is not None else VIDEO_RECORD_FEATURES)
    features.update(
        {
            "faces": Array4D(shape=(t, s, s, 3), dtype="uint8"),
            "landmarks": Array3D(shape=(t, k, 2), dtype="float32"),
            "roi_boxes": Array3D(shape=(t, 3, 4), dtype="float32"),
            "face_affines": Array3D(shape=(t, 2, 3), dtype="float32"),
            "frame_indices": List(Value("int64"), length=-1 if t is None else t),
            "frame_size": List(Value("int32"), length=2),
            "masks": Array3D(shape=(t, s, s), dtype="uint8"),
            "mask_source": Value("string"),
            "mask_message": Value("string"),
        }
    )
    return Features(features)


FACE_CLIP_FEATURES = face_clip_features()


@dataclass
class PreprocessResult:
    """What :func:`preprocess_dataset` / :func:`load_preprocessed` return.

    Attributes:
        dataset: the face clips of the videos that worked (:func:`face_clip_features` schema), in
            record order.
        errors: one row per failed video (:data:`ERROR_FEATURES`: ``index`` in the records,
            ``video_path``, ``video_id``, ``dataset``, ``manipulation``, ``label``, ``error_type``
            -- the exception class, e.g. ``"VideoDecodeError"``, ``"NoFaceDetectedError"`` --
            and a one-line ``message``).
        cache_dir: the cache folder (``None`` when run without one).
        computed_shards / reused_shards: shard numbers built by this call / taken from the cache.
    """

    dataset: Dataset
    errors: Dataset
    cache_dir: Path | None = None
    computed_shards: list[int] = field(default_factory=list)
    reused_shards: list[int] = field(default_factory=list)

    @property
    def mask_summary(self) -> dict[str, int]:
        """Number of clips per ``mask_source``."""
        values = self.dataset["mask_source"] if len(self.dataset) else []
        return {name: int(sum(v == name for v in values)) for name in MASK_SOURCES}
