"""Two real faces crossing (`two_people.crossing_people`): the ~155 px talking head of single_face.mp4 moving left to
right along the top band and the ~110 px face of face_noface.mov moving right to left below it, passing each other
half-way; the bands either apart (faces ~200 px apart vertically as they pass) or touching (~180 px).

`track_all_faces` with the real MediaPipe backend must give exactly two tracks, each one person's throughout: every
found face of a track nearer that person's face centre than the other's, its size that person's size, its path
continuous from its own start side to the other side. Sampled every 2nd frame (~25 px a step) and every 4th (~50 px
a step: the landmarker then lags behind the moving faces on some frames, leaves stale second fits of a face beside
it, and loses the small face for two frames). Measured before motion prediction was added to the tracker: every 4th
frame gave one and no kept track (the faces broken into 5-8 fragments of 3-6 frames), every 3rd frame one or two
tracks with a short fragment; every 2nd frame was already right.

`detect_video(..., faces="all")` on the clip (two 16-frame clips, the crossing at their boundary) reports exactly two
tracks whose face boxes follow the two people.
"""

from __future__ import annotations

import numpy as np
import pytest

from two_people import crossing_people
from processing.face_tracks import track_all_faces

BIG_FACE, SMALL_FACE = 153.0, 108.0  # measured box sides (max of width, height) of the two faces, frame pixels


@pytest.fixture(scope="module", params=[230, 208], ids=["apart", "close"])
def clip(request):
    return crossing_people(64, small_top=request.param)


def _centres(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def _sides(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def _check_person(track, own: np.ndarray, other: np.ndarray, face: float, left_to_right: bool):
    """One `FaceTrack`'s found faces against `own` / `other` `(T, 2)`, the two people's face centres per frame."""
    found = np.flatnonzero(track.detected)
    own, other = own[found], other[found]
    c = _centres(track.boxes[found])
    to_own, to_other = np.linalg.norm(c - own, axis=1), np.linalg.norm(c - other, axis=1)
    assert (to_own < to_other).all(), np.flatnonzero(to_own >= to_other)  # never the other person
    assert (to_own < 0.8 * face).all(), to_own.max()  # on the person (the landmarker lags by up to ~0.75 face)
    assert np.abs(np.log(_sides(track.boxes[found]) / face)).max() < 0.2  # one person's size: ~155 vs ~110 px
    assert (np.abs(np.diff(c[:, 1])) < 0.25 * face).all()  # stays in its band
    dx = np.diff(c[:, 0]) * (1 if left_to_right else -1)
    assert (np.abs(dx) < 1.5 * face * np.diff(found)).all()  # continuous (a lag of ~0.75 face caught up at most)
    assert dx.sum() > 600  # all the way across


@pytest.mark.parametrize("step", [2, 4])
def test_crossing_faces_keep_their_identities(clip, step):
    frames = clip.frames[::step]
    big, small = clip.big_centres[::step], clip.small_centres[::step]
    found = track_all_faces(frames, "mediapipe")
    assert len(found.tracks) == 2 and not found.short, (len(found.tracks), found.short)
    first, second = found.tracks  # the larger face first
    for track in found.tracks:
        assert track.detected.mean() >= 0.85 and not track.padded.any()
    _check_person(first, big, small, BIG_FACE, True)
    _check_person(second, small, big, SMALL_FACE, False)
    # both tracks pass the crossing: each has found faces on both sides of the other person
    for track, own, other in ((first, big, small), (second, small, big)):
        ahead = np.sign(own[track.detected, 0] - other[track.detected, 0])
        assert (ahead < 0).any() and (ahead > 0).any()


@pytest.fixture(scope="module")
def detector():
    from delocate_hf.inference import load_detector

    return load_detector(None)


def test_detect_video_reports_the_two_crossing_people(detector):
    from delocate_hf.inference import detect_video

    clip = crossing_people(64, small_top=208)
    model, processor = detector
    result = detect_video(clip.frames, model, processor, num_frames=32, progress=False, faces="all")
    assert result.faces == "all" and len(result.tracks) == 2
    people = []
    for track in result.tracks:
        assert len(track.frames) == 32
        index = np.array([f.index for f in track.frames])
        boxes = np.array([f.face_box for f in track.frames], np.float64)
        to_big = np.linalg.norm(_centres(boxes) - clip.big_centres[index], axis=1)
        to_small = np.linalg.norm(_centres(boxes) - clip.small_centres[index], axis=1)
        person = "big" if to_big[0] < to_small[0] else "small"
        own, other = (to_big, to_small) if person == "big" else (to_small, to_big)
        assert (own < other).all() and (own < 0.8 * SMALL_FACE).all(), (person, own.max())
        people.append(person)
    assert sorted(people) == ["big", "small"]
