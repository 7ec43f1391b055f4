"""Face detection: every face of a frame as a box + 6 keypoints, from the face detectors bundled with MediaPipe.

`MediaPipeFaceDetector` runs MediaPipe's BlazeFace detectors (`mp.solutions.face_detection`, both bundled in the
mediapipe 0.10.14 wheel, no download):

- "full_range" (`face_detection_full_range_sparse.tflite`, `model_selection=1`): faces up to ~5 m from the camera;
  the one that finds distant and small faces;
- "short_range" (`face_detection_short_range.tflite`, `model_selection=0`): the selfie-distance model FaceMesh uses
  internally.

Both see the frame at 192 (full range) or 128 (short range) pixels, so a face must cover ~15 model pixels: on a
1280x720 frame seen whole, that is a ~100 px face. Frames larger than `1.25 * tile_size` are therefore also seen as
overlapping tiles of `tile_size` pixels (and `2 * tile_size`, ... while smaller than the frame): with FaceMesh fit
on crops (`processing.landmarks.MediaPipeLandmarker`) every test face of 64 px and more in a 1280x720 frame is found,
2/3 of those of 24-48 px; `tile_size=320` finds them from 32 px at 1.8x the time (`scripts/benchmark.py
face-sizes`). Detections of all views are merged (the highest score wins among overlapping boxes; boxes cut by an
inner tile edge are dropped).

Helpers for hard frames: `normalize_contrast` (CLAHE on the lightness of dark / low-contrast / grayscale frames) and
`rotate_frame` (in-plane rotation with the affine that maps points back), used by
`processing.landmarks.MediaPipeLandmarker` when a frame gives no face at first.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import DelocateInputError
from .native_logs import filtered_native_stderr, import_mediapipe, quiet_mediapipe_logs

MODEL_SELECTION = {"short_range": 0, "full_range": 1}
# MediaPipe's keypoint order: the subject's right eye (image left in an unmirrored photo), left eye, nose tip, mouth
# centre, right ear tragion, left ear tragion.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")


@dataclass
class FaceDetection:
    """One detected face. `box` `(4,)` float32 x0, y0, x1, y1 frame pixels; `keypoints` `(6, 2)` float32 pixels in
    `KEYPOINT_NAMES` order; `score` the detector's confidence; `model` which detector found it."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((6, 2), np.float32))
    model: str = "full_range"

    @property
    def size(self) -> float:
        """Larger side of the box in pixels."""
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2], dtype=np.float32)

    @property
    def roll(self) -> float:
        """In-plane rotation of the face in degrees (0 = eyes level; positive = the face turned clockwise on
        screen, i.e. the subject's left eye lower than the right one)."""
        (rx, ry), (lx, ly) = self.keypoints[0], self.keypoints[1]
        return math.degrees(math.atan2(float(ly - ry), float(lx - rx)))


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = float(iw * ih)
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / max(union, 1e-9)


def box_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area (1.0 when one box lies inside the other)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min(float((a[2] - a[0]) * (a[3] - a[1])), float((b[2] - b[0]) * (b[3] - b[1])))
    return float(iw * ih) / max(smaller, 1e-9)


