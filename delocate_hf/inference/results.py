"""Result types of a detection: `DetectionResult` (what `detect_video` returns; `to_dict()` is the pipeline's output,
`to_json_dict()` the `delocate detect --json` line), its `FrameResult`s, the `ClipEvidence` that
`explain(...)` builds the recovery view from, the `TrackResult` of each face, and the `Verdict` rule (threshold,
inconclusive band, calibration status from the model's config) that every front end applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.5
NEAR_CHANCE_AUC = 0.65  # = modeling.configuration_delocate.NEAR_CHANCE_AUC (kept here: no torch import)
LABELS = ("real", "fake", "inconclusive")
# `Verdict.status`: how far the verdict can be trusted, from the model's `config.calibration`
CALIBRATED, NEAR_CHANCE, NOT_CALIBRATED = "calibrated", "near_chance", "not_calibrated"


@dataclass(frozen=True)
class Verdict:
    """The decision rule of a detector: `label(score)` is "fake" for `score >= threshold`, "real" below, and
    "inconclusive" for `lo <= score <= hi` when the config has an `inconclusive_band` (lo, hi).

    `status` says how far the rule can be trusted: "calibrated" (chosen on held-out data with AUC >= 0.65),
    "near_chance" (held-out AUC below `NEAR_CHANCE_AUC`) or "not_calibrated" (no `config.calibration`: the
    threshold is the 0.5 default); `warning` is the sentence front ends print beside every verdict (None when
    calibrated)."""

    threshold: float = DEFAULT_THRESHOLD
    band: tuple[float, float] | None = None
    auc: float | None = None
    n: int | None = None
    date: str | None = None

    @classmethod
    def from_config(cls, config, threshold: float | None = None) -> "Verdict":
        """The rule saved in a `DelocateConfig` (or any object with its attributes; old configs: 0.5, no band,
        not calibrated). An explicit `threshold` replaces the saved one and drops the band (it was chosen for the
        saved threshold) but keeps the calibration status."""
        calibration = getattr(config, "calibration", None) or {}
        band = getattr(config, "inconclusive_band", None)
        saved = float(getattr(config, "decision_threshold", DEFAULT_THRESHOLD))
        if threshold is not None and float(threshold) != saved:
            saved, band = float(threshold), None
        # the test split's AUC when one was recorded (`calibrate.write_test_auc`), else the calibration split's
        tested = calibration.get("test_auc") is not None
        prefix = "test_" if tested else ""
        auc, n = calibration.get(prefix + "auc"), calibration.get(prefix + "n")
        return cls(threshold=saved, band=None if band is None else (float(band[0]), float(band[1])),
                   auc=None if auc is None else float(auc), n=None if n is None else int(n), date=calibration.get("date"))

    def label(self, score: float) -> str:
        score = float(score)
        if self.band is not None and self.band[0] <= score <= self.band[1]:
            return "inconclusive"
        return "fake" if score >= self.threshold else "real"

    @property
    def status(self) -> str:
        if self.auc is None:
            return NOT_CALIBRATED
        return NEAR_CHANCE if self.auc < NEAR_CHANCE_AUC else CALIBRATED

    @property
    def warning(self) -> str | None:
        if self.status == NOT_CALIBRATED:
            return (f"not calibrated: this model's threshold ({self.threshold:g}) was not chosen on held-out data, "
                    "so its verdict is not to be trusted")
        if self.status == NEAR_CHANCE:
            return (f"this model is near chance on held-out data (AUC {self.auc:.2f}"
                    f"{'' if self.n is None else f' on {self.n} clips'}): its verdict is not to be trusted")
        return None

    def describe(self) -> str:
        """One line for humans: the rule and where it comes from."""
        band = "" if self.band is None else f", inconclusive for {self.band[0]:.3f}-{self.band[1]:.3f}"
        source = (f"held-out AUC {self.auc:.2f}" + ("" if self.n is None else f" on {self.n} clips")
                  if self.auc is not None else "not calibrated")
        return f"fake at P(fake) >= {self.threshold:.3f}{band} ({source})"

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "inconclusive_band": None if self.band is None else list(self.band),
                "status": self.status, "auc": self.auc, "n": self.n, "date": self.date, "warning": self.warning}


@dataclass
class FrameResult:
    index: int  # frame index in the original video
    score: float  # per-frame probability of fake
    face_box: list[float]  # x0, y0, x1, y1 of the face crop, original-frame pixels (clipped to the frame)
    localized: bool = True  # False: mask and score are those of the nearest analysed frame of its clip
    face_found: bool = True  # False: the face was not found in this frame; its box was interpolated from neighbours
    padded: bool = False  # True: this face is gone from the frame; the model saw its nearest frame with it (mask 0)

    def to_dict(self) -> dict:
        return {"index": self.index, "score": self.score, "face_box": list(self.face_box), "localized": self.localized,
                "face_found": self.face_found, "padded": self.padded}


# How the video score is made from the face tracks (`DetectionResult.score_rule`).
SCORE_RULE = "max over face tracks of the track score (the mean of its clip probabilities)"


@dataclass
class TrackResult:
    """One face (person) followed through the analysed clips: its own score, frames and masks.

    Attributes:
        track_id: 0, 1, ... in order of first appearance among the analysed clips (one id per person: a clip's track
            continues the nearest track of the previous clips, `processing.face_tracks.TrackLinker`).
        label, score: the verdict and P(fake) of this face, the mean of its `clip_scores`.
        frames: its `FrameResult`s (face boxes in original-frame pixels); masks: `(N, H, W)` float32 in [0, 1],
            original-frame coordinates (0 on padded frames), as `FrameMasks` (`inference.assemble`): held at the
            localizer's resolution with each frame's crop transform, pasted into the frame on demand (`masks[i]`,
            `masks.frame(i, size)`, `np.asarray(masks)`); frame_indices `(N,)` int64.
        padded_frames: analysed frames in which this face was gone (the model saw its nearest frame with the face).
    """

    track_id: int
    label: str
    score: float
    frames: list[FrameResult]
    masks: Any  # FrameMasks: reads as (N, H, W) float32, pasted on demand
    frame_indices: np.ndarray
    clip_scores: list[float] = field(default_factory=list)
    padded_frames: int = 0

    def to_dict(self, masks: bool = True) -> dict[str, Any]:
        out = {"track_id": int(self.track_id), "label": self.label, "score": float(self.score),
               "clip_scores": list(self.clip_scores), "frames": [f.to_dict() for f in self.frames],
               "frame_indices": [int(i) for i in self.frame_indices], "padded_frames": int(self.padded_frames)}
        if masks:
            out["masks"] = self.masks
        return out


@dataclass
class ClipEvidence:
    """What detection computed for its most suspicious clip, kept for `explain(...)` (no decoding, no tracking again).

    Attributes:
        clip_index: position of the clip among the analysed clips (0-based).
        pixel_values: `(T, 3, S, S)` float32, the processor's normalised face crops the detector saw.
        roi_boxes: `(T, 3, 4)` float32 facial-part boxes in crop pixels (`processor.parts` order).
        frame_indices: `(T,)` int64 original frame indices; frame_scores: `(T,)` float per-frame P(fake).
    """

    clip_index: int
    pixel_values: np.ndarray
    roi_boxes: np.ndarray
    frame_indices: np.ndarray
    frame_scores: np.ndarray


@dataclass
class DetectionResult:
    """Output of `detect_video`; `to_dict()` is the pipeline's return value."""

    label: str
    score: float
    frames: list[FrameResult]
    # (N, H, W) float32 in [0, 1], original-frame coordinates: a `FrameMasks` that holds the localizer's masks and
    # pastes them into the frame on demand (`masks[i]`, `np.asarray(masks)`; the best track's, as `frames`)
    masks: Any
    frame_indices: np.ndarray  # (N,) int64
    clip_scores: list[float] = field(default_factory=list)
    frame_size: tuple[int, int] = (0, 0)  # (H, W)
    fps: float = 0.0
    total_frames: int = 0
    skipped_clips: int = 0
    threshold: float = DEFAULT_THRESHOLD
    verdict: Verdict = field(default_factory=Verdict)  # the rule that gave `label` (band, calibration status)
    max_faces: int = 1  # most faces found in one analysed frame (the largest one is followed)
    notes: list[str] = field(default_factory=list)  # remarks on how the video was analysed (e.g. several faces)
    evidence: ClipEvidence | None = field(default=None, repr=False)  # with detect_video(..., explain=True)
    # every face track (largest-only analysis: one); score = max of their scores (`score_rule`), and label, frames,
    # masks, frame_indices and clip_scores above are those of the highest-scoring track (`best_track`)
    tracks: list[TrackResult] = field(default_factory=list)
    best_track: int = 0
    faces: str = "largest"  # "all": every face analysed as its own track; "largest": the largest one only
    score_rule: str = SCORE_RULE
    # with detect_video(..., keep_frames=True | WIDTH): the decoded RGB frames `(h, w, 3)` uint8 by original frame
    # index (at the video's size, or scaled to at most WIDTH pixels wide)
    analysed_frames: dict[int, np.ndarray] | None = field(default=None, repr=False)

    @property
    def warning(self) -> str | None:
        """The reliability sentence to print beside the verdict ("not calibrated" / "near chance"), or None."""
        return self.verdict.warning

    def to_dict(self, masks: bool = True) -> dict[str, Any]:
        out = {
            "label": self.label,
            "score": self.score,
            "threshold": self.verdict.threshold,
            "inconclusive_band": None if self.verdict.band is None else list(self.verdict.band),
            "calibration": self.verdict.status,
            "calibration_auc": self.verdict.auc,
            "warning": self.verdict.warning,
            "frames": [f.to_dict() for f in self.frames],
            "frame_indices": [int(i) for i in self.frame_indices],
            "clip_scores": list(self.clip_scores),
            "frame_size": [int(v) for v in self.frame_size],
            "fps": float(self.fps),
            "total_frames": int(self.total_frames),
            "skipped_clips": int(self.skipped_clips),
            "max_faces": int(self.max_faces),
            "notes": list(self.notes),
            "faces": self.faces,
            "score_rule": self.score_rule,
            "best_track": int(self.best_track),
            "tracks": [t.to_dict(masks=masks) for t in self.tracks],
        }
        if masks:
            out["masks"] = self.masks
        return out

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict without masks (the `delocate detect --json` output)."""
        return self.to_dict(masks=False)


__all__ = ["CALIBRATED", "ClipEvidence", "DEFAULT_THRESHOLD", "DetectionResult", "FrameResult", "LABELS", "NEAR_CHANCE",
           "NEAR_CHANCE_AUC", "NOT_CALIBRATED", "SCORE_RULE", "TrackResult", "Verdict"]
