"""The four Delocate models in transformers' ModelTester style: `DelocateModelTester` makes a tiny config and seeded
random tensors, with one `create_and_check_*` per model class (recovery / pre-training, classifier, localization,
full detector); then the config, the inputs each model refuses, the localizer's options and the detector's frame
subset. Saving and loading are in test_modeling_save_load.py, learning a fixed batch in test_modeling_training.py,
the one test that needs real video in test_modeling_real_media.py; the tester and the `config` / `clip` fixtures
are imported from here by those files."""

import json

import pytest
import torch
import torch.nn.functional as F
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import AutoConfig

from modeling import (
    DelocateConfig,
    DelocateForDeepfakeDetection,
    DelocateForForgeryLocalization,
    DelocateForMaskedRecovery,
    DelocateForVideoClassification,
)
from modeling.localization_modules import DelocateSegmentationHead
from modeling.modeling_delocate import patchify, unnormalize, unpatchify


def random_mask(config, batch, count=None, seed=0):
    """`(batch, num_tokens)` bool: `count` (default 75 %) random tokens masked in every row."""
    generator = torch.Generator().manual_seed(seed)
    count = count or int(0.75 * config.seq_length)
    mask = torch.zeros(batch, config.seq_length, dtype=torch.bool)
    for row in range(batch):
        mask[row, torch.randperm(config.seq_length, generator=generator)[:count]] = True
    return mask


