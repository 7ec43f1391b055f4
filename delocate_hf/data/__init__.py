"""Benchmark data sets as Hugging Face ``datasets.Dataset`` s of video records (no pixels read).

Every loader returns rows with the schema :data:`VIDEO_RECORD_FEATURES`; a folder that does not
have the published layout raises :class:`DatasetLayoutError` naming what is missing.
Miniature copies of the layouts, built from real video, are in :mod:`delocate_hf.data.fixtures`.
"""

from .celebdf import load_celebdf
from .deeperforensics import load_deeperforensics
from .dfdc import load_dfdc
from .faceforensics import load_faceforensics
from .preprocess import FACE_CLIP_FEATURES, PreprocessResult, load_preprocessed, preprocess_dataset
from .records import VIDEO_RECORD_FEATURES, DatasetLayoutError
from .video_folder import load_video_folder

__all__ = [
    "VIDEO_RECORD_FEATURES",
    "DatasetLayoutError",
    "load_faceforensics",
    "load_celebdf",
    "load_dfdc",
    "load_deeperforensics",
    "load_video_folder",
    "FACE_CLIP_FEATURES",
    "PreprocessResult",
    "preprocess_dataset",
    "load_preprocessed",
]
