"""The face-clip cache: video records -> aligned face clips + ground-truth masks, resumable, on disk.

:func:`preprocess_dataset` runs a :class:`~processing.DelocateFaceProcessor` over every video record
(:data:`~delocate_hf.data.records.VIDEO_RECORD_FEATURES`) with :meth:`datasets.Dataset.map` and
returns a :class:`PreprocessResult`: ``.dataset`` holds one row per video that worked, ``.errors``
one row per video that did not (unreadable, too short, no face, ...) with the reason. A failing
video never stops the run and is never dropped silently. :func:`load_preprocessed` reopens a cache.

Schema of ``.dataset`` (:data:`FACE_CLIP_FEATURES` for the default processor, ``T = 16``,
``S = 224``, ``K = 468``; :func:`face_clip_features` for others). Every record field
(``video_path``, ``label``, ``dataset``, ``manipulation``, ``source_video``, ``mask_path``,
``split``, ``compression``, ``video_id`` and any extra column of the input) plus:

================  ==========================  ===========================================================
``faces``         uint8 ``(T, S, S, 3)``      aligned RGB face crops (``Array4D``), ``T = processor.num_frames``,
                                              ``S = processor.size``
``landmarks``     float32 ``(T, K, 2)``       landmarks in crop pixels (``K`` = 468 MediaPipe, 68 dlib)
``roi_boxes``     float32 ``(T, 3, 4)``       x0, y0, x1, y1 crop pixels of ``eyes``, ``cheek_nose``, ``lips``
``face_affines``  float32 ``(T, 2, 3)``       ORIGINAL frame coords -> crop coords
                                              (``processor.paste_back`` inverts them)
``frame_indices`` int64 ``(T,)``              index of each sampled frame in the decoded stream
``frame_size``    int32 ``(2,)``              ``(H, W)`` of the original video frames
``masks``         uint8 ``(T, S, S)``         ground-truth manipulation mask in the crop, 0..255
                                              (0 untouched; soft values allowed; all 0 for reals)
``mask_source``   string                      ``"real"`` (label 0: zeros), ``"dataset"`` (the data set's mask
                                              video), ``"difference"`` (vs the paired source video) or
                                              ``"none"`` (a fake with neither: zeros, *not* a ground truth)
``mask_message``  string                      ``""``, or why a fake fell back from one mask source to the
                                              next / a note (e.g. mask video shorter than the fake)
================  ==========================  ===========================================================

With ``sampling="all"`` the processor gives clips of varying length and ``T`` is ``None``
(dynamic first dimension).

Ground-truth masks, aligned to the crop:

* ``"dataset"`` -- the record's ``mask_path`` video (FF++ ``masks/videos``) is decoded at the same
  ``frame_indices``, converted to grayscale, resized to the video's frame size if it differs, warped
  with the same ``face_affines`` (bilinear, zeros outside the frame) and thresholded at
  ``mask_threshold`` (default 128): the FF++ masks are binary white-on-black videos that went
  through lossy H.264 compression, so grey levels near 0/255 plus ringing at the edges; mid-grey
  is the natural cut. The result is binary (0 / 255).
* ``"difference"`` -- when there is no usable mask video but a ``source_video`` (the pixel-aligned
  real video the fake was rendered on), after Kong et al. 2022 ("Detect and Locate: Exposing Face
  Manipulation by Semantic- and Noise-level Telltales"): the source frames at the same
  ``frame_indices`` are warped with the same ``face_affines``; ``|fake - real|`` per channel ->
  grayscale -> ``> diff_threshold`` (default 25.5 = 0.1 * 255) -> morphological opening
  (``open_size``) then closing (``close_size``) with elliptic kernels -> Gaussian blur
  (``blur_size``) -> scaled to 0..255 (soft mask). Kernel sizes default to values proportional to
  ``S`` (3 / ``S/16`` / ``S/32`` pixels, odd, >= 3).
* ``"none"`` -- neither (e.g. Celeb-DF, DFDC): zeros, and ``mask_source`` says so. Training code must
  not treat these zeros as "nothing manipulated".

Resumable cache (``cache_dir``)::

    cache_dir/
      manifest.json            settings (``preprocessor_config``: the processor's saved settings, what
                               ``save_pretrained`` writes), number of records / shards, schema
      errors.jsonl             every failed video, one JSON object a line (all shards)
      shards/00000/            one finished shard of ``shard_size`` consecutive records:
        data/                  Dataset.save_to_disk of its successful rows (absent if all failed)
        errors.jsonl           its failed videos
        _SUCCESS.json          key (hash of settings + the shard's records), counts -- written last
      shards/00001/ ...

Each shard is built in ``shards/NNNNN.tmp-<pid>/`` (``Dataset.map`` with ``num_proc`` workers
inside the shard) and renamed into place only when complete, so a run killed at any point leaves
only complete shards plus a temporary folder that the next run deletes. The next call with the
same ``cache_dir`` reuses every shard whose key matches (same processor settings -- except the
normalisation and token-masking ones, which do not change the cache --, mask options, shard size
and records) and computes only the rest; a shard whose key differs is rebuilt. One cache folder is
for one run at a time. Files changed on disk under the same paths are not noticed: delete the
cache folder then.

The processor that made a cache comes back with :func:`load_cache_processor` (from the manifest's
``preprocessor_config``; a cache written before it was recorded gives the processor of its cache-key
settings, the normalisation and token-masking ones at their defaults). Training builds the processor it
saves beside every checkpoint from it (``delocate_hf.training.processors``), so a detector preprocesses
videos as its training clips were preprocessed.

Example::

    from delocate_hf.data import load_faceforensics
    from delocate_hf.data.preprocess import preprocess_dataset
    from processing import DelocateFaceProcessor

    records = load_faceforensics("/data/FF++", split="train")
    result = preprocess_dataset(records, DelocateFaceProcessor(), num_proc=8, cache_dir="/data/ff_clips")
    print(result.errors.to_pandas())

Reading: ``datasets``' ``"numpy"`` / ``"torch"`` formats turn every integer array into int64
(8x the memory for ``faces`` / ``masks``). Ask for the dtype per column, e.g.
``ds.with_format("torch", columns=["faces", "masks"], dtype=torch.uint8, output_all_columns=True)``
(other columns then come as Python objects), or read Arrow:
``ds.with_format("arrow")[i:j]["faces"].combine_chunks().to_numpy(zero_copy_only=False)`` (uint8).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from datasets import Array3D, Array4D, Dataset, Features, List, Value, concatenate_datasets, load_from_disk

from .records import VIDEO_RECORD_FEATURES

__all__ = [
    "FACE_CLIP_FEATURES",
    "ERROR_FEATURES",
    "MASK_SOURCES",
    "CACHE_VERSION",
    "PreprocessResult",
    "face_clip_features",
    "preprocess_dataset",
    "load_preprocessed",
    "load_cache_processor",
    "crop_settings",
    "process_record",
    "dataset_mask_to_crop",
    "difference_mask",
    "warp_to_crop",
    "read_frames_at",
]

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
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
# Processor settings that do not change what is cached (normalisation, token masking).
_SETTINGS_NOT_CACHED = {
    "image_mean",
    "image_std",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "mask_strategy",
    "mask_ratio",
    "patch_size",
    "tubelet_size",
    "auto_map",  # added by save_pretrained: a loaded processor caches what a fresh one does
}

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


# --------------------------------------------------------------------------- pixel helpers
def read_frames_at(path: str | os.PathLike, indices: Sequence[int], gray: bool = False) -> tuple[np.ndarray, str]:
    """Decode the frames ``indices`` of a video: ``uint8 (N, H, W, 3)`` RGB or ``(N, H, W)`` gray.

    Indices past the last decodable frame get the last frame; the second return value is then a
    one-line note (else ``""``). Raises :class:`processing.VideoDecodeError` when nothing decodes.
    """
    import cv2

    from processing.video_io import read_frames

    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("read_frames_at needs at least one frame index")
    clip = read_frames(path, indices)  # seeks; an index past the end gets the last decodable frame
    note = ""
    missing = [i for i, got in zip(indices, clip.frame_indices.tolist()) if i != got]
    if missing:
        note = (
            f"'{Path(path).name}' has {clip.total_frames} decodable frames; "
            f"frame(s) {sorted(set(missing))} taken from its last frame"
        )
    frames = clip.frames
    if gray:
        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    return frames, note


def _resize_frames(frames: np.ndarray, frame_size: Sequence[int]) -> np.ndarray:
    import cv2

    h, w = int(frame_size[0]), int(frame_size[1])
    if frames.shape[1:3] == (h, w):
        return frames
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in frames])


def warp_to_crop(
    frames: np.ndarray, face_affines: np.ndarray, size: int, border: str = "replicate"
) -> np.ndarray:
    """Warp frames ``(T, H, W[, C])`` into the face crops ``(T, S, S[, C])`` with ``face_affines``.

    Same bilinear warp as the processor's alignment; ``border`` ``"replicate"`` (as the face crops)
    or ``"constant"`` (zeros outside the frame, for masks).
    """
    import cv2

    mode = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}[border]
    frames = np.asarray(frames)
    affines = np.asarray(face_affines, dtype=np.float64)
    if len(frames) != len(affines):
        raise ValueError(f"got {len(frames)} frames but {len(affines)} affines")
    out = np.empty((len(frames), size, size) + frames.shape[3:], dtype=frames.dtype)
    for t, (frame, affine) in enumerate(zip(frames, affines)):
        out[t] = cv2.warpAffine(
            np.ascontiguousarray(frame), affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=0
        )
    return out


def dataset_mask_to_crop(
    mask_frames: np.ndarray,
    face_affines: np.ndarray,
    size: int,
    frame_size: Sequence[int] | None = None,
    threshold: float = 128,
) -> np.ndarray:
    """A data set's mask frames (``uint8 (T, H, W)`` gray, lossy) -> binary crop masks ``uint8 (T, S, S)`` 0/255.

    Resized to ``frame_size`` (H, W) of the video first if given and different, warped with
    ``face_affines`` (zeros outside the frame), then ``>= threshold`` -> 255.
    """
    mask_frames = np.asarray(mask_frames, dtype=np.uint8)
    if mask_frames.ndim == 4:
        import cv2

        mask_frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in mask_frames])
    if frame_size is not None:
        mask_frames = _resize_frames(mask_frames, frame_size)
    warped = warp_to_crop(mask_frames, face_affines, size, border="constant")
    return np.where(warped >= threshold, 255, 0).astype(np.uint8)


def _odd(value: float) -> int:
    return max(3, int(value) | 1)


def difference_mask(
    fake_crops: np.ndarray,
    real_crops: np.ndarray,
    threshold: float = 25.5,
    open_size: int | None = None,
    close_size: int | None = None,
    blur_size: int | None = None,
) -> np.ndarray:
    """Soft manipulation masks ``uint8 (T, S, S)`` 0..255 from pixel-aligned fake / real crops ``(T, S, S, 3)``.

    Kong et al. 2022 style: ``|fake - real|`` -> grayscale -> ``> threshold`` (grey levels; default
    0.1 * 255) -> opening (``open_size``, removes compression speckle) -> closing (``close_size``,
    fills holes) -> Gaussian blur (``blur_size``) -> 0..255. Kernel sizes default to
    3, ``S/16`` and ``S/32`` pixels (odd, at least 3).
    """
    import cv2

    fake = np.asarray(fake_crops, dtype=np.int16)
    real = np.asarray(real_crops, dtype=np.int16)
    if fake.shape != real.shape or fake.ndim != 4:
        raise ValueError(f"fake and real crops must both be (T, S, S, 3), got {fake.shape} and {real.shape}")
    size = fake.shape[1]
    open_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_odd(open_size or 3),) * 2)
    close_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_odd(close_size or size / 16),) * 2)
    blur = _odd(blur_size or size / 32)
    diff = np.abs(fake - real).astype(np.uint8)
    out = np.empty(fake.shape[:3], dtype=np.uint8)
    for t, d in enumerate(diff):
        gray = cv2.cvtColor(d, cv2.COLOR_RGB2GRAY)
        binary = (gray > threshold).astype(np.uint8)
        binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, open_k)
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, close_k)
        soft = cv2.GaussianBlur(binary.astype(np.float32), (blur, blur), 0)
        out[t] = np.clip(np.rint(soft * 255.0), 0, 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- one record
def _one_line(exc: BaseException, limit: int = 500) -> str:
    text = " ".join(str(exc).split())
    return (text[:limit] if text else type(exc).__name__) or type(exc).__name__


def process_record(record: Mapping[str, Any], processor, mask_options: Mapping[str, Any] | None = None) -> dict:
    """Face clip + crop-aligned ground-truth mask of one record (the clip columns of the schema).

    Raises whatever the processor raises for the video itself (``processing.DelocateInputError``
    subclasses for unreadable videos / no face); problems with the mask or source video only make it
    fall back (dataset -> difference -> none) with the reason in ``mask_message``.
    """
    opts = dict(mask_options or {})
    out = processor.process_video(record["video_path"])
    faces = np.ascontiguousarray(out["faces"], dtype=np.uint8)
    affines = np.asarray(out["face_affines"], dtype=np.float32)
    indices = np.asarray(out["frame_indices"], dtype=np.int64)
    frame_size = np.asarray(out["frame_sizes"], dtype=np.int32).reshape(-1)[:2]
    size = faces.shape[1]
    masks, source, notes = _ground_truth(record, faces, affines, indices, frame_size, size, opts)
    return {
        "faces": faces,
        "landmarks": np.asarray(out["landmarks"], dtype=np.float32),
        "roi_boxes": np.asarray(out["roi_boxes"], dtype=np.float32),
        "face_affines": affines,
        "frame_indices": indices,
        "frame_size": frame_size,
        "masks": masks,
        "mask_source": source,
        "mask_message": "; ".join(n for n in notes if n),
    }


def _ground_truth(record, faces, affines, indices, frame_size, size, opts) -> tuple[np.ndarray, str, list[str]]:
    zeros = np.zeros(faces.shape[:3], dtype=np.uint8)
    if int(record["label"]) == 0:
        return zeros, "real", []
    notes: list[str] = []
    mask_path = record.get("mask_path") or ""
    if mask_path:
        try:
            gray, note = read_frames_at(mask_path, indices, gray=True)
            masks = dataset_mask_to_crop(gray, affines, size, frame_size, threshold=opts.get("mask_threshold", 128))
            return masks, "dataset", [note]
        except Exception as exc:  # noqa: BLE001 - fall back, and say why
            notes.append(f"mask video unusable ({type(exc).__name__}: {_one_line(exc, 200)})")
    source_video = record.get("source_video") or ""
    if source_video:
        try:
            real, note = read_frames_at(source_video, indices)
            real = warp_to_crop(_resize_frames(real, frame_size), affines, size, border="replicate")
            masks = difference_mask(
                faces,
                real,
                threshold=opts.get("diff_threshold", 25.5),
                open_size=opts.get("open_size"),
                close_size=opts.get("close_size"),
                blur_size=opts.get("blur_size"),
            )
            return masks, "difference", notes + [note]
        except Exception as exc:  # noqa: BLE001
            notes.append(f"source video unusable ({type(exc).__name__}: {_one_line(exc, 200)})")
    if not notes:
        notes.append("fake without mask video or source video: no ground-truth mask")
    return zeros, "none", notes


# --------------------------------------------------------------------------- Dataset.map worker
_PROCESSORS: dict[tuple, Any] = {}


class _ClipMapper:
    """Picklable ``Dataset.map`` function: builds its processor once per process, never crashes.

    Successful records become output rows; failed ones become ``errors/<index>.json`` files in
    ``error_dir`` (collected by the parent) and no row.
    """

    def __init__(self, processor, mask_options: Mapping[str, Any], error_dir: str, offset: int, columns: list[str]):
        self.processor_cls = type(processor)
        self.settings = processor.to_dict()
        self.mask_options = dict(mask_options)
        self.error_dir = error_dir
        self.offset = int(offset)
        self.columns = list(columns)

    def _processor(self):
        key = (os.getpid(), self.processor_cls, json.dumps(self.settings, sort_keys=True, default=str))
        if key not in _PROCESSORS:
            for old in [k for k in _PROCESSORS if k[0] != os.getpid()]:  # inherited through fork: never reuse
                _PROCESSORS.pop(old, None)
            settings = {k: v for k, v in self.settings.items() if k != "image_processor_type"}
            _PROCESSORS[key] = self.processor_cls.from_dict(settings)
        return _PROCESSORS[key]

    def __call__(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        processor = self._processor()
        out: dict[str, list] = {name: [] for name in self.columns + list(CLIP_COLUMNS)}
        n = len(batch[next(iter(batch))]) if batch else 0
        try:
            for i in range(n):
                record = {name: values[i] for name, values in batch.items()}
                try:
                    clip = process_record(record, processor, self.mask_options)
                except Exception as exc:  # noqa: BLE001 - recorded, never silent, never fatal
                    self._record_error(self.offset + int(indices[i]), record, exc)
                    continue
                for name in self.columns:
                    out[name].append(record[name])
                for name in CLIP_COLUMNS:
                    out[name].append(clip[name])
        finally:
            _close_landmarker(processor)  # no live MediaPipe graph left behind for forked workers
        return out

    def _record_error(self, index: int, record: Mapping[str, Any], exc: Exception) -> None:
        row = {
            "index": index,
            "video_path": str(record.get("video_path", "")),
            "video_id": str(record.get("video_id", "")),
            "dataset": str(record.get("dataset", "")),
            "manipulation": str(record.get("manipulation", "")),
            "label": int(record.get("label", -1)),
            "error_type": type(exc).__name__,
            "message": _one_line(exc),
        }
        logger.warning("skipping %s: %s: %s", row["video_path"], row["error_type"], row["message"])
        path = Path(self.error_dir) / f"{index:010d}.json"
        path.write_text(json.dumps(row) + "\n", encoding="utf-8")


def _close_landmarker(processor) -> None:
    with contextlib.suppress(Exception):
        for backend in getattr(processor, "_backends", {}).values():
            backend.close()


# --------------------------------------------------------------------------- cache bookkeeping
def _processor_settings(processor) -> dict:
    settings = {k: v for k, v in processor.to_dict().items() if k not in _SETTINGS_NOT_CACHED}
    settings["image_processor_type"] = type(processor).__name__
    return settings


def _saved_settings(processor) -> dict:
    """What ``processor.save_pretrained`` writes to preprocessor_config.json (less ``auto_map``)."""
    settings = json.loads(processor.to_json_string())
    settings.pop("auto_map", None)
    return settings


def crop_settings(processor) -> dict:
    """The settings of a processor (or of its ``to_dict()``) that decide the cached clips: everything but the
    normalisation, the token masking and the class name (the cache key's processor settings)."""
    settings = processor if isinstance(processor, Mapping) else processor.to_dict()
    return {k: v for k, v in settings.items() if k not in _SETTINGS_NOT_CACHED and k != "image_processor_type"}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:32]


