"""What every landmark backend shares (part of `processing.landmarks`, which re-exports the public names; import
them from there).

- `FaceLandmarks`: one face found in a frame, `points` `(K, 2)` float32 pixel (x, y) (K = 468 for MediaPipe, 68 for
  dlib), `box` `(4,)` float32 x0, y0, x1, y1 of the points, `score`, `source` (how it was found).
- `LandmarkBackend`: the backend base class, `detect(frame (H, W, 3) uint8 RGB) -> list[FaceLandmarks]`, `reset`,
  `close`, usable as a context manager.
- `MEDIAPIPE_TO_DLIB68` `(68,)` int64 and `crop_reference_points(landmarks (..., K, 2), backend_name) -> (..., 68, 2)`:
  the 68 dlib-equivalent points of either backend, from which crops and part boxes are made backend-independently.
- `_check_frame(frame)`: the frame check of the backends' `detect` (RGB uint8 `(H, W, 3)`; grayscale and RGBA
  frames converted; anything else raises `DelocateInputError`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from .errors import DelocateInputError

__all__ = ["MEDIAPIPE_TO_DLIB68", "FaceLandmarks", "LandmarkBackend", "crop_reference_points"]

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


def crop_reference_points(landmarks: np.ndarray, backend_name: str) -> np.ndarray:
    """The 68 dlib-equivalent points `(..., 68, 2)` of either backend (used for backend-independent crop boxes)."""
    if landmarks.shape[-2] == 468 or backend_name == "mediapipe":
        return landmarks[..., MEDIAPIPE_TO_DLIB68, :]
    return landmarks
