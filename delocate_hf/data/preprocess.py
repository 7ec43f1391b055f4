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

The work is split by job, and this module re-exports the public names of each file:
``preprocess_schema.py`` (the columns, :class:`PreprocessResult`), ``preprocess_clip.py`` (one record -> face clip
+ ground-truth mask: :func:`process_record` and the mask helpers), ``preprocess_map.py`` (the ``Dataset.map`` worker
and its start method), ``preprocess_cache.py`` (manifest, shards, cache keys, :func:`load_preprocessed`,
:func:`load_cache_processor`); :func:`preprocess_dataset`, here, runs them shard by shard.

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

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from datasets import Dataset

from processing.face_tracks import FACE_MODES

from .preprocess_cache import (
    CACHE_VERSION,
    _concatenate,
    _errors_dataset,
    _hash,
    _load_shard,
    _processor_settings,
    _read_errors,
    _saved_settings,
    _shard_dir,
    _shard_is_complete,
    crop_settings,
    load_cache_processor,
    load_preprocessed,
)
from .preprocess_clip import (
    dataset_mask_to_crop, difference_mask, process_record, process_record_tracks, read_frames_at, warp_to_crop,
)
from .preprocess_map import _as_records, _ClipMapper, _num_landmarks, _progress_bars, _start_method
from .preprocess_schema import ERROR_FEATURES, FACE_CLIP_FEATURES, MASK_SOURCES, PreprocessResult, face_clip_features

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
    "process_record_tracks",
    "dataset_mask_to_crop",
    "difference_mask",
    "warp_to_crop",
    "read_frames_at",
]

logger = logging.getLogger(__name__)


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
    faces: str = "largest",
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

        faces: ``"largest"`` (default: one row per video, its largest face, as caches made before this
            option) or ``"all"``: one row per face track of the video
            (``processor.preprocess_tracks``: every face found in at least half of the sampled frames, its
            other frames padded with its nearest frame with the face; ``mask_message`` names the track), the
            ground-truth mask of each warped into that face's crop.

    Returns:
        :class:`PreprocessResult` (``.dataset``, ``.errors``; errors also in ``cache_dir/errors.jsonl``).
    """
    if faces not in FACE_MODES:
        raise ValueError(f"faces must be 'largest' or 'all', got {faces!r}")
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
    if faces != "largest":  # caches of the largest face keep their keys
        common_key["faces"] = faces

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
                mapper = _ClipMapper(processor, mask_options, str(error_dir), lo, columns, faces)
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
