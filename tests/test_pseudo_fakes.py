"""Pseudo-fake families on real talking-head frames: exact masks, locality, flicker, determinism, donor use, hook."""

import json

import cv2
import numpy as np
import pytest

from conftest import SINGLE_FACE
from delocate_hf.data.pseudo_fakes import (
    FAMILIES,
    FAMILIES_WITHOUT_SWAP,
    KNOWN_FAMILIES,
    PseudoFake,
    face_size,
    make_pseudo_fake,
    pseudo_fake_video_maker,
)
from processing.alignment import align_faces
from processing.face_parts import PARTS, part_boxes, part_indices
from processing.landmarks import MEDIAPIPE_TO_DLIB68, get_landmarker, track_faces
from processing.video_io import read_video

NUM_FRAMES = 8
BACKEND = "mediapipe"
OVAL = [10, 21, 54, 58, 67, 93, 103, 109, 127, 132, 136, 148, 149, 150, 152, 162, 172, 176, 234, 251, 284, 288, 297,
        323, 332, 338, 356, 361, 365, 377, 378, 379, 389, 397, 400, 454]  # fmt: skip


@pytest.fixture(scope="module")
def landmarker():
    return get_landmarker(BACKEND)


@pytest.fixture(scope="module")
def clips(carphone, landmarker):
    """name -> (frames (T, H, W, 3) uint8, landmarks (T, 468, 2)) for two real videos (two identities)."""
    out = {}
    for name, path in (("carphone", carphone), ("single_face", SINGLE_FACE)):
        frames = read_video(path, num_frames=NUM_FRAMES).frames
        out[name] = (frames, track_faces(frames, landmarker).landmarks)
    return out


_CACHE = {}


def _fake(clips, name, family, seed=0) -> PseudoFake:
    key = (name, family, seed)
    if key not in _CACHE:
        frames, landmarks = clips[name]
        donor = clips["single_face" if name == "carphone" else "carphone"]
        _CACHE[key] = make_pseudo_fake(frames, landmarks, BACKEND, family, np.random.default_rng(seed), *donor)
    return _CACHE[key]


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _box_mask(box, shape, pad):
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    return (xs >= box[0] - pad) & (xs <= box[2] + pad) & (ys >= box[1] - pad) & (ys <= box[3] + pad)


NAMES = ("carphone", "single_face")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("family", KNOWN_FAMILIES)
def test_masks_are_the_changed_pixels_inside_the_face(clips, name, family):
    frames, landmarks = clips[name]
    fake = _fake(clips, name, family)
    t, h, w = frames.shape[:3]
    assert fake.family == family
    assert fake.frames.shape == frames.shape and fake.frames.dtype == np.uint8
    assert fake.masks.shape == (t, h, w) and fake.masks.dtype == np.uint8 and set(np.unique(fake.masks)) <= {0, 1}
    assert fake.blend.shape == (t, h, w) and fake.blend.dtype == np.float32
    assert 0.0 <= fake.blend.min() and fake.blend.max() <= 1.0
    np.testing.assert_array_equal(fake.masks, fake.blend > fake.params["threshold"])
    json.dumps(fake.params)

    changed = (fake.frames != frames).any(-1)
    assert fake.masks.any()
    assert _iou(changed, fake.masks.astype(bool)) > 0.9
    assert fake.params["nudged_fraction"] < 0.2  # the transform itself, not the one-level nudge, makes the change
    diff = np.abs(fake.frames.astype(np.int16) - frames).max(-1)
    assert diff[fake.masks > 0].mean() > 4.0  # a visible manipulation

    size = face_size(landmarks, BACKEND)
    oval = landmarks[:, OVAL]
    for i in range(t):
        box = (*oval[i].min(0), *oval[i].max(0))
        outside = fake.masks[i].astype(bool) & ~_box_mask(box, (h, w), 0.12 * size)
        assert outside.sum() == 0, (i, outside.sum())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("part", PARTS)
def test_part_blends_stay_in_their_part(clips, name, part):
    frames, landmarks = clips[name]
    fake = _fake(clips, name, f"part_{part}")
    h, w = frames.shape[1:3]
    boxes = part_boxes(landmarks, BACKEND, (h, w))
    size = face_size(landmarks, BACKEND)
    indices = part_indices(BACKEND)
    own = PARTS.index(part)
    assert fake.masks.all(axis=(1, 2)).sum() == 0 and fake.masks.any(axis=(1, 2)).all()  # every frame, partially
    for i in range(len(frames)):
        m = fake.masks[i].astype(bool)
        assert (m & _box_mask(boxes[i, own], (h, w), 0.06 * size)).sum() / m.sum() > 0.97
        for other in PARTS:
            if other == part:
                continue
            pts = np.clip(np.round(landmarks[i, indices[other]]).astype(int), 0, [w - 1, h - 1])
            assert m[pts[:, 1], pts[:, 0]].mean() < 0.3, (other, i)  # eyes cover the nose root only
        # the part blend is much smaller than a whole-face blend
        assert m.sum() < 0.6 * _fake(clips, name, "self_blend").masks[i].sum()


