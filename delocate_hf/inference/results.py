"""Result types of a detection: `DetectionResult` (what `detect_video` returns; `to_dict()` is the pipeline's output,
`to_json_dict()` the `delocate detect --json` line), its `FrameResult`s, and the `ClipEvidence` that
`explain(...)` builds the recovery view from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.5


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
    evidence: ClipEvidence | None = field(default=None, repr=False)  # with detect_video(..., explain=True)

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


__all__ = ["ClipEvidence", "DEFAULT_THRESHOLD", "DetectionResult", "FrameResult"]
