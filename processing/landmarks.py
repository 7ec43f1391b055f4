"""Face landmark backends and single-person face tracking: the public owner of landmarks (every caller imports
from here).

Backends (all take RGB uint8 `(H, W, 3)` frames and return every face found):

- `MediaPipeLandmarker` ("mediapipe"): MediaPipe FaceMesh, 468 points; fast, works offline. Distant and small
  faces (every test face from 64 px up in a 1280x720 frame, 2/3 of them at 24-32 px; `scripts/benchmark.py
  face-sizes`) come from the bundled full-range face detector
  (`processing.face_detection`) with FaceMesh fit on an upscaled crop around each detection; dark, flat, grayscale
  and rolled frames are searched again when nothing is found.
- `Dlib68Landmarker` ("dlib68"): dlib HOG face detector + 68-point shape predictor (the paper's setup);
  needs `pip install delocate-hf[dlib]`.

`track_faces` follows one person through a clip: the largest face of the first frame that has one, then the face
nearest to the previous box in every later (and earlier) frame; short losses are interpolated. Every face of a clip,
each as its own track, is `processing.face_tracks.track_all_faces`.

The work is split by job, and this module re-exports the public names of each file:

- `landmarks_base.py`: `FaceLandmarks` (one face: points `(K, 2)`, box `(4,)`), the `LandmarkBackend` base class,
  the frame check, `MEDIAPIPE_TO_DLIB68` / `crop_reference_points` (68 dlib-equivalent points of either backend).
- `landmarks_mediapipe.py`: `MediaPipeLandmarker` and its detection-crop fitting.
- `landmarks_dlib.py`: `Dlib68Landmarker`, `find_dlib_predictor`.
- `native_logs.py`: MediaPipe's log noise silenced (`quiet_mediapipe_logs`, `filtered_native_stderr`).
- here: backends by name (`BACKENDS`, `get_landmarker`) and tracking (`track_faces` -> `FaceTrack`,
  `count_distinct_faces`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .errors import NoFaceDetectedError
from .landmarks_base import MEDIAPIPE_TO_DLIB68, FaceLandmarks, LandmarkBackend, crop_reference_points
from .landmarks_dlib import DLIB_INSTALL_HINT, Dlib68Landmarker, find_dlib_predictor
from .landmarks_mediapipe import MAX_KEYPOINT_DISAGREEMENT, MAX_RETRY_DISAGREEMENT, MediaPipeLandmarker

__all__ = [
    "BACKENDS",
    "DEFAULT_MAX_GAP",
    "DLIB_INSTALL_HINT",
    "MAX_KEYPOINT_DISAGREEMENT",
    "MAX_RETRY_DISAGREEMENT",
    "MEDIAPIPE_TO_DLIB68",
    "Dlib68Landmarker",
    "FaceLandmarks",
    "FaceTrack",
    "LandmarkBackend",
    "MediaPipeLandmarker",
    "count_distinct_faces",
    "crop_reference_points",
    "find_dlib_predictor",
    "get_landmarker",
    "start_tracking",
    "track_faces",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_GAP = 4


BACKENDS = {"mediapipe": MediaPipeLandmarker, "dlib68": Dlib68Landmarker}
_ALIASES = {"mp": "mediapipe", "facemesh": "mediapipe", "dlib": "dlib68"}


def get_landmarker(name: str = "mediapipe", **kwargs) -> LandmarkBackend:
    """Landmark backend by name: "mediapipe" (468 points) or "dlib68" (68 points)."""
    if isinstance(name, LandmarkBackend):
        return name
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in BACKENDS:
        raise ValueError(f"unknown landmark backend {name!r}; choose one of {sorted(BACKENDS)}")
    return BACKENDS[key](**kwargs)


@dataclass
class FaceTrack:
    """One person followed through a clip of T frames.

    Attributes:
        landmarks: `(T, K, 2)` float32 pixel coordinates (interpolated where `detected` is False).
        boxes: `(T, 4)` float32 landmark boxes x0, y0, x1, y1.
        detected: `(T,)` bool, True where the backend found this face in the frame.
        num_faces: `(T,)` int64 number of distinct faces the backend found in each frame (overlapping duplicate
            detections of one face, which MediaPipe sometimes returns, count once).
        backend: backend name.
        frame_source: `(T,)` int64 frame whose pixels and landmarks stand for each frame: the frame itself, or, for a
            frame of a long run without this face (`processing.face_tracks` pads tracks shorter than the clip), the
            nearest frame in which it was found. None: every frame is its own (`track_faces`).
    """

    landmarks: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray
    num_faces: np.ndarray
    backend: str
    frame_source: np.ndarray | None = None

    @property
    def padded(self) -> np.ndarray:
        """`(T,)` bool, True where the frame repeats another one (`frame_source`) because this face is gone."""
        if self.frame_source is None:
            return np.zeros(len(self.detected), dtype=bool)
        return np.asarray(self.frame_source) != np.arange(len(self.detected))

    @property
    def detection_rate(self) -> float:
        return float(self.detected.mean()) if len(self.detected) else 0.0

    def summary(self) -> str:
        most = int(self.num_faces.max()) if len(self.num_faces) else 0
        picked = f"{most} faces, picked the largest" if most > 1 else "1 face"
        return f"{picked}; face found in {int(self.detected.sum())} of {len(self.detected)} frames"


def _pick(faces: list[FaceLandmarks], ref_center: np.ndarray, ref_size: float) -> FaceLandmarks | None:
    """Face whose box centre is nearest `ref_center`, if within one reference face size."""
    if not faces:
        return None
    dists = [float(np.linalg.norm(f.center - ref_center)) for f in faces]
    best = int(np.argmin(dists))
    return faces[best] if dists[best] <= ref_size else None


def start_tracking(frames, backend: LandmarkBackend | str, source: str | None
                   ) -> tuple[LandmarkBackend, np.ndarray, str]:
    """The common start of a tracker: the backend (built from its name) reset for a new clip, `frames` as
    `(T, H, W, 3)` (one frame `(H, W, 3)` becomes a clip of one) and the source's name for messages."""
    backend = get_landmarker(backend) if isinstance(backend, str) else backend
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    backend.reset()
    return backend, frames, (f"'{source}'" if source else "the input")


