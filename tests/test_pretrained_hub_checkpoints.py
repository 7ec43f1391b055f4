"""Hugging Face checkpoints into Delocate's modules (`delocate_hf.pretrained.hub_checkpoints`, issue 28).

The checkpoints are small real transformers models (`VideoMAEForPreTraining`, `VideoMAEModel`,
`VideoMAEForVideoClassification`, `ResNetForImageClassification`, `ResNetModel`) written by their own
`save_pretrained` (config.json + model.safetensors, the real key names), or as `pytorch_model.bin`, into a folder or
into a Hugging Face cache laid out as `huggingface_hub` writes it, read offline (HF_HUB_OFFLINE=1, tests/conftest.py).
"""

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants as hub_constants
from safetensors.torch import load_file
from transformers import (
    ResNetConfig,
    ResNetForImageClassification,
    ResNetModel,
    VideoMAEConfig,
    VideoMAEForPreTraining,
    VideoMAEForVideoClassification,
    VideoMAEModel,
)

from delocate_hf.pretrained import InitReport
from delocate_hf.pretrained.hub_checkpoints import (
    init_mapping_from_resnet,
    init_recovery_from_videomae,
    resnet_target_name,
    videomae_target_name,
)
from modeling import (
    DelocateConfig,
    DelocateForForgeryLocalization,
    DelocateForMaskedRecovery,
    DelocateForVideoClassification,
)

CARD = "---\nlicense: cc-by-nc-4.0\ntags:\n- video\n---\n# tiny test checkpoint\n"


def videomae_config(**overrides) -> VideoMAEConfig:
    """The VideoMAE config of `DelocateConfig.tiny()` (encoder and decoder), with `overrides`."""
    values = DelocateConfig.tiny().to_videomae_config().to_dict()
    values.update(overrides)
    return VideoMAEConfig.from_dict(values)


def save(model, folder: Path, card: str | None = None) -> Path:
    torch.manual_seed(0)
    model.save_pretrained(folder)
    if card is not None:
        (folder / "README.md").write_text(card)
    return folder