@pytest.mark.parametrize("name", NAMES)
def test_flicker_touches_a_strict_subset_of_frames(clips, name):
    for seed in range(3):
        fake = _fake(clips, name, "flicker", seed)
        touched = fake.masks.any(axis=(1, 2))
        assert 0 < touched.sum() < len(touched)
        assert np.flatnonzero(touched).tolist() == fake.params["frames"]
        assert fake.params["inner_family"] in FAMILIES_WITHOUT_SWAP[:4]
        frames = clips[name][0]
        np.testing.assert_array_equal(fake.frames[~touched], frames[~touched])
        assert not fake.blend[~touched].any()


@pytest.mark.parametrize("family", KNOWN_FAMILIES)
def test_deterministic_under_seed(clips, family):
    a = _fake(clips, "carphone", family, seed=0)
    frames, landmarks = clips["carphone"]
    b = make_pseudo_fake(frames, landmarks, BACKEND, family, np.random.default_rng(0), *clips["single_face"])
    assert a.frames.tobytes() == b.frames.tobytes() and a.masks.tobytes() == b.masks.tobytes()
    assert a.blend.tobytes() == b.blend.tobytes() and a.params == b.params
    c = make_pseudo_fake(frames, landmarks, BACKEND, family, np.random.default_rng(1), *clips["single_face"])
    assert a.frames.tobytes() != c.frames.tobytes() and a.params != c.params


@pytest.mark.parametrize("name", NAMES)
def test_local_blends_follow_the_face_anywhere_inside_it(clips, name):
    """"local_blend": every frame touched, the region inside the face outline and moving with its anchor landmark,
    smaller than a whole-face blend, and at different places of the face for different seeds."""
    frames, landmarks = clips[name]
    size = face_size(landmarks, BACKEND)
    outline = np.zeros(frames.shape[:3], dtype=np.uint8)
    for i, pts in enumerate(landmarks):
        cv2.fillConvexPoly(outline[i], cv2.convexHull(np.round(pts[OVAL]).astype(np.int32)), 1)
    centres = []
    for seed in range(4):
        fake = _fake(clips, name, "local_blend", seed)
        assert "local_blend" not in FAMILIES and fake.params["region"] == "local"
        assert fake.masks.any(axis=(1, 2)).all()
        whole = _fake(clips, name, "self_blend").masks
        assert fake.masks.sum() < 0.8 * whole.sum()
        grown = np.stack([cv2.dilate(o, np.ones((5, 5), np.uint8)) for o in outline]).astype(bool)
        assert (fake.masks.astype(bool) & ~grown).sum() <= 0.02 * fake.masks.sum()
        anchor = fake.params["ellipses"][0]["anchor"]
        assert anchor not in OVAL
        if len(fake.params["ellipses"]) == 1:  # one ellipse: its centre keeps its offset from the anchor landmark
            offsets = [np.argwhere(m)[:, ::-1].mean(0) - landmarks[i, anchor] for i, m in enumerate(fake.masks)]
            assert np.ptp(np.array(offsets), axis=0).max() < 0.08 * size
        centres.append(np.argwhere(fake.masks[0])[:, ::-1].mean(0))
    assert np.ptp(np.array(centres), axis=0).max() > 0.1 * size  # not one fixed place


def test_local_blend_is_a_training_family_not_in_all():
    from delocate_hf.training.pseudo_fake_dataset import parse_families

    assert parse_families("all") == FAMILIES and "local_blend" not in parse_families("all")
    assert parse_families("self_blend,local_blend") == ("self_blend", "local_blend")
    with pytest.raises(ValueError, match="local_blend"):  # the error lists it among the known families
        parse_families("local_blends")


def test_temporally_consistent_parameters(clips):
    """One transform per clip: the fake/real colour ratio in the mask core is nearly constant over frames."""
    frames, _ = clips["single_face"]
    fake = _fake(clips, "single_face", "self_blend")
    core = fake.blend > 0.95 * fake.blend.max()
    means = np.array([(fake.frames[i][core[i]].astype(float) - frames[i][core[i]]).mean(0) for i in range(len(frames))])
    assert np.abs(means - means.mean(0)).max() < 3.0, means


def _ncc(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-9))


