"""Step 3 of the detection (see :mod:`.detect`): the per-clip, per-face outputs of `forward_clip` -> one
`DetectionResult` - masks pasted back to original-frame coordinates, one `TrackResult` per face, the video score =
maximum over the tracks, the notes, and the evidence kept for `explain`.

Shipped as remote code with the pipeline (`delocate_hf.hub.remote_code.PIPELINE_FILES`): imports only numpy, cv2,
`processing` and this package's `results`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from processing.errors import NoFaceDetectedError
from processing.face_tracks import crop_boxes

from .results import ClipEvidence, DetectionResult, FrameResult, TrackResult, Verdict

logger = logging.getLogger(__name__)


def display_name(name: str | None) -> str:
    """A source name for messages without its folders: "'/tmp/x/clip.mp4'" -> "'clip.mp4'" (arrays keep theirs)."""
    if not name:
        return "the video"
    bare = str(name).strip("'")
    return f"'{Path(bare).name}'" if ("/" in bare or "\\" in bare) else str(name)


def to_numpy(x) -> np.ndarray:
    """A tensor (any device) or array-like as a numpy array."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _first(x):
    """Undo the batch-of-one wrapping of the chunk pipeline (lists, and tensors with a leading 1)."""
    return x[0] if isinstance(x, (list, tuple)) else x


def _evidence(clip_outputs: list[dict]) -> ClipEvidence | None:
    """The kept crops of the most suspicious clip among the outputs that kept `pixel_values`."""
    kept = [k for k, o in enumerate(clip_outputs) if "pixel_values" in o]
    if not kept:
        return None
    k = max(kept, key=lambda j: float(to_numpy(clip_outputs[j]["probability"]).reshape(-1)[0]))
    out = clip_outputs[k]
    pixels = to_numpy(out["pixel_values"]).astype(np.float32)
    return ClipEvidence(clip_index=k, pixel_values=pixels.reshape(-1, *pixels.shape[-3:]),
                        roi_boxes=to_numpy(out["roi_boxes"]).astype(np.float32).reshape(-1, 3, 4),
                        frame_indices=to_numpy(out["frame_indices"]).reshape(-1).astype(np.int64),
                        frame_scores=to_numpy(out["frame_scores"]).reshape(-1).astype(np.float64))