def overfit(model, step, steps=20, lr=1e-3):
    """`steps` AdamW steps on the loss that `step()` returns; the list of losses before each step."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = step()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


class DelocateModelTester:
    """Tiny `DelocateConfig.tiny()` models (64 px, 4 frames) on seeded random inputs, as transformers' ModelTester."""

    def __init__(self, batch_size=2, seed=0, **config_overrides):
        self.batch_size = batch_size
        self.seed = seed
        self.config_overrides = config_overrides

    def get_config(self) -> DelocateConfig:
        return DelocateConfig.tiny(**self.config_overrides)

    def prepare_config_and_inputs(self):
        """config and a dict of `pixel_values (B, T, 3, S, S)`, `bool_masked_pos (B, num_tokens)`, `labels (B,)`
        (0, 1, 0, ...), `mask_labels (B, T, S, S)` (a square on the fakes) and `recovered_pixel_values` (B, T, 3, S, S)
        in [0, 1]."""
        config = self.get_config()
        batch, frames, size = self.batch_size, config.num_frames, config.image_size
        generator = torch.Generator().manual_seed(self.seed)
        pixel_values = torch.randn(batch, frames, config.num_channels, size, size, generator=generator)
        labels = torch.arange(batch) % 2
        mask_labels = torch.zeros(batch, frames, size, size)
        mask_labels[labels == 1, :, size // 4 : size // 2, size // 4 : size // 2] = 1
        inputs = {
            "pixel_values": pixel_values,
            "bool_masked_pos": random_mask(config, batch, seed=self.seed),
            "labels": labels,
            "mask_labels": mask_labels,
            "recovered_pixel_values": torch.rand(pixel_values.shape, generator=generator),
        }
        return config, inputs

    def create_and_check_masked_recovery(self, config, inputs):
        model = DelocateForMaskedRecovery(config).eval()
        pixel_values, mask = inputs["pixel_values"], inputs["bool_masked_pos"]
        with torch.no_grad():
            out = model(pixel_values, bool_masked_pos=mask)
            # MAE's steps compose to the forward
            latent = model.forward_encoder(pixel_values, mask).last_hidden_state
            logits = model.forward_decoder(latent, mask)
            loss = model.forward_loss(pixel_values, logits, mask)
            reconstruction = model.forward_reconstruction(pixel_values, logits, mask)
            as_tuple = model(pixel_values, bool_masked_pos=mask, return_dict=False)
        num_masked, num_visible = int(mask[0].sum()), config.seq_length - int(mask[0].sum())
        assert latent.shape == (self.batch_size, num_visible, config.hidden_size)
        assert out.logits.shape == (self.batch_size, num_masked, config.tubelet_size * config.patch_size**2 * 3)
        assert out.loss.ndim == 0 and out.loss > 0
        assert out.reconstruction.shape == pixel_values.shape and torch.equal(out.bool_masked_pos, mask)
        torch.testing.assert_close(logits, out.logits)
        torch.testing.assert_close(loss, out.loss)
        torch.testing.assert_close(reconstruction, out.reconstruction)
        torch.testing.assert_close(as_tuple[0], out.loss)
        # the loss is MAE's: MSE to the masked patches normalised by their own mean / std
        patches = patchify(unnormalize(pixel_values, config), config.tubelet_size, config.patch_size)
        normalised = (patches - patches.mean(-2, keepdim=True)) / (patches.var(-2, keepdim=True).sqrt() + 1e-6)
        expected = F.mse_loss(out.logits, normalised[mask].reshape(self.batch_size, num_masked, -1))
        torch.testing.assert_close(out.loss, expected)
        # visible patches come back as the input's pixels (clamped), masked ones are the decoder's prediction
        recovered = patchify(out.reconstruction, config.tubelet_size, config.patch_size)
        torch.testing.assert_close(recovered[~mask], patches[~mask].clamp(0, 1), atol=1e-5, rtol=0)
        assert not torch.allclose(recovered[mask], patches[mask].clamp(0, 1), atol=1e-3)
        assert out.reconstruction.min() >= 0 and out.reconstruction.max() <= 1

    def create_and_check_video_classification(self, config, inputs):
        model = DelocateForVideoClassification(config).eval()
        with torch.no_grad():
            out = model(inputs["pixel_values"])
            with_labels = model(inputs["pixel_values"], labels=inputs["labels"])
        assert out.loss is None and out.logits.shape == (self.batch_size,)
        expected = F.binary_cross_entropy_with_logits(out.logits, inputs["labels"].float())
        torch.testing.assert_close(with_labels.loss, expected)
        torch.testing.assert_close(with_labels.logits, out.logits)

    def create_and_check_forgery_localization(self, config, inputs):
        model = DelocateForForgeryLocalization(config).eval()
        pixel_values = inputs["pixel_values"]
        B, T, S, s = self.batch_size, config.num_frames, config.image_size, config.mapped_size
        with torch.no_grad():
            out = model(pixel_values)
            frames = model(pixel_values.flatten(0, 1))  # per-frame input (N, 3, H, W)
            full = model(pixel_values, labels=inputs["labels"], mask_labels=inputs["mask_labels"],
                         recovered_pixel_values=inputs["recovered_pixel_values"])
            only_masks = model(pixel_values, mask_labels=inputs["mask_labels"])
            frame_labels = (torch.arange(T) % 2).expand(B, T)  # one label per frame: BCE of every frame logit
            per_frame = model(pixel_values, labels=frame_labels)
        assert out.loss is None and {out.loss_cls, out.loss_map, out.loss_loc} == {None}
        assert out.logits.shape == (B,) and out.frame_logits.shape == (B, T)
        assert out.mask_logits.shape == (B, T, 1, S, S) and out.mapped_faces.shape == (B, T, 3, s, s)
        assert out.mapped_faces.min() >= 0 and out.mapped_faces.max() <= 1
        torch.testing.assert_close(out.logits, out.frame_logits.mean(-1))
        assert frames.mask_logits.shape == (B * T, 1, S, S) and frames.logits.shape == (B * T,)
        torch.testing.assert_close(frames.mask_logits, out.mask_logits.flatten(0, 1), rtol=1e-5, atol=1e-5)
        # each loss from its own target, by hand; the total is their weighted sum
        expected_cls = F.binary_cross_entropy_with_logits(out.logits, inputs["labels"].float())
        target = F.interpolate(inputs["recovered_pixel_values"].flatten(0, 1), size=(s, s), mode="area")
        expected_map = F.mse_loss(out.mapped_faces.flatten(0, 1), target)
        expected_loc = ((torch.sigmoid(out.mask_logits[:, :, 0]) - inputs["mask_labels"]) ** 2).mean()
        torch.testing.assert_close(full.loss_cls, expected_cls)
        torch.testing.assert_close(full.loss_map, expected_map)
        torch.testing.assert_close(full.loss_loc, expected_loc)
        weighted = config.cls_loss_weight * expected_cls + config.map_loss_weight * expected_map
        torch.testing.assert_close(full.loss, weighted + config.loc_loss_weight * expected_loc)
        assert only_masks.loss_cls is None and only_masks.loss_map is None
        expected_frames = F.binary_cross_entropy_with_logits(out.frame_logits, frame_labels.float())
        torch.testing.assert_close(per_frame.loss_cls, expected_frames)
        torch.testing.assert_close(only_masks.loss, config.loc_loss_weight * expected_loc)
        # the mask logits are the segmentation head applied to the decoder's features
        network = model.localizer
        assert isinstance(network.segmentation_head, DelocateSegmentationHead)
        assert network.segmentation_head is network.decoder.head
        with pytest.raises(ValueError, match="mask_labels"):
            model(pixel_values, mask_labels=torch.zeros(B, T + 1, S, S))
        with pytest.raises(ValueError, match="recovered_pixel_values"):
            model(pixel_values, recovered_pixel_values=inputs["recovered_pixel_values"][:, :1])

    def create_and_check_deepfake_detection(self, config, inputs):
        classifier = DelocateForVideoClassification(config).eval()
        localizer = DelocateForForgeryLocalization(config).eval()
        detector = DelocateForDeepfakeDetection.from_stages(classifier, localizer).eval()
        pixel_values = inputs["pixel_values"]
        with torch.no_grad():
            out = detector(pixel_values)
            stage1, stage2 = classifier(pixel_values).logits, localizer(pixel_values)
            with_labels = detector(pixel_values, labels=inputs["labels"])
        B, T, S = self.batch_size, config.num_frames, config.image_size
        assert out.loss is None and out.frame_scores.shape == (B, T) and out.masks.shape == (B, T, S, S)
        torch.testing.assert_close(out.recovery_logits, stage1)
        torch.testing.assert_close(out.localization_logits, stage2.logits)
        torch.testing.assert_close(out.masks, torch.sigmoid(stage2.mask_logits[:, :, 0]))
        weight = config.fusion_weight
        torch.testing.assert_close(out.probabilities, weight * torch.sigmoid(stage1) + (1 - weight) * torch.sigmoid(stage2.logits))
        torch.testing.assert_close(torch.sigmoid(out.logits), out.probabilities, atol=1e-5, rtol=0)
        expected = F.binary_cross_entropy(out.probabilities, inputs["labels"].float())
        torch.testing.assert_close(with_labels.loss, expected)


@pytest.fixture
def tester():
    return DelocateModelTester()


@pytest.fixture(scope="module")
def config():
    return DelocateConfig.tiny()


@pytest.fixture(scope="module")
def clip(config):
    """Random normalised clips `(2, T, 3, S, S)`."""
    return torch.randn(2, config.num_frames, 3, config.image_size, config.image_size, generator=torch.Generator().manual_seed(1))


def test_config_validates_values_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match="mask_ratio"):
        DelocateConfig(mask_ratio=1.2)
    with pytest.raises(ValueError, match="patch_size"):
        DelocateConfig(image_size=100)
    with pytest.raises(ValueError, match="num_frames"):
        DelocateConfig(num_frames=15)
    with pytest.raises(ValueError, match="score_fusion"):
        DelocateConfig(score_fusion="max")
    with pytest.raises(StrictDataclassFieldValidationError, match="test_time_flip"):  # a bool, not a truthy string
        DelocateConfig(test_time_flip="yes")
    config = DelocateConfig.tiny(fusion_weight=0.3, localization_loss="bce_dice", localization_pos_weight=4.0)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is DelocateConfig and loaded.fusion_weight == 0.3
    assert (loaded.localization_loss, loaded.localization_pos_weight) == ("bce_dice", 4.0)
    drop = lambda d: {k: v for k, v in d.items() if k != "_name_or_path"}  # noqa: E731
    assert drop(loaded.to_dict()) == drop(config.to_dict())
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "delocate"


