"""One video record -> its face clip and crop-aligned ground-truth mask (part of :mod:`delocate_hf.data.preprocess`,
which re-exports the public names; import them from there; the ``preprocess`` module docstring describes the three
mask sources).

- :func:`process_record`: the processor's face clip of ``record["video_path"]`` plus the mask, falling back
  ``"dataset"`` (the record's mask video) -> ``"difference"`` (vs its pixel-aligned source video) -> ``"none"``.
- :func:`read_frames_at`: frames ``(N, H, W, 3)`` RGB or ``(N, H, W)`` gray of a video at given indices.
- :func:`warp_to_crop`: frames ``(T, H, W[, C])`` -> crops ``(T, S, S[, C])`` with the clip's ``face_affines``
  ``(T, 2, 3)``.
- :func:`dataset_mask_to_crop`: a data set's mask frames ``(T, H, W)`` -> binary crop masks uint8 ``(T, S, S)``.
- :func:`difference_mask`: fake / real crops ``(T, S, S, 3)`` -> soft masks uint8 ``(T, S, S)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["dataset_mask_to_crop", "difference_mask", "process_record", "read_frames_at", "warp_to_crop"]


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
    """Face clip + crop-aligned ground-truth mask of one record (the clip columns of the schema), its largest face.

    Raises whatever the processor raises for the video itself (``processing.DelocateInputError``
    subclasses for unreadable videos / no face); problems with the mask or source video only make it
    fall back (dataset -> difference -> none) with the reason in ``mask_message``.
    """
    return _clip(record, processor.process_video(record["video_path"]), dict(mask_options or {}))


def process_record_tracks(record: Mapping[str, Any], processor, mask_options: Mapping[str, Any] | None = None
                          ) -> list[dict]:
    """`process_record` for every face of the video: one clip per face track
    (``processor.preprocess_tracks``, largest first), ``mask_message`` starting "face track K of N"."""
    found = processor.preprocess_tracks(record["video_path"], return_tensors="np", return_faces=True)
    clips = []
    for k, feats in enumerate(found.features):
        out = {key: np.asarray(value)[0] for key, value in feats.items()}
        clip = _clip(record, out, dict(mask_options or {}))
        padded = int(np.asarray(out["padded"]).sum())
        note = f"face track {k + 1} of {len(found.features)}" + (f", {padded} padded frames" if padded else "")
        clip["mask_message"] = "; ".join(n for n in (note, clip["mask_message"]) if n)
        clips.append(clip)
    return clips


def _clip(record, out: Mapping[str, Any], opts: dict) -> dict:
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