def _track_result(outputs: list[dict], processor, frame_size: tuple[int, int], verdict, track_id: int
                  ) -> TrackResult:
    """One face track's result from its clips' outputs: masks pasted back to frame size (0 on padded frames)."""
    import cv2

    crop_size = int(processor.size)
    count = sum(int(to_numpy(o["frame_indices"]).size) for o in outputs)
    masks = np.empty((count, *frame_size), dtype=np.float32)
    frames, indices, clip_scores, pos = [], [], [], 0
    for out in outputs:
        crop_masks = to_numpy(out["masks"]).reshape(-1, *to_numpy(out["masks"]).shape[-2:]).astype(np.float32)
        if crop_masks.shape[-1] != crop_size or crop_masks.shape[-2] != crop_size:
            crop_masks = np.stack([cv2.resize(m, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
                                   for m in crop_masks])
        affines = to_numpy(out["face_affines"]).reshape(-1, 2, 3)
        idx = to_numpy(out["frame_indices"]).reshape(-1).astype(np.int64)
        scores = to_numpy(out["frame_scores"]).reshape(-1)
        ones = np.ones(len(idx), dtype=bool)
        localized = to_numpy(out["localized"]).reshape(-1) if "localized" in out else ones
        found = to_numpy(out["face_detected"]).reshape(-1) if "face_detected" in out else ones
        padded = to_numpy(out["padded"]).reshape(-1) if out.get("padded") is not None else ~ones
        pasted = np.clip(processor.paste_back(crop_masks, affines, frame_size), 0.0, 1.0)
        pasted[padded] = 0.0  # the face is not in these frames
        masks[pos:pos + len(idx)] = pasted
        pos += len(idx)
        boxes = crop_boxes(affines, crop_size, frame_size)
        frames += [
            FrameResult(int(i), float(sc), [round(float(v), 2) for v in b], bool(k), bool(f), bool(p))
            for i, sc, b, k, f, p in zip(idx, scores, boxes, localized, found, padded)
        ]
        indices.append(idx)
        clip_scores.append(float(to_numpy(out["probability"]).reshape(-1)[0]))
    score = float(np.mean(clip_scores))
    return TrackResult(track_id=track_id, label=verdict.label(score), score=score, frames=frames, masks=masks,
                       frame_indices=np.concatenate(indices), clip_scores=clip_scores,
                       padded_frames=sum(f.padded for f in frames))


def assemble_result(clip_outputs: list[dict], processor, threshold: float | None = None,
                    config=None) -> DetectionResult:
    """Video result from the per-clip (per face track) outputs (step 3): each track's masks pasted back to the
    original frame size, the `evidence` for `explain` when the outputs kept their `pixel_values`.

    Every face track gets its own score (mean of its clip probabilities); the video score is the **maximum over the
    tracks** (`SCORE_RULE`), and the top-level frames, masks, frame indices and clip scores are those of the
    highest-scoring track (`best_track`; with one face, that face's, as before). The verdict is
    `Verdict.from_config(config, threshold)`: the model config's `decision_threshold`, `inconclusive_band` and
    `calibration` (None: 0.5, no band, not calibrated); an explicit `threshold` replaces the saved threshold and its
    band."""
    if not clip_outputs:
        raise NoFaceDetectedError("no clip with a face was analysed")
    frame_size = tuple(int(v) for v in to_numpy(clip_outputs[0]["frame_size"]).reshape(-1)[:2])
    metas = [_first(o.get("meta", [{}])) for o in clip_outputs]
    meta = metas[-1]
    verdict = Verdict.from_config(config, threshold)
    by_track: dict[int, list[dict]] = {}
    for out, m in zip(clip_outputs, metas):
        by_track.setdefault(int(m.get("track_id", 0)), []).append(out)
    tracks = [_track_result(outs, processor, frame_size, verdict, t) for t, outs in sorted(by_track.items())]
    best = max(range(len(tracks)), key=lambda k: tracks[k].score)
    top = tracks[best]
    faces = str(meta.get("faces", "largest"))
    max_faces = max(int(m.get("max_faces", 1)) for m in metas)
    name = display_name(meta.get("name"))  # notes never show folders (the Space shows them)
    notes = list(meta.get("face_notes") or [])  # skipped clips, wider search: logged by iter_clip_inputs
    if faces == "largest" and max_faces > 1:
        notes.append(f"{max_faces} faces found in {name}: analysed the largest one")
    elif len(tracks) > 1:
        notes.append(f"{len(tracks)} face tracks in {name}, each analysed as its own clip: the video score is the "
                     f"highest track score (track {top.track_id}, P(fake) {top.score:.3f})")
    for t in tracks:
        if t.padded_frames:
            notes.append(f"face track {t.track_id} of {name} is gone from {t.padded_frames} of its {len(t.frames)} "
                         "analysed frames: the model saw its nearest frame with the face there (padded true, mask 0)")
    short = sum(len(m.get("short_tracks") or []) for m in metas)
    if short:
        notes.append(f"{short} face(s) of {name} found in fewer than half of a clip's frames: not analysed")
    missing = sum(not f.face_found and not f.padded for f in top.frames)
    if missing:
        notes.append(f"face not found in {missing} of {len(top.frames)} analysed frames of {name}"
                     ": their face position is interpolated from the neighbouring frames (face_found false)")
    for note in notes[len(meta.get("face_notes") or []):]:
        logger.warning(note)
    kept = [m["frames"] for m in metas if m.get("frames") is not None]
    analysed = None
    if kept:
        analysed = {}
        for out, m in zip(clip_outputs, metas):
            if m.get("frames") is not None:
                analysed.update(zip(to_numpy(out["frame_indices"]).reshape(-1).tolist(), m["frames"]))
    return DetectionResult(
        label=top.label, score=top.score, frames=top.frames, masks=top.masks, frame_indices=top.frame_indices,
        clip_scores=top.clip_scores, frame_size=frame_size, fps=float(meta.get("fps", 0.0)),
        total_frames=int(meta.get("total_frames", 0)), skipped_clips=int(meta.get("skipped_clips", 0)),
        threshold=verdict.threshold, verdict=verdict, max_faces=max_faces, notes=notes,
        evidence=_evidence(clip_outputs), tracks=tracks, best_track=best, faces=faces, analysed_frames=analysed,
    )
