"""Facial-part regions of interest (ROIs) from landmarks.

The paper (Sec. 3.1) splits the face into three parts chosen from FACS action units (AUs): "eyebrows, lower eyelid,
nose root, cheeks, mouth corner, side of the chin, and chin". Each part box is the bounding box of named landmark
groups, padded by a small fraction of the face width, clipped to the image.

Part            FACS AUs                                  Landmark groups
--------------  ----------------------------------------  ----------------------------------------------------
eyes            AU1/2 brow raiser, AU4 brow lowerer,      brows, eyes (upper + lower lids), lower_eyelids
                AU7 lid tightener (lower eyelid)
cheek_nose      AU9 nose wrinkler (nose root), AU6 cheek  nose_root, nose_bridge, nostrils, right_cheek,
                raiser, AU11 nasolabial deepener          left_cheek
lips            AU12/15 lip corners, AU23-26 lips,        mouth_corners, outer_lips, inner_lips, chin_sides,
                AU17 chin raiser                          chin

dlib 68 (iBUG numbering, 0-based; "right"/"left" are the subject's, i.e. image left/right):
    brows 17-26; eyes 36-47; lower_eyelids 40, 41, 46, 47; nose_root 27; nose_bridge 28-30; nostrils 31-35;
    right_cheek = jaw 1, 2 (cheeks are not landmarks in the 68 set: their outer extent is the jaw contour at cheek
    height, the inner extent the nose); left_cheek = jaw 14, 15; mouth_corners 48, 54; outer_lips 49-53, 55-59;
    inner_lips 60-67; chin_sides 6, 7, 9, 10; chin 8.
MediaPipe FaceMesh 468:
    brows 70 63 105 66 107 46 53 52 65 55 / 300 293 334 296 336 276 283 282 295 285;
    eyes 33 246 161 160 159 158 157 173 133 155 154 153 145 144 163 7 / 362 398 384 385 386 387 388 466 263 249
    390 373 374 380 381 382; lower_eyelids 145 153 144 23 / 374 380 373 253; nose_root 168 6; nose_bridge 197 195 5
    4; nostrils 75 97 2 326 305 98 327; right_cheek 234 93 50 123 187 205; left_cheek 454 323 280 352 411 425;
    mouth_corners 61 291; outer_lips 0 37 39 40 185 267 269 270 409 17 84 181 91 146 314 405 321 375;
    inner_lips 78 82 13 312 308 317 14 87; chin_sides 149 148 377 378; chin 152.
The MediaPipe groups contain the MediaPipe equivalents of the dlib groups (see
`landmarks.MEDIAPIPE_TO_DLIB68`), so both backends give overlapping boxes (IoU > 0.5) for the same face.
"""

from __future__ import annotations

import numpy as np

PARTS = ("eyes", "cheek_nose", "lips")

PART_GROUPS: dict[str, dict[str, dict[str, list[int]]]] = {
    "dlib68": {
        "eyes": {
            "brows": list(range(17, 27)),
            "eyes": list(range(36, 48)),
            "lower_eyelids": [40, 41, 46, 47],
        },
        "cheek_nose": {
            "nose_root": [27],
            "nose_bridge": [28, 29, 30],
            "nostrils": [31, 32, 33, 34, 35],
            "right_cheek": [1, 2],
            "left_cheek": [14, 15],
        },
        "lips": {
            "mouth_corners": [48, 54],
            "outer_lips": [49, 50, 51, 52, 53, 55, 56, 57, 58, 59],
            "inner_lips": list(range(60, 68)),
            "chin_sides": [6, 7, 9, 10],
            "chin": [8],
        },
    },
    "mediapipe": {
        "eyes": {
            "brows": [70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285],
            "eyes": [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7,
                     362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382],
            "lower_eyelids": [145, 153, 144, 23, 374, 380, 373, 253],
        },
        "cheek_nose": {
            "nose_root": [168, 6],
            "nose_bridge": [197, 195, 5, 4],
            "nostrils": [75, 97, 2, 326, 305, 98, 327],
            "right_cheek": [234, 93, 50, 123, 187, 205],
            "left_cheek": [454, 323, 280, 352, 411, 425],
        },
        "lips": {
            "mouth_corners": [61, 291],
            "outer_lips": [0, 37, 39, 40, 185, 267, 269, 270, 409, 17, 84, 181, 91, 146, 314, 405, 321, 375],
            "inner_lips": [78, 82, 13, 312, 308, 317, 14, 87],
            "chin_sides": [149, 148, 377, 378],
            "chin": [152],
        },
    },
}  # fmt: skip