def randomised(model):
    """`model` with every parameter and float buffer drawn at random (so nothing equals a fresh model by chance:
    layer norms, BatchNorm statistics and zero-initialised biases included)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator) + 0.5 if "running_var" in name \
                    else torch.randn(tensor.shape, generator=generator)
                tensor.copy_(values)
            elif "num_batches_tracked" in name:
                tensor.fill_(123)
    return model


def stored(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def clip(config: DelocateConfig, seed: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(2, config.num_frames, 3, config.image_size, config.image_size, generator=generator)


def a_mask(config: DelocateConfig) -> torch.Tensor:
    """`(2, seq_length)`: the same count masked in both samples, different tokens."""
    generator = torch.Generator().manual_seed(3)
    keep = config.seq_length // 4
    return torch.stack([torch.randperm(config.seq_length, generator=generator) >= keep for _ in range(2)])


def assert_all_equal(model_state: dict, checkpoint: dict, rename) -> int:
    """Every checkpoint tensor that `rename` maps into `model_state` equals it there; returns how many."""
    count = 0
    for name, tensor in checkpoint.items():
        target = rename(name)
        if target in model_state:
            assert torch.equal(model_state[target], tensor), name
            count += 1
    return count


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


# ---------------------------------------------------------------------------------------------------------------
# VideoMAE
# ---------------------------------------------------------------------------------------------------------------


def test_key_names_follow_the_saved_checkpoints():
    assert videomae_target_name("videomae.encoder.layer.0.attention.attention.q_bias") == \
        "videomae.encoder.layer.0.attention.attention.query.bias"
    assert videomae_target_name("encoder.layer.3.attention.attention.v_bias") == \
        "videomae.encoder.layer.3.attention.attention.value.bias"
    assert videomae_target_name("embeddings.patch_embeddings.projection.weight") == \
        "videomae.embeddings.patch_embeddings.projection.weight"
    for kept in ("encoder_to_decoder.weight", "mask_token", "decoder.decoder_layers.0.output.dense.bias",
                 "decoder.head.weight", "fc_norm.weight", "classifier.bias"):
        assert videomae_target_name(kept) == kept
    assert resnet_target_name("resnet.encoder.stages.2.layers.0.shortcut.convolution.weight") == \
        "backbone.encoder.stages.2.layers.0.shortcut.convolution.weight"
    assert resnet_target_name("embedder.embedder.normalization.running_var") == \
        "backbone.embedder.embedder.normalization.running_var"
    assert resnet_target_name("classifier.1.weight") == "classifier.1.weight"


def test_pretraining_checkpoint_initialises_the_whole_recovery_model(tmp_path):
    reference = randomised(VideoMAEForPreTraining(videomae_config())).eval()
    folder = save(reference, tmp_path / "videomae-pretraining", CARD)
    checkpoint = stored(folder)
    # the real names transformers writes: `videomae.` prefix, q_bias / v_bias, the decoder beside the encoder
    assert "videomae.encoder.layer.0.attention.attention.q_bias" in checkpoint
    assert {"encoder_to_decoder.weight", "mask_token", "decoder.head.weight", "decoder.norm.bias"} <= set(checkpoint)

    config = DelocateConfig.tiny()
    torch.manual_seed(5)
    model = DelocateForMaskedRecovery(config).eval()
    report = init_recovery_from_videomae(model, str(folder))

    state = model.state_dict()
    assert assert_all_equal(state, checkpoint, videomae_target_name) == len(checkpoint) == len(state)
    assert torch.equal(model.videomae.encoder.layer[1].attention.attention.query.bias,
                       checkpoint["videomae.encoder.layer.1.attention.attention.q_bias"])
    assert torch.equal(model.videomae.embeddings.patch_embeddings.projection.weight,
                       reference.videomae.embeddings.patch_embeddings.projection.weight)
    assert torch.equal(model.mask_token, reference.mask_token)
    assert torch.equal(model.decoder.head.weight, reference.decoder.head.weight)

    assert isinstance(report, InitReport)
    assert (len(report.loaded), len(report.initialised), len(report.unused)) == (len(state), 0, 0)
    assert report.target == "DelocateForMaskedRecovery" and report.source == str(folder)
    assert report.licence == "cc-by-nc-4.0" and report.notes == []
    assert report.summary() == (f"init: DelocateForMaskedRecovery <- {folder}: {len(state)} tensors loaded, "
                                "0 newly initialised, 0 checkpoint tensors unused")

    # the same network: encoder outputs (all tokens, and visible tokens only) and the decoder's masked-patch logits
    pixel_values, mask = clip(config), a_mask(config)
    with torch.no_grad():
        assert torch.allclose(model.videomae(pixel_values).last_hidden_state,
                              reference.videomae(pixel_values).last_hidden_state, atol=1e-6)
        latent = model.forward_encoder(pixel_values, mask).last_hidden_state
        assert torch.allclose(latent, reference.videomae(pixel_values, bool_masked_pos=mask).last_hidden_state,
                              atol=1e-6)
        assert torch.allclose(model.forward_decoder(latent, mask),
                              reference(pixel_values, bool_masked_pos=mask).logits, atol=1e-5)


def test_encoder_only_checkpoint_leaves_the_decoder_side_new(tmp_path):
    reference = randomised(VideoMAEModel(videomae_config())).eval()
    folder = save(reference, tmp_path / "videomae-model")
    checkpoint = stored(folder)
    assert "encoder.layer.0.attention.attention.q_bias" in checkpoint  # VideoMAEModel: no `videomae.` prefix

    config = DelocateConfig.tiny()
    model = DelocateForMaskedRecovery(config).eval()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    report = init_recovery_from_videomae(model, str(folder))

    state = model.state_dict()
    assert assert_all_equal(state, checkpoint, videomae_target_name) == len(checkpoint)
    decoder_side = [name for name in state if not name.startswith("videomae.")]
    assert decoder_side and all(torch.equal(state[name], before[name]) for name in decoder_side)
    assert report.loaded == [name for name in state if name.startswith("videomae.")]
    assert report.initialised == decoder_side and report.unused == []
    assert report.licence is None
    assert report.notes == ["decoder newly initialised: the checkpoint has none (an encoder-only checkpoint)"]
    assert "decoder newly initialised" in report.summary()
    with torch.no_grad():
        pixel_values = clip(config)
        assert torch.allclose(model.videomae(pixel_values).last_hidden_state,
                              reference(pixel_values).last_hidden_state, atol=1e-6)


def test_final_encoder_norm_of_self_supervised_checkpoints(tmp_path):
    """VideoMAE's pretraining checkpoints (videomae-base) are converted with use_mean_pooling=False: they hold the
    encoder's final norm, on whose output their decoder was trained. Delocate's default (use_mean_pooling=True) has
    no place for it and says so; with use_mean_pooling=False the recovery model is the checkpoint's network."""
    reference = randomised(VideoMAEForPreTraining(videomae_config(use_mean_pooling=False))).eval()
    folder = save(reference, tmp_path / "videomae-base-like")
    assert {"videomae.layernorm.weight", "videomae.layernorm.bias"} <= set(stored(folder))

    default = DelocateForMaskedRecovery(DelocateConfig.tiny())
    report = init_recovery_from_videomae(default, str(folder))
    assert sorted(report.unused) == ["videomae.layernorm.bias", "videomae.layernorm.weight"]
    assert report.initialised == []
    assert report.notes == ["the checkpoint's final encoder norm (videomae.layernorm, use_mean_pooling=False) is "
                            "unused: the model has use_mean_pooling=True, no final norm, so its pretrained decoder "
                            "sees un-normalised latents"]

    config = DelocateConfig.tiny(use_mean_pooling=False)
    model = DelocateForMaskedRecovery(config).eval()
    report = init_recovery_from_videomae(model, str(folder))
    assert (len(report.loaded), report.initialised, report.unused, report.notes) == (
        len(model.state_dict()), [], [], [])
    pixel_values, mask = clip(config), a_mask(config)
    with torch.no_grad():
        latent = model.forward_encoder(pixel_values, mask).last_hidden_state
        assert torch.allclose(model.forward_decoder(latent, mask),
                              reference(pixel_values, bool_masked_pos=mask).logits, atol=1e-5)

    # the other way round: a model with a final norm from a checkpoint without one
    report = init_recovery_from_videomae(model, str(save(VideoMAEModel(videomae_config()), tmp_path / "no-norm")))
    assert {"videomae.layernorm.weight", "videomae.layernorm.bias"} <= set(report.initialised)
    assert "videomae.layernorm newly initialised: the checkpoint has no final encoder norm" in report.notes


