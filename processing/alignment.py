"""Square face crops from landmarks, and the inverse warp of crop-space masks back onto the original frames.

The crop box is centred on the landmark box of the 68 dlib-equivalent points (so MediaPipe and dlib crops frame the
face the same way), with side `scale * max(w, h)`. `face_affines[t]` maps ORIGINAL frame pixel coordinates to crop
pixel coordinates: `[x_crop, y_crop] = A[:, :2] @ [x, y] + A[:, 2]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .landmarks import crop_reference_points

BORDER_MODES = ("replicate", "constant", "reflect")


@dataclass
class AlignedFaces:
    """Aligned face crops of one clip.

    Attributes:
        crops: `(T, S, S, 3)` uint8 RGB.
        face_affines: `(T, 2, 3)` float32, original frame coords -> crop coords.
        landmarks: `(T, K, 2)` float32 landmarks in crop coords.
        crop_boxes: `(T, 4)` float32 square crop boxes x0, y0, x1, y1 in original frame coords.
    """

    crops: np.ndarray
    face_affines: np.ndarray
    landmarks: np.ndarray
    crop_boxes: np.ndarray


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over axis 0 (edge-padded). `values` `(T, D)`."""
    if window <= 1 or len(values) < 2:
        return values
    window = min(int(window), len(values))
    half = window // 2
    padded = np.pad(values, ((half, window - 1 - half), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack([np.convolve(padded[:, d], kernel, mode="valid") for d in range(values.shape[1])], axis=1)


def square_crop_boxes(
    landmarks: np.ndarray, backend_name: str = "", scale: float = 1.3, smooth_window: int = 1
) -> np.ndarray:
    """Square boxes `(T, 4)` (x0, y0, x1, y1) centred on the landmark box, side `scale * max(w, h)`.

    `smooth_window` > 1 averages box centres and sides over that many neighbouring frames (less jitter).
    """
    pts = crop_reference_points(np.asarray(landmarks, dtype=np.float32), backend_name)
    x0, y0 = pts[..., 0].min(-1), pts[..., 1].min(-1)
    x1, y1 = pts[..., 0].max(-1), pts[..., 1].max(-1)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = np.maximum(x1 - x0, y1 - y0) * float(scale)
    side = np.maximum(side, 1.0)
    geom = _smooth(np.stack([cx, cy, side], axis=-1).astype(np.float64), smooth_window)
    cx, cy, side = geom[:, 0], geom[:, 1], geom[:, 2]
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=-1).astype(np.float32)


def box_affines(crop_boxes: np.ndarray, size: int) -> np.ndarray:
    """Affines `(T, 2, 3)` mapping frame coords to crop coords for square boxes `(T, 4)` and output side `size`."""
    crop_boxes = np.asarray(crop_boxes, dtype=np.float64)
    s = size / np.maximum(crop_boxes[:, 2] - crop_boxes[:, 0], 1e-6)
    affines = np.zeros((len(crop_boxes), 2, 3), dtype=np.float64)
    affines[:, 0, 0] = s
    affines[:, 1, 1] = s
    affines[:, 0, 2] = -crop_boxes[:, 0] * s
    affines[:, 1, 2] = -crop_boxes[:, 1] * s
    return affines.astype(np.float32)


def apply_affine(points: np.ndarray, affines: np.ndarray) -> np.ndarray:
    """Transform points `(T, K, 2)` with affines `(T, 2, 3)`."""
    points = np.asarray(points, dtype=np.float32)
    return np.einsum("tij,tkj->tki", affines[:, :, :2], points) + affines[:, None, :, 2]


def invert_affines(affines: np.ndarray) -> np.ndarray:
    """Inverse affines `(T, 2, 3)`."""
    import cv2

    return np.stack([cv2.invertAffineTransform(a.astype(np.float64)) for a in affines]).astype(np.float32)


def align_faces(
    frames: np.ndarray,
    landmarks: np.ndarray,
    size: int = 224,
    scale: float = 1.3,
    backend_name: str = "",
    smooth_window: int = 1,
    border: str = "replicate",
) -> AlignedFaces:
    """Crop square face regions of `frames` `(T, H, W, 3)` around `landmarks` `(T, K, 2)` and resize to `size`.

    Pixels outside the frame are filled by `border` ("replicate", "constant" = black, "reflect").
    """
    import cv2

    if border not in BORDER_MODES:
        raise ValueError(f"border must be one of {BORDER_MODES}, got {border!r}")
    border_mode = {
        "replicate": cv2.BORDER_REPLICATE,
        "constant": cv2.BORDER_CONSTANT,
        "reflect": cv2.BORDER_REFLECT_101,
    }[border]
    frames = np.asarray(frames)
    boxes = square_crop_boxes(landmarks, backend_name, scale, smooth_window)
    affines = box_affines(boxes, size)
    crops = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for t, frame in enumerate(frames):
        crops[t] = cv2.warpAffine(
            np.ascontiguousarray(frame),
            affines[t].astype(np.float64),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=border_mode,
            borderValue=(0, 0, 0),
        )
    return AlignedFaces(
        crops=crops,
        face_affines=affines,
        landmarks=apply_affine(landmarks, affines).astype(np.float32),
        crop_boxes=boxes,
    )


def paste_back(masks: np.ndarray, face_affines: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Warp crop-space maps `(N, S, S)` back to frame space `(N, H, W)` float32 (zeros outside the crop).

    `face_affines` `(N, 2, 3)` map frame coords -> crop coords (as returned by `align_faces`); a single `(2, 3)`
    affine is broadcast to all masks.
    """
    import cv2

    masks = np.asarray(masks, dtype=np.float32)
    affines = np.asarray(face_affines, dtype=np.float64)
    if masks.ndim == 2:
        masks = masks[None]
    if affines.ndim == 2:
        affines = np.broadcast_to(affines, (len(masks), 2, 3))
    if len(affines) != len(masks):
        raise ValueError(f"got {len(masks)} masks but {len(affines)} affines")
    h, w = int(frame_size[0]), int(frame_size[1])
    out = np.empty((len(masks), h, w), dtype=np.float32)
    for i, (mask, affine) in enumerate(zip(masks, affines)):
        out[i] = cv2.warpAffine(
            mask,
            affine,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
    return out
