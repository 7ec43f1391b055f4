"""The MediaPipe landmark backend, `MediaPipeLandmarker` ("mediapipe", 468 points; part of `processing.landmarks`,
which re-exports the public names; import them from there).

FaceMesh on the whole frame, plus every face of the full-range face detector (`processing.face_detection`) that
FaceMesh did not find, fit by FaceMesh on an upright, upscaled crop around the detection (`_fit_crop`: a square of
`crop_scale` times the detection size, at least `crop_size` pixels, rolled by the detection's eye line; the points
`(468, 2)` are mapped back to frame coordinates); dark / flat / grayscale and rolled frames are searched again when
nothing is found (`_retry`). In video mode the detector runs on every `detect_every`-th call, faces found by it being
refit from their previous landmarks in between (`_refit_previous`).

Helpers of the crop fit (boxes are `(4,)` x0, y0, x1, y1 pixels): `_points_box` (box of `(K, 2)` points), `_side`,
`_covers` / `_covers_box` (a face already accounts for a detection), `_keypoint_disagreement` (a 468-point face's eyes,
nose tip and mouth centre against a detection's keypoints, over the detection size), `_eye_roll` (roll in degrees from
68 reference points), and the thresholds `MAX_KEYPOINT_DISAGREEMENT`, `MAX_RETRY_DISAGREEMENT`.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

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
from .landmarks_base import FaceLandmarks, LandmarkBackend, _check_frame, crop_reference_points
from .native_logs import _PROTOBUF_WARNING, filtered_native_stderr, import_mediapipe, quiet_mediapipe_logs

__all__ = ["MAX_KEYPOINT_DISAGREEMENT", "MAX_RETRY_DISAGREEMENT", "MediaPipeLandmarker"]

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
        quiet_mediapipe_logs()
        try:
            mp = import_mediapipe()
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
        stack.enter_context(filtered_native_stderr())
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
