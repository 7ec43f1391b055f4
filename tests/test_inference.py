"""The "deepfake-detection" pipeline, detect_video and the overlay outputs, on real video with a tiny random model."""

import math

import cv2
import numpy as np
import pytest
from conftest import SINGLE_FACE, TEST_MEDIA, save_tiny_detector

import delocate_hf  # noqa: F401  (registers the pipeline)
from delocate_hf.inference import loading as loading_module
from delocate_hf.inference import progress as progress_module
from delocate_hf.inference import (
    DeepfakeDetectionPipeline,
    ModelLoadError,
    default_model_path,
    detect_video,
    load_detector,
)
from delocate_hf.inference.overlay import save_contact_sheet, write_overlay
from modeling import DelocateForDeepfakeDetection
from processing import DelocateFaceProcessor, iter_video_frames, write_video
from processing.errors import NoFaceDetectedError

# SINGLE_FACE (conftest): delocate_hf/assets/single_face.mp4, 640x360, 72 frames
FACE_NOFACE = TEST_MEDIA / "face_noface.mov"  # 960x540, 169 frames, the face leaves the picture


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_detector(tmp_path_factory.mktemp("tiny_detector"))


@pytest.fixture(scope="module")
def pipe(model_dir):
    from transformers import pipeline

    return pipeline("deepfake-detection", model=str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def single_face_result(pipe):
    return pipe(str(SINGLE_FACE))


def test_pipeline_loads_processor_from_folder(pipe):
    assert isinstance(pipe, DeepfakeDetectionPipeline)
    assert isinstance(pipe.image_processor, DelocateFaceProcessor)
    assert pipe.image_processor.size == 64 and pipe.model.config.num_frames == 4


def test_pipeline_output_contract(single_face_result):
    r = single_face_result
    assert {"label", "score", "frames", "masks", "frame_indices"} <= set(r)
    assert isinstance(r["score"], float) and 0.0 <= r["score"] <= 1.0
    assert r["label"] == ("fake" if r["score"] >= 0.5 else "real")
    masks, indices = r["masks"], r["frame_indices"]
    # FrameMasks: reads as the float32 (N, H, W) array, held at the localizer's size and pasted on demand
    assert masks.dtype == np.float32 and np.asarray(masks).dtype == np.float32 and masks.crop_masks.shape == (4, 64, 64)
    assert masks.shape == np.asarray(masks).shape == (4, 360, 640)  # original frame size, one per analysed frame
    assert masks.min() >= 0.0 and masks.max() <= 1.0 and masks.max() > 0.0
    assert all(isinstance(i, int) for i in indices) and len(indices) == len(masks)
    assert all(0 <= i < 72 for i in indices) and indices == sorted(set(indices))
    assert [f["index"] for f in r["frames"]] == indices
    for f in r["frames"]:
        assert set(f) == {"index", "score", "face_box", "localized", "face_found", "padded"}
        assert 0.0 <= f["score"] <= 1.0
        x0, y0, x1, y1 = f["face_box"]
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360
    # the mask lives inside the face box (zeros outside the pasted crop, up to one bilinear crop pixel)
    x0, y0, x1, y1 = (int(v) for v in r["frames"][0]["face_box"])
    m = (x1 - x0) // 64 + 2
    outside = masks[0].copy()
    outside[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m] = 0
    assert outside.max() == 0.0


def test_pipeline_equals_detect_video(pipe, single_face_result):
    result = detect_video(str(SINGLE_FACE), pipe.model, pipe.image_processor, device="cpu", progress=False)
    d = result.to_dict()
    assert d["label"] == single_face_result["label"]
    assert d["frame_indices"] == single_face_result["frame_indices"]
    assert math.isclose(d["score"], single_face_result["score"], rel_tol=1e-5)
    np.testing.assert_allclose(d["masks"], single_face_result["masks"], atol=1e-5)
    assert len(d["frames"]) == len(single_face_result["frames"])
    for a, b in zip(d["frames"], single_face_result["frames"]):
        assert a["index"] == b["index"] and a["face_box"] == b["face_box"]
        assert math.isclose(a["score"], b["score"], rel_tol=1e-5)


def test_num_frames_runs_several_clips(pipe, carphone):
    r = pipe(str(carphone), num_frames=5)  # rounded up to 2 clips of 4
    assert len(r["frame_indices"]) == 8 and len(r["clip_scores"]) == 2
    assert r["frame_indices"] == sorted(set(r["frame_indices"]))
    assert math.isclose(r["score"], float(np.mean(r["clip_scores"])), rel_tol=1e-6)
    assert r["masks"].shape == (8, 144, 176)


def test_frames_array_input_and_list_input(pipe, carphone):
    frames = np.stack([f for _, f in iter_video_frames(carphone, max_frames=12)])
    r = pipe(frames)
    assert r["masks"].shape == (4, 144, 176) and len(r["frame_indices"]) == 4
    both = pipe([str(carphone), str(carphone)])
    assert len(both) == 2 and both[0]["score"] == both[1]["score"]


def test_clip_without_face_is_skipped(pipe):
    r = pipe(str(FACE_NOFACE), num_frames=8)
    assert r["skipped_clips"] == 1 and len(r["clip_scores"]) == 1
    assert r["masks"].shape == (4, 540, 960)
    # the face leaves the picture at about frame 70: the last analysed frame (73) only has an interpolated box,
    # and the result says so instead of presenting its mask as a face analysis
    assert [(f["index"], f["face_found"]) for f in r["frames"]] == [(10, True), (31, True), (52, True), (73, False)]
    assert any("face not found in 1 of 4 analysed frames" in note for note in r["notes"])


def test_no_face_anywhere_raises(pipe, tmp_path):
    noise = write_video(tmp_path / "noise.mp4", np.random.default_rng(0).integers(0, 255, (8, 96, 128, 3), np.uint8))
    with pytest.raises(NoFaceDetectedError, match="noise.mp4"):
        detect_video(str(noise), pipe.model, pipe.image_processor, num_frames=8, progress=False)


def test_progress_on_stderr(pipe, carphone, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "PROGRESS_DELAY_S", 0)
    detect_video(str(carphone), pipe.model, pipe.image_processor, progress=True)
    assert "delocate: carphone" in capsys.readouterr().err


def test_overlay_video_and_contact_sheet(pipe, carphone, tmp_path):
    result = detect_video(str(carphone), pipe.model, pipe.image_processor, num_frames=8, progress=False)
    mp4, png = write_overlay(carphone, result, tmp_path / "overlay.mp4")
    frames = [f for _, f in iter_video_frames(mp4)]
    assert len(frames) == 120 and frames[0].shape[:2] == (144, 176)
    sheet = cv2.imread(str(png))
    assert png == tmp_path / "overlay.png" and sheet is not None and sheet.shape[0] > 144
    # the analysed frames are tinted by the heat-map where the mask is > 0.05
    source = dict(iter_video_frames(carphone, max_frames=int(result.frame_indices[0]) + 1))
    k = int(result.frame_indices[0])
    where = result.masks[0] > 0.2
    assert np.abs(frames[k].astype(int) - source[k].astype(int))[where].mean() > 10
    standalone = save_contact_sheet(tmp_path / "sheet.png", result.to_dict(), video_path=carphone)
    assert cv2.imread(str(standalone)).shape == sheet.shape


def test_default_model_path_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(loading_module, "DEFAULT_MODEL_DIR", tmp_path / "default_model")
    with pytest.raises(ModelLoadError, match=r"shipped default model is missing: run `make default-model`"):
        default_model_path()
    save_tiny_detector(tmp_path / "default_model")
    assert default_model_path() == tmp_path / "default_model"
    model, processor = load_detector(None)
    assert isinstance(model, DelocateForDeepfakeDetection) and isinstance(processor, DelocateFaceProcessor)


def test_load_detector_bad_model(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_detector(tmp_path / "nothing-here")


def test_bfloat16_detection_matches_float32(model_dir, carphone):
    """`load_detector(dtype="bfloat16")` runs the model in bfloat16: same frames, scores within bfloat16 rounding;
    float16 on CPU and unknown dtypes are refused with a one-line error."""
    import torch

    from processing.errors import DelocateInputError

    model32, processor = load_detector(model_dir)
    model16, _ = load_detector(model_dir, dtype="bfloat16")
    assert model16.dtype == torch.bfloat16 and model32.dtype == torch.float32
    a = detect_video(carphone, model32, processor, progress=False)
    b = detect_video(carphone, model16, processor, progress=False)
    assert a.frame_indices.tolist() == b.frame_indices.tolist() and b.masks.dtype == np.float32
    assert abs(a.score - b.score) < 0.02 and b.score != a.score  # really computed in another precision
    assert np.abs(a.masks - b.masks).max() < 0.05
    with pytest.raises(DelocateInputError, match="float16 needs a CUDA device"):
        load_detector(model_dir, dtype="float16")
    with pytest.raises(DelocateInputError, match="dtype must be one of"):
        load_detector(model_dir, dtype="int8")


def test_inference_modules_import_no_circle():
    """The modules of `delocate_hf/inference/` import each other (relative imports, at any depth of the code)
    without a cycle, and the ones the pipeline and the CLI build on do not import them back."""
    import ast
    from pathlib import Path

    folder = Path(detect_video.__code__.co_filename).parent
    graph = {}
    for path in folder.glob("*.py"):
        if path.stem == "__init__":
            continue
        graph[path.stem] = {n.module.split(".")[0] for n in ast.walk(ast.parse(path.read_text()))
                            if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
    assert {"loading", "results", "detect", "explain", "overlay", "progress", "cli", "pipeline_deepfake"} <= set(graph)

    def reaches(start, target, seen=()):
        return any(m == target or (m not in seen and reaches(m, target, (*seen, m))) for m in graph.get(start, ()))

    assert not [m for m in graph if reaches(m, m)]
    assert graph["loading"] <= {"devices"} and not graph["results"] and not graph["progress"] and not graph["devices"]
    assert "cli" not in graph["detect"] and "detect" not in graph["overlay"]


REGISTRATION_PROBE = """
import json, sys
first = sys.argv[2]
if first == "transformers":
    from transformers import AutoConfig  # transformers before the package
import delocate_hf
light = not any(m in sys.modules for m in ("torch", "modeling", "processing")) or first == "transformers"
from transformers import AutoImageProcessor, AutoModel
model = AutoModel.from_pretrained(sys.argv[1])
processor = AutoImageProcessor.from_pretrained(sys.argv[1])
from transformers import pipeline
detector = pipeline("deepfake-detection", model=sys.argv[1])
print(json.dumps({"light": light, "model": type(model).__name__, "processor": type(processor).__name__,
                  "pipeline": type(detector).__name__}))
"""


@pytest.mark.parametrize("first", ["delocate_hf", "transformers"])
def test_lazy_import_still_registers_everything(model_dir, first):
    """`import delocate_hf` imports neither torch nor the models, yet AutoModel / AutoImageProcessor / pipeline(...)
    find the Delocate classes and task afterwards, in a fresh process, whichever of the two is imported first."""
    import json
    import subprocess
    import sys

    from conftest import HANG_TIMEOUT

    proc = subprocess.run([sys.executable, "-c", REGISTRATION_PROBE, str(model_dir), first], capture_output=True,
                          text=True, timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data == {"light": True, "model": "DelocateForDeepfakeDetection", "processor": "DelocateFaceProcessor",
                    "pipeline": "DeepfakeDetectionPipeline"}
