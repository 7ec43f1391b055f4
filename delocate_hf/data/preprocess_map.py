"""Running :func:`~delocate_hf.data.preprocess_clip.process_record` over a shard with ``Dataset.map`` (part of
:mod:`delocate_hf.data.preprocess`): the picklable per-process mapper (:class:`_ClipMapper`, one processor per
worker, a failed video becomes an ``errors/<index>.json`` file instead of a row), how ``num_proc`` workers are
started (:func:`_start_method`: MediaPipe cannot run in a child forked after it ran), the ``datasets`` progress bars,
and the checks of the input records. Private to ``preprocess.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Mapping

from datasets import Dataset

from .preprocess_clip import _one_line, process_record, process_record_tracks
from .preprocess_schema import CLIP_COLUMNS
from .records import VIDEO_RECORD_FEATURES

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- Dataset.map worker
_PROCESSORS: dict[tuple, Any] = {}


class _ClipMapper:
    """Picklable ``Dataset.map`` function: builds its processor once per process, never crashes.

    Successful records become output rows; failed ones become ``errors/<index>.json`` files in
    ``error_dir`` (collected by the parent) and no row.
    """

    def __init__(self, processor, mask_options: Mapping[str, Any], error_dir: str, offset: int, columns: list[str],
                 faces: str = "largest"):
        self.faces = faces
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
                    clips = ([process_record(record, processor, self.mask_options)] if self.faces == "largest"
                             else process_record_tracks(record, processor, self.mask_options))
                except Exception as exc:  # noqa: BLE001 - recorded, never silent, never fatal
                    self._record_error(self.offset + int(indices[i]), record, exc)
                    continue
                for clip in clips:  # faces="all": one row per face track
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
