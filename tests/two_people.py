"""A two-person clip from real footage, for the every-face tests: the talking head of `single_face.mp4` (left,
~190 px face) beside the face of the first 64 frames of `face_noface.mov` (right, shrunk to a ~115 px face), in one
360x800 frame sequence; optionally the smaller (right) face pseudo-faked (`make_pseudo_fake`, strength 3) and the
right person shown only from a given frame on (a face entering the picture)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from conftest import SHARED_MEDIA
from processing.video_io import iter_video_frames

HEIGHT, WIDTH = 360, 800
LEFT_BOX = (0, 0, 400, 360)  # x0, y0, x1, y1 of the left person's region on the canvas
RIGHT_BOX = (560, 80, 760, 280)  # the right (smaller) person's region
BACKGROUND = 96


@dataclass
class TwoPeople:
    frames: np.ndarray  # (T, 360, 800, 3) uint8 RGB
    fake_masks: np.ndarray  # (T, 360, 800) bool: the pseudo-faked pixels (all False for a real clip)
    right_from: int  # first frame in which the right person is visible


def _left(num: int) -> np.ndarray:
    frames = [f for _, f in iter_video_frames(SHARED_MEDIA / "single_face.mp4", max_frames=num)]
    return np.stack([f[:, 120:520] for f in frames])  # (T, 360, 400, 3): face at x ~95-250


def _right(num: int) -> np.ndarray:
    frames = [f for _, f in iter_video_frames(SHARED_MEDIA / "face_noface.mov", max_frames=num)]
    side = RIGHT_BOX[2] - RIGHT_BOX[0]
    return np.stack([cv2.resize(f[90:490, 240:640], (side, side), interpolation=cv2.INTER_AREA) for f in frames])


def two_people(num: int = 64, fake_right: bool = False, right_from: int = 0, seed: int = 0,
               family: str = "self_blend", strength: float = 3.0) -> TwoPeople:
    """The clip (see the module docstring); `fake_right`: the right face pseudo-faked on every frame."""
    left, right = _left(num), _right(num)
    masks = np.zeros((num, HEIGHT, WIDTH), dtype=bool)
    if fake_right:
        from delocate_hf.data.pseudo_fakes import make_pseudo_fake
        from processing.landmarks import get_landmarker, track_faces

        with get_landmarker("mediapipe") as landmarker:
            landmarks = track_faces(right, landmarker, max_gap=None).landmarks
        fake = make_pseudo_fake(right, landmarks, "mediapipe", family, np.random.default_rng(seed),
                                strength=strength)
        right = fake.frames
        x0, y0, x1, y1 = RIGHT_BOX
        masks[:, y0:y1, x0:x1] = np.asarray(fake.masks).reshape(num, y1 - y0, x1 - x0) > 0
    canvas = np.full((num, HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)
    canvas[:, :, LEFT_BOX[0]:LEFT_BOX[2]] = left
    x0, y0, x1, y1 = RIGHT_BOX
    canvas[right_from:, y0:y1, x0:x1] = right[right_from:]
    masks[:right_from] = False
    return TwoPeople(frames=canvas, fake_masks=masks, right_from=right_from)