def _shard_dir(cache_dir: Path, k: int) -> Path:
    return cache_dir / "shards" / f"{k:05d}"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _shard_is_complete(folder: Path, key: str | None) -> bool:
    done = _read_json(folder / "_SUCCESS.json")
    if not done or (key is not None and done.get("key") != key):
        return False
    return done.get("num_clips", 1) == 0 or (folder / "data").is_dir()


def _load_shard(folder: Path) -> Dataset | None:
    """The clips of a complete shard (``None`` when every video of it failed: nothing was saved)."""
    return load_from_disk(str(folder / "data")) if (folder / "data").is_dir() else None


def _read_errors(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _errors_dataset(rows: Iterable[Mapping]) -> Dataset:
    rows = [{name: row.get(name) for name in ERROR_FEATURES} for row in rows]
    if not rows:
        return Dataset.from_dict({name: [] for name in ERROR_FEATURES}, features=ERROR_FEATURES)
    return Dataset.from_list(rows, features=ERROR_FEATURES)


_WORKER_PRELOAD = ["numpy", "cv2", "av", "datasets", "processing", "delocate_hf.data.preprocess"]


@contextlib.contextmanager
def _start_method(method: str | None):
    """Temporarily make ``multiprocess`` (what ``Dataset.map(num_proc=...)`` uses) start workers with ``method``.

    MediaPipe cannot run in a child forked from a process where it already ran (the child segfaults):
    ``"auto"`` forks while MediaPipe was never imported here, else uses ``"forkserver"`` (workers
    forked from a clean server process that only imported the modules in ``_WORKER_PRELOAD``).
    """
    if method == "auto":
        method = "forkserver" if "mediapipe" in sys.modules else "fork"
    if method is None:
        yield
        return
    import multiprocess

    previous = multiprocess.get_start_method(allow_none=True)
    if method == "forkserver":
        multiprocess.set_forkserver_preload(_WORKER_PRELOAD)
    multiprocess.set_start_method(method, force=True)
    try:
        yield
    finally:
        multiprocess.set_start_method(previous, force=True)


@contextlib.contextmanager
def _progress_bars(enabled: bool):
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    if enabled:
        datasets.enable_progress_bars()
    else:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
        else:
            datasets.disable_progress_bars()


def _as_records(records) -> Dataset:
    if isinstance(records, Dataset):
        ds = records
    else:
        ds = Dataset.from_list([dict(r) for r in records], features=VIDEO_RECORD_FEATURES)
    missing = {"video_path", "label", "source_video", "mask_path"} - set(ds.column_names)
    if missing:
        raise ValueError(f"records lack the column(s) {sorted(missing)} of VIDEO_RECORD_FEATURES")
    clash = set(CLIP_COLUMNS) & set(ds.column_names)
    if clash:
        raise ValueError(f"records already have face-clip column(s) {sorted(clash)}; pass the video records")
    return ds


def _num_landmarks(processor) -> int:
    from processing.landmarks import BACKENDS

    name = str(processor.landmark_backend).lower()
    backend = BACKENDS.get({"mp": "mediapipe", "facemesh": "mediapipe", "dlib": "dlib68"}.get(name, name))
    k = getattr(backend, "num_points", None)  # class attribute: no landmarker is created here
    if not k:
        k = getattr(processor.get_landmarker(), "num_points", None)
    if not k:
        raise ValueError(f"landmark backend {processor.landmark_backend!r} does not declare its number of points")
    return int(k)


# --------------------------------------------------------------------------- main entry points
def preprocess_dataset(
    records: Dataset | Iterable[Mapping[str, Any]],
    processor,
    num_proc: int = 1,
    cache_dir: str | os.PathLike | None = None,
    shard_size: int = 64,
    progress: bool = True,
    *,
    mask_threshold: float = 128,
    diff_threshold: float = 25.5,
    open_size: int | None = None,
    close_size: int | None = None,
    blur_size: int | None = None,
    start_method: str | None = "auto",
    on_shard_done: Callable[[int, Path | None], None] | None = None,
) -> PreprocessResult:
    """Face clips + ground-truth masks of every video record (see the module docstring for the schema).

    Args:
        records: video records (:data:`VIDEO_RECORD_FEATURES`), a ``Dataset`` or an iterable of dicts.
        processor: a :class:`processing.DelocateFaceProcessor` (``num_frames``, ``size``,
            ``landmark_backend``, ... decide ``T``, ``S`` and ``K``). Workers rebuild it from its
            ``to_dict()`` (a subclass keeps its class).
        num_proc: worker processes for ``Dataset.map`` (inside each shard).
        cache_dir: cache folder; finished shards are reused on the next call (resume). ``None``:
            compute in memory, nothing written.
        shard_size: records per shard (the unit of resumption; changing it rebuilds the cache).
        progress: show the ``datasets`` progress bars (one per shard, counting videos).
        mask_threshold: grey-level cut of data-set mask videos (FF++: binary masks after lossy
            compression, so 128).
        diff_threshold, open_size, close_size, blur_size: difference masks, see :func:`difference_mask`.
        start_method: how ``Dataset.map`` starts its ``num_proc`` workers (set for the duration of the
            call, then restored). MediaPipe cannot run in a child *forked* from a process where it
            already ran (the child segfaults). ``"auto"`` (default): ``"fork"`` while MediaPipe has not
            been imported in this process (the usual CLI / script case: no ``__main__`` guard needed),
            else ``"forkserver"`` (workers forked from a clean server that preloads the imports; a
            script then needs the ``if __name__ == "__main__":`` guard, as with any non-fork start
            method). ``"fork"``, ``"forkserver"``, ``"spawn"`` force one; ``None`` leaves the global
            ``multiprocess`` setting alone.
        on_shard_done: called as ``on_shard_done(shard_number, shard_folder)`` after each shard is
            complete (folder ``None`` without ``cache_dir``); an exception raised there stops the run
            with the finished shards kept (used by tests to simulate a kill).

    Returns:
        :class:`PreprocessResult` (``.dataset``, ``.errors``; errors also in ``cache_dir/errors.jsonl``).
    """
    records = _as_records(records)
    num_proc = max(1, int(num_proc or 1))
    shard_size = max(1, int(shard_size))
    mask_options = {
        "mask_threshold": float(mask_threshold),
        "diff_threshold": float(diff_threshold),
        "open_size": open_size,
        "close_size": close_size,
        "blur_size": blur_size,
    }
    num_frames = None if processor.sampling == "all" else int(processor.num_frames)
    features = face_clip_features(num_frames, int(processor.size), _num_landmarks(processor), records.features)
    columns = list(records.column_names)
    settings = _processor_settings(processor)
    n = len(records)
    num_shards = max(1, -(-n // shard_size)) if n else 0
    common_key = {"version": CACHE_VERSION, "processor": settings, "masks": mask_options, "shard_size": shard_size}

    cache = Path(cache_dir).expanduser().absolute() if cache_dir is not None else None
    if cache is not None:
        (cache / "shards").mkdir(parents=True, exist_ok=True)
        for stale in (cache / "shards").glob("*.tmp-*"):  # left by a run that was killed
            shutil.rmtree(stale, ignore_errors=True)
        manifest = {
            **common_key,
            "preprocessor_config": _saved_settings(processor),
            "num_records": n,
            "num_shards": num_shards,
            "features": features.to_dict(),
        }
        (cache / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")

    parts: list[Dataset | None] = []
    error_rows: list[dict] = []
    computed, reused = [], []
    scratch = None if cache is not None else Path(tempfile.mkdtemp(prefix="delocate_preprocess_"))
    try:
        with _progress_bars(progress), _start_method(start_method if num_proc > 1 else None):
            for k in range(num_shards):
                lo, hi = k * shard_size, min(n, (k + 1) * shard_size)
                shard = records.select(range(lo, hi))
                key = _hash({**common_key, "rows": shard.to_list(), "range": [lo, hi]})
                if cache is not None:
                    final = _shard_dir(cache, k)
                    if _shard_is_complete(final, key):
                        reused.append(k)
                        parts.append(_load_shard(final))
                        error_rows += _read_errors(final / "errors.jsonl")
                        continue
                    if final.exists():
                        logger.info("shard %d of %s is stale or incomplete: rebuilding it", k, cache)
                        shutil.rmtree(final)
                    work = final.with_name(f"{final.name}.tmp-{os.getpid()}")
                    shutil.rmtree(work, ignore_errors=True)
                else:
                    final, work = None, scratch / f"{k:05d}"
                error_dir = work / "errors"
                error_dir.mkdir(parents=True, exist_ok=True)
                mapper = _ClipMapper(processor, mask_options, str(error_dir), lo, columns)
                procs = min(num_proc, len(shard))
                mapped = shard.map(
                    mapper,
                    with_indices=True,
                    batched=True,
                    batch_size=1,
                    remove_columns=columns,
                    features=features,
                    num_proc=procs if procs > 1 else None,
                    load_from_cache_file=False,
                    keep_in_memory=cache is None,
                    cache_file_name=None if cache is None else str(work / "map" / "clips.arrow"),
                    writer_batch_size=8,
                    new_fingerprint=key,
                    desc=f"Face clips, shard {k + 1}/{num_shards}",
                )
                errors = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(error_dir.glob("*.json"))]
                error_rows += errors
                computed.append(k)
                if final is None:
                    parts.append(mapped)
                else:
                    if len(mapped):  # an empty Dataset cannot be reloaded from disk: save none
                        mapped.save_to_disk(str(work / "data"))
                    del mapped
                    shutil.rmtree(work / "map", ignore_errors=True)
                    shutil.rmtree(error_dir, ignore_errors=True)
                    (work / "errors.jsonl").write_text("".join(json.dumps(e) + "\n" for e in errors), encoding="utf-8")
                    done = {"key": key, "records": [lo, hi], "num_clips": hi - lo - len(errors), "num_errors": len(errors)}
                    (work / "_SUCCESS.json").write_text(json.dumps(done) + "\n", encoding="utf-8")
                    os.replace(work, final)
                    parts.append(_load_shard(final))
                if on_shard_done is not None:
                    on_shard_done(k, final)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    dataset = _concatenate(parts, features)
    errors = _errors_dataset(error_rows)
    if cache is not None:
        (cache / "errors.jsonl").write_text("".join(json.dumps(e) + "\n" for e in error_rows), encoding="utf-8")
    logger.info(
        "face clips: %d videos, %d clips, %d errors (%d shards computed, %d reused)",
        n, len(dataset), len(errors), len(computed), len(reused),
    )
    return PreprocessResult(dataset, errors, cache, computed, reused)


def _concatenate(parts: list[Dataset | None], features: Features) -> Dataset:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return Dataset.from_dict({name: [] for name in features}, features=features)
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def load_preprocessed(cache_dir: str | os.PathLike) -> PreprocessResult:
    """Reopen a cache written by :func:`preprocess_dataset` (memory-mapped, nothing recomputed).

    Raises ``FileNotFoundError`` when the folder has no ``manifest.json`` or a shard is missing /
    unfinished (run :func:`preprocess_dataset` again with the same arguments to finish it).
    """
    cache = Path(cache_dir).expanduser().absolute()
    manifest = _read_json(cache / "manifest.json")
    if manifest is None:
        raise FileNotFoundError(f"{cache} is not a face-clip cache: manifest.json is missing or unreadable")
    parts, error_rows, unfinished = [], [], []
    for k in range(int(manifest["num_shards"])):
        folder = _shard_dir(cache, k)
        if not _shard_is_complete(folder, None):
            unfinished.append(k)
            continue
        parts.append(_load_shard(folder))
        error_rows += _read_errors(folder / "errors.jsonl")
    if unfinished:
        raise FileNotFoundError(
            f"{cache}: shard(s) {unfinished} of {manifest['num_shards']} are not finished; "
            "run preprocess_dataset again with the same records and settings to complete the cache"
        )
    features = Features.from_dict(manifest["features"])
    return PreprocessResult(_concatenate(parts, features), _errors_dataset(error_rows), cache, [], list(range(len(parts))))


def load_cache_processor(cache_dir: str | os.PathLike):
    """The :class:`processing.DelocateFaceProcessor` that wrote a cache: its saved settings from the manifest's
    ``preprocessor_config`` (caches written before it was recorded: the manifest's cache-key settings, which are
    every setting that changes the crops, with the normalisation and token-masking ones at the processor's
    defaults). ``None`` for a folder without ``manifest.json`` (e.g. a plain ``Dataset.save_to_disk`` folder).
    Settings the processor does not know (a subclass's own) are left out."""
    import inspect

    from processing import DelocateFaceProcessor

    manifest = _read_json(Path(cache_dir).expanduser() / "manifest.json")
    if manifest is None:
        return None
    settings = manifest.get("preprocessor_config") or manifest.get("processor")
    if not isinstance(settings, dict):
        raise ValueError(f"{cache_dir}/manifest.json records no processor settings")
    known = set(inspect.signature(DelocateFaceProcessor.__init__).parameters) - {"self", "kwargs"}
    return DelocateFaceProcessor(**{k: v for k, v in settings.items() if k in known})