@pytest.mark.parametrize("name", NAMES)
def test_part_swap_uses_the_donor(clips, name):
    """In the swapped core the fake follows the (independently aligned) donor, not the real frame. Per-channel NCC is
    blind to the colour matching (an affine map per channel)."""
    frames, landmarks = clips[name]
    donor_frames, donor_landmarks = clips["single_face" if name == "carphone" else "carphone"]
    h, w = frames.shape[1:3]
    parts = set()
    for seed in range(3):
        fake = _fake(clips, name, "part_swap", seed)
        parts.add(fake.params["part"])
        for i in range(len(frames)):
            d = (fake.params["donor_offset"] + i) % len(donor_frames)
            m, _ = cv2.estimateAffinePartial2D(donor_landmarks[d], landmarks[i], method=cv2.LMEDS)
            warped = cv2.warpAffine(donor_frames[d], m, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT101).astype(float)
            core = fake.blend[i] > 0.9 * fake.blend[i].max()
            got = fake.frames[i][core].astype(float)
            to_donor = np.mean([_ncc(got[:, c], warped[core][:, c]) for c in range(3)])
            to_real = np.mean([_ncc(got[:, c], frames[i][core][:, c].astype(float)) for c in range(3)])
            assert to_donor > 0.8 and to_donor > to_real + 0.1, (seed, i, to_donor, to_real)
    assert len(parts) >= 2  # seeds 0-2 draw different parts
    # another donor gives another fake
    other = make_pseudo_fake(frames, landmarks, BACKEND, "part_swap", np.random.default_rng(0),
                             donor_frames[::-1].copy(), donor_landmarks[::-1].copy())
    assert other.masks.tobytes() == _fake(clips, name, "part_swap", 0).masks.tobytes()
    assert other.frames.tobytes() != _fake(clips, name, "part_swap", 0).frames.tobytes()


def test_part_swap_needs_a_donor(clips):
    frames, landmarks = clips["carphone"]
    with pytest.raises(ValueError, match="donor"):
        make_pseudo_fake(frames, landmarks, BACKEND, "part_swap", np.random.default_rng(0))
    with pytest.raises(ValueError, match="family"):
        make_pseudo_fake(frames, landmarks, BACKEND, "nope", np.random.default_rng(0))
    with pytest.raises(ValueError, match="donors"):
        pseudo_fake_video_maker(families=FAMILIES)


def test_aligned_crops_and_dlib68_layout(clips):
    """Any resolution (224 aligned crops) and the 68-point layout (MediaPipe points mapped to dlib numbering)."""
    frames, landmarks = clips["single_face"]
    aligned = align_faces(frames, landmarks, size=224, scale=1.3, backend_name=BACKEND)
    for backend, pts in ((BACKEND, aligned.landmarks), ("dlib68", aligned.landmarks[:, MEDIAPIPE_TO_DLIB68])):
        for family in ("self_blend", "part_lips"):
            fake = make_pseudo_fake(aligned.crops, pts, backend, family, np.random.default_rng(0))
            changed = (fake.frames != aligned.crops).any(-1)
            assert fake.masks.shape == (NUM_FRAMES, 224, 224) and fake.masks.any()
            assert _iou(changed, fake.masks.astype(bool)) > 0.9


def test_make_fake_hook_on_full_frames(clips):
    frames, _ = clips["carphone"]
    make_fake = pseudo_fake_video_maker(BACKEND, seed=0)
    fake, masks = make_fake(frames, np.random.default_rng(5))
    assert fake.shape == frames.shape and fake.dtype == np.uint8
    assert masks.shape == frames.shape[:3] and masks.dtype == np.uint8 and set(np.unique(masks)) == {0, 255}
    assert make_fake.last_family in FAMILIES_WITHOUT_SWAP
    assert make_fake.last_params["family"] == make_fake.last_family
    np.testing.assert_array_equal((fake != frames).any(-1), masks > 0)
    again, again_masks = make_fake(frames, np.random.default_rng(5))
    assert again.tobytes() == fake.tobytes() and again_masks.tobytes() == masks.tobytes()

    lips = make_fake.for_family("part_lips")
    _, m01 = pseudo_fake_video_maker(BACKEND, families=("part_lips",), mask_value=1)(frames, np.random.default_rng(0))
    _, m255 = lips(frames, np.random.default_rng(0))
    assert lips.last_family == "part_lips" and set(np.unique(m01)) == {0, 1}
    np.testing.assert_array_equal(m01 * 255, m255)

    swap = pseudo_fake_video_maker(BACKEND, families=("part_swap",), donors=[clips["single_face"][0]])
    fake, masks = swap(frames, np.random.default_rng(0))
    assert swap.last_family == "part_swap" and masks.any() and fake.shape == frames.shape
