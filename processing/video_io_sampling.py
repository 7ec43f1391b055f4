"""Which frames a clip keeps (part of `processing.video_io`, which re-exports the public names; import them from
there). No decoding here: only frame indices.

- `sample_frame_indices(total, num_frames, strategy)` -> `(num_frames,)` int64 indices: "uniform" (segment
  centres over the whole video), "stride" or "all". Inference (frames of a video) and training (frames of a cached
  face clip) both call it, so a model is trained on the sampling it is run on.
- `_wanted_or_raise` (the indices a `read_video` call decodes, `VideoTooShortError` when there are too few frames)
  and `_fit_num_clips` (how many clips of `clip_len` frames a video holds): helpers of `video_io.py`.
"""

from __future__ import annotations

import logging

import numpy as np

from .errors import VideoDecodeError, VideoTooShortError

__all__ = ["DEFAULT_STRIDE", "SAMPLING_MODES", "sample_frame_indices", "sample_indices"]

logger = logging.getLogger(__name__)

SAMPLING_MODES = ("uniform", "all", "stride")
DEFAULT_STRIDE = 2


def sample_frame_indices(
    total_frames: int, num_frames: int | None, strategy: str = "uniform", stride: int | None = None
) -> np.ndarray:
    """Frame indices `(T,)` int64 to keep from `total_frames` frames (of a video, or of a cached clip).

    - "uniform": the centre of each of `num_frames` equal segments (covers the whole video, no repeats; all
      frames when `total_frames == num_frames`).
    - "stride": every `stride`-th frame from 0, `num_frames` of them (all of them if `num_frames` is None).
    - "all": every frame.
    Raises `ValueError` if there are too few frames (callers turn it into `VideoTooShortError`).
    """
    if strategy not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {strategy!r}")
    if strategy == "all":
        return np.arange(total_frames, dtype=np.int64)
    if strategy == "uniform":
        if num_frames is None or num_frames < 1:
            raise ValueError(f"num_frames must be >= 1 for uniform sampling, got {num_frames}")
        if total_frames < num_frames:
            raise ValueError(f"has {total_frames} decodable frames, {num_frames} needed (sampling='uniform')")
        seg = total_frames / num_frames
        return np.minimum(((np.arange(num_frames) + 0.5) * seg).astype(np.int64), total_frames - 1)
    stride = DEFAULT_STRIDE if stride is None else int(stride)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    indices = np.arange(0, total_frames, stride, dtype=np.int64)
    if num_frames is not None:
        if len(indices) < num_frames:
            raise ValueError(
                f"has {total_frames} decodable frames, {(num_frames - 1) * stride + 1} needed "
                f"(sampling='stride', stride={stride}, num_frames={num_frames})"
            )
        indices = indices[:num_frames]
    return indices


sample_indices = sample_frame_indices  # the name used before `sample_frame_indices`



def _wanted_or_raise(p, total, num_frames, sampling, stride, allow_single_frame) -> list[int]:
    if total <= 0:
        raise VideoDecodeError(f"cannot decode video '{p}': no decodable frame")
    if total == 1 and allow_single_frame:
        return [0]
    try:
        return sample_frame_indices(total, num_frames, sampling, stride).tolist()
    except ValueError as exc:
        if "needed" in str(exc):
            raise VideoTooShortError(f"video '{p}' {exc}") from None
        raise



def _fit_num_clips(total: int, clip_len: int, num_clips: int, name: str) -> int:
    if total >= num_clips * clip_len:
        return num_clips
    if total < clip_len:
        frames = f"{total} decodable frame{'s' if total != 1 else ''}"
        raise VideoTooShortError(f"video {name} has {frames}, {clip_len} needed (one clip)")
    fitted = total // clip_len
    logger.warning("video %s has %d frames: analysing %d clips of %d instead of %d", name, total, fitted, clip_len,
                   num_clips)
    return fitted