def test_base_config_matches_the_paper():
    config = DelocateConfig()
    assert (config.image_size, config.patch_size, config.num_frames, config.tubelet_size) == (224, 16, 16, 2)
    assert (config.hidden_size, config.num_hidden_layers, config.decoder_hidden_size, config.decoder_num_hidden_layers) == (
        768, 12, 384, 4)
    assert config.seq_length == 8 * 14 * 14 and config.mask_ratio == 0.75 and config.mapped_size == 56
    assert config.localization_loss == "mse"  # the paper's L_mse_loc
    resnet = config.to_resnet_config()
    assert resnet.layer_type == "basic" and list(resnet.depths) == [2, 2, 2] and list(resnet.hidden_sizes) == [64, 128, 256]


def test_patchify_round_trip(config, clip):
    frames = unnormalize(clip, config)
    patches = patchify(frames, config.tubelet_size, config.patch_size)
    assert patches.shape == (2, config.seq_length, config.tubelet_size * config.patch_size**2, 3)
    back = unpatchify(patches, config.num_frames, config.image_size, config.image_size, config.tubelet_size, config.patch_size)
    torch.testing.assert_close(back, frames)


def test_masked_recovery(tester):
    tester.create_and_check_masked_recovery(*tester.prepare_config_and_inputs())


