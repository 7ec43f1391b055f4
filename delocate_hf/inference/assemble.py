"""Step 3 of the detection (see :mod:`.detect`): the per-clip, per-face outputs of `forward_clip` -> one
`DetectionResult` - one `TrackResult` per face with its masks as `FrameMasks`, the video score = maximum over the
tracks, the notes, and the evidence kept for `explain`.

`FrameMasks` is the one owner of pasting masks back into frame coordinates: results hold each frame's mask at the
localizer's own resolution with its frame -> crop transform (memory independent of the frame size), and a mask is
pasted into the frame - at the frame's size or at a display size - only when one is asked for (one frame, the
overlay, `--save-masks`, `np.asarray(result.masks)`).

Shipped as remote code with the pipeline (`delocate_hf.hub.remote_code.PIPELINE_FILES`): imports only numpy, cv2,
`processing` and this package's `results`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from processing.alignment import paste_back
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


class FrameMasks(NDArrayOperatorsMixin):
    """The forgery masks of N analysed frames in original-frame coordinates, held as the localizer computed them.

    Stored (memory N * s * s * 4 bytes, whatever the frame size):
        crop_masks: `(N, s, s)` float32 in [0, 1], the localizer's masks at its own resolution `s` (0 on frames the
            face is gone from).
        face_affines: `(N, 2, 3)` float64, each frame's transform from frame pixels to the pixels of its
            `crop_size` x `crop_size` face crop (the processor's `face_affines`).
        frame_size: `(H, W)` of the video's frames; crop_size: side of the processor's crop.
        frame_indices: `(N,)` int64 frame index of each mask in the video.

    It reads as the float32 array `(N, H, W)` in [0, 1] it stands for, pasting on demand: `shape`, `dtype`, `len`,
    `masks[i]` (one frame `(H, W)`), `masks[i:j]` / `masks[:, y0:y1, x0:x1]`, iteration, numpy operators and ufuncs
    (`masks > 0.5`), `sum` / `max` / ..., and `np.asarray(masks)` (every frame: N * H * W * 4 bytes, as asked).
    `frame(i, size=(h, w))` pastes one mask straight into a frame of another size (a display size). Each pasted
    mask is exactly what detection returned before masks were held lazily: the crop mask resized to the crop (when
    the localizer's size differs), warped into the frame (bilinear, 0 outside the crop), clipped to [0, 1].
    """

    def __init__(self, crop_masks, face_affines, frame_size, crop_size: int | None = None, frame_indices=None):
        crop_masks = np.asarray(crop_masks, dtype=np.float32)
        face_affines = np.asarray(face_affines, dtype=np.float64)
        if crop_masks.ndim != 3:
            raise ValueError(f"crop_masks must be (N, s, s), got shape {crop_masks.shape}")
        if face_affines.shape != (len(crop_masks), 2, 3):
            raise ValueError(f"face_affines must be ({len(crop_masks)}, 2, 3), got shape {face_affines.shape}")
        self.crop_masks, self.face_affines = crop_masks, face_affines
        self.frame_size = tuple(int(v) for v in frame_size)[:2]
        self.crop_size = int(crop_size if crop_size is not None else crop_masks.shape[-1])
        indices = np.arange(len(crop_masks)) if frame_indices is None else frame_indices
        self.frame_indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(self.frame_indices) != len(crop_masks):
            raise ValueError(f"got {len(crop_masks)} masks but {len(self.frame_indices)} frame indices")

    # ---------------------------------------------------------------------------------------------- the array
    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.crop_masks), *self.frame_size)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return 3

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return len(self.crop_masks)

    def __repr__(self) -> str:
        n, h, w = self.shape
        s = self.crop_masks.shape[-1]
        return f"FrameMasks({n} masks of {h}x{w}, held at {s}x{s})"

    def frame(self, i: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Mask `i` pasted into the frame: `(H, W)` float32, or `(h, w)` for `size=(h, w)` (a frame scaled to
        that size, e.g. a display size: the crop is warped straight to it, never through the full frame)."""
        import cv2

        n = len(self)
        if not -n <= int(i) < n:
            raise IndexError(f"mask {i} out of range for {n} masks")
        mask = self.crop_masks[int(i)]
        if mask.shape != (self.crop_size, self.crop_size):
            mask = cv2.resize(mask, (self.crop_size, self.crop_size), interpolation=cv2.INTER_LINEAR)
        affine = self.face_affines[int(i)]
        height, width = self.frame_size
        out = self.frame_size if size is None else (int(size[0]), int(size[1]))
        if out != self.frame_size:  # output pixel (x, y) -> frame pixel (pixel centres) -> crop pixel
            sx, sy = width / out[1], height / out[0]
            to_frame = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
            affine = affine @ to_frame
        return np.clip(paste_back(mask, affine, out)[0], 0.0, 1.0)

    def select(self, key) -> "FrameMasks":
        """The masks of the frames `key` (a slice, indices or a boolean array) as `FrameMasks`, still unpasted."""
        rows = np.arange(len(self))[key]
        rows = np.atleast_1d(rows)
        return FrameMasks(self.crop_masks[rows], self.face_affines[rows], self.frame_size, self.crop_size,
                          self.frame_indices[rows])

    def numpy(self) -> np.ndarray:
        """Every mask pasted: `(N, H, W)` float32 (N * H * W * 4 bytes)."""
        out = np.empty(self.shape, dtype=np.float32)
        for i in range(len(self)):
            out[i] = self.frame(i)
        return out

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if isinstance(first, (int, np.integer)):  # one frame: only it is pasted
            return self.frame(int(first))[rest] if rest else self.frame(int(first))
        if isinstance(first, slice) or (np.ndim(first) == 1 and not isinstance(first, tuple)):
            pasted = self.select(first).numpy()  # those frames only
            return pasted[(slice(None), *rest)] if rest else pasted
        return self.numpy()[key]  # anything else numpy indexes (a boolean array of the whole shape, ...)

    def __iter__(self):
        return (self.frame(i) for i in range(len(self)))

    def __array__(self, dtype=None, copy=None):
        out = self.numpy()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(x.numpy() if isinstance(x, FrameMasks) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(x.numpy() if isinstance(x, FrameMasks) else x for x in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def astype(self, dtype, **kwargs) -> np.ndarray:
        return self.numpy().astype(dtype, **kwargs)

    def sum(self, *args, **kwargs):
        return self.numpy().sum(*args, **kwargs)

    def mean(self, *args, **kwargs):
        return self.numpy().mean(*args, **kwargs)

    def min(self, *args, **kwargs):
        return self.numpy().min(*args, **kwargs)

    def max(self, *args, **kwargs):
        return self.numpy().max(*args, **kwargs)

    def any(self, *args, **kwargs):
        return self.numpy().any(*args, **kwargs)

    def all(self, *args, **kwargs):
        return self.numpy().all(*args, **kwargs)

    @classmethod
    def concatenate(cls, parts: list["FrameMasks"]) -> "FrameMasks":
        """One `FrameMasks` of several (same frame and crop size), in order."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        return cls(np.concatenate([p.crop_masks for p in parts]), np.concatenate([p.face_affines for p in parts]),
                   first.frame_size, first.crop_size, np.concatenate([p.frame_indices for p in parts]))


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
    """One face track's result from its clips' outputs: its masks as `FrameMasks` (the localizer's masks with
    their frame -> crop transforms, 0 on padded frames), frames, boxes and score."""
    crop_size = int(processor.size)
    parts, frames, indices, clip_scores = [], [], [], []
    for out in outputs:
        raw = to_numpy(out["masks"])
        crop_masks = raw.reshape(-1, *raw.shape[-2:]).astype(np.float32)
        affines = to_numpy(out["face_affines"]).reshape(-1, 2, 3)
        idx = to_numpy(out["frame_indices"]).reshape(-1).astype(np.int64)
        scores = to_numpy(out["frame_scores"]).reshape(-1)
        ones = np.ones(len(idx), dtype=bool)
        localized = to_numpy(out["localized"]).reshape(-1) if "localized" in out else ones
        found = to_numpy(out["face_detected"]).reshape(-1) if "face_detected" in out else ones
        padded = to_numpy(out["padded"]).reshape(-1).astype(bool) if out.get("padded") is not None else ~ones
        crop_masks[padded] = 0.0  # the face is not in these frames
        parts.append(FrameMasks(crop_masks, affines, frame_size, crop_size, idx))
        boxes = crop_boxes(affines, crop_size, frame_size)
        frames += [
            FrameResult(int(i), float(sc), [round(float(v), 2) for v in b], bool(k), bool(f), bool(p))
            for i, sc, b, k, f, p in zip(idx, scores, boxes, localized, found, padded)
        ]
        indices.append(idx)
        clip_scores.append(float(to_numpy(out["probability"]).reshape(-1)[0]))
    score = float(np.mean(clip_scores))
    return TrackResult(track_id=track_id, label=verdict.label(score), score=score, frames=frames,
                       masks=FrameMasks.concatenate(parts), frame_indices=np.concatenate(indices),
                       clip_scores=clip_scores, padded_frames=sum(f.padded for f in frames))


def assemble_result(clip_outputs: list[dict], processor, threshold: float | None = None,
                    config=None) -> DetectionResult:
    """Video result from the per-clip (per face track) outputs (step 3): each track's masks as `FrameMasks`
    (frame-size masks pasted on demand), the `evidence` for `explain` when the outputs kept their `pixel_values`.

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
