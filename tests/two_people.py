"""A two-person clip from real footage, for the every-face tests: the talking head of `single_face.mp4` (left,
~190 px face) beside the face of the first 64 frames of `face_noface.mov` (right, shrunk to a ~115 px face), in one
360x800 frame sequence; optionally the smaller (right) face pseudo-faked (`make_pseudo_fake`, strength 3) and the
right person shown only from a given frame on (a face entering the picture).

`crossing_people`: two real faces of different sizes swapping sides (their paths cross half-way), on a 400x960 canvas,
with each face's patch box per frame (the face is centred in its patch)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from conftest import SINGLE_FACE, TEST_MEDIA
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
    frames = [f for _, f in iter_video_frames(SINGLE_FACE, max_frames=num)]
    return np.stack([f[:, 120:520] for f in frames])  # (T, 360, 400, 3): face at x ~95-250


def _right(num: int) -> np.ndarray:
    frames = [f for _, f in iter_video_frames(TEST_MEDIA / "face_noface.mov", max_frames=num)]
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


# ---------------------------------------------------------------------------------------------- two faces crossing
CROSS_HEIGHT, CROSS_WIDTH = 400, 960
BIG_SIDE, SMALL_SIDE = 208, 150  # patch sides: faces ~155 px (single_face.mp4) and ~112 px (face_noface.mov) high


@dataclass
class CrossingPeople:
    frames: np.ndarray  # (T, 400, 960, 3) uint8 RGB
    big_boxes: np.ndarray  # (T, 4) float64 x0, y0, x1, y1: the larger person's patch (moves left to right, on top)
    small_boxes: np.ndarray  # (T, 4) float64: the smaller person's patch (moves right to left, below)

    @property
    def big_centres(self) -> np.ndarray:
        """`(T, 2)` x, y of the larger face's centre (the centre of its patch)."""
        return (self.big_boxes[:, :2] + self.big_boxes[:, 2:]) / 2

    @property
    def small_centres(self) -> np.ndarray:
        """`(T, 2)` x, y of the smaller face's centre."""
        return (self.small_boxes[:, :2] + self.small_boxes[:, 2:]) / 2


def _square(path, num: int, centre: tuple[int, int], half: int, side: int) -> np.ndarray:
    """`(T, side, side, 3)` uint8: the first `num` frames' `2 * half` square around `centre` (x, y), resized."""
    x, y = centre
    frames = [f for _, f in iter_video_frames(path, max_frames=num)]
    return np.stack([cv2.resize(f[y - half:y + half, x - half:x + half], (side, side), interpolation=cv2.INTER_AREA)
                     for f in frames])


def crossing_people(num: int = 64, small_top: int = 230, big_top: int = 0) -> CrossingPeople:
    """Two real people swapping sides over `num` (<= 64) frames on a 400x960 canvas: the talking head of
    `single_face.mp4` (a 208 px patch, face ~155 px high) moves from the left edge to the right edge in the band
    from `big_top` down, while the face of `face_noface.mov` (a 150 px patch, face ~112 px high) moves from the right
    edge to the left edge in the band from `small_top` down; their paths cross half-way (frame ~`num / 2`). The
    patches never overlap (`small_top >= big_top + 208`); `small_top = 208` puts the two faces' boxes close (about
    one small face height apart, vertically, when they pass)."""
    if small_top < big_top + BIG_SIDE or small_top + SMALL_SIDE > CROSS_HEIGHT:
        raise ValueError(f"the bands overlap or leave the canvas: big_top={big_top}, small_top={small_top}")
    big = _square(SINGLE_FACE, num, (294, 199), 130, BIG_SIDE)
    small = _square(TEST_MEDIA / "face_noface.mov", num, (441, 298), 200, SMALL_SIDE)
    w = np.linspace(0.0, 1.0, num)
    big_x = np.round(w * (CROSS_WIDTH - BIG_SIDE)).astype(int)
    small_x = np.round((1 - w) * (CROSS_WIDTH - SMALL_SIDE)).astype(int)
    canvas = np.full((num, CROSS_HEIGHT, CROSS_WIDTH, 3), BACKGROUND, dtype=np.uint8)
    for t in range(num):
        canvas[t, big_top:big_top + BIG_SIDE, big_x[t]:big_x[t] + BIG_SIDE] = big[t]
        canvas[t, small_top:small_top + SMALL_SIDE, small_x[t]:small_x[t] + SMALL_SIDE] = small[t]
    big_boxes = np.stack([big_x, np.full(num, big_top), big_x + BIG_SIDE, np.full(num, big_top + BIG_SIDE)], -1)
    small_boxes = np.stack([small_x, np.full(num, small_top), small_x + SMALL_SIDE,
                            np.full(num, small_top + SMALL_SIDE)], -1)
    return CrossingPeople(frames=canvas, big_boxes=big_boxes.astype(np.float64),
                          small_boxes=small_boxes.astype(np.float64))
