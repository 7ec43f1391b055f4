"""Where a pseudo-fake blends: landmark-driven region masks and their soft blend weights (part of
:mod:`delocate_hf.data.pseudo_fakes`, which re-exports the public names; import them from there).

- ``face_size(landmarks (T, K, 2), backend_name)``: median larger side of the face-outline box, in pixels.
- ``region_hard_masks(landmarks (T, K, 2), backend_name, region, (H, W))`` -> ``(T, H, W)`` uint8 {0, 1}: the face
  outline hull ("face") or one facial part (:data:`processing.face_parts.PARTS`), frame by frame.
- ``random_region_hard_masks(landmarks (T, K, 2), backend_name, (H, W), rng)`` -> ``(T, H, W)`` uint8 {0, 1} and the
  drawn parameters: one or two ellipses of random size and shape anchored to random inner landmarks (they follow the
  face frame by frame), clipped to the face outline; a region that is no facial part in particular.
- ``_soft_weights(hard (T, H, W), size, rng, region)`` -> ``(T, H, W)`` float32 blend weights in [0, 1] (deformed,
  feathered and scaled by one set of drawn parameters for the whole clip) and those parameters.
- ``_region_centres(hard (T, H, W), landmarks (T, K, 2))`` -> ``(T, 2)`` float32 (x, y) centre of each frame's region.
- ``_backend_key(backend_name, num_points)``: "mediapipe" (468/478 points) or "dlib68" (68 points).
"""

from __future__ import annotations

import cv2
import numpy as np

from processing.face_parts import part_indices

__all__ = ["face_size", "random_region_hard_masks", "region_hard_masks"]

# Face outline: MediaPipe FACEMESH_FACE_OVAL (36 points, forehead included); dlib 68: jaw 0-16 + brows 17-26.
_FACE_OVAL = {
    "mediapipe": [10, 21, 54, 58, 67, 93, 103, 109, 127, 132, 136, 148, 149, 150, 152, 162, 172, 176, 234, 251, 284,
                  288, 297, 323, 332, 338, 356, 361, 365, 377, 378, 379, 389, 397, 400, 454],
    "dlib68": list(range(27)),
}  # fmt: skip


# --------------------------------------------------------------------------- regions
def _backend_key(backend_name: str, num_points: int) -> str:
    name = str(backend_name).lower()
    if name in ("mediapipe", "mp", "facemesh"):
        return "mediapipe"
    if name in ("dlib68", "dlib"):
        return "dlib68"
    if num_points in (468, 478):
        return "mediapipe"
    if num_points == 68:
        return "dlib68"
    raise ValueError(f"unknown landmark layout: backend {backend_name!r} with {num_points} points")


def _fill_hull(canvas: np.ndarray, points: np.ndarray, value: int = 1) -> None:
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))  # 4 fractional bits (sub-pixel)
    cv2.fillConvexPoly(canvas, hull, value, lineType=cv2.LINE_8, shift=4)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def face_size(landmarks: np.ndarray, backend_name: str) -> float:
    """Median (over frames) of the larger side of the face-outline box, in pixels. `landmarks` `(T, K, 2)`."""
    key = _backend_key(backend_name, landmarks.shape[1])
    oval = landmarks[:, _FACE_OVAL[key]]
    side = np.maximum(np.ptp(oval[..., 0], axis=-1), np.ptp(oval[..., 1], axis=-1))
    return float(max(np.median(side), 1.0))