# Padding (left, top, right, bottom) of each part box, as a fraction of the face width (width of the eye-corner
# to eye-corner span x 2): the lower-eyelid area below the eye contour, the lip skin around the lips.
PART_PADDING = {
    "eyes": (0.02, 0.03, 0.02, 0.08),
    "cheek_nose": (0.0, 0.0, 0.0, 0.03),
    "lips": (0.03, 0.03, 0.03, 0.0),
}

# Outer eye corners (right, left) per backend, to measure the face width.
_EYE_CORNERS = {"dlib68": (36, 45), "mediapipe": (33, 263)}


def _backend_key(backend_name: str, num_points: int) -> str:
    if backend_name in PART_GROUPS:
        return backend_name
    if num_points == 468 or num_points == 478:
        return "mediapipe"
    if num_points == 68:
        return "dlib68"
    raise ValueError(f"no facial-part groups for backend {backend_name!r} with {num_points} landmarks")


def part_indices(backend_name: str) -> dict[str, np.ndarray]:
    """Landmark indices of each part (union of its groups) for a backend."""
    groups = PART_GROUPS[_backend_key(backend_name, 0)]
    return {part: np.array(sorted({i for g in groups[part].values() for i in g}), dtype=np.int64) for part in PARTS}


def part_boxes(landmarks: np.ndarray, backend_name: str, image_size: int | tuple[int, int]) -> np.ndarray:
    """ROI boxes of the three parts.

    Args:
        landmarks: `(T, K, 2)` (or `(K, 2)`) pixel coordinates, usually in crop space.
        backend_name: "mediapipe" or "dlib68" (inferred from K when unknown).
        image_size: side `S` of the (square) crop, or `(H, W)`; boxes are clipped to it.

    Returns:
        `(T, 3, 4)` float32 boxes x0, y0, x1, y1 in order `PARTS` = eyes, cheek_nose, lips (top to bottom).
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    single = landmarks.ndim == 2
    if single:
        landmarks = landmarks[None]
    key = _backend_key(backend_name, landmarks.shape[1])
    indices = part_indices(key)
    h, w = (image_size, image_size) if np.isscalar(image_size) else (int(image_size[0]), int(image_size[1]))
    r, l = _EYE_CORNERS[key]
    face_w = 2.0 * np.linalg.norm(landmarks[:, l] - landmarks[:, r], axis=-1)  # (T,)
    boxes = np.zeros((landmarks.shape[0], len(PARTS), 4), dtype=np.float32)
    for p, part in enumerate(PARTS):
        pts = landmarks[:, indices[part]]
        pad = np.asarray(PART_PADDING[part], dtype=np.float32)[None] * face_w[:, None]
        boxes[:, p, 0] = pts[..., 0].min(-1) - pad[:, 0]
        boxes[:, p, 1] = pts[..., 1].min(-1) - pad[:, 1]
        boxes[:, p, 2] = pts[..., 0].max(-1) + pad[:, 2]
        boxes[:, p, 3] = pts[..., 1].max(-1) + pad[:, 3]
    boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, w)
    boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, h)
    return boxes[0] if single else boxes


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes `(..., 4)` and `(..., 4)` (broadcast)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)