def test_decoder_of_another_size_stays_new_and_the_report_says_why(tmp_path):
    wide = videomae_config(decoder_hidden_size=64, decoder_num_hidden_layers=2)
    folder = save(randomised(VideoMAEForPreTraining(wide)), tmp_path / "videomae-wide-decoder")
    checkpoint = stored(folder)
    model = DelocateForMaskedRecovery(DelocateConfig.tiny())
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    report = init_recovery_from_videomae(model, str(folder))

    state = model.state_dict()
    encoder = [name for name in state if name.startswith("videomae.")]
    assert report.loaded == encoder
    assert all(torch.equal(state[name], before[name]) for name in report.initialised)
    assert set(report.initialised) == set(state) - set(encoder)
    assert sorted(report.unused) == sorted(name for name in checkpoint if not name.startswith("videomae."))
    assert report.notes == ["decoder newly initialised: decoder_hidden_size 64 != model's 32, "
                            "decoder_num_hidden_layers 2 != model's 1"]


def test_other_frames_and_image_size_load_with_the_models_own_positions(tmp_path):
    folder = save(randomised(VideoMAEForPreTraining(videomae_config(num_frames=8, image_size=32))),
                  tmp_path / "videomae-8x32")
    config = DelocateConfig.tiny()  # 4 frames, 64 px
    model = DelocateForMaskedRecovery(config).eval()
    report = init_recovery_from_videomae(model, str(folder))
    assert len(report.initialised) == 0 and len(report.unused) == 0
    assert report.notes == ["positions: fixed sin-cos table of the model's 2x4x4 tokens (checkpoint's 4x2x2), "
                            "no interpolation needed"]
    # the model's encoder is VideoMAE at the model's own size with the checkpoint's weights: positions are not stored
    assert not any("position" in name for name in stored(folder))
    same = VideoMAEModel(config.to_videomae_config()).eval()
    same.load_state_dict(model.videomae.state_dict())
    with torch.no_grad():
        pixel_values = clip(config)
        assert torch.equal(model.videomae(pixel_values).last_hidden_state, same(pixel_values).last_hidden_state)