def track_faces(
    frames: np.ndarray,
    backend: LandmarkBackend | str = "mediapipe",
    max_gap: int | None = DEFAULT_MAX_GAP,
    source: str | None = None,
) -> FaceTrack:
    """Follow one face through `frames` `(T, H, W, 3)` uint8 RGB.

    Picks the largest face of the first frame with a face, then per frame the face nearest to the last accepted box
    (within one face size). Runs of up to `max_gap` frames without that face are filled by linear interpolation
    between the neighbouring detections (or copied from the one neighbour at the clip ends); a longer run raises
    `NoFaceDetectedError` ("face found in K of T sampled frames"). `max_gap=None` fills any gap.
    """
    backend, frames, where = start_tracking(frames, backend, source)
    num = int(frames.shape[0])
    per_frame, unfitted = [], np.zeros(num, dtype=bool)
    for t, frame in enumerate(frames):
        per_frame.append(backend.detect(frame))
        unfitted[t] = not per_frame[-1] and bool(getattr(backend, "last_unfitted", None))
    num_faces = np.array([count_distinct_faces(f) for f in per_frame], dtype=np.int64)

    first = next((t for t, faces in enumerate(per_frame) if faces), None)
    if first is None:
        raise NoFaceDetectedError(
            f"no face detected in {where}: face found in 0 of {num} sampled frames{_unfitted_note(unfitted)}"
        )

    chosen: list[FaceLandmarks | None] = [None] * num
    chosen[first] = max(per_frame[first], key=lambda f: f.area)
    for order in (range(first + 1, num), range(first - 1, -1, -1)):
        ref = chosen[first]
        for t in order:
            size = float(max(ref.box[2] - ref.box[0], ref.box[3] - ref.box[1]))
            pick = _pick(per_frame[t], ref.center, size)
            if pick is not None:
                chosen[t] = pick
                ref = pick

    detected = np.array([c is not None for c in chosen], dtype=bool)
    k = backend.num_points or chosen[first].points.shape[0]
    landmarks = np.zeros((num, k, 2), dtype=np.float32)
    for t, c in enumerate(chosen):
        if c is not None:
            landmarks[t] = c.points

    found = np.flatnonzero(detected)
    longest = _longest_gap(detected)
    if max_gap is not None and longest > max_gap:
        raise NoFaceDetectedError(
            f"no usable face in {where}: face found in {len(found)} of {num} sampled frames "
            f"(lost for {longest} consecutive frames, max_gap={max_gap}){_unfitted_note(unfitted & ~detected)}"
        )
    for t in np.flatnonzero(~detected):
        before, after = found[found < t], found[found > t]
        if len(before) and len(after):
            t0, t1 = before[-1], after[0]
            w = (t - t0) / (t1 - t0)
            landmarks[t] = (1 - w) * landmarks[t0] + w * landmarks[t1]
        else:
            landmarks[t] = landmarks[before[-1] if len(before) else after[0]]

    boxes = np.stack(
        [landmarks[..., 0].min(-1), landmarks[..., 1].min(-1), landmarks[..., 0].max(-1), landmarks[..., 1].max(-1)],
        axis=-1,
    ).astype(np.float32)
    return FaceTrack(landmarks=landmarks, boxes=boxes, detected=detected, num_faces=num_faces, backend=backend.name)


def _unfitted_note(unfitted: np.ndarray) -> str:
    """What the error adds when the face detector saw faces that no landmarks could be fit to."""
    if not unfitted.any():
        return ""
    return (f"; the face detector fired in {int(unfitted.sum())} of these frames but no landmarks could be fit "
            "there (a face in profile, too small or too blurred, or no face at all)")


def count_distinct_faces(faces: list[FaceLandmarks], overlap: float = 0.5) -> int:
    """Distinct faces of one frame (what `FaceTrack.num_faces` counts): a detection covering more than `overlap` of
    a kept (larger) one counted once."""
    kept: list[np.ndarray] = []
    for face in sorted(faces, key=lambda f: -f.area):
        b = face.box.astype(np.float64)
        area = max(float((b[2] - b[0]) * (b[3] - b[1])), 1e-9)
        duplicate = False
        for k in kept:
            iw = min(b[2], k[2]) - max(b[0], k[0])
            ih = min(b[3], k[3]) - max(b[1], k[1])
            if iw > 0 and ih > 0 and iw * ih / area > overlap:
                duplicate = True
                break
        if not duplicate:
            kept.append(b)
    return len(kept)


def _longest_gap(detected: np.ndarray) -> int:
    longest = run = 0
    for d in detected:
        run = 0 if d else run + 1
        longest = max(longest, run)
    return longest
