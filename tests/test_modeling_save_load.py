"""Saving and loading the Delocate models: every head round-trips through `save_pretrained` / its Auto class
(safetensors only, `auto_map` into modeling_delocate.py), the detector loads in a fresh interpreter, stage checkpoints
assemble into the classifier and the detector, and the shipped default model's checkpoint loads and saves back
unchanged. Tiny configs and random tensors."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoModel,
    AutoModelForImageSegmentation,
    AutoModelForPreTraining,
    AutoModelForVideoClassification,
)

from modeling import (
    DelocateConfig,
    DelocateForDeepfakeDetection,
    DelocateForForgeryLocalization,
    DelocateForMaskedRecovery,
    DelocateForVideoClassification,
)

from conftest import HANG_TIMEOUT
from test_modeling import clip, config, random_mask  # noqa: F401  (clip, config: fixtures)

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "delocate_hf" / "default_model"


def test_classifier_loads_the_stage1_encoder(config, clip, tmp_path):
    recovery = DelocateForMaskedRecovery(config)
    recovery.save_pretrained(tmp_path / "stage1")
    classifier = DelocateForVideoClassification.from_pretrained(tmp_path / "stage1")
    for name, tensor in recovery.videomae.state_dict().items():
        torch.testing.assert_close(classifier.videomae.state_dict()[name], tensor, msg=name)
    assert classifier(clip).loss is None


def test_detector_from_recovery_can_keep_the_autoencoder(config, clip):
    recovery = DelocateForMaskedRecovery(config)
    detector = DelocateForDeepfakeDetection.from_stages(recovery, DelocateForForgeryLocalization(config), recovery=recovery)
    assert detector.config.detector_include_recovery and detector.recovery is not None
    torch.testing.assert_close(detector.videomae.state_dict(), recovery.videomae.state_dict())
    mask = random_mask(config, 2)
    torch.testing.assert_close(
        detector.recovery(clip, bool_masked_pos=mask).reconstruction,
        recovery(clip, bool_masked_pos=mask).reconstruction,
    )


def test_detector_copies_the_localization_settings_of_stage_2(config):
    localizer = DelocateForForgeryLocalization(DelocateConfig.tiny(localization_loss="bce_dice", localization_pos_weight=8))
    detector = DelocateForDeepfakeDetection.from_stages(DelocateForVideoClassification(config), localizer)
    assert (detector.config.localization_loss, detector.config.localization_pos_weight) == ("bce_dice", 8)


MODEL_CASES = [
    (DelocateForMaskedRecovery, AutoModelForPreTraining),
    (DelocateForVideoClassification, AutoModelForVideoClassification),
    (DelocateForForgeryLocalization, AutoModelForImageSegmentation),
    (DelocateForDeepfakeDetection, AutoModel),
]


def model_outputs(model, clip, config):
    with torch.no_grad():
        if isinstance(model, DelocateForMaskedRecovery):
            return model(clip, bool_masked_pos=random_mask(config, clip.shape[0])).reconstruction
        if isinstance(model, DelocateForForgeryLocalization):
            return model(clip).mask_logits
        if isinstance(model, DelocateForDeepfakeDetection):
            return model(clip).masks
        return model(clip).logits


@pytest.mark.parametrize("model_class,auto_class", MODEL_CASES)
def test_save_load_round_trip_and_auto_class(model_class, auto_class, config, clip, tmp_path):
    model = model_class(config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["auto_map"]["AutoConfig"] == "configuration_delocate.DelocateConfig"
    assert saved["auto_map"][auto_class.__name__] == f"modeling_delocate.{model_class.__name__}"
    loaded, info = auto_class.from_pretrained(tmp_path, output_loading_info=True)
    assert type(loaded) is model_class
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    torch.testing.assert_close(model_outputs(loaded.eval(), clip, config), model_outputs(model, clip, config))


def test_round_trip_in_fresh_process(config, clip, tmp_path):
    """Save here, load with AutoModel in a new interpreter, compare the detector's outputs."""
    model = DelocateForDeepfakeDetection(config).eval()
    model.save_pretrained(tmp_path / "detector")
    torch.save(clip, tmp_path / "clip.pt")
    expected = model_outputs(model, clip, config)
    script = textwrap.dedent(f"""
        import torch, modeling
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(tmp_path / 'detector')!r}).eval()
        clip = torch.load({str(tmp_path / 'clip.pt')!r}, weights_only=True)
        with torch.no_grad():
            torch.save(model(clip).masks, {str(tmp_path / 'masks.pt')!r})
        print(type(model).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DelocateForDeepfakeDetection" in result.stdout
    torch.testing.assert_close(torch.load(tmp_path / "masks.pt", weights_only=True), expected)


def test_shipped_default_model_loads_and_saves_back_the_same_checkpoint(tmp_path):
    """The checkpoint format is unchanged: `delocate_hf/default_model/` loads with no missing, unexpected or
    mismatched keys, and saving it again writes the same keys with the same tensors (transformers renames
    VideoMAE's `q_bias`/`v_bias` on load and back on save), so old and new folders are interchangeable."""
    model, info = AutoModel.from_pretrained(DEFAULT_MODEL, output_loading_info=True)
    assert type(model) is DelocateForDeepfakeDetection
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    model.save_pretrained(tmp_path)
    shipped, resaved = load_file(DEFAULT_MODEL / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert set(resaved) == set(shipped)
    assert "localizer.decoder.head.weight" in shipped  # the segmentation head keeps its key
    for name, tensor in shipped.items():
        assert torch.equal(resaved[name], tensor), name
    config = json.loads((DEFAULT_MODEL / "config.json").read_text())
    assert set(config) <= set(json.loads((tmp_path / "config.json").read_text()))
