"""Video-level deepfake detection with forgery masks in original-frame coordinates.

`detect_video(video, model, processor)` is the one implementation behind both the `"deepfake-detection"` pipeline
and `delocate detect`. It runs in three steps, which the pipeline maps onto `preprocess` / `_forward` /
`postprocess`:

1. `iter_clip_inputs`: sample `num_clips * clip_len` frames uniformly over the whole video (segment centres, as the
   processor does for one clip), **seeking** from keyframe to keyframe (one sequential pass when timestamps cannot be
   trusted), cut them into `num_clips` consecutive clips of
   `clip_len = model.config.num_frames` frames, and run the face processor on each clip as soon as its frames are
   decoded. Only one clip of decoded frames is held at a time.
2. `forward_clip`: the detector on one clip -> clip probability, per-frame scores, crop-space masks.
3. `assemble_result`: masks pasted back to the original frame size, per-frame face boxes, and the video score =
   **mean of the clip probabilities** (label "fake" when score >= threshold, 0.5 by default).

Memory is bounded by the number of analysed frames `N` (one clip of decoded frames + `N` crop-space masks while
running, then the `(N, H, W)` float32 output masks), never by the duration of the video.

Clips in which no face can be tracked are skipped (logged); the video fails with `NoFaceDetectedError` only when
no clip has a face. When the landmarker finds several faces, the largest one is followed: the result says so
(`max_faces`, `notes`) and a warning is logged (one stderr line in the CLI).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from processing import video_io
from processing.errors import (
    BAD_INPUT_ERRORS,
    DelocateInputError,
    NoFaceDetectedError,
    VideoDecodeError,
    VideoTooShortError,
)

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "default_model"
# The progress bar appears only for work that lasts longer than this (seconds).
PROGRESS_DELAY_S = 1.0


class ModelLoadError(DelocateInputError):
    """The model (folder or Hub id) cannot be loaded, or the shipped default model is missing."""


def default_model_path() -> Path:
    """The default checkpoint shipped inside the package (`delocate_hf/default_model/`).

    Raises `ModelLoadError` when it is missing (e.g. a source checkout where it was not built yet).
    """
    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        raise ModelLoadError("the shipped default model is missing: run `make default-model` or pass --model")
    return DEFAULT_MODEL_DIR


DTYPES = ("float32", "bfloat16", "float16")


def load_detector(model: str | os.PathLike | None = None, device: str | None = "cpu", dtype: str | None = None):
    """Load `(DelocateForDeepfakeDetection, DelocateFaceProcessor)` from a folder or Hub id (None = shipped default).

    `dtype` (one of `DTYPES`, None = as saved, float32) sets the compute precision: bfloat16 runs 1.5-1.7x faster
    on CPUs with AVX512-BF16 / AMX (fake probabilities move by ~1e-3), float16 is for CUDA.
    Every failure is a one-line `ModelLoadError` (a `DelocateInputError`).
    """
    torch_dtype = resolve_dtype(dtype, device)
    import modeling  # noqa: F401  (registers the Auto classes)
    import processing  # noqa: F401
    from transformers import AutoImageProcessor, AutoModel

    name = str(default_model_path() if model is None else model)
    try:
        detector = AutoModel.from_pretrained(name)
        processor = AutoImageProcessor.from_pretrained(name)
    except Exception as exc:  # OSError, HFValidationError, ValueError (unknown model type) ...
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ModelLoadError(f"cannot load model '{name}': {text}") from None
    from modeling import DelocateForDeepfakeDetection

    if not isinstance(detector, DelocateForDeepfakeDetection):
        raise ModelLoadError(
            f"cannot use model '{name}': expected a DelocateForDeepfakeDetection checkpoint, "
            f"got {type(detector).__name__}"
        )
    if device is not None:
        detector.to(resolve_device(device))
    if torch_dtype is not None:
        detector.to(torch_dtype)
    return detector.eval(), processor


def resolve_dtype(dtype: str | None, device: str | None = "cpu") -> Any:
    """`torch.dtype` for a `DTYPES` name (None -> None: keep the checkpoint's float32)."""
    import torch

    if dtype is None:
        return None
    if dtype not in DTYPES:
        raise DelocateInputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "float16" and str(device or "cpu").startswith("cpu"):
        raise DelocateInputError("dtype float16 needs a CUDA device (--device cuda); on CPU use bfloat16")
    if dtype == "bfloat16" and str(device or "cpu").startswith("cpu") and not _cpu_has_fast_bfloat16():
        logger.warning("this CPU has no native bfloat16 (AVX512-BF16 / AMX): bfloat16 may be slower than float32")
    return getattr(torch, dtype)


def _cpu_has_fast_bfloat16() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private oneDNN probe missing in this torch build
        return False


def resolve_device(device) -> Any:
    import torch

    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DelocateInputError("device 'cuda' requested but CUDA is not available; use --device cpu")
    return device


# ---------------------------------------------------------------------------------------------------- results
@dataclass
class FrameResult:
    index: int  # frame index in the original video
    score: float  # per-frame probability of fake
    face_box: list[float]  # x0, y0, x1, y1 of the face crop, original-frame pixels (clipped to the frame)
    localized: bool = True  # False: mask and score are those of the nearest analysed frame of its clip
    face_found: bool = True  # False: the face was not found in this frame; its box was interpolated from neighbours

    def to_dict(self) -> dict:
        return {"index": self.index, "score": self.score, "face_box": list(self.face_box), "localized": self.localized,
                "face_found": self.face_found}


@dataclass
class DetectionResult:
    """Output of `detect_video`; `to_dict()` is the pipeline's return value."""

    label: str
    score: float
    frames: list[FrameResult]
    masks: np.ndarray  # (N, H, W) float32 in [0, 1], original-frame coordinates
    frame_indices: np.ndarray  # (N,) int64
    clip_scores: list[float] = field(default_factory=list)
    frame_size: tuple[int, int] = (0, 0)  # (H, W)
    fps: float = 0.0
    total_frames: int = 0
    skipped_clips: int = 0
    threshold: float = DEFAULT_THRESHOLD
    max_faces: int = 1  # most faces found in one analysed frame (the largest one is followed)
    notes: list[str] = field(default_factory=list)  # remarks on how the video was analysed (e.g. several faces)

    def to_dict(self, masks: bool = True) -> dict[str, Any]:
        out = {
            "label": self.label,
            "score": self.score,
            "frames": [f.to_dict() for f in self.frames],
            "frame_indices": [int(i) for i in self.frame_indices],
            "clip_scores": list(self.clip_scores),
            "frame_size": [int(v) for v in self.frame_size],
            "fps": float(self.fps),
            "total_frames": int(self.total_frames),
            "skipped_clips": int(self.skipped_clips),
            "max_faces": int(self.max_faces),
            "notes": list(self.notes),
        }
        if masks:
            out["masks"] = self.masks
        return out

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict without masks (the `delocate detect --json` output)."""
        return self.to_dict(masks=False)


# ---------------------------------------------------------------------------------------------------- sampling
@dataclass
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    frame_indices: np.ndarray  # (T,) int64, original indices
    clip_index: int
    num_clips: int
    total_frames: int
    fps: float
    name: str


def _progress_bar(total: int, desc: str, progress: bool | None):
    from tqdm.auto import tqdm

    enabled = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(
        total=total, desc=desc, unit="frame", file=sys.stderr, leave=False, disable=not enabled,
        delay=PROGRESS_DELAY_S, dynamic_ncols=True,
    )


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


def iter_clips(
    video, clip_len: int, num_clips: int = 1, allow_single_frame: bool = False, progress: bool | None = None
) -> Iterator[Clip]:
    """Yield `num_clips` clips of `clip_len` frames sampled uniformly over `video` (a path or frames `(T, H, W, 3)`).

    Paths are demuxed once to index the frames, then the decoder seeks to the keyframe before each sampled frame
    (sequential decoding when timestamps cannot be trusted) and converts only the sampled frames to RGB; a progress
    bar on stderr shows for long work (`progress=None`: only when stderr is a terminal).
    """
    if not isinstance(video, (str, os.PathLike)):
        yield from _iter_array_clips(video, clip_len, num_clips)
        return
    p = video_io._check_path(video)
    name = f"'{p}'"
    if p.suffix.lower() in video_io.IMAGE_EXTENSIONS:  # still image: one clip of the repeated frame
        clip = video_io.read_video(p, num_frames=clip_len, allow_single_frame=allow_single_frame)
        yield Clip(clip.frames, clip.frame_indices, 0, 1, 1, 0.0, name)
        return
    container, stream = video_io._open(p)
    declared, fps = int(stream.frames or 0), video_io._stream_fps(stream)
    container.close()
    packets = video_io.packet_index(p)
    counted, read_error = packets.count, packets.read_error
    if (read_error and declared > counted) or video_io._is_truncated(declared, counted):
        raise VideoDecodeError(
            f"cannot decode video {name}: file is truncated (container declares {declared} frames, "
            f"only {counted} readable)"
        )
    total = counted if counted > 0 else declared
    if total <= 0:
        raise VideoDecodeError(f"cannot decode video {name}: no decodable frame")
    if total == 1 and allow_single_frame:
        clip = video_io.read_video(p, num_frames=clip_len, allow_single_frame=True)
        yield Clip(clip.frames, clip.frame_indices, 0, 1, 1, fps, name)
        return
    num_clips = _fit_num_clips(total, clip_len, num_clips, name)
    indices = video_io.sample_indices(total, num_clips * clip_len, "uniform")
    emitted, buffer, first_shape = 0, [], None
    bar = _progress_bar(len(indices), f"delocate: {p.name}", progress)
    try:
        for index, frame, rotation in video_io.iter_wanted_frames(p, indices, packets):
            bar.update(1)
            image = video_io._apply_rotation(frame.to_ndarray(format="rgb24"), rotation)
            if first_shape is None:
                first_shape = image.shape
            elif image.shape != first_shape:  # resolution change mid-stream: resize to the first frame
                import cv2

                image = cv2.resize(image, (first_shape[1], first_shape[0]), interpolation=cv2.INTER_AREA)
            buffer.append((index, image))
            if len(buffer) == clip_len:
                bar.set_postfix_str(f"clip {emitted + 1}/{num_clips}")
                yield Clip(
                    np.stack([b[1] for b in buffer]), np.array([b[0] for b in buffer], dtype=np.int64),
                    emitted, num_clips, total, fps, name,
                )
                emitted, buffer = emitted + 1, []
    finally:
        bar.close()
    if emitted < num_clips:  # corrupt tail: the packet count promised more frames than decode
        if emitted == 0:
            raise VideoDecodeError(f"cannot decode video {name}: decoding stopped before {clip_len} frames")
        logger.warning("video %s: decoding stopped early, analysed %d of %d clips", name, emitted, num_clips)


def _iter_array_clips(video, clip_len: int, num_clips: int) -> Iterator[Clip]:
    if hasattr(video, "detach") and hasattr(video, "cpu"):
        video = video.detach().cpu().numpy()
    if isinstance(video, (list, tuple)):
        video = np.stack([np.asarray(f) for f in video]) if len(video) else np.zeros((0,))
    arr = np.asarray(video)
    name = f"array of shape {tuple(arr.shape)}"
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise DelocateInputError(f"cannot use {name}: expected a video path or RGB frames (T, H, W, 3)")
    total = arr.shape[0]
    num_clips = _fit_num_clips(total, clip_len, num_clips, name)
    indices = video_io.sample_indices(total, num_clips * clip_len, "uniform")
    for k in range(num_clips):
        idx = indices[k * clip_len:(k + 1) * clip_len]
        yield Clip(arr[idx], idx, k, num_clips, total, 0.0, name)


# ---------------------------------------------------------------------------------------------------- 3 steps
def clip_length(model) -> int:
    return int(model.config.num_frames)


def num_clips_for(num_frames: int | None, clip_len: int) -> int:
    """`num_frames` rounded up to a multiple of the model's clip length, in clips (None -> one clip)."""
    if num_frames is None:
        return 1
    if int(num_frames) < 1:
        raise DelocateInputError(f"number of frames must be >= 1, got {num_frames}")
    return -(-int(num_frames) // clip_len)


def iter_clip_inputs(
    video, processor, clip_len: int, num_frames: int | None = None, progress: bool | None = None
) -> Iterator[dict]:
    """Model inputs per analysed clip (step 1). Each dict holds tensors with a leading batch axis of 1 and
    `is_last` (a one-element bool tensor, which transformers' chunk-pipeline iterators accept batched or not).
    Clips without a face are skipped."""
    import torch

    clips = iter_clips(
        video, clip_len, num_clips_for(num_frames, clip_len),
        allow_single_frame=bool(getattr(processor, "allow_single_frame", False)), progress=progress,
    )
    pending, skipped, seen, name = None, [], 0, "the video"
    for clip in clips:
        seen, name = seen + 1, clip.name
        try:
            feats = processor(clip.frames, num_frames=clip_len, sampling="uniform", return_tensors="pt",
                              return_num_faces=True)
        except NoFaceDetectedError as exc:  # the processor names the array; keep its reason only
            skipped.append((clip.clip_index, clip.num_clips, str(exc).split(": ", 1)[-1]))
            continue
        item = {
            "pixel_values": feats["pixel_values"],
            "face_affines": feats["face_affines"],
            "face_detected": feats["face_detected"],
            "frame_indices": torch.as_tensor(clip.frame_indices, dtype=torch.long)[None],
            "frame_size": torch.as_tensor(clip.frames.shape[1:3], dtype=torch.long)[None],
            "meta": [{"total_frames": clip.total_frames, "fps": clip.fps, "num_clips": clip.num_clips,
                      "name": clip.name, "max_faces": int(feats["num_faces"].max())}],
        }
        if pending is not None:
            yield {**pending, "is_last": torch.tensor([False])}
        pending = item
    if pending is None:
        if len(skipped) == 1:
            raise NoFaceDetectedError(f"no face detected in {name}: {skipped[0][2]}")
        if skipped:
            raise NoFaceDetectedError(f"no face detected in {name}: no face in any of the {seen} sampled clips")
        raise VideoDecodeError(f"cannot decode video {name}: no clip could be sampled")
    for k, n, reason in skipped:  # logged only on success, so that a failure stays one line
        logger.warning("clip %d/%d of %s skipped (no face: %s)", k + 1, n, name, reason)
    pending["meta"][0]["skipped_clips"] = len(skipped)
    yield {**pending, "is_last": torch.tensor([True])}


def forward_clip(model, inputs: dict) -> dict:
    """Run the detector on one clip (step 2); passes the bookkeeping entries through."""
    import torch

    out = model(pixel_values=inputs["pixel_values"].to(model.dtype))
    result = {k: v for k, v in inputs.items() if k != "pixel_values"}
    localized = torch.zeros(out.masks.shape[:2], dtype=torch.bool, device=out.masks.device)  # (1, frames)
    localized[:, out.localized_frames] = True
    result.update(probability=out.probabilities.float(), frame_scores=out.frame_scores.float(),
                  masks=out.masks.float(), localized=localized)
    return result


def _face_boxes(affines: np.ndarray, crop_size: int, frame_size: tuple[int, int]) -> np.ndarray:
    """Face crop boxes `(T, 4)` x0, y0, x1, y1 in frame pixels from frame->crop affines `(T, 2, 3)`."""
    h, w = frame_size
    corners = np.array([[0, 0], [crop_size, 0], [0, crop_size], [crop_size, crop_size]], dtype=np.float64)
    boxes = np.empty((len(affines), 4), dtype=np.float64)
    for i, a in enumerate(np.asarray(affines, dtype=np.float64)):
        full = np.vstack([a, [0.0, 0.0, 1.0]])
        inv = np.linalg.inv(full)[:2]
        pts = corners @ inv[:, :2].T + inv[:, 2]
        boxes[i] = [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()]
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return boxes


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _first(x):
    """Undo the batch-of-one wrapping of the chunk pipeline (lists, and tensors with a leading 1)."""
    return x[0] if isinstance(x, (list, tuple)) else x


def assemble_result(clip_outputs: list[dict], processor, threshold: float = DEFAULT_THRESHOLD) -> DetectionResult:
    """Video result from the per-clip outputs (step 3): masks pasted back to the original frame size."""
    import cv2

    if not clip_outputs:
        raise NoFaceDetectedError("no clip with a face was analysed")
    crop_size = int(processor.size)
    frame_size = tuple(int(v) for v in _np(clip_outputs[0]["frame_size"]).reshape(-1)[:2])
    count = sum(int(_np(o["frame_indices"]).size) for o in clip_outputs)
    masks = np.empty((count, *frame_size), dtype=np.float32)
    frames, indices, clip_scores, pos = [], [], [], 0
    for out in clip_outputs:
        crop_masks = _np(out["masks"]).reshape(-1, *_np(out["masks"]).shape[-2:]).astype(np.float32)
        if crop_masks.shape[-1] != crop_size or crop_masks.shape[-2] != crop_size:
            crop_masks = np.stack([cv2.resize(m, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
                                   for m in crop_masks])
        affines = _np(out["face_affines"]).reshape(-1, 2, 3)
        idx = _np(out["frame_indices"]).reshape(-1).astype(np.int64)
        scores = _np(out["frame_scores"]).reshape(-1)
        localized = _np(out["localized"]).reshape(-1) if "localized" in out else np.ones(len(idx), dtype=bool)
        found = _np(out["face_detected"]).reshape(-1) if "face_detected" in out else np.ones(len(idx), dtype=bool)
        pasted = processor.paste_back(crop_masks, affines, frame_size)
        masks[pos:pos + len(idx)] = np.clip(pasted, 0.0, 1.0)
        pos += len(idx)
        boxes = _face_boxes(affines, crop_size, frame_size)
        frames += [
            FrameResult(int(i), float(s), [round(float(v), 2) for v in b], bool(k), bool(f))
            for i, s, b, k, f in zip(idx, scores, boxes, localized, found)
        ]
        indices.append(idx)
        clip_scores.append(float(_np(out["probability"]).reshape(-1)[0]))
    meta = _first(clip_outputs[-1].get("meta", [{}]))
    score = float(np.mean(clip_scores))
    max_faces = max(int(_first(o.get("meta", [{}])).get("max_faces", 1)) for o in clip_outputs)
    notes = []
    if max_faces > 1:
        notes.append(f"{max_faces} faces found in {meta.get('name', 'the video')}: analysed the largest one")
        logger.warning(notes[-1])
    missing = sum(not f.face_found for f in frames)
    if missing:
        notes.append(f"face not found in {missing} of {len(frames)} analysed frames of {meta.get('name', 'the video')}"
                     ": their face position is interpolated from the neighbouring frames (face_found false)")
        logger.warning(notes[-1])
    return DetectionResult(
        label="fake" if score >= threshold else "real",
        score=score,
        frames=frames,
        masks=masks,
        frame_indices=np.concatenate(indices),
        clip_scores=clip_scores,
        frame_size=frame_size,
        fps=float(meta.get("fps", 0.0)),
        total_frames=int(meta.get("total_frames", 0)),
        skipped_clips=int(meta.get("skipped_clips", 0)),
        threshold=float(threshold),
        max_faces=max_faces,
        notes=notes,
    )


def detect_video(
    video,
    model,
    processor,
    num_frames: int | None = None,
    device: str | None = "cpu",
    progress: bool | None = True,
    threshold: float = DEFAULT_THRESHOLD,
) -> DetectionResult:
    """Detect a deepfake in `video` (a path or frames `(T, H, W, 3)` uint8 RGB).

    Args:
        model: `DelocateForDeepfakeDetection`; processor: `DelocateFaceProcessor`.
        num_frames: frames to analyse; rounded up to a multiple of `model.config.num_frames` and sampled uniformly
            over the whole video as consecutive clips (None: one clip). The video score is the mean of the clip
            probabilities.
        device: "cpu", "cuda", ... (the model is moved there); None keeps the model where it is.
        progress: progress bar on stderr for long work (None: only when stderr is a terminal).
        threshold: label is "fake" when score >= threshold.
    """
    import torch

    if device is not None:
        model.to(resolve_device(device))
    model.eval()
    target = next(model.parameters()).device
    outputs = []
    with torch.inference_mode():
        for inputs in iter_clip_inputs(video, processor, clip_length(model), num_frames, progress):
            inputs = {k: v.to(target) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            out = forward_clip(model, inputs)
            outputs.append({k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in out.items()})
    return assemble_result(outputs, processor, threshold)


# ---------------------------------------------------------------------------------------------------- CLI
def _check_video_argument(video) -> Path:
    """Fail fast on a missing, empty or undecodable path, before the model is loaded."""
    if not isinstance(video, (str, os.PathLike)) or not str(video):
        raise DelocateInputError("no video given")
    path = video_io._check_path(video)
    if path.suffix.lower() not in video_io.IMAGE_EXTENSIONS:
        video_io._open(path)[0].close()
    return path


def _print_result(video, result: DetectionResult, args, png) -> None:
    h, w = result.frame_size
    clips = len(result.clip_scores)
    skipped = f", {result.skipped_clips} clip(s) without a face skipped" if result.skipped_clips else ""
    print(f"{video}: {result.label.upper()}  score {result.score:.3f}  "
          f"({len(result.frames)} frames in {clips} clip{'s' if clips != 1 else ''}{skipped}, {w}x{h})")
    for f in result.frames:
        box = ", ".join(f"{v:.0f}" for v in f.face_box)
        mark = "" if f.localized else "  (mask of nearest analysed frame)"
        mark += "" if f.face_found else "  (face not found: position interpolated)"
        print(f"  frame {f.index:>6}  score {f.score:.3f}  face [{box}]{mark}")
    if args.save_masks is not None:
        print(f"masks: {args.save_masks}")
    if args.overlay is not None:
        print(f"overlay: {args.overlay}  contact sheet: {png}")


def _detect_one(video, model, processor, args, progress) -> None:
    import json

    result = detect_video(video, model, processor, num_frames=args.frames, device=args.device, progress=progress)
    if args.save_masks is not None:
        Path(args.save_masks).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.save_masks, masks=result.masks, frame_indices=result.frame_indices)
    png = None
    if args.overlay is not None:
        from .overlay import write_overlay

        _, png = write_overlay(video, result, args.overlay, progress=progress)
    if args.json:
        sys.stdout.write(json.dumps({"video": str(video), **result.to_json_dict()}) + "\n")
        sys.stdout.flush()
    else:
        _print_result(video, result, args, png)


def _parse_localize(value: str) -> int | None:
    """`--localize N|all` -> the `localization_frames` setting: N >= 1, or None (every frame) for "all"."""
    if str(value).lower() == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise DelocateInputError(f"--localize takes a number of frames >= 1 or 'all', got {value!r}")
    return count


def run_detect_command(args) -> int:
    """`delocate detect VIDEO [VIDEO ...]` (argparse namespace from `delocate_hf.cli`).

    The model is loaded once for all videos. With one video, bad input raises `DelocateInputError`, which the CLI
    turns into one stderr line and exit code 2. With several, a video that fails gets its one stderr line and the
    others go on; the exit code is 2 when any failed. `--json` prints one JSON line per video (JSON Lines)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    videos = list(args.video) if isinstance(args.video, (list, tuple)) else [args.video]
    if not videos:
        raise DelocateInputError("no video given")
    if len(videos) > 1 and (args.save_masks is not None or args.overlay is not None):
        raise DelocateInputError("--save-masks and --overlay take one video; run them one video at a time")
    if args.frames is not None and args.frames < 1:
        raise DelocateInputError(f"--frames must be >= 1, got {args.frames}")
    if len(videos) == 1:
        _check_video_argument(videos[0])  # fail fast, before loading the model
    localize = getattr(args, "localize", None)
    localization_frames = None if localize is None else _parse_localize(localize)  # fail fast on a bad value
    progress = False if args.quiet else None
    model, processor = load_detector(args.model, device=args.device, dtype=getattr(args, "dtype", None))
    if localize is not None:
        model.config.localization_frames = localization_frames
    if len(videos) == 1:
        _detect_one(videos[0], model, processor, args, progress)
        return 0
    failed = 0
    for video in videos:
        try:
            _check_video_argument(video)
            _detect_one(video, model, processor, args, progress)
        except BAD_INPUT_ERRORS as error:
            if getattr(args, "debug", False):
                raise
            failed += 1
            print(f"delocate: error: {error}", file=sys.stderr, flush=True)
    if failed:
        print(f"delocate: {failed} of {len(videos)} videos failed", file=sys.stderr)
    return 2 if failed else 0


__all__ = [
    "DEFAULT_THRESHOLD",
    "DTYPES",
    "DetectionResult",
    "FrameResult",
    "ModelLoadError",
    "assemble_result",
    "default_model_path",
    "detect_video",
    "forward_clip",
    "iter_clip_inputs",
    "iter_clips",
    "load_detector",
    "run_detect_command",
]
