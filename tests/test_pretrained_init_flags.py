"""The training scripts' pretrained-initialisation flags (`--init_videomae`, `--init_backbone`, `--backbone_for`) on the
real stage entry points, a face-clip cache made from real video, and checkpoint folders in the real formats."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import VideoMAEConfig, VideoMAEForPreTraining

from delocate_hf.pretrained.efficientnet_lite_weights import to_efficientnet_lite_names, weights_file
from delocate_hf.training import pretrain_recovery, train_localization
from modeling import DelocateConfig, DelocateForForgeryLocalization, DelocateForMaskedRecovery

from test_training import assert_stage_refuses, common, face_clip_cache, stage1  # noqa: F401  (module fixtures)

FROZEN = ["--learning_rate", "1e-12", "--weight_decay", "0"]  # one step that leaves the weights where they started


def tiny_videomae_folder(folder: Path) -> Path:
    """A `VideoMAEForPreTraining` with `DelocateConfig.tiny()`'s transformer, saved as the Hub's checkpoints are."""
    tiny = DelocateConfig.tiny()
    config = VideoMAEConfig(image_size=tiny.image_size, patch_size=tiny.patch_size, num_frames=tiny.num_frames,
                            tubelet_size=tiny.tubelet_size, hidden_size=tiny.hidden_size,
                            num_hidden_layers=tiny.num_hidden_layers, num_attention_heads=tiny.num_attention_heads,
                            intermediate_size=tiny.intermediate_size, decoder_hidden_size=tiny.decoder_hidden_size,
                            decoder_num_hidden_layers=tiny.decoder_num_hidden_layers,
                            decoder_num_attention_heads=tiny.decoder_num_attention_heads,
                            decoder_intermediate_size=tiny.decoder_intermediate_size, use_mean_pooling=True)
    torch.manual_seed(1)
    VideoMAEForPreTraining(config).save_pretrained(folder)
    return folder


def test_stage1_starts_from_a_videomae_checkpoint_and_records_it(face_clip_cache, tmp_path):
    source = tiny_videomae_folder(tmp_path / "videomae")
    result = pretrain_recovery.main(common(face_clip_cache, tmp_path / "out", 1, "--init_videomae", str(source), *FROZEN))
    trained = load_file(str(Path(result["model_dir"]) / "model.safetensors"))
    checkpoint = load_file(str(source / "model.safetensors"))
    name = "videomae.encoder.layer.1.attention.attention.query.weight"
    torch.testing.assert_close(trained[name], checkpoint[name])
    torch.testing.assert_close(trained["decoder.head.weight"], checkpoint["decoder.head.weight"])
    config = DelocateForMaskedRecovery.from_pretrained(result["model_dir"]).config
    assert [s["source"] for s in config.init_sources] == [str(source)]


def test_stage2_builds_and_loads_the_imagenet_encoder(stage1, face_clip_cache, tmp_path):  # noqa: F811
    result = train_localization.main(common(
        face_clip_cache, tmp_path, 1, "--recovery_checkpoint", stage1["model_dir"], "--init_backbone",
        "efficientnet-lite0", "--backbone_for", "encoder", "--backbone_head", "--optimizer", "adamw", *FROZEN))
    model = DelocateForForgeryLocalization.from_pretrained(result["model_dir"])
    assert model.config.loc_encoder == "efficientnet-lite0" and model.config.mapping_backbone == "resnet"
    assert model.config.loc_encoder_head and model.localizer.encoder.backbone.head is not None
    assert [s["target"] for s in model.config.init_sources] == [
        "DelocateForForgeryLocalization.localizer.encoder.backbone"]
    imagenet = to_efficientnet_lite_names(torch.load(weights_file("efficientnet-lite0"), weights_only=True))
    own = model.localizer.encoder.backbone.state_dict()
    torch.testing.assert_close(own["blocks.8.project.conv.weight"], imagenet["blocks.8.project.conv.weight"])
    assert DelocateForMaskedRecovery.from_pretrained(stage1["model_dir"]).config.loc_encoder == "se"  # not mutated


def test_init_flags_that_cannot_be_used_end_with_one_line(stage1, face_clip_cache, tmp_path, capsys,  # noqa: F811
                                                          monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recovery = ["--recovery_checkpoint", stage1["model_dir"]]
    cases = [
        (pretrain_recovery, common(face_clip_cache, tmp_path / "a", 1, "--init_videomae", "no-such-org/videomae-x"),
         "--init_videomae"),
        (train_localization, common(face_clip_cache, tmp_path / "b", 1, *recovery, "--init_backbone",
                                    "no-such-org/resnet-x"), "--init_backbone"),
        (train_localization, common(face_clip_cache, tmp_path / "c", 1, *recovery, "--init_backbone",
                                    str(tmp_path / "no_folder")), "--init_backbone"),
        (train_localization, common(face_clip_cache, tmp_path / "d", 1, *recovery, "--init_backbone",
                                    "efficientnet-lite0", "--init_from", stage1["model_dir"]), "--init_from"),
        (train_localization, common(face_clip_cache, tmp_path / "e", 1, *recovery, "--init_backbone",
                                    str(tiny_videomae_folder(tmp_path / "vm")), "--backbone_for", "encoder"),
         "--backbone_for encoder"),
        (train_localization, common(face_clip_cache, tmp_path / "f", 1, *recovery, "--backbone_head"), "--backbone_head"),
        (train_localization, common(face_clip_cache, tmp_path / "g", 1, *recovery, "--init_backbone",
                                    "efficientnet-lite0", "--backbone_for", "mapping", "--backbone_head"),
         "--backbone_head"),
    ]
    for stage, argv, named in cases:
        assert_stage_refuses(stage, argv, named, capsys)
