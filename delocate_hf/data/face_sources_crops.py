"""Finding every usable face in an image or a video and cutting its square crop (part of
:mod:`delocate_hf.data.face_sources`; private to it). ``_FaceTools`` holds MediaPipe's face detectors, FaceMesh and
the optional dlib face descriptor; ``_faces_in_image(tools, image (H, W, 3) RGB, min_face)`` gives each face's crop
``(side, side, 3)`` RGB (side 1.9x the landmark box, clipped to [160, 320] px), its box in the image, score and
128-D descriptor, skipping faces too small, rotated, cut by the border, drawn, grey or out of focus;
``_video_face`` checks a talking-head video on a few sampled frames.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np


class _FaceTools:
    """MediaPipe detector + FaceMesh + (optional) dlib face descriptors, created once."""

    def __init__(self) -> None:
        from processing import get_landmarker
        from processing.native_logs import filtered_native_stderr, quiet_mediapipe_logs

        quiet_mediapipe_logs()
        import mediapipe as mp

        self._quiet = filtered_native_stderr
        with self._quiet():
            self.detectors = [mp.solutions.face_detection.FaceDetection(model_selection=m,
                                                                        min_detection_confidence=0.6) for m in (1, 0)]
        self.mesh = get_landmarker("mediapipe", max_num_faces=3, static_image_mode=True,
                                   min_detection_confidence=0.5)
        self.recognizer = None
        try:
            import importlib.util

            import dlib

            # the model files of the installed face_recognition_models package (not imported: it needs pkg_resources)
            spec = importlib.util.find_spec("face_recognition_models")
            if spec is None or not spec.submodule_search_locations:
                raise FileNotFoundError("face_recognition_models is not installed (pip install delocate-hf[dlib])")
            models = Path(list(spec.submodule_search_locations)[0]) / "models"
            self.shape5 = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
            self.recognizer = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
            self._dlib = dlib
        except Exception as exc:  # noqa: BLE001 - optional: grouping falls back to hints
            warnings.warn(f"no dlib face descriptors ({type(exc).__name__}: {exc}); same-person grouping uses file "
                          "name hints only", stacklevel=3)

    def detect(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Face boxes (x0, y0, x1, y1 pixels) and scores: both detector models, whole image + tiles, merged."""
        h, w = image.shape[:2]
        views = [(0, 0, w, h)]
        tile = 640
        if max(h, w) > 1.5 * tile:
            step = tile // 2
            for y in range(0, max(h - tile, 0) + step, step):
                for x in range(0, max(w - tile, 0) + step, step):
                    views.append((x, y, min(x + tile, w), min(y + tile, h)))
        boxes, scores = [], []
        for x0, y0, x1, y1 in views:
            view = np.ascontiguousarray(image[y0:y1, x0:x1])
            vh, vw = view.shape[:2]
            for detector in self.detectors:
                with self._quiet():
                    result = detector.process(view)
                for det in result.detections or []:
                    r = det.location_data.relative_bounding_box
                    box = np.array([x0 + r.xmin * vw, y0 + r.ymin * vh, x0 + (r.xmin + r.width) * vw,
                                    y0 + (r.ymin + r.height) * vh])
                    boxes.append(box)
                    scores.append(float(det.score[0]))
        order = np.argsort(scores)[::-1]
        kept: list[tuple[np.ndarray, float]] = []
        for i in order:
            if all(_iou(boxes[i], k) < 0.3 and not _inside(boxes[i], k) for k, _ in kept):
                kept.append((boxes[i], scores[i]))
        return kept

    def landmarks(self, image: np.ndarray, center: np.ndarray | None = None) -> np.ndarray | None:
        """The 68 dlib-equivalent FaceMesh points of the face nearest `center` (default: the image centre)."""
        from processing.landmarks import crop_reference_points

        faces = self.mesh.detect(image)
        if not faces:
            return None
        c = np.array([image.shape[1] / 2, image.shape[0] / 2]) if center is None else center
        face = min(faces, key=lambda f: float(np.linalg.norm(f.center - c)))
        return crop_reference_points(face.points, "mediapipe")

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        for detector in self.detectors:
            detector.close()
        self.mesh.close()

    def descriptor(self, crop: np.ndarray, pts68: np.ndarray) -> list[float] | None:
        """128-D dlib face descriptor of the face with landmarks `pts68` on `crop` (RGB)."""
        if self.recognizer is None:
            return None
        x0, y0 = pts68.min(0)
        x1, y1 = pts68.max(0)
        rect = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = self.shape5(crop, rect)
        return [round(float(v), 5) for v in self.recognizer.compute_face_descriptor(crop, shape)]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _inside(a: np.ndarray, b: np.ndarray) -> bool:
    """Most of box `a` lies inside box `b` (or the reverse): a part-face detection of the same face."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return small > 0 and ix * iy / small > 0.6


def _square(image: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    src = np.float32([[cx - side / 2, cy - side / 2], [cx + side / 2, cy - side / 2], [cx - side / 2, cy + side / 2]])
    dst = np.float32([[0, 0], [size, 0], [0, size]])
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.warpAffine(image, cv2.getAffineTransform(src, dst), (size, size), flags=interp,
                          borderMode=cv2.BORDER_REFLECT)


def _is_gray(image: np.ndarray, centre: bool = False, level: float = 2.0) -> bool:
    """Hardly any colour: mean |channel - grey| under `level` (of the whole image, or of the face at the centre of a
    crop)."""
    small = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA).astype(np.int16)
    if centre:
        small = small[16:48, 16:48]
    return float(np.abs(small - small.mean(-1, keepdims=True)).mean()) < level


def _read_image(path: Path) -> np.ndarray | None:
    data = np.frombuffer(path.read_bytes(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _roll(pts68: np.ndarray) -> float:
    """In-plane rotation of the face (degrees) from the line between the eye centres."""
    left, right = pts68[36:42].mean(0), pts68[42:48].mean(0)
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def _is_drawing(crop: np.ndarray) -> bool:
    """Flat-shaded: over 30 % of 8x8 blocks have no texture at all (drawings, cartoons; photos have sensor noise)."""
    g = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    blocks = g.reshape(16, 8, 16, 8).transpose(0, 2, 1, 3).reshape(256, 64)
    return float((blocks.std(1) < 1.0).mean()) > 0.3


def _is_blurry(crop: np.ndarray) -> bool:
    """Out of focus: variance of the Laplacian of the face centre (crop at 160 px) under 40 (sharp faces: > 100)."""
    g = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (160, 160), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(g[40:120, 40:120], cv2.CV_64F).var()) < 40.0


def _faces_in_image(tools: _FaceTools, image: np.ndarray, min_face: int, margin: float = 1.9,
                    local_crop: bool = False, rejected: dict | None = None, max_roll: float = 30.0) -> list[dict]:
    """Every usable face of an RGB image: crop (RGB), box in the image, descriptor. Counts why faces were
    rejected in `rejected`."""
    rejected = {} if rejected is None else rejected

    def reject(why: str) -> None:
        rejected[why] = rejected.get(why, 0) + 1

    h, w = image.shape[:2]
    if local_crop:  # already a face crop: keep it as it is, only check it
        pts = tools.landmarks(image)
        if pts is None:
            return []
        box = np.concatenate([pts.min(0), pts.max(0)])
        return [dict(crop=image, box=[round(float(v), 1) for v in box], descriptor=tools.descriptor(image, pts),
                     score=1.0)]
    faces = []
    for box, score in tools.detect(image):
        bw, bh = box[2] - box[0], box[3] - box[1]
        if bh < min_face:
            reject("face too small")
            continue
        # FaceMesh on a generous region around the detection, then the final framing from its landmarks
        cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 2.6 * max(bw, bh)
        region_size = int(np.clip(side, 256, 512))
        region = _square(image, cx, cy, side, region_size)
        pts = tools.landmarks(region)
        if pts is None:
            reject("no FaceMesh face")
            continue
        pts = pts * (side / region_size) + np.array([cx - side / 2, cy - side / 2])  # region -> image coords
        lx0, ly0 = pts.min(0)
        lx1, ly1 = pts.max(0)
        lcx, lcy = (lx0 + lx1) / 2, (ly0 + ly1) / 2
        if not (box[0] <= lcx <= box[2] and box[1] <= lcy <= box[3]):
            continue  # FaceMesh found a neighbour, not this face
        lside = max(lx1 - lx0, ly1 - ly0)
        if ly1 - ly0 < min_face * 0.8:
            reject("face too small")
            continue
        if abs(_roll(pts)) > max_roll:
            reject("face rotated")
            continue
        crop_side = margin * lside
        # most of the crop must be real image, not border reflection
        cut = max(0.0, -(lcx - crop_side / 2)) + max(0.0, lcx + crop_side / 2 - w) + max(
            0.0, -(lcy - crop_side / 2)) + max(0.0, lcy + crop_side / 2 - h)
        if cut > 0.35 * crop_side:
            reject("face cut by the image border")
            continue
        size = int(np.clip(round(crop_side), 160, 320))
        crop = _square(image, lcx, lcy, crop_side, size)
        check = tools.landmarks(crop)
        if check is None:
            reject("no FaceMesh face on the crop")
            continue
        ccx, ccy = (check.min(0) + check.max(0)) / 2
        if abs(ccx - size / 2) > 0.15 * size or abs(ccy - size / 2) > 0.15 * size:
            reject("no FaceMesh face on the crop")  # it found another face, not the centred one
            continue
        if _is_drawing(crop):
            reject("drawing")
            continue
        if _is_gray(crop, centre=True, level=5.0):
            reject("grayscale face")  # a black-and-white print inside a colour photo
            continue
        if _is_blurry(crop):
            reject("out of focus")
            continue
        faces.append(dict(crop=crop, box=[round(float(v), 1) for v in (lx0, ly0, lx1, ly1)],
                          descriptor=tools.descriptor(crop, check), score=round(score, 3)))
    return faces


def _video_face(tools: _FaceTools, path: Path, min_face: int, samples: int = 5) -> dict | None:
    """Check a talking-head video: the face is found (>= min_face px) in most sampled frames; its descriptor (mean
    over frames) and a preview crop."""
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    found = []
    for index in np.linspace(0, max(n - 1, 0), samples).astype(int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = cap.read()
        if not ok:
            continue
        faces = _faces_in_image(tools, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), min_face)
        if faces:
            found.append(max(faces, key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1])))
    cap.release()
    if len(found) * 2 <= samples:
        return None
    desc = [f["descriptor"] for f in found if f["descriptor"] is not None]
    return dict(crop=found[len(found) // 2]["crop"], box=found[0]["box"], score=1.0, frames=n,
                descriptor=[round(float(v), 5) for v in np.mean(desc, 0)] if desc else None)
