"""`inference.explain`: the recovery view built from what `detect_video` computed (no second decoding), the same in
the pipeline and in `delocate detect --explain`, on real video with a tiny random detector that has its recovery
autoencoder."""

import json

import cv2
import numpy as np
import pytest
import torch
from conftest import SINGLE_FACE

import delocate_hf  # noqa: F401  (registers the pipeline)
from delocate_hf import cli
from delocate_hf.inference import Explanation, detect_video, explain, load_detector
from delocate_hf.inference.explain import display_size
from modeling import DelocateConfig, DelocateForDeepfakeDetection
from processing import DelocateFaceProcessor
from processing.video_io import read_frames

# SINGLE_FACE (conftest): delocate_hf/assets/single_face.mp4, 640x360, 72 frames


@pytest.fixture(scope="module")
def loaded():
    """A random tiny detector that includes its recovery autoencoder, and its processor (64 px, 4 frames)."""
    torch.manual_seed(0)
    model = DelocateForDeepfakeDetection(DelocateConfig.tiny(detector_include_recovery=True)).eval()
    return model, DelocateFaceProcessor(num_frames=4, size=64)


@pytest.fixture(scope="module")
def model_dir(loaded, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_detector_recovery")
    for part in loaded:
        part.save_pretrained(folder)
    assert load_detector(folder)[0].recovery is not None
    return folder


@pytest.fixture(scope="module")
def result(loaded):
    model, processor = loaded
    return detect_video(str(SINGLE_FACE), model, processor, num_frames=12, progress=False, explain=True)


def test_detection_keeps_the_most_suspicious_clip_only(result, loaded):
    evidence = result.evidence
    assert len(result.clip_scores) == 3
    assert evidence.clip_index == int(np.argmax(result.clip_scores))
    assert evidence.pixel_values.shape == (4, 3, 64, 64) and evidence.roi_boxes.shape == (4, 3, 4)
    clip_frames = result.frames[evidence.clip_index * 4:(evidence.clip_index + 1) * 4]
    assert evidence.frame_indices.tolist() == [f.index for f in clip_frames]
    np.testing.assert_allclose(evidence.frame_scores, [f.score for f in clip_frames], atol=1e-6)
    # the JSON contract is unchanged by explain=True; without it nothing is kept
    model, processor = loaded
    plain = detect_video(str(SINGLE_FACE), model, processor, num_frames=12, progress=False)
    assert plain.evidence is None and set(plain.to_json_dict()) == set(result.to_json_dict())
    with pytest.raises(ValueError, match="explain=True"):
        explain(plain, model, processor)


def test_explanation_uses_the_detected_faces(result, loaded):
    """The face is the crop the detector saw: processing the same frames again (decoded afresh, landmarks tracked
    afresh) gives the same crop, and the ROI mask hides tokens of that frame only in the named part."""
    model, processor = loaded
    why = explain(result, model, processor)
    assert isinstance(why, Explanation)
    clip = read_frames(SINGLE_FACE, result.evidence.frame_indices)
    again = processor(clip.frames, num_frames=4, sampling="uniform", return_tensors="np", return_faces=True)
    t = int(np.argmax(result.evidence.frame_scores))
    assert why.frame_index == int(result.evidence.frame_indices[t])
    np.testing.assert_array_equal(why.face, again["faces"][0, t])
    assert why.token_mask.shape == (4, 4) and 0 < why.token_mask.sum() < why.token_mask.size
    assert why.masked_part in processor.parts
    assert why.reconstruction.shape == (64, 64, 3) and why.reconstruction.dtype == np.uint8
    assert why.error.shape == (64, 64) and 0.0 <= why.error.min() and why.error.max() <= 1.0
    hidden = np.kron(why.token_mask, np.ones((16, 16), dtype=bool))
    assert why.hidden_error == pytest.approx(float(why.error[hidden].mean()))
    assert np.abs(why.face.astype(int) - why.reconstruction.astype(int)).mean() > 1.0
    info = why.info()
    assert info["frame"] == why.frame_index and info["clip"] == result.evidence.clip_index + 1
    assert info["masked_tokens_in_frame"] == int(why.token_mask.sum()) and info["tokens_per_frame"] == 16
    # same seed, same view; the panels are the crops upscaled to the display size
    again_why = explain(result, model, processor)
    np.testing.assert_array_equal(again_why.reconstruction, why.reconstruction)
    panels = why.panels()
    assert set(panels) == {"face", "masked", "reconstruction", "error"}
    assert all(p.shape == (display_size(64), display_size(64), 3) for p in panels.values())


def test_pipeline_explain_matches_detect_video(model_dir, result, loaded):
    from transformers import pipeline

    pipe = pipeline("deepfake-detection", model=str(model_dir), device="cpu")
    plain = pipe(str(SINGLE_FACE), num_frames=12)
    assert "explanation" not in plain
    out = pipe(str(SINGLE_FACE), num_frames=12, explain=True)
    assert out["score"] == pytest.approx(result.score, abs=1e-6)
    why = explain(result, *loaded)
    assert {k: out["explanation"][k] for k in why.info()} == why.info()
    np.testing.assert_array_equal(out["explanation"]["face"], why.face)
    np.testing.assert_array_equal(out["explanation"]["reconstruction"], why.reconstruction)
    assert out["explanation"]["summary"] == why.summary()


def test_cli_explain_png_and_json(model_dir, tmp_path, capsys):
    png = tmp_path / "why" / "explain.png"
    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(model_dir), "--frames", "8", "--json",
                     "--explain", str(png), "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["explanation"]["png"] == str(png) and data["explanation"]["frame"] in data["frame_indices"]
    sheet = cv2.imread(str(png))
    side = display_size(64)
    assert sheet is not None and sheet.shape[1] == 4 * (side + 6) + 6 and sheet.shape[0] > side
    assert cli.main(["detect", str(SINGLE_FACE), str(SINGLE_FACE), "--model", str(model_dir),
                     "--explain", str(png)]) == cli.EXIT_BAD_INPUT
    assert "--explain take one video" in capsys.readouterr().err