def merge_detections(detections: list[FaceDetection], overlap: float = 0.5) -> list[FaceDetection]:
    """Highest-score-first suppression: a detection overlapping a kept one by more than `overlap` (intersection over
    the smaller box) is the same face."""
    kept: list[FaceDetection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(box_overlap(det.box, k.box) <= overlap for k in kept):
            kept.append(det)
    return kept


def tile_views(
    height: int, width: int, tile_size: int | None, overlap: float = 0.25
) -> list[tuple[int, int, int, int]]:
    """Views x0, y0, x1, y1 of a frame: the whole frame, then for each level `tile_size * 2**k` smaller than
    `long side / 1.25` evenly spaced tiles of that side overlapping by at least `overlap` of it."""
    views = [(0, 0, int(width), int(height))]
    if not tile_size:
        return views
    tile = int(tile_size)
    while tile * 1.25 < max(height, width):
        step = tile * (1.0 - overlap)
        for y0 in _positions(height, tile, step):
            for x0 in _positions(width, tile, step):
                views.append((x0, y0, min(x0 + tile, int(width)), min(y0 + tile, int(height))))
        tile *= 2
    return views


def _positions(length: int, tile: int, step: float) -> list[int]:
    if length <= tile:
        return [0]
    n = int(math.ceil((length - tile) / step)) + 1
    return [int(round(v)) for v in np.linspace(0, length - tile, n)]


def normalize_contrast(frame: np.ndarray, clip_limit: float = 3.0, grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of the lightness (LAB L) of an RGB uint8 frame: dark,
    low-contrast and washed-out faces get their structure back, colours are kept."""
    import cv2

    lab = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(grid), int(grid)))
    lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def needs_contrast(frame: np.ndarray, dark: float = 70.0, flat: float = 35.0) -> bool:
    """True for frames that are dark (mean lightness below `dark`) or flat (lightness std below `flat`)."""
    gray = frame.mean(axis=-1) if frame.ndim == 3 else frame
    sample = gray[:: max(1, gray.shape[0] // 180), :: max(1, gray.shape[1] // 320)]
    return float(sample.mean()) < dark or float(sample.std()) < flat


def rotate_frame(frame: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The frame rotated by `angle` degrees (counter-clockwise on screen, OpenCV's convention) on a canvas large
    enough to hold all of it, and the `(2, 3)` affine mapping ORIGINAL pixel coordinates to rotated ones."""
    import cv2

    h, w = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(angle), 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin))
    matrix[0, 2] += new_w / 2.0 - w / 2.0
    matrix[1, 2] += new_h / 2.0 - h / 2.0
    rotated = cv2.warpAffine(np.ascontiguousarray(frame), matrix, (new_w, new_h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    return rotated, matrix.astype(np.float64)


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Points `(..., 2)` through a `(2, 3)` affine."""
    affine = np.asarray(affine, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ affine[:, :2].T + affine[:, 2]).astype(np.float32)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of a `(2, 3)` affine."""
    affine = np.asarray(affine, dtype=np.float64)
    linear = np.linalg.inv(affine[:, :2])
    return np.concatenate([linear, -(linear @ affine[:, 2:])], axis=1)


class MediaPipeFaceDetector:
    """Every face of an RGB uint8 frame, with MediaPipe's bundled BlazeFace detectors (see the module docstring).

    Args:
        models: "full_range", "short_range" or both (a tuple: each model runs on every view, results merged).
        min_confidence: detection score threshold (MediaPipe's `min_detection_confidence`).
        tile_size: side of the tiles larger frames are also searched in (None: the whole frame only).
        tile_overlap: least overlap of neighbouring tiles, as a fraction of their side.
    """

    def __init__(
        self,
        models: str | tuple[str, ...] = "full_range",
        min_confidence: float = 0.5,
        tile_size: int | None = 640,
        tile_overlap: float = 0.25,
    ):
        names = (models,) if isinstance(models, str) else tuple(models)
        unknown = [m for m in names if m not in MODEL_SELECTION]
        if unknown or not names:
            raise ValueError(f"unknown face detector model {unknown or names!r}; choose from {sorted(MODEL_SELECTION)}")
        quiet_mediapipe_logs()
        try:
            mp = import_mediapipe()
        except ImportError as exc:  # pragma: no cover
            raise ImportError("MediaPipe is needed for face detection: pip install mediapipe") from exc
        self._quiet = filtered_native_stderr
        self._cls = mp.solutions.face_detection.FaceDetection
        self.models = names
        self.min_confidence = float(min_confidence)
        self.tile_size = None if not tile_size else int(tile_size)
        self.tile_overlap = float(tile_overlap)
        self._detectors: dict[str, object] = {}

    def _detector(self, name: str):
        if name not in self._detectors:
            with self._quiet():
                self._detectors[name] = self._cls(model_selection=MODEL_SELECTION[name],
                                                  min_detection_confidence=self.min_confidence)
        return self._detectors[name]

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        """All faces of `frame` `(H, W, 3)` uint8 RGB, highest score first."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8 or 0 in frame.shape:
            raise DelocateInputError(f"expected an RGB uint8 frame of shape (H, W, 3), got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        found: list[FaceDetection] = []
        for x0, y0, x1, y1 in tile_views(h, w, self.tile_size, self.tile_overlap):
            whole = (x0, y0, x1, y1) == (0, 0, w, h)
            view = frame if whole else np.ascontiguousarray(frame[y0:y1, x0:x1])
            for name in self.models:
                for det in self._run(name, view):
                    if not whole and _cut_by_inner_edge(det.box, (x0, y0, x1, y1), (w, h)):
                        continue
                    det.box = det.box + np.array([x0, y0, x0, y0], np.float32)
                    det.keypoints = det.keypoints + np.array([x0, y0], np.float32)
                    found.append(det)
        return merge_detections(found)

    def _run(self, name: str, view: np.ndarray) -> list[FaceDetection]:
        vh, vw = view.shape[:2]
        with self._quiet(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")
            result = self._detector(name).process(view)
        out = []
        for det in result.detections or []:
            r = det.location_data.relative_bounding_box
            box = np.array([r.xmin * vw, r.ymin * vh, (r.xmin + r.width) * vw, (r.ymin + r.height) * vh], np.float32)
            kps = np.array([(k.x * vw, k.y * vh) for k in det.location_data.relative_keypoints], np.float32)
            if kps.shape != (6, 2):
                kps = np.zeros((6, 2), np.float32)
            out.append(FaceDetection(box=box, score=float(det.score[0]), keypoints=kps, model=name))
        return out

    def close(self) -> None:
        for det in self._detectors.values():
            det.close()
        self._detectors = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(models={self.models!r}, tile_size={self.tile_size})"


def _cut_by_inner_edge(box: np.ndarray, view: tuple[int, int, int, int], frame_size: tuple[int, int],
                       margin: float = 2.0) -> bool:
    """A box (view coordinates) touching an edge of its tile that is not an edge of the frame: a face cut in two by
    the tiling, found whole in a neighbouring, overlapping tile."""
    x0, y0, x1, y1 = view
    w, h = frame_size
    vw, vh = x1 - x0, y1 - y0
    return bool(
        (x0 > 0 and box[0] <= margin)
        or (y0 > 0 and box[1] <= margin)
        or (x1 < w and box[2] >= vw - margin)
        or (y1 < h and box[3] >= vh - margin)
    )
