"""Masks held at the localizer's resolution and pasted into the frame on demand (`FrameMasks`, issue 30), on real
footage with the shipped default model: the frame-size masks equal an independent eager paste of the same crop masks
(the previous code's path: resize to the crop, `processor.paste_back`, clip; zeros where the face is gone), a mask
pasted at a display size agrees with the frame-size mask scaled down, and `--save-masks` files of both layouts read
back exactly, the default one the same size whatever the frame size."""

import copy

import cv2
import numpy as np
import pytest
from conftest import SINGLE_FACE, carphone_path
from two_people import two_people

from delocate_hf.inference import FrameMasks, detect_video, load_detector, load_masks, save_masks
from processing import iter_video_frames, write_video
from processing.errors import DelocateInputError


@pytest.fixture(scope="module")
def detector():
    return load_detector(None)  # the shipped default model: real masks, 128 px crops, 8-frame clips


@pytest.fixture(scope="module")
def results(detector):
    """Detection results on real footage: the talking head (640x360), carphone (176x144, odd aspect) and two people
    (360x800) with the right person entering at frame 10: with gaps of one sampled frame bridged at most
    (`max_gap=1`), the two analysed frames before it are padded."""
    model, processor = detector
    strict = copy.deepcopy(processor)
    strict.max_gap = 1
    people = two_people(32, right_from=10)
    return {
        "single_face": detect_video(SINGLE_FACE, model, processor, num_frames=16, progress=False),
        "carphone": detect_video(carphone_path(), model, processor, num_frames=8, progress=False),
        "two_people": detect_video(people.frames, model, strict, num_frames=8, progress=False),
    }


def eager_paste(processor, masks: FrameMasks) -> np.ndarray:
    """The frame-size masks as detection built them before #30, from the same crop masks and transforms: resized
    to the processor's crop when the localizer's size differs, warped with `processor.paste_back`, clipped."""
    crop = masks.crop_masks
    if crop.shape[-1] != int(processor.size):
        crop = np.stack([cv2.resize(m, (processor.size, processor.size), interpolation=cv2.INTER_LINEAR) for m in crop])
    return np.clip(processor.paste_back(crop, masks.face_affines, masks.frame_size), 0.0, 1.0)


def test_frame_size_masks_equal_an_eager_paste(results, detector):
    _, processor = detector
    padded_frames = 0
    for name, result in results.items():
        for track in result.tracks:
            masks = track.masks
            assert isinstance(masks, FrameMasks) and masks.crop_masks.shape[1:] == (128, 128), name
            pasted = np.asarray(masks)
            assert pasted.dtype == np.float32 and pasted.shape == masks.shape == (len(track.frames), *result.frame_size)
            np.testing.assert_allclose(pasted, eager_paste(processor, masks), rtol=0, atol=1e-6)
            assert 0.0 <= pasted.min() and pasted.max() <= 1.0 and pasted.max() > 0.01, name  # non-empty (faint on reals)
            for i in (0, len(masks) - 1):  # one frame pasted alone is the same
                np.testing.assert_array_equal(masks[i], pasted[i])
            assert masks.frame_indices.tolist() == track.frame_indices.tolist()
            padded = np.array([f.padded for f in track.frames])
            assert not pasted[padded].any()  # the face is gone from these frames: mask 0
            padded_frames += int(padded.sum())
    assert padded_frames > 0  # the entering person's padded frames were checked
    assert len(results["two_people"].tracks) == 2


def test_masks_read_as_the_frame_size_array(results):
    masks = results["single_face"].masks
    full = np.asarray(masks)
    assert len(masks) == len(full) and masks.ndim == 3 and masks.size == full.size
    assert np.array_equal(masks[1:3], full[1:3]) and np.array_equal(masks[[0, 2]], full[[0, 2]])
    assert np.array_equal(masks[:, 100:200, 250:400], full[:, 100:200, 250:400])
    assert np.array_equal(masks[full > 0.5], full[full > 0.5])
    assert np.array_equal(masks > 0.5, full > 0.5) and float(masks.sum()) == pytest.approx(float(full.sum()))
    assert np.abs(masks - full).max() == 0 and [m.shape for m in masks][0] == (360, 640)
    assert masks.crop_masks.nbytes * 10 < full.nbytes  # what the result holds: the localizer's masks


def test_display_size_paste_matches_the_scaled_frame_mask(results):
    """`frame(i, size)` warps the crop straight into a smaller frame (the overlay's display size): the same mask as
    the frame-size one scaled down, up to interpolation."""
    masks = results["single_face"].masks
    for i in range(len(masks)):
        small = masks.frame(i, (180, 320))
        scaled = cv2.resize(masks[i], (320, 180), interpolation=cv2.INTER_AREA)
        assert small.shape == (180, 320) and small.dtype == np.float32
        assert np.abs(small - scaled).mean() < 0.01 and np.abs(small - scaled).max() < 0.35
        assert abs(float(small.sum()) - float(scaled.sum())) < 0.03 * float(scaled.sum())
    np.testing.assert_array_equal(masks.frame(0, (360, 640)), masks[0])


def test_saved_masks_read_back_in_both_layouts(results, tmp_path):
    result = results["two_people"]
    crop = save_masks(tmp_path / "crop.npz", result)  # the default layout
    frame = save_masks(tmp_path / "frame.npz", result, layout="frame")
    with np.load(frame) as saved:  # the frame layout: what --save-masks always wrote
        assert np.array_equal(saved["masks"], np.asarray(result.masks))
        assert saved["frame_indices"].tolist() == result.frame_indices.tolist()
        for t in result.tracks:
            assert np.array_equal(saved[f"track{t.track_id}_masks"], np.asarray(t.masks))
    for path in (crop, frame):
        masks, indices = load_masks(path)
        assert np.array_equal(np.asarray(masks), np.asarray(result.masks)) and indices.tolist() == result.frame_indices.tolist()
        for t in result.tracks:
            masks, indices = load_masks(path, track=t.track_id)
            assert np.array_equal(np.asarray(masks), np.asarray(t.masks)) and indices.tolist() == t.frame_indices.tolist()
    assert isinstance(load_masks(crop)[0], FrameMasks)
    with pytest.raises(DelocateInputError, match="no face 7 in it"):
        load_masks(crop, track=7)
    with pytest.raises(DelocateInputError, match="does not exist"):
        load_masks(tmp_path / "missing.npz")
    with pytest.raises(DelocateInputError, match="mask layout must be one of crop, frame"):
        save_masks(tmp_path / "x.npz", result, layout="png")


def test_crop_layout_does_not_grow_with_the_frame_size(detector, results, tmp_path):
    """The same real clip at twice the size: the default layout's file keeps its size, the frame layout's grows
    with the pixels."""
    model, processor = detector
    frames = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for _, f in iter_video_frames(SINGLE_FACE)]
    video = write_video(tmp_path / "single_face_720p.mp4", np.stack(frames), fps=24)
    large = detect_video(video, model, processor, num_frames=16, progress=False)
    small = results["single_face"]
    assert large.frame_size == (720, 1280) and large.masks.crop_masks.shape == small.masks.crop_masks.shape
    sizes = {}
    for name, result in (("small", small), ("large", large)):
        for layout in ("crop", "frame"):
            sizes[name, layout] = save_masks(tmp_path / f"{name}_{layout}.npz", result, layout=layout).stat().st_size
    assert sizes["large", "crop"] < 1.15 * sizes["small", "crop"]
    assert sizes["large", "frame"] > 2.5 * sizes["small", "frame"]