def test_classification_checkpoint_into_the_stage1b_classifier(tmp_path):
    reference = randomised(VideoMAEForVideoClassification(videomae_config(num_labels=5))).eval()
    folder = save(reference, tmp_path / "videomae-kinetics")
    checkpoint = stored(folder)
    config = DelocateConfig.tiny()
    model = DelocateForVideoClassification(config).eval()
    head = model.classifier.weight.detach().clone()
    report = init_recovery_from_videomae(model, str(folder))

    assert report.target == "DelocateForVideoClassification"
    assert torch.equal(model.fc_norm.weight, reference.fc_norm.weight)
    assert torch.equal(model.classifier.weight, head)  # Kinetics' 5 labels are not a fake logit
    assert report.initialised == ["classifier.weight", "classifier.bias"]
    assert sorted(report.unused) == ["classifier.bias", "classifier.weight"]
    assert len(report.loaded) == len(checkpoint) - 2 and report.notes == []
    with torch.no_grad():
        pixel_values = clip(config)
        assert torch.allclose(model.videomae(pixel_values).last_hidden_state,
                              reference.videomae(pixel_values).last_hidden_state, atol=1e-6)

    recovery = DelocateForMaskedRecovery(config)  # the classifier's parts have no place in the recovery model
    report = init_recovery_from_videomae(recovery, str(folder))
    assert sorted(report.unused) == ["classifier.bias", "classifier.weight", "fc_norm.bias", "fc_norm.weight"]


