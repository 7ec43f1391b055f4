"""The four Delocate models on tiny configs: shapes, losses, save/load, Auto classes, training signal."""

import json
import subprocess
import sys
import textwrap

import av
import numpy as np
import pytest
import torch
from transformers import (
    AutoConfig,
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
from modeling.modeling_delocate import patchify, unnormalize, unpatchify

B = 2


@pytest.fixture(scope="module")
def config():
    return DelocateConfig.tiny()


@pytest.fixture(scope="module")
def carphone_clip(carphone, config):
    """Real frames: the first `num_frames` of carphone, resized to the tiny image size and normalised.
    Shape (2, T, 3, S, S); the second clip starts 40 frames later."""
    frames = []
    with av.open(str(carphone)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= 40 + config.num_frames:
                break
            frames.append(frame.to_ndarray(format="rgb24", width=config.image_size, height=config.image_size))
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0  # (T, 3, S, S)
    mean = torch.tensor(config.image_mean)[:, None, None]
    std = torch.tensor(config.image_std)[:, None, None]
    video = (video - mean) / std
    return torch.stack([video[: config.num_frames], video[40 : 40 + config.num_frames]])


def random_mask(config, batch=B, count=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    count = count or int(0.75 * config.seq_length)
    mask = torch.zeros(batch, config.seq_length, dtype=torch.bool)
    for row in range(batch):
        mask[row, torch.randperm(config.seq_length, generator=generator)[:count]] = True
    return mask


def test_config_validates_values_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match="mask_ratio"):
        DelocateConfig(mask_ratio=1.2)
    with pytest.raises(ValueError, match="patch_size"):
        DelocateConfig(image_size=100)
    with pytest.raises(ValueError, match="num_frames"):
        DelocateConfig(num_frames=15)
    with pytest.raises(ValueError, match="score_fusion"):
        DelocateConfig(score_fusion="max")
    config = DelocateConfig.tiny(fusion_weight=0.3)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is DelocateConfig and loaded.fusion_weight == 0.3
    drop = lambda d: {k: v for k, v in d.items() if k != "_name_or_path"}  # noqa: E731
    assert drop(loaded.to_dict()) == drop(config.to_dict())
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "delocate"


def test_base_config_matches_the_paper():
    config = DelocateConfig()
    assert (config.image_size, config.patch_size, config.num_frames, config.tubelet_size) == (224, 16, 16, 2)
    assert (config.hidden_size, config.num_hidden_layers, config.decoder_hidden_size, config.decoder_num_hidden_layers) == (
        768, 12, 384, 4)
    assert config.seq_length == 8 * 14 * 14 and config.mask_ratio == 0.75 and config.mapped_size == 56
    resnet = config.to_resnet_config()
    assert resnet.layer_type == "basic" and list(resnet.depths) == [2, 2, 2] and list(resnet.hidden_sizes) == [64, 128, 256]


def test_patchify_round_trip(config, carphone_clip):
    frames = unnormalize(carphone_clip, config)
    patches = patchify(frames, config.tubelet_size, config.patch_size)
    assert patches.shape == (B, config.seq_length, config.tubelet_size * config.patch_size**2, 3)
    back = unpatchify(patches, config.num_frames, config.image_size, config.image_size, config.tubelet_size, config.patch_size)
    torch.testing.assert_close(back, frames)


def test_recovery_outputs_and_reconstruction(config, carphone_clip):
    model = DelocateForMaskedRecovery(config).eval()
    mask = random_mask(config)
    out = model(carphone_clip, bool_masked_pos=mask)
    num_masked = int(mask[0].sum())
    assert out.loss.ndim == 0 and out.loss > 0
    assert out.logits.shape == (B, num_masked, config.tubelet_size * config.patch_size**2 * 3)
    assert out.reconstruction.shape == carphone_clip.shape
    assert torch.equal(out.bool_masked_pos, mask)
    # visible patches come back untouched (un-normalised), masked ones are the decoder's prediction
    original = patchify(unnormalize(carphone_clip, config), config.tubelet_size, config.patch_size)
    recovered = patchify(out.reconstruction, config.tubelet_size, config.patch_size)
    torch.testing.assert_close(recovered[~mask], original[~mask].clamp(0, 1), atol=1e-5, rtol=0)
    assert not torch.allclose(recovered[mask], original[mask], atol=1e-3)
    assert out.reconstruction.min() >= 0 and out.reconstruction.max() <= 1


def test_recovery_rejects_bad_masks(config, carphone_clip):
    model = DelocateForMaskedRecovery(config)
    unequal = random_mask(config)
    unequal[1, unequal[1].nonzero()[0]] = False  # one fewer masked token in the second sample
    with pytest.raises(ValueError, match="same number of tokens"):
        model(carphone_clip, bool_masked_pos=unequal)
    with pytest.raises(ValueError, match="shape"):
        model(carphone_clip, bool_masked_pos=torch.ones(B, config.seq_length + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="needs bool_masked_pos"):
        model(carphone_clip)
    with pytest.raises(ValueError, match="pixel_values must have shape"):
        model(carphone_clip[:, :2], bool_masked_pos=random_mask(config))


def test_classifier_loss_only_with_labels_and_loads_stage1_encoder(config, carphone_clip, tmp_path):
    recovery = DelocateForMaskedRecovery(config)
    recovery.save_pretrained(tmp_path / "stage1")
    classifier = DelocateForVideoClassification.from_pretrained(tmp_path / "stage1")
    for name, tensor in recovery.videomae.state_dict().items():
        torch.testing.assert_close(classifier.videomae.state_dict()[name], tensor, msg=name)
    out = classifier(carphone_clip)
    assert out.loss is None and out.logits.shape == (B,)
    out = classifier(carphone_clip, labels=torch.tensor([0, 1]))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(out.loss, expected)


def test_localization_shapes_and_losses(config, carphone_clip):
    model = DelocateForForgeryLocalization(config)
    out = model(carphone_clip)
    T, S, s = config.num_frames, config.image_size, config.mapped_size
    assert out.loss is None
    assert out.logits.shape == (B,) and out.frame_logits.shape == (B, T)
    assert out.mask_logits.shape == (B, T, 1, S, S) and out.mapped_faces.shape == (B, T, 3, s, s)
    assert out.mapped_faces.min() >= 0 and out.mapped_faces.max() <= 1
    frames = model(carphone_clip.flatten(0, 1))  # per-frame input (N, 3, H, W)
    assert frames.mask_logits.shape == (B * T, 1, S, S) and frames.logits.shape == (B * T,)
    masks = torch.zeros(B, T, S, S)
    masks[1, :, 20:40, 20:40] = 1
    recovered = unnormalize(carphone_clip, config).clamp(0, 1)
    out = model(carphone_clip, labels=torch.tensor([0, 1]), mask_labels=masks, recovered_pixel_values=recovered)
    assert {out.loss_cls is None, out.loss_map is None, out.loss_loc is None} == {False}
    torch.testing.assert_close(out.loss, out.loss_cls + out.loss_map + out.loss_loc)
    only_masks = model(carphone_clip, mask_labels=masks)
    assert only_masks.loss_cls is None and only_masks.loss_loc is not None
    with pytest.raises(ValueError, match="mask_labels"):
        model(carphone_clip, mask_labels=torch.zeros(B, T + 1, S, S))


def test_detector_fuses_probabilities(config, carphone_clip):
    classifier = DelocateForVideoClassification(config)
    localizer = DelocateForForgeryLocalization(config)
    detector = DelocateForDeepfakeDetection.from_stages(classifier, localizer).eval()
    with torch.no_grad():
        out = detector(carphone_clip)
        stage1 = classifier.eval()(carphone_clip).logits
        stage2 = localizer.eval()(carphone_clip).logits
    torch.testing.assert_close(out.recovery_logits, stage1)
    torch.testing.assert_close(out.localization_logits, stage2)
    torch.testing.assert_close(out.probabilities, (torch.sigmoid(stage1) + torch.sigmoid(stage2)) / 2)
    torch.testing.assert_close(torch.sigmoid(out.logits), out.probabilities, atol=1e-5, rtol=0)
    T, S = config.num_frames, config.image_size
    assert out.frame_scores.shape == (B, T) and out.masks.shape == (B, T, S, S) and out.loss is None
    assert detector(carphone_clip, labels=torch.tensor([1, 0])).loss > 0


def test_detector_from_recovery_can_keep_the_autoencoder(config, carphone_clip):
    recovery = DelocateForMaskedRecovery(config)
    detector = DelocateForDeepfakeDetection.from_stages(recovery, DelocateForForgeryLocalization(config), recovery=recovery)
    assert detector.config.detector_include_recovery and detector.recovery is not None
    torch.testing.assert_close(detector.videomae.state_dict(), recovery.videomae.state_dict())
    mask = random_mask(config)
    torch.testing.assert_close(
        detector.recovery(carphone_clip, bool_masked_pos=mask).reconstruction,
        recovery(carphone_clip, bool_masked_pos=mask).reconstruction,
    )


MODEL_CASES = [
    (DelocateForMaskedRecovery, AutoModelForPreTraining),
    (DelocateForVideoClassification, AutoModelForVideoClassification),
    (DelocateForForgeryLocalization, AutoModelForImageSegmentation),
    (DelocateForDeepfakeDetection, AutoModel),
]


def model_outputs(model, clip, config):
    with torch.no_grad():
        if isinstance(model, DelocateForMaskedRecovery):
            return model(clip, bool_masked_pos=random_mask(config)).reconstruction
        if isinstance(model, DelocateForForgeryLocalization):
            return model(clip).mask_logits
        if isinstance(model, DelocateForDeepfakeDetection):
            return model(clip).masks
        return model(clip).logits


@pytest.mark.parametrize("model_class,auto_class", MODEL_CASES)
def test_save_load_round_trip_and_auto_class(model_class, auto_class, config, carphone_clip, tmp_path):
    model = model_class(config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["auto_map"]["AutoConfig"] == "configuration_delocate.DelocateConfig"
    assert saved["auto_map"][auto_class.__name__] == f"modeling_delocate.{model_class.__name__}"
    loaded = auto_class.from_pretrained(tmp_path).eval()
    assert type(loaded) is model_class
    torch.testing.assert_close(model_outputs(loaded, carphone_clip, config), model_outputs(model, carphone_clip, config))


def test_round_trip_in_fresh_process(config, carphone_clip, tmp_path):
    """Save here, load with AutoModel in a new interpreter, compare the detector's outputs on real frames."""
    model = DelocateForDeepfakeDetection(config).eval()
    model.save_pretrained(tmp_path / "detector")
    torch.save(carphone_clip, tmp_path / "clip.pt")
    expected = model_outputs(model, carphone_clip, config)
    script = textwrap.dedent(f"""
        import torch, modeling
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(tmp_path / 'detector')!r}).eval()
        clip = torch.load({str(tmp_path / 'clip.pt')!r}, weights_only=True)
        with torch.no_grad():
            torch.save(model(clip).masks, {str(tmp_path / 'masks.pt')!r})
        print(type(model).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DelocateForDeepfakeDetection" in result.stdout
    torch.testing.assert_close(torch.load(tmp_path / "masks.pt", weights_only=True), expected)


def overfit(model, step, steps=20, lr=1e-3):
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = step()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_each_stage_learns_a_fixed_batch(config, carphone_clip):
    torch.manual_seed(0)
    labels = torch.tensor([0, 1])
    recovery = DelocateForMaskedRecovery(config).train()
    mask = random_mask(config)
    losses = overfit(recovery, lambda: recovery(carphone_clip, bool_masked_pos=mask).loss, lr=5e-3)
    assert losses[-1] < 0.8 * losses[0], losses

    classifier = DelocateForVideoClassification(config).train()
    losses = overfit(classifier, lambda: classifier(carphone_clip, labels=labels).loss)
    assert losses[-1] < 0.5 * losses[0], losses

    localizer = DelocateForForgeryLocalization(config).train()
    masks = torch.zeros(B, config.num_frames, config.image_size, config.image_size)
    masks[1, :, 16:48, 16:48] = 1
    recovered = unnormalize(carphone_clip, config).clamp(0, 1)
    losses = overfit(localizer, lambda: localizer(
        carphone_clip, labels=labels, mask_labels=masks, recovered_pixel_values=recovered).loss, lr=3e-3)
    assert losses[-1] < 0.6 * losses[0], losses


def test_mapping_loss_leaves_the_frozen_recovery_model_unchanged(config, carphone_clip):
    recovery = DelocateForMaskedRecovery(config).eval().requires_grad_(False)
    before = {k: v.clone() for k, v in recovery.state_dict().items()}
    localizer = DelocateForForgeryLocalization(config).train()
    optimizer = torch.optim.SGD(localizer.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    mask = random_mask(config)
    mapping_before = localizer.localizer.mapping.conv3.weight.clone()
    for _ in range(2):
        with torch.no_grad():
            target = recovery(carphone_clip, bool_masked_pos=mask).reconstruction
        loss = localizer(carphone_clip, recovered_pixel_values=target).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(p.grad is None for p in recovery.parameters())
    for name, tensor in recovery.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert not torch.equal(localizer.localizer.mapping.conv3.weight, mapping_before)


def test_gradient_checkpointing_gives_same_gradients(config, carphone_clip):
    torch.manual_seed(0)
    model = DelocateForVideoClassification(config).train()
    labels = torch.tensor([0, 1])
    model(carphone_clip, labels=labels).loss.backward()
    reference = model.classifier.weight.grad.clone()
    model.zero_grad()
    model.activation_checkpointing_enable()
    model(carphone_clip, labels=labels).loss.backward()
    torch.testing.assert_close(model.classifier.weight.grad, reference)


def test_torchvision_is_not_importable():
    """A registry torchvision beside the CPU torch wheel breaks transformers; the project must never pull it in."""
    import importlib.util

    assert importlib.util.find_spec("torchvision") is None, "torchvision is installed: remove it (see setup.cfg)"


def test_frames_without_ground_truth_are_left_out_of_the_mask_loss(config, carphone_clip):
    model = DelocateForForgeryLocalization(config).eval()
    T, S = config.num_frames, config.image_size
    masks = torch.zeros(B, T, S, S)
    masks[0, :, 10:30, 10:30] = 1
    with torch.no_grad():
        only_first = model(carphone_clip[:1], mask_labels=masks[:1]).loss_loc
        masks[1] = -1  # second clip: no ground truth
        both = model(carphone_clip, mask_labels=masks).loss_loc
        masks[:] = -1
        none = model(carphone_clip, mask_labels=masks).loss_loc
    torch.testing.assert_close(both, only_first)
    assert none == 0


def test_detector_localizes_a_subset_of_frames(carphone_clip):
    """`localization_frames=2` on an 8-frame clip: the localizer sees frames 2 and 6 only, its outputs there match
    the every-frame detector's, and every other frame repeats its nearest analysed frame."""
    torch.manual_seed(0)
    every = DelocateForDeepfakeDetection(DelocateConfig.tiny(num_frames=8)).eval()
    subset = DelocateForDeepfakeDetection(DelocateConfig.tiny(num_frames=8, localization_frames=2)).eval()
    subset.load_state_dict(every.state_dict())
    clip = torch.cat([carphone_clip, carphone_clip], dim=1)  # (2, 8, 3, S, S)
    with torch.no_grad():
        full, part = every(clip), subset(clip)
    assert full.localized_frames.tolist() == list(range(8))
    assert part.localized_frames.tolist() == [2, 6]
    for frame, nearest in enumerate([2, 2, 2, 2, 6, 6, 6, 6]):
        torch.testing.assert_close(part.masks[:, frame], full.masks[:, nearest])
        torch.testing.assert_close(part.frame_scores[:, frame], full.frame_scores[:, nearest])
    torch.testing.assert_close(part.recovery_logits, full.recovery_logits)
    expected = torch.logit(full.frame_scores[:, [2, 6]]).mean(-1)
    torch.testing.assert_close(part.localization_logits, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(part.localization_logits, full.localization_logits)
    with pytest.raises(ValueError, match="localization_frames"):
        DelocateConfig.tiny(localization_frames=0)


def test_localizer_chunks_give_the_same_result_in_eval_only(carphone_clip):
    """Eval-mode chunking (`localization_chunk_size`) does not change the outputs; training mode runs all frames
    at once so BatchNorm sees the whole batch."""
    torch.manual_seed(0)
    whole = DelocateForDeepfakeDetection(DelocateConfig.tiny(localization_chunk_size=None)).eval()
    chunked = DelocateForDeepfakeDetection(DelocateConfig.tiny(localization_chunk_size=3)).eval()
    chunked.load_state_dict(whole.state_dict())
    frames = carphone_clip.flatten(0, 1)  # (8, 3, S, S): chunks of 3, 3, 2
    with torch.no_grad():
        a, b = whole.localizer(frames), chunked.localizer(frames)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-5)
    chunked.localizer.train()
    calls = []
    hook = chunked.localizer.mapping.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    with torch.no_grad():
        chunked.localizer(frames)
    hook.remove()
    assert calls == [8]


def test_fast_position_table_equals_transformers_and_is_used_only_while_building():
    """The vectorised sin-cos table equals transformers' `get_sinusoid_encoding_table` exactly (VideoMAE-B encoder
    and decoder sizes, and an odd one); transformers' own function is back in place after a model is built."""
    from transformers.models.videomae import modeling_videomae

    from modeling.modeling_delocate import sinusoid_encoding_table

    original = modeling_videomae.get_sinusoid_encoding_table
    for n_position, d_hid in [(1568, 768), (1568, 384), (7, 5)]:
        assert torch.equal(sinusoid_encoding_table(n_position, d_hid), original(n_position, d_hid))
    model = DelocateForDeepfakeDetection(DelocateConfig.tiny())
    assert modeling_videomae.get_sinusoid_encoding_table is original
    config = DelocateConfig.tiny()
    assert torch.equal(model.videomae.embeddings.position_embeddings, original(config.seq_length, config.hidden_size))
