"""Video-level deepfake detection with forgery masks in original-frame coordinates, for every face of the video.

`detect_video(video, model, processor)` is the one implementation behind the `"deepfake-detection"` pipeline,
`delocate detect` and the Space. Its three steps are the pipeline's `preprocess` / `_forward` / `postprocess`:

1. `iter_clip_inputs`: `processing.video_io.iter_clips` samples `num_clips * clip_len` frames uniformly over the
   video (seeking) as `num_clips` clips of `clip_len = model.config.num_frames` frames (one clip of decoded frames
   held at a time), and the face processor finds every face of each clip as its own track
   (`processor.preprocess_tracks`; `faces="largest"`: the largest only). Tracks of successive clips are linked
   into one identity per person (`processing.face_tracks.TrackLinker`).
2. `forward_clip`: the detector on one clip of one face -> clip probability, per-frame scores, crop-space masks.
3. `assemble_result` (in `assemble.py`): per face track, masks pasted back to the original frame size, face boxes
   and its score = mean of its clip probabilities; **the video score is the maximum over the tracks** (the top-level frames and
   masks are the highest-scoring track's), with the verdict from the model config's calibrated rule
   (`results.Verdict`).

Memory is bounded by the number of analysed frames (per face), never by the duration of the video nor by its frame
size: one clip of decoded frames at a time, and masks held at the localizer's resolution (`FrameMasks`, pasted into
the frame on demand). With `explain=True` the face crops of the most suspicious clip are kept
(`DetectionResult.evidence`), with `keep_frames=True` the decoded analysed frames, or with `keep_frames=WIDTH` those
frames scaled to at most WIDTH pixels wide (`DetectionResult.analysed_frames`, for an overlay without a second
decoding).

No-face policy: clips without a usable face are skipped and reported (`notes`, `skipped_clips`); when no requested
clip has one, more clips are searched; `NoFaceDetectedError` only when no sampled clip has a face. A face found in
fewer than half of a clip's frames is not analysed there (noted); a face gone from some frames of a clip is padded
with its nearest frame with the face (`padded`, mask 0, noted).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from processing.errors import BAD_INPUT_ERRORS, DelocateInputError, NoFaceDetectedError, VideoDecodeError
from processing.face_tracks import FACE_MODES, TrackLinker, crop_boxes
from processing.video_io import iter_clips

from .assemble import assemble_result, display_name, to_numpy
from .devices import resolve_device
from .progress import progress_bar
from .results import DEFAULT_THRESHOLD, SCORE_RULE, DetectionResult, FrameResult, TrackResult, Verdict

logger = logging.getLogger(__name__)

# Names this module re-exports from `.loading` (imported on first use, PEP 562: this module and the pipeline's other
# modules ship as the remote code of exported models, where `loading` - which imports the project packages - is not).
_FROM_LOADING = ("DTYPES", "ModelLoadError", "default_model_path", "load_detector", "resolve_dtype")


def __getattr__(name: str):
    if name in _FROM_LOADING:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.loading"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def clip_length(model) -> int:
    return int(model.config.num_frames)


def num_clips_for(num_frames: int | None, clip_len: int) -> int:
    """`num_frames` rounded up to a multiple of the model's clip length, in clips (None -> one clip)."""
    if num_frames is None:
        return 1
    if int(num_frames) < 1:
        raise DelocateInputError(f"number of frames must be >= 1, got {num_frames}")
    return -(-int(num_frames) // clip_len)


def _is_error(error: BaseException, class_name: str) -> bool:
    return any(c.__name__ == class_name for c in type(error).__mro__)


def is_bad_input(error: BaseException) -> bool:
    """True for this project's bad-input errors (`DelocateInputError` and the OS's answers about a path). Matched by
    class name too: as remote code, the processor's and the pipeline's copies of errors.py are separate modules."""
    return isinstance(error, BAD_INPUT_ERRORS) or _is_error(error, "DelocateInputError")


# No-face policy: when none of the requested clips has a usable face, the video is searched again with this many
# times more clips (uniform over the whole video, never more than it holds) before it is called faceless.
NO_FACE_SEARCH_FACTOR = 4


FACES = FACE_MODES  # "all" | "largest"


def check_faces(faces: str) -> str:
    """`faces` as given to `detect_video` / the pipeline / `delocate detect --faces`: "all" or "largest"."""
    if faces not in FACES:
        raise DelocateInputError(f"faces must be one of {', '.join(FACES)}, got {faces!r}")
    return faces


def _clip_tracks(processor, clip, clip_len: int, faces: str) -> tuple[list[dict], list]:
    """The processor's features of each analysed face of one clip (largest only, or every track) and the
    `(found, frames)` of the faces too rarely found to analyse."""
    import torch

    if faces == "largest":
        feats = processor(clip.frames, num_frames=clip_len, sampling="uniform", return_tensors="pt",
                          return_num_faces=True)
        n = feats["face_detected"].shape[-1]
        return [{**feats, "padded": torch.zeros((1, n), dtype=torch.bool), "face_boxes": None}], []
    found = processor.preprocess_tracks(clip.frames, num_frames=clip_len, sampling="uniform", return_tensors="pt")
    return list(found.features), list(found.short_tracks)


def _link_box(feats, affines_size: int, frame_size, first: bool) -> np.ndarray:
    """The face box of a track's first (or last) frame with the face, for linking tracks across clips."""
    keep = ~to_numpy(feats["padded"]).reshape(-1)
    boxes = (to_numpy(feats["face_boxes"]).reshape(-1, 4) if feats.get("face_boxes") is not None
             else crop_boxes(to_numpy(feats["face_affines"]).reshape(-1, 2, 3), affines_size, frame_size))
    boxes = boxes[keep] if keep.any() else boxes
    return boxes[0 if first else -1]


def kept_frames(frames: np.ndarray, keep_frames: bool | int) -> np.ndarray:
    """The analysed frames `(T, H, W, 3)` as `keep_frames` asks: as decoded (True), or scaled to at most WIDTH
    pixels wide (an int; area interpolation, height in proportion, never upscaled)."""
    if keep_frames is True or int(keep_frames) >= frames.shape[2]:
        return frames
    import cv2

    width = int(keep_frames)
    height = max(2, int(round(frames.shape[1] * width / frames.shape[2])))
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


def check_keep_frames(keep_frames) -> bool | int:
    """`keep_frames`: False, True, or a width in pixels >= 16."""
    if isinstance(keep_frames, bool):
        return keep_frames
    if not isinstance(keep_frames, (int, np.integer)) or int(keep_frames) < 16:
        raise DelocateInputError(f"keep_frames must be True, False or a width >= 16 pixels, got {keep_frames!r}")
    return int(keep_frames)


def _face_clips(video, processor, clip_len: int, num_clips: int, progress, scan: dict, faces: str = "largest",
                keep_frames: bool | int = False) -> Iterator[dict]:
    """Model inputs of the clips of one sampling pass that have a face, one per analysed face track; the others are
    added to `scan["skipped"]` as `(clip_index, num_clips, reason)`."""
    import torch

    if faces == "all" and not hasattr(processor, "preprocess_tracks"):
        # a processor saved before every-face tracking (e.g. an older exported folder's remote code): the result
        # then says faces "largest" and notes how many faces were found
        logger.warning("this processor has no preprocess_tracks (saved before every-face tracking): analysing the "
                       "largest face only")
        faces = "largest"
    bar, linker = None, TrackLinker()

    def on_frame(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar(total, f"delocate: {Path(str(scan['label'])).name}", progress)
        bar.update(1)

    clips = iter_clips(
        video, clip_len, num_clips,
        allow_single_frame=bool(getattr(processor, "allow_single_frame", False)), on_frame=on_frame,
    )
    try:
        for clip in clips:
            scan.update(seen=scan["seen"] + 1, name=clip.name, total_frames=int(clip.total_frames),
                        num_clips=int(clip.num_clips))
            try:
                tracks, short = _clip_tracks(processor, clip, clip_len, faces)
            except ValueError as exc:  # NoFaceDetectedError (by name: see is_bad_input)
                if not _is_error(exc, "NoFaceDetectedError"):
                    raise
                # the processor names the array; keep its reason only
                scan["skipped"].append((clip.clip_index, clip.num_clips, str(exc).split(": ", 1)[-1]))
                clip = None  # not held while the next clip is decoded
                continue
            linker.next_clip()
            size, frame_size = int(processor.size), clip.frames.shape[1:3]
            for k, feats in enumerate(tracks):
                track_id = linker.link(_link_box(feats, size, frame_size, True), _link_box(feats, size, frame_size,
                                                                                            False))
                meta = {"total_frames": clip.total_frames, "fps": clip.fps, "num_clips": clip.num_clips,
                        "name": clip.name, "max_faces": int(feats["num_faces"].max()), "track_id": track_id,
                        "clip_index": int(clip.clip_index), "faces": faces, "short_tracks": short if k == 0 else []}
                if keep_frames and k == 0:
                    meta["frames"] = kept_frames(clip.frames, keep_frames)
                yield {
                    "pixel_values": feats["pixel_values"],
                    "roi_boxes": feats["roi_boxes"],
                    "face_affines": feats["face_affines"],
                    "face_detected": feats["face_detected"],
                    "padded": feats["padded"],
                    "frame_indices": torch.as_tensor(clip.frame_indices, dtype=torch.long)[None],
                    "frame_size": torch.as_tensor(clip.frames.shape[1:3], dtype=torch.long)[None],
                    "meta": [meta],
                }
            clip = tracks = None  # the decoded frames are not held while the next clip is decoded
    finally:
        if bar is not None:
            bar.close()


def iter_clip_inputs(
    video, processor, clip_len: int, num_frames: int | None = None, progress: bool | None = None,
    faces: str = "all", keep_frames: bool | int = False,
) -> Iterator[dict]:
    """Model inputs per analysed clip and face track (step 1) for `video` (a path or frames `(T, H, W, 3)`). Each
    dict holds `pixel_values` `(1, T, 3, S, S)`, `roi_boxes` `(1, T, 3, 4)`, `face_affines` `(1, T, 2, 3)`,
    `face_detected` `(1, T)`, `padded` `(1, T)`, `frame_indices` `(1, T)`, `frame_size` `(1, 2)`, `meta` (with the
    video `track_id` of the face, its `clip_index`, and with `keep_frames` the clip's decoded frames on the clip's
    first track: as decoded, or scaled to at most `keep_frames` pixels wide when it is a width) and `is_last` (a one-element bool tensor, which transformers' chunk-pipeline iterators accept
    batched or not).

    `faces="all"` (default): every face of a clip is analysed as its own track (`processor.preprocess_tracks`;
    one identity per person across clips); "largest": the largest face only, as before.

    **No-face policy** (the same for the pipeline, `delocate detect` and the Space, which all run this): a clip in
    which the followed face is lost for more than the processor's `max_gap` sampled frames is skipped; shorter
    losses are interpolated and marked (`face_found` false). When *none* of the requested clips has a face, the
    video is sampled again with `NO_FACE_SEARCH_FACTOR` times as many clips (never more than the video holds) and
    the clips with a face are analysed. Only a video in which no sampled clip has a usable face is an error
    (`NoFaceDetectedError`). Skipped clips and the wider search are reported in the last clip's `meta`
    (`skipped_clips`, `face_notes`), which `assemble_result` turns into `DetectionResult.notes`."""
    import torch

    check_faces(faces)
    keep_frames = check_keep_frames(keep_frames)
    requested = num_clips_for(num_frames, clip_len)
    label = video if isinstance(video, (str, Path)) else "frames"
    scan = {"seen": 0, "name": None, "total_frames": 0, "num_clips": 0, "skipped": [], "label": label}
    pending, searched = None, None
    for item in _face_clips(video, processor, clip_len, requested, progress, scan, faces, keep_frames):
        if pending is not None:
            yield {**pending, "is_last": torch.tensor([False])}
        pending = item
    first_pass = (scan["seen"], list(scan["skipped"]))
    wider = min(requested * NO_FACE_SEARCH_FACTOR, scan["total_frames"] // max(clip_len, 1))
    if pending is None and scan["seen"] and wider > scan["num_clips"]:
        scan.update(seen=0, skipped=[])
        searched = wider
        for item in _face_clips(video, processor, clip_len, wider, progress, scan, faces, keep_frames):
            if pending is not None:
                yield {**pending, "is_last": torch.tensor([False])}
            pending = item
    name = scan["name"] or "the video"
    if pending is None:
        skipped = scan["skipped"] or first_pass[1]
        if scan["seen"] + first_pass[0] == 1 and len(skipped) == 1:
            raise NoFaceDetectedError(f"no face detected in {name}: {skipped[0][2]}")
        if scan["seen"] or first_pass[0]:
            sampled = scan["seen"] + first_pass[0]
            raise NoFaceDetectedError(f"no face detected in {name}: no usable face in any of the {sampled} sampled "
                                      f"clips of {clip_len} frames")
        raise VideoDecodeError(f"cannot decode video {name}: no clip could be sampled")
    notes, short = [], display_name(name)
    if searched is not None:
        notes.append(f"no usable face in the {first_pass[0]} requested clip{'s' if first_pass[0] != 1 else ''} of "
                     f"{short} ({first_pass[1][0][2]}): searched {searched} clips over the video instead")
    skipped = scan["skipped"]
    if skipped:
        k, n, reason = skipped[0]
        notes.append(f"{len(skipped)} of {scan['seen']} clips of {short} skipped without a usable face "
                     f"(clip {k + 1}/{n}: {reason})")
    for note in notes:  # logged only on success, so that a failure stays one line
        logger.warning(note)
    pending["meta"][0].update(skipped_clips=len(skipped), face_notes=notes, searched_clips=searched)
    yield {**pending, "is_last": torch.tensor([True])}


def forward_clip(model, inputs: dict, keep_pixels: bool = False) -> dict:
    """Run the detector on one clip (step 2); passes the bookkeeping entries through (`pixel_values` too when
    `keep_pixels`, for `explain`)."""
    import torch

    out = model(pixel_values=inputs["pixel_values"].to(model.dtype))
    result = {k: v for k, v in inputs.items() if keep_pixels or k != "pixel_values"}
    localized = torch.zeros(out.masks.shape[:2], dtype=torch.bool, device=out.masks.device)  # (1, frames)
    localized[:, out.localized_frames] = True
    result.update(probability=out.probabilities.float(), frame_scores=out.frame_scores.float(),
                  masks=out.masks.float(), localized=localized)
    return result


def detect_video(
    video,
    model,
    processor,
    num_frames: int | None = None,
    device: str | None = "cpu",
    progress: bool | None = True,
    threshold: float | None = None,
    explain: bool = False,
    faces: str = "all",
    keep_frames: bool | int = False,
) -> DetectionResult:
    """Detect a deepfake in `video` (a path or frames `(T, H, W, 3)` uint8 RGB).

    Args:
        model: `DelocateForDeepfakeDetection`; processor: `DelocateFaceProcessor`.
        num_frames: frames to analyse; rounded up to a multiple of `model.config.num_frames` and sampled uniformly
            over the whole video as consecutive clips (None: one clip). The video score is the mean of the clip
            probabilities.
        device: "cpu", "cuda", ... (the model is moved there); None keeps the model where it is.
        progress: progress bar on stderr for long work (None: only when stderr is a terminal).
        threshold: None (default) applies the model's verdict rule (`config.decision_threshold`, its
            `inconclusive_band` and calibration status); a number replaces the threshold and drops the band.
        explain: keep the face crops of the most suspicious clip (`result.evidence`, one clip of
            `(T, 3, S, S)` float32) so that `inference.explain(result, model, processor)` needs no second decoding.
        faces: "all" (default): every face analysed as its own track, the video score the highest track score;
            "largest": the largest face only.
        keep_frames: keep the decoded analysed frames (`result.analysed_frames`, e.g. for an overlay drawn without
            decoding the video again: `write_overlay(..., frames=result.analysed_frames)`): True at the video's
            size, a width in pixels (e.g. 1280) scaled to at most that width (what an overlay at a display size
            needs, whatever the video's size).

    The result's masks (`result.masks`, each track's `masks`) read as `(N, H, W)` float32 in frame coordinates and
    are held at the localizer's resolution with each frame's crop transform (`FrameMasks`): a frame-size mask is
    pasted when one is asked for (`masks[i]`, `np.asarray(masks)`).
    """
    import torch

    if device is not None:
        model.to(resolve_device(device))
    model.eval()
    target = next(model.parameters()).device
    outputs, best = [], None
    with torch.inference_mode():
        for inputs in iter_clip_inputs(video, processor, clip_length(model), num_frames, progress, faces,
                                       keep_frames):
            inputs = {k: v.to(target) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            out = forward_clip(model, inputs, keep_pixels=explain)
            outputs.append({k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in out.items()})
            if explain:  # one clip of crops is kept: the most suspicious so far
                if best is None or float(outputs[-1]["probability"].reshape(-1)[0]) > float(
                        outputs[best]["probability"].reshape(-1)[0]):
                    if best is not None:
                        del outputs[best]["pixel_values"]
                    best = len(outputs) - 1
                else:
                    del outputs[-1]["pixel_values"]
    return assemble_result(outputs, processor, threshold, config=model.config)


__all__ = [
    "DEFAULT_THRESHOLD",
    "DTYPES",
    "DetectionResult",
    "FACES",
    "NO_FACE_SEARCH_FACTOR",
    "SCORE_RULE",
    "TrackResult",
    "check_faces",
    "check_keep_frames",
    "FrameResult",
    "ModelLoadError",
    "assemble_result",
    "clip_length",
    "default_model_path",
    "detect_video",
    "display_name",
    "forward_clip",
    "is_bad_input",
    "iter_clip_inputs",
    "load_detector",
    "num_clips_for",
    "resolve_device",
    "resolve_dtype",
]