def test_masked_recovery_without_norm_pix_loss():
    """Without `norm_pix_loss` the targets and the reconstruction of masked patches are plain pixels."""
    config, inputs = DelocateModelTester(norm_pix_loss=False).prepare_config_and_inputs()
    model = DelocateForMaskedRecovery(config).eval()
    mask = inputs["bool_masked_pos"]
    with torch.no_grad():
        out = model(inputs["pixel_values"], bool_masked_pos=mask)
    patches = patchify(unnormalize(inputs["pixel_values"], config), config.tubelet_size, config.patch_size)
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits, patches[mask].reshape(*out.logits.shape)))
    recovered = patchify(out.reconstruction, config.tubelet_size, config.patch_size)
    torch.testing.assert_close(recovered[mask], out.logits.reshape(-1, *patches.shape[-2:]).clamp(0, 1))


def test_video_classification(tester):
    tester.create_and_check_video_classification(*tester.prepare_config_and_inputs())


def test_forgery_localization(tester):
    tester.create_and_check_forgery_localization(*tester.prepare_config_and_inputs())


def test_forgery_localization_with_loss_weights_and_bce_dice():
    tester = DelocateModelTester(batch_size=3, cls_loss_weight=0.5, map_loss_weight=2.0, loc_loss_weight=0.25)
    tester.create_and_check_forgery_localization(*tester.prepare_config_and_inputs())
    config, inputs = DelocateModelTester(localization_loss="bce_dice").prepare_config_and_inputs()
    model = DelocateForForgeryLocalization(config).eval()
    with torch.no_grad():
        out = model(inputs["pixel_values"], mask_labels=inputs["mask_labels"])
    assert torch.isfinite(out.loss_loc) and out.loss_loc > 0


@pytest.mark.parametrize("pooling", ["mean_max", "contrast"])
def test_forgery_localization_with_two_statistic_frame_pooling(tmp_path, pooling):
    """`frame_pooling="mean_max"` / `"contrast"`: same heads and losses; the classifier reads two statistics of each
    feature, so its input doubles; the setting survives a save / load and a wrong value is refused."""
    tester = DelocateModelTester(frame_pooling=pooling)
    config, inputs = tester.prepare_config_and_inputs()
    tester.create_and_check_forgery_localization(config, inputs)
    model = DelocateForForgeryLocalization(config).eval()
    mean_only = DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.classifier.in_features
    assert model.localizer.classifier.in_features == 2 * mean_only
    model.save_pretrained(tmp_path)
    loaded = DelocateForForgeryLocalization.from_pretrained(tmp_path).eval()
    assert loaded.config.frame_pooling == pooling
    with torch.no_grad():
        torch.testing.assert_close(loaded(inputs["pixel_values"]).logits, model(inputs["pixel_values"]).logits)
    with pytest.raises(ValueError, match="frame_pooling"):
        DelocateConfig.tiny(frame_pooling="max")


