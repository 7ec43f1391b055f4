"""DelocateFaceProcessor: outputs on real videos, save/load round trip, Auto class, token masks, bad inputs."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import processing
from conftest import HANG_TIMEOUT, SINGLE_FACE
from processing import DelocateFaceProcessor
from processing.errors import DelocateInputError, NoFaceDetectedError, VideoDecodeError, VideoTooShortError
from processing.video_io import read_video, write_video

NUM_FRAMES = 8
HAS_ROI_MASKING = importlib.util.find_spec("processing.roi_masking") is not None


@pytest.fixture(scope="module")
def processor():
    return DelocateFaceProcessor(num_frames=NUM_FRAMES)


@pytest.fixture(scope="module")
def carphone_out(processor, carphone):
    return processor(str(carphone), return_faces=True)


def test_outputs_on_real_video(carphone_out):
    out = carphone_out
    keys = {"pixel_values", "roi_boxes", "face_affines", "frame_indices", "landmarks", "frame_sizes", "faces"}
    assert set(out) == keys
    assert out["pixel_values"].shape == (1, NUM_FRAMES, 3, 224, 224) and out["pixel_values"].dtype == torch.float32
    assert out["roi_boxes"].shape == (1, NUM_FRAMES, 3, 4)
    assert out["face_affines"].shape == (1, NUM_FRAMES, 2, 3)
    assert out["frame_indices"].shape == (1, NUM_FRAMES) and out["frame_indices"].dtype == torch.int64
    assert out["landmarks"].shape == (1, NUM_FRAMES, 468, 2)
    assert out["frame_sizes"].tolist() == [[144, 176]]
    assert out["faces"].shape == (1, NUM_FRAMES, 224, 224, 3) and out["faces"].dtype == torch.uint8
    # ImageNet normalisation: un-normalising gives back the uint8 crops
    mean = torch.tensor(processing.DelocateFaceProcessor().image_mean).view(1, 1, 3, 1, 1)
    std = torch.tensor(processing.DelocateFaceProcessor().image_std).view(1, 1, 3, 1, 1)
    pixels = (out["pixel_values"] * std + mean) * 255
    np.testing.assert_allclose(pixels.permute(0, 1, 3, 4, 2).numpy(), out["faces"].numpy(), atol=0.01)
    boxes = out["roi_boxes"][0]
    assert boxes.min() >= 0 and boxes.max() <= 224
    cy = (boxes[..., 1] + boxes[..., 3]) / 2
    assert torch.all(cy[:, 0] < cy[:, 1]) and torch.all(cy[:, 1] < cy[:, 2])
    assert DelocateFaceProcessor.parts == ("eyes", "cheek_nose", "lips")
    assert "torchvision" not in sys.modules


def test_batch_and_array_inputs(processor, carphone):
    single = SINGLE_FACE
    batch = processor([str(carphone), single], return_tensors="np")
    assert batch["pixel_values"].shape == (2, NUM_FRAMES, 3, 224, 224)
    assert batch["frame_sizes"].tolist() == [[144, 176], [360, 640]]
    # a decoded array of exactly num_frames frames gives the same result as the path
    clip = read_video(single, num_frames=NUM_FRAMES)
    from_array = processor(clip.frames, return_tensors="np")
    np.testing.assert_allclose(from_array["pixel_values"][0], batch["pixel_values"][1], atol=1e-5)
    np.testing.assert_allclose(from_array["roi_boxes"][0], batch["roi_boxes"][1], atol=1e-3)
    # a list of (H, W, 3) frames is one video; a torch (T, 3, H, W) clip is accepted too
    as_list = processor(list(clip.frames), return_tensors="np")
    assert as_list["pixel_values"].shape[0] == 1
    as_torch = processor(torch.from_numpy(clip.frames).permute(0, 3, 1, 2), return_tensors="np")
    np.testing.assert_allclose(as_torch["pixel_values"], from_array["pixel_values"], atol=1e-5)
    # per-call overrides
    short = processor(single, num_frames=4, size=112, return_tensors="np")
    assert short["pixel_values"].shape == (1, 4, 3, 112, 112)
    with pytest.raises(TypeError, match="unexpected"):
        processor(single, frames_per_clip=3)


def test_save_load_round_trip_and_auto_class(processor, carphone, carphone_out, tmp_path):
    from transformers import AutoImageProcessor

    custom = DelocateFaceProcessor(num_frames=NUM_FRAMES, crop_scale=1.25, max_gap=None, mask_ratio=0.65)
    custom.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["image_processor_type"] == "DelocateFaceProcessor"
    assert saved["crop_scale"] == 1.25 and saved["max_gap"] is None and saved["size"] == 224
    assert saved["image_mean"] == [0.485, 0.456, 0.406] and saved["landmark_backend"] == "mediapipe"
    loaded = DelocateFaceProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == custom.to_dict()
    auto = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(auto) is DelocateFaceProcessor and auto.to_dict() == custom.to_dict()
    a = custom(str(carphone), return_tensors="np")
    b = auto(str(carphone), return_tensors="np")
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)
    # the default processor round-trips and gives identical outputs
    processor.save_pretrained(tmp_path / "default")
    again = AutoImageProcessor.from_pretrained(tmp_path / "default")(str(carphone), return_faces=True)
    for key in carphone_out:
        torch.testing.assert_close(again[key], carphone_out[key], msg=key)
    overridden = DelocateFaceProcessor.from_pretrained(tmp_path, num_frames=4)
    assert overridden.num_frames == 4
    # picklable / copyable after use (the cached MediaPipe graph is not carried along)
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(processor)).to_dict() == processor.to_dict()
    assert copy.deepcopy(processor).to_dict() == processor.to_dict()


def test_auto_class_registered_for_delocate_config(tmp_path):
    pytest.importorskip("modeling.configuration_delocate")
    from transformers import AutoImageProcessor
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING

    from modeling.configuration_delocate import DelocateConfig

    assert processing.register_auto_classes()
    assert DelocateFaceProcessor in IMAGE_PROCESSOR_MAPPING[DelocateConfig].values()
    # a folder with only a config.json of model_type "delocate" resolves to the processor through the config
    DelocateConfig().save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"num_frames": 4}))
    proc = AutoImageProcessor.from_pretrained(tmp_path)
    assert isinstance(proc, DelocateFaceProcessor) and proc.num_frames == 4


@pytest.mark.skipif(not HAS_ROI_MASKING, reason="processing.roi_masking (other engineer) not present yet")
def test_bool_masked_pos(processor, carphone):
    from processing.roi_masking import part_token_sets

    single = SINGLE_FACE
    out = processor([str(carphone), single], return_bool_masked_pos=True, seed=0)
    mask, parts = out["bool_masked_pos"], out["masked_part"]
    assert mask.shape == (2, (NUM_FRAMES // 2) * 14 * 14) and mask.dtype == torch.bool
    counts = mask.sum(1)
    assert counts[0] == counts[1] and counts[0] > 0
    for b in range(2):
        part = int(parts[b])
        assert 0 <= part < 3
        tokens = part_token_sets(out["roi_boxes"][b].numpy())[part]
        assert not (mask[b].numpy() & ~tokens).any()  # masked tokens stay inside the chosen facial part
    again = processor([str(carphone), single], return_bool_masked_pos=True, seed=0)
    assert torch.equal(again["bool_masked_pos"], mask)


def test_paste_back_method(carphone_out, processor):
    boxes, affines = carphone_out["roi_boxes"], carphone_out["face_affines"]
    masks = torch.zeros(1, NUM_FRAMES, 224, 224)
    for t in range(NUM_FRAMES):
        x0, y0, x1, y1 = boxes[0, t, 2].round().int().tolist()  # lips
        masks[0, t, y0:y1, x0:x1] = 1
    back = processor.paste_back(masks, affines, carphone_out["frame_sizes"][0])
    assert back.shape == (1, NUM_FRAMES, 144, 176) and back.dtype == np.float32
    yy, xx = np.mgrid[0:144, 0:176]
    landmarks_crop = carphone_out["landmarks"][0].numpy()
    inv = np.linalg.inv(np.concatenate([affines[0].numpy(), np.tile([[[0, 0, 1]]], (NUM_FRAMES, 1, 1))], 1))
    mouth_crop = landmarks_crop[:, [61, 291, 13, 14]].mean(1)  # (T, 2)
    mouth = np.einsum("tij,tj->ti", inv[:, :2, :2], mouth_crop) + inv[:, :2, 2]
    for t in range(NUM_FRAMES):
        m = back[0, t]
        centroid = np.array([(m * xx).sum(), (m * yy).sum()]) / m.sum()
        assert np.linalg.norm(centroid - mouth[t]) < 12, (centroid, mouth[t])


@pytest.mark.parametrize("kind", ["empty", "text", "missing", "noise", "one_frame"])
def test_bad_inputs_typed_errors(processor, tmp_path, kind):
    path = tmp_path / f"{kind}.mp4"
    expected = VideoDecodeError
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a video")
    elif kind == "noise":
        rng = np.random.default_rng(0)
        smooth = rng.integers(0, 255, (NUM_FRAMES * 2, 9, 12, 3)).astype(np.uint8)
        frames = np.stack([np.kron(f, np.ones((16, 16, 1), np.uint8)) for f in smooth])  # blocky noise, no face
        write_video(path, frames, fps=10)
        expected = NoFaceDetectedError
    elif kind == "one_frame":
        write_video(path, np.full((1, 64, 64, 3), 128, np.uint8), fps=10)
        expected = VideoTooShortError
    with pytest.raises(expected) as info:
        processor(str(path))
    msg = str(info.value)
    assert isinstance(info.value, DelocateInputError) and "\n" not in msg and path.name in msg, msg
    if kind == "noise":
        assert f"face found in 0 of {NUM_FRAMES} sampled frames" in msg


def test_dlib_backend_through_processor(carphone):
    pytest.importorskip("dlib")
    proc = DelocateFaceProcessor(num_frames=4, landmark_backend="dlib68")
    out = proc(str(carphone), return_tensors="np")
    assert out["landmarks"].shape == (1, 4, 68, 2)
    mp = DelocateFaceProcessor(num_frames=4)(str(carphone), return_tensors="np")
    from processing.face_parts import box_iou

    assert box_iou(out["roi_boxes"], mp["roi_boxes"]).min() > 0.5


def test_import_does_not_pull_torchvision():
    code = "import sys, processing; assert 'torchvision' not in sys.modules; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