def region_hard_masks(landmarks: np.ndarray, backend_name: str, region: str, image_size: tuple[int, int]) -> np.ndarray:
    """Binary region masks `(T, H, W)` uint8 {0, 1} from landmarks `(T, K, 2)`.

    `region`: "face" (outline hull), "eyes" / "lips" (hull of the part's landmarks), or "cheek_nose" (hull of the
    nose and cheek landmarks minus the eyes and lips hulls, grown by 3% of the face size).
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    key = _backend_key(backend_name, landmarks.shape[1])
    h, w = image_size
    parts = part_indices(key)
    include = _FACE_OVAL[key] if region == "face" else parts[region]
    exclude = [parts["eyes"], parts["lips"]] if region == "cheek_nose" else []
    grow = max(1, int(round(0.03 * face_size(landmarks, key))))
    out = np.zeros((len(landmarks), h, w), dtype=np.uint8)
    for t, pts in enumerate(landmarks):
        _fill_hull(out[t], pts[include])
        if exclude:
            cut = np.zeros((h, w), dtype=np.uint8)
            for idx in exclude:
                _fill_hull(cut, pts[idx])
            out[t][cv2.dilate(cut, _disk(grow)) > 0] = 0
    return out


def random_region_hard_masks(
    landmarks: np.ndarray, backend_name: str, image_size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """Masks `(T, H, W)` uint8 {0, 1} of a random face region, and what was drawn.

    One or two ellipses, each anchored to a random landmark *inside* the face outline (so it moves with the face),
    centre offset by up to 4 % of the face size, semi-axes 6-20 % of the face size, any orientation; their union is
    clipped to the face-outline hull. The anchor lies inside the hull and inside its ellipse, so no frame is empty (a
    frame where clipping would empty it keeps the unclipped ellipses). All draws come from `rng` in a fixed order.
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    key = _backend_key(backend_name, landmarks.shape[1])
    size = face_size(landmarks, key)
    inner = np.setdiff1d(np.arange(landmarks.shape[1]), _FACE_OVAL[key])
    blobs = []
    for _ in range(int(rng.integers(1, 3))):
        blobs.append({"anchor": int(rng.choice(inner)),
                      "offset": [float(v) for v in rng.uniform(-0.04, 0.04, size=2)],
                      "axes": [float(v) for v in rng.uniform(0.06, 0.2, size=2)],
                      "angle_deg": float(rng.uniform(0.0, 180.0))})
    h, w = image_size
    face = region_hard_masks(landmarks, key, "face", image_size)
    out = np.zeros((len(landmarks), h, w), dtype=np.uint8)
    for t, pts in enumerate(landmarks):
        for blob in blobs:
            centre = pts[blob["anchor"]] + np.asarray(blob["offset"]) * size
            axes = np.asarray(blob["axes"]) * size
            cv2.ellipse(out[t], tuple(int(v) for v in np.round(centre * 16)), tuple(int(v) for v in np.round(axes * 16)),
                        blob["angle_deg"], 0, 360, 1, -1, lineType=cv2.LINE_8, shift=4)
        clipped = out[t] & face[t]
        if clipped.any():
            out[t] = clipped
    return out, {"ellipses": blobs}


def _soft_weights(
    hard: np.ndarray, size: float, rng: np.random.Generator, region: str, alpha_range=(0.6, 1.0)
) -> tuple[np.ndarray, dict]:
    """Deform (dilate/erode), feather (Gaussian) and scale the hard masks: `(T, H, W)` float32 blend weights."""
    whole = region == "face"
    grow = float(rng.uniform(-0.03, 0.03) if whole else rng.uniform(-0.005, 0.015))
    sigma = float(rng.uniform(0.012, 0.03) if whole else rng.uniform(0.006, 0.015))
    alpha = float(rng.uniform(*alpha_range))
    radius = int(round(abs(grow) * size))
    sigma_px = max(0.5, sigma * size)
    out = np.empty(hard.shape, dtype=np.float32)
    for t, m in enumerate(hard):
        if radius:
            m = cv2.dilate(m, _disk(radius)) if grow > 0 else cv2.erode(m, _disk(radius))
        out[t] = cv2.GaussianBlur(m.astype(np.float32), (0, 0), sigma_px, borderType=cv2.BORDER_CONSTANT)
    out *= alpha
    return np.clip(out, 0.0, 1.0), {"grow": grow, "blur_sigma": sigma, "alpha": alpha}


def _region_centres(hard: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    centres = np.empty((len(hard), 2), dtype=np.float32)
    for t, m in enumerate(hard):
        ys, xs = np.nonzero(m)
        centres[t] = (xs.mean(), ys.mean()) if len(xs) else landmarks[t].mean(0)
    return centres