def test_contrast_pooling_ignores_what_the_whole_frame_shares():
    """"contrast" pools max - mean and std: a feature raised everywhere (a global property) leaves it unchanged, a
    feature raised in one region (a local trace) changes it; "mean_max" moves with both."""
    from modeling.localization_modules import pool_frame

    features = torch.rand(2, 5, 8, 8, generator=torch.Generator().manual_seed(0))
    local = features.clone()
    local[:, :, 2:5, 2:5] += 1.0
    contrast = pool_frame(features, "contrast")
    assert contrast.shape == (2, 10) and pool_frame(features, "mean").shape == (2, 5)
    torch.testing.assert_close(pool_frame(features + 1.0, "contrast"), contrast)
    assert not torch.allclose(pool_frame(local, "contrast"), contrast)
    assert not torch.allclose(pool_frame(features + 1.0, "mean_max"), pool_frame(features, "mean_max"))


def test_forgery_localization_with_a_high_pass_residual_input(tmp_path):
    """`loc_residual_input=g`: the encoder reads 9 channels (face, mapped face, g * the face's high-pass residual);
    the residual is 0 on flat regions and follows fine detail; the setting survives a save / load; a negative gain
    is refused."""
    from modeling.localization_modules import high_pass_residual

    flat = torch.full((1, 3, 16, 16), 0.7)
    torch.testing.assert_close(high_pass_residual(flat), torch.zeros_like(flat))
    checker = ((torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2).float().expand(1, 3, 16, 16)
    assert high_pass_residual(checker).abs().mean() > 0.4  # the finest detail passes almost whole
    tester = DelocateModelTester(loc_residual_input=4.0)
    config, inputs = tester.prepare_config_and_inputs()
    tester.create_and_check_forgery_localization(config, inputs)
    model = DelocateForForgeryLocalization(config).eval()
    first_conv = model.localizer.encoder.stages[0][0][0]
    assert first_conv.in_channels == 3 * config.num_channels
    assert DelocateForForgeryLocalization(DelocateConfig.tiny()).localizer.encoder.stages[0][0][0].in_channels == 6
    model.save_pretrained(tmp_path)
    loaded = DelocateForForgeryLocalization.from_pretrained(tmp_path).eval()
    assert loaded.config.loc_residual_input == 4.0
    with torch.no_grad():
        torch.testing.assert_close(loaded(inputs["pixel_values"]).logits, model(inputs["pixel_values"]).logits)
        first_conv.weight[:, 2 * config.num_channels:] = 0  # the residual channels are read: zeroing their weights
        assert not torch.allclose(model(inputs["pixel_values"]).mask_logits, loaded(inputs["pixel_values"]).mask_logits)
    with pytest.raises(ValueError, match="loc_residual_input"):
        DelocateConfig.tiny(loc_residual_input=-1.0)


def test_deepfake_detection(tester):
    tester.create_and_check_deepfake_detection(*tester.prepare_config_and_inputs())
    other = DelocateModelTester(batch_size=3, fusion_weight=0.2)
    other.create_and_check_deepfake_detection(*other.prepare_config_and_inputs())


def test_recovery_rejects_bad_masks(config, clip):
    model = DelocateForMaskedRecovery(config)
    unequal = random_mask(config, 2)
    unequal[1, unequal[1].nonzero()[0]] = False  # one fewer masked token in the second sample
    with pytest.raises(ValueError, match="same number of tokens"):
        model(clip, bool_masked_pos=unequal)
    with pytest.raises(ValueError, match="shape"):
        model(clip, bool_masked_pos=torch.ones(2, config.seq_length + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="needs bool_masked_pos"):
        model(clip)
    with pytest.raises(ValueError, match="pixel_values must have shape"):
        model(clip[:, :2], bool_masked_pos=random_mask(config, 2))


def test_torchvision_is_not_importable():
    """A registry torchvision beside the CPU torch wheel breaks transformers; the project must never pull it in."""
    import importlib.util

    assert importlib.util.find_spec("torchvision") is None, "torchvision is installed: remove it (see setup.cfg)"


@pytest.mark.parametrize("kind", ["mse", "bce_dice"])
def test_frames_without_ground_truth_are_left_out_of_the_mask_loss(kind, clip):
    model = DelocateForForgeryLocalization(DelocateConfig.tiny(localization_loss=kind)).eval()
    T, S = clip.shape[1], clip.shape[-1]
    masks = torch.zeros(2, T, S, S)
    masks[0, :, 10:30, 10:30] = 1
    with torch.no_grad():
        only_first = model(clip[:1], mask_labels=masks[:1]).loss_loc
        masks[1] = -1  # second clip: no ground truth
        both = model(clip, mask_labels=masks).loss_loc
        masks[:] = -1
        none = model(clip, mask_labels=masks).loss_loc
    torch.testing.assert_close(both, only_first)
    assert none == 0


def test_detector_localizes_a_subset_of_frames(clip):
    """`localization_frames=2` on an 8-frame clip: the localizer sees frames 2 and 6 only, its outputs there match
    the every-frame detector's, and every other frame repeats its nearest analysed frame (frame 4, as far from 2 as
    from 6, takes the earlier). All 8 frames differ, so a wrong frame would show."""
    torch.manual_seed(0)
    every = DelocateForDeepfakeDetection(DelocateConfig.tiny(num_frames=8)).eval()
    subset = DelocateForDeepfakeDetection(DelocateConfig.tiny(num_frames=8, localization_frames=2)).eval()
    subset.load_state_dict(every.state_dict())
    clip = torch.cat([clip, clip.flip(-1)], dim=1)  # (2, 8, 3, S, S), the last 4 frames mirrored
    with torch.no_grad():
        full, part = every(clip), subset(clip)
    assert full.localized_frames.tolist() == list(range(8))
    assert part.localized_frames.tolist() == [2, 6]
    for frame, nearest in enumerate([2, 2, 2, 2, 2, 6, 6, 6]):
        torch.testing.assert_close(part.masks[:, frame], full.masks[:, nearest])
        torch.testing.assert_close(part.frame_scores[:, frame], full.frame_scores[:, nearest])
    torch.testing.assert_close(part.recovery_logits, full.recovery_logits)
    expected = torch.logit(full.frame_scores[:, [2, 6]]).mean(-1)
    torch.testing.assert_close(part.localization_logits, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(part.localization_logits, full.localization_logits)
    with pytest.raises(ValueError, match="localization_frames"):
        DelocateConfig.tiny(localization_frames=0)


def test_detector_scores_its_masks_and_weighs_them_into_stage_2(clip, tmp_path):
    """`mask_scores` is the mean over frames of each mask's top `mask_score_top_fraction` pixels; with
    `mask_score_weight` a, every frame score and the clip's stage-2 probability are `a * mask + (1 - a) * classifier`
    (a = 0: exactly the classifier, the paper's), and the setting is checked and saved with the config."""
    torch.manual_seed(0)
    classifier_only = DelocateForDeepfakeDetection(DelocateConfig.tiny(fusion_weight=0.0)).eval()
    weighted = DelocateForDeepfakeDetection(DelocateConfig.tiny(fusion_weight=0.0, mask_score_weight=0.5,
                                                                mask_score_top_fraction=0.2)).eval()
    weighted.load_state_dict(classifier_only.state_dict())
    with torch.no_grad():
        plain, mixed = classifier_only(clip), weighted(clip)
    torch.testing.assert_close(plain.probabilities, torch.sigmoid(plain.localization_logits))
    pixels = plain.masks.flatten(2)  # (2, T, H*W)
    top = round(0.2 * pixels.shape[-1])
    frame_masks = pixels.sort(-1, descending=True).values[..., :top].mean(-1)  # (2, T)
    torch.testing.assert_close(mixed.mask_scores, frame_masks.mean(-1))
    torch.testing.assert_close(mixed.frame_scores, 0.5 * frame_masks + 0.5 * plain.frame_scores)
    torch.testing.assert_close(mixed.probabilities, 0.5 * mixed.mask_scores + 0.5 * torch.sigmoid(plain.localization_logits))
    assert not torch.allclose(mixed.probabilities, plain.probabilities)
    assert (plain.mask_scores > plain.masks.mean((1, 2, 3))).all()  # the top pixels, not the whole mask
    weighted.save_pretrained(tmp_path / "det")
    loaded = DelocateConfig.from_pretrained(tmp_path / "det")
    assert (loaded.mask_score_weight, loaded.mask_score_top_fraction) == (0.5, 0.2)
    for bad in ({"mask_score_weight": 1.5}, {"mask_score_top_fraction": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            DelocateConfig.tiny(**bad)


def test_test_time_flip_averages_a_frame_and_its_mirror_image_in_eval_only(clip, tmp_path):
    """With `test_time_flip` the localization stage scores a clip and its mirror image alike (each is analysed both
    ways) and mirrors the masks with it; without it, the mirror image scores differently; training mode never flips.
    (The recovery stage's classifier is not flipped: the probabilities compared are stage 2's.)"""
    torch.manual_seed(0)
    kwargs = {"localization_frames": None, "mask_score_weight": 0.5, "score_fusion": "localization_only"}
    plain = DelocateForDeepfakeDetection(DelocateConfig.tiny(**kwargs)).eval()
    flipped = DelocateForDeepfakeDetection(DelocateConfig.tiny(**kwargs, test_time_flip=True)).eval()
    flipped.load_state_dict(plain.state_dict())
    mirror = clip.flip(-1)
    with torch.no_grad():
        a, b = flipped(clip), flipped(mirror)
        p, q = plain(clip), plain(mirror)
    torch.testing.assert_close(a.probabilities, b.probabilities, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.masks, b.masks.flip(-1), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(p.probabilities, q.probabilities, atol=1e-4)
    torch.testing.assert_close(a.localization_logits, (p.localization_logits + q.localization_logits) / 2,
                               rtol=1e-5, atol=1e-6)  # the mean of the two analyses' frame logits
    flipped.save_pretrained(tmp_path / "det")
    assert DelocateConfig.from_pretrained(tmp_path / "det").test_time_flip is True
    flipped.train()
    calls = []
    hook = flipped.localizer.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    flipped(clip)
    hook.remove()
    assert calls == [clip.shape[0] * clip.shape[1]]  # one pass in training mode


def test_localizer_chunks_give_the_same_result_in_eval_only(clip):
    """Eval-mode chunking (`localization_chunk_size`) does not change the outputs; training mode runs all frames
    at once so BatchNorm sees the whole batch."""
    torch.manual_seed(0)
    whole = DelocateForDeepfakeDetection(DelocateConfig.tiny(localization_chunk_size=None)).eval()
    chunked = DelocateForDeepfakeDetection(DelocateConfig.tiny(localization_chunk_size=3)).eval()
    chunked.load_state_dict(whole.state_dict())
    frames = clip.flatten(0, 1)  # (8, 3, S, S): chunks of 3, 3, 2
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
    and decoder widths, and an odd size; positions are computed independently, so 200 of the 1568 rows stand for
    all); transformers' own function is back in place after a model is built."""
    from transformers.models.videomae import modeling_videomae

    from modeling.modeling_delocate import sinusoid_encoding_table

    original = modeling_videomae.get_sinusoid_encoding_table
    for n_position, d_hid in [(200, 768), (200, 384), (7, 5)]:
        assert torch.equal(sinusoid_encoding_table(n_position, d_hid), original(n_position, d_hid))
    model = DelocateForDeepfakeDetection(DelocateConfig.tiny())
    assert modeling_videomae.get_sinusoid_encoding_table is original
    config = DelocateConfig.tiny()
    assert torch.equal(model.videomae.embeddings.position_embeddings, original(config.seq_length, config.hidden_size))