def test_pytorch_model_bin_with_the_original_names(tmp_path):
    """An older checkpoint: `pytorch_model.bin` only, `qkv_bias` in config.json (read with weights_only=True)."""
    reference = randomised(VideoMAEForPreTraining(videomae_config()))
    folder = save(reference, tmp_path / "videomae-bin")
    checkpoint = stored(folder)
    torch.save(checkpoint, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    settings = json.loads((folder / "config.json").read_text())
    settings["qkv_bias"] = settings.pop("qv_bias")
    (folder / "config.json").write_text(json.dumps(settings))

    model = DelocateForMaskedRecovery(DelocateConfig.tiny())
    report = init_recovery_from_videomae(model, str(folder))
    assert assert_all_equal(model.state_dict(), checkpoint, videomae_target_name) == len(checkpoint)
    assert len(report.loaded) == len(checkpoint) and report.initialised == [] == report.unused


@pytest.mark.parametrize("overrides, expected", [
    (dict(patch_size=8), "patch_size 8 != model's 16"),
    (dict(tubelet_size=1), "tubelet_size 1 != model's 2"),
    (dict(hidden_size=64, intermediate_size=128), "hidden_size 64 != model's 32; intermediate_size 128 != model's 64"),
    (dict(num_hidden_layers=3), "num_hidden_layers 3 != model's 2"),
    (dict(num_attention_heads=4), "num_attention_heads 4 != model's 2"),
])
def test_encoder_mismatch_is_a_one_line_error_naming_the_flag(tmp_path, overrides, expected):
    folder = save(VideoMAEForPreTraining(videomae_config(**overrides)), tmp_path / "mismatch")
    model = DelocateForMaskedRecovery(DelocateConfig.tiny())
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    with pytest.raises(ValueError) as error:
        init_recovery_from_videomae(model, str(folder))
    assert one_line(error) == f"--init_videomae {folder}: {expected}"
    assert all(torch.equal(tensor, before[name]) for name, tensor in model.state_dict().items())


def test_wrong_kind_of_checkpoint_is_a_one_line_error(tmp_path):
    folder = save(ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")),
                  tmp_path / "resnet")
    with pytest.raises(ValueError) as error:
        init_recovery_from_videomae(DelocateForMaskedRecovery(DelocateConfig.tiny()), str(folder), flag="--videomae")
    assert one_line(error).startswith(f"--videomae {folder}: a resnet checkpoint, expected a videomae one")
    with pytest.raises(ValueError) as error:
        init_mapping_from_resnet(DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.mapping,
                                 str(save(VideoMAEModel(videomae_config()), tmp_path / "vmae")))
    assert "--init_backbone" in one_line(error) and "a videomae checkpoint, expected a resnet one" in str(error.value)


# ---------------------------------------------------------------------------------------------------------------
# ResNet
# ---------------------------------------------------------------------------------------------------------------


def resnet_config(**overrides) -> ResNetConfig:
    """ResNet-18's layout at `DelocateConfig.tiny()`'s widths (all four stages, as the Hub's checkpoints have)."""
    values = dict(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[2, 2, 2, 2], layer_type="basic",
                  hidden_act="relu", downsample_in_first_stage=False, num_labels=7)
    values.update(overrides)
    return ResNetConfig(**values)


@pytest.mark.parametrize("head", [True, False], ids=["ResNetForImageClassification", "ResNetModel"])
def test_resnet_checkpoint_initialises_the_mapping_backbone(tmp_path, head):
    reference = randomised((ResNetForImageClassification if head else ResNetModel)(resnet_config())).eval()
    folder = save(reference, tmp_path / "resnet-18", "---\nlicense: apache-2.0\n---\n")
    checkpoint = stored(folder)
    prefix = "resnet." if head else ""
    assert f"{prefix}embedder.embedder.convolution.weight" in checkpoint
    assert f"{prefix}encoder.stages.3.layers.1.layer.1.normalization.running_var" in checkpoint
    assert ("classifier.1.weight" in checkpoint) == head

    config = DelocateConfig.tiny()  # mapping_num_stages=3
    mapping = DelocateForForgeryLocalization(config).localizer.mapping.eval()
    mapping_convs = {name: tensor.clone() for name, tensor in mapping.state_dict().items()
                     if not name.startswith("backbone.")}
    report = init_mapping_from_resnet(mapping, str(folder))

    state = mapping.state_dict()
    backbone = [name for name in state if name.startswith("backbone.")]
    assert assert_all_equal(state, checkpoint, resnet_target_name) == len(backbone)
    assert torch.equal(mapping.backbone.embedder.embedder.normalization.running_mean,
                       checkpoint[f"{prefix}embedder.embedder.normalization.running_mean"])
    assert torch.equal(mapping.backbone.encoder.stages[2].layers[0].shortcut.convolution.weight,
                       checkpoint[f"{prefix}encoder.stages.2.layers.0.shortcut.convolution.weight"])
    assert all(torch.equal(state[name], tensor) for name, tensor in mapping_convs.items())

    unused = [name for name in checkpoint if ".stages.3." in name or name.startswith("classifier.")]
    assert report.loaded == backbone and report.initialised == list(mapping_convs)
    assert sorted(report.unused) == sorted(unused) and len(unused) == len(checkpoint) - len(backbone)
    assert report.target == "DelocateMappingModule" and report.licence == "apache-2.0"
    assert report.summary().startswith(f"init: DelocateMappingModule <- {folder}: {len(backbone)} tensors loaded, "
                                       f"{len(mapping_convs)} newly initialised (conv1.0.weight, ")

    resnet = reference.resnet if head else reference
    with torch.no_grad():  # stem and the three stages the mapping uses: the same features
        frames = clip(config)[:, 0]
        ours = mapping.backbone(frames, output_hidden_states=True).hidden_states
        theirs = resnet(frames, output_hidden_states=True).hidden_states
        assert len(ours) == 4
        for mine, reference_features in zip(ours, theirs):
            assert torch.equal(mine, reference_features)


@pytest.mark.parametrize("overrides, expected", [
    (dict(hidden_sizes=[64, 128, 256, 512], embedding_size=64),
     "embedding_size 64 != model's 8; hidden_sizes[:3] [64, 128, 256] != model's [8, 16, 32]"),
    (dict(layer_type="bottleneck"), "layer_type 'bottleneck' != model's 'basic'"),
    (dict(depths=[3, 4, 6, 3]), "depths[:3] [3, 4, 6] != model's [2, 2, 2]"),
    (dict(hidden_sizes=[8, 16], depths=[2, 2]), "hidden_sizes[:3] [8, 16] != model's [8, 16, 32]; "
                                                "depths[:3] [2, 2] != model's [2, 2, 2]"),
])
def test_resnet_width_mismatch_is_a_one_line_error_naming_the_flag(tmp_path, overrides, expected):
    folder = save(ResNetForImageClassification(resnet_config(**overrides)), tmp_path / "resnet-other")
    mapping = DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.mapping
    with pytest.raises(ValueError) as error:
        init_mapping_from_resnet(mapping, str(folder))
    assert one_line(error) == f"--init_backbone {folder}: {expected}"


# ---------------------------------------------------------------------------------------------------------------
# Where the checkpoint comes from: folders, the Hub's cache, offline
# ---------------------------------------------------------------------------------------------------------------


def test_a_missing_folder_names_the_flag(tmp_path):
    model = DelocateForMaskedRecovery(DelocateConfig.tiny())
    for source in (str(tmp_path / "no-such-folder"), "./checkpoints/videomae", "~/nowhere/videomae/"):
        with pytest.raises(FileNotFoundError) as error:
            init_recovery_from_videomae(model, source)
        assert one_line(error) == f"--init_videomae {source}: no such folder"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as error:
        init_mapping_from_resnet(DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.mapping, str(empty))
    assert one_line(error) == f"--init_backbone {empty}: the folder has no config.json"
    (empty / "config.json").write_text(json.dumps(videomae_config().to_dict()))
    with pytest.raises(FileNotFoundError) as error:
        init_recovery_from_videomae(model, str(empty))
    assert one_line(error) == f"--init_videomae {empty}: no model.safetensors or pytorch_model.bin"


def test_a_hub_id_that_is_not_cached_while_offline_names_the_flag(tmp_path, monkeypatch):
    assert os.environ["HF_HUB_OFFLINE"] == "1" and hub_constants.is_offline_mode()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    model = DelocateForMaskedRecovery(DelocateConfig.tiny())
    with pytest.raises(OSError) as error:
        init_recovery_from_videomae(model, "MCG-NJU/videomae-base")
    message = one_line(error)
    cache = tmp_path / "empty-cache"
    assert message.startswith("--init_videomae MCG-NJU/videomae-base: not a local folder, and not in the local "
                              f"Hugging Face cache ({cache}) and the Hub is offline (HF_HUB_OFFLINE=1)")
    mapping = DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.mapping
    with pytest.raises(OSError) as error:
        init_mapping_from_resnet(mapping, "microsoft/resnet-18", flag="--init_backbone")
    assert one_line(error).startswith("--init_backbone microsoft/resnet-18: not a local folder, and not in the local")
    with pytest.raises(ValueError) as error:
        init_recovery_from_videomae(model, "not a hub id")
    assert one_line(error) == "--init_videomae not a hub id: neither an existing folder nor a valid Hub id"


def write_hub_cache(cache: Path, repo_id: str, folder: Path, files: list[str]) -> str:
    """`folder`'s `files` laid out as `huggingface_hub` caches a model repository: content-addressed blobs,
    `snapshots/<commit>/<file>` links to them, `refs/main` naming the commit. Returns the commit."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "blobs").mkdir()
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in files:
        data = (folder / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    return commit


@pytest.mark.parametrize("weights", ["model.safetensors", "pytorch_model.bin"])
def test_a_hub_id_resolves_offline_from_the_hub_cache(tmp_path, monkeypatch, weights):
    """The Hub code path (`hf_hub_download` with HF_HUB_OFFLINE=1) reads a cached checkpoint by its id."""
    reference = randomised(VideoMAEForPreTraining(videomae_config()))
    folder = save(reference, tmp_path / "download", CARD)
    checkpoint = stored(folder)
    if weights == "pytorch_model.bin":
        torch.save(checkpoint, folder / weights)
    cache = tmp_path / "hub"
    write_hub_cache(cache, "tiny-org/videomae-tiny", folder, ["config.json", weights, "README.md"])
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    model = DelocateForMaskedRecovery(DelocateConfig.tiny())
    report = init_recovery_from_videomae(model, "tiny-org/videomae-tiny")

    assert assert_all_equal(model.state_dict(), checkpoint, videomae_target_name) == len(checkpoint)
    assert report.source == "tiny-org/videomae-tiny" and report.licence == "cc-by-nc-4.0"
    assert len(report.loaded) == len(checkpoint) and report.initialised == [] == report.unused
    assert report.summary().startswith("init: DelocateForMaskedRecovery <- tiny-org/videomae-tiny: "
                                       f"{len(checkpoint)} tensors loaded")
    # an explicit cache_dir reads the same cache; a cached config without cached weights says what is missing
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert init_recovery_from_videomae(model, "tiny-org/videomae-tiny", cache_dir=cache).loaded == report.loaded
    write_hub_cache(cache, "tiny-org/config-only", folder, ["config.json"])
    with pytest.raises(OSError) as error:
        init_recovery_from_videomae(model, "tiny-org/config-only", cache_dir=cache)
    assert one_line(error) == ("--init_videomae tiny-org/config-only: its weights (model.safetensors or "
                               f"pytorch_model.bin) are not in the local Hugging Face cache ({cache}) and the Hub is "
                               "offline (HF_HUB_OFFLINE=1); run once online to cache them, or pass a local folder")


def test_sharded_resnet_checkpoint_from_the_hub_cache(tmp_path, monkeypatch):
    """`model.safetensors.index.json` and its shards, as `save_pretrained(max_shard_size=...)` writes them."""
    reference = randomised(ResNetForImageClassification(resnet_config()))
    folder = tmp_path / "sharded"
    reference.save_pretrained(folder, max_shard_size="20KB")
    files = sorted(path.name for path in folder.iterdir())
    assert "model.safetensors.index.json" in files and "model.safetensors" not in files
    cache = tmp_path / "hub"
    write_hub_cache(cache, "tiny-org/resnet-tiny", folder, files)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    mapping = DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.mapping
    report = init_mapping_from_resnet(mapping, "tiny-org/resnet-tiny")
    expected = reference.resnet.state_dict()
    for name, tensor in mapping.backbone.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    assert len(report.loaded) == len(mapping.backbone.state_dict()) and report.licence is None


def test_online_hub_answers(tmp_path, monkeypatch):
    """The Hub's answers while online, played by a stand-in for `hf_hub_download` (no network in tests): a repository
    with only `pytorch_model.bin` loads from it; no such repository, no connection and other HTTP errors are one-line
    errors naming the flag."""
    from types import SimpleNamespace

    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    from delocate_hf.pretrained import hub_checkpoints

    reference = randomised(VideoMAEModel(videomae_config()))
    folder = save(reference, tmp_path / "bin-only")
    checkpoint = stored(folder)
    torch.save(checkpoint, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    response = SimpleNamespace(headers={}, request=None)
    answer = {}

    def hub_download(repo_id, filename, cache_dir=None):
        assert repo_id == "org/videomae" and cache_dir is None
        if "error" in answer:
            raise answer["error"]
        if not (folder / filename).exists():
            raise RemoteEntryNotFoundError(f"404 Client Error. Entry Not Found: {filename}", response=response)
        return str(folder / filename)

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_checkpoints, "hf_hub_download", hub_download)
    model = DelocateForMaskedRecovery(DelocateConfig.tiny())
    report = init_recovery_from_videomae(model, "org/videomae")
    assert assert_all_equal(model.state_dict(), checkpoint, videomae_target_name) == len(checkpoint)
    assert len(report.loaded) == len(checkpoint)

    for error, expected in [
        (RepositoryNotFoundError("404 Client Error.\nRepository Not Found", response=response),
         "not a local folder, and no model of that id on the Hub (or it is private or gated: log in with "
         "`hf auth login`)"),
        (LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub\nand more"),
         f"not a local folder, and not in the local Hugging Face cache ({hub_constants.HF_HUB_CACHE}) and the Hub "
         "could not be reached; run once online to cache it, or pass a local folder"),
        (HfHubHTTPError("500 Server Error: Internal Server Error\nfor url: ...", response=response),
         "the Hub refused config.json: 500 Server Error: Internal Server Error"),
    ]:
        answer["error"] = error
        with pytest.raises(OSError) as raised:
            init_recovery_from_videomae(model, "org/videomae")
        assert one_line(raised) == f"--init_videomae org/videomae: {expected}"


def test_resnet_checkpoint_needs_the_resnet_mapping_backbone(tmp_path):
    folder = save(ResNetForImageClassification(resnet_config()), tmp_path / "resnet-18")
    config = DelocateConfig.tiny(mapping_backbone="efficientnet-lite0")
    mapping = DelocateForForgeryLocalization(config).localizer.mapping
    with pytest.raises(ValueError) as error:
        init_mapping_from_resnet(mapping, str(folder))
    assert one_line(error) == (f"--init_backbone {folder}: the mapping module's backbone is EfficientNetLite, not a "
                               "ResNet; a ResNet checkpoint needs the ResNet mapping backbone")
    mapping = DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.mapping
    report = init_mapping_from_resnet(mapping, str(folder), target="DelocateForForgeryLocalization.localizer.mapping")
    assert report.summary().startswith(f"init: DelocateForForgeryLocalization.localizer.mapping <- {folder}: ")
