"""The localizer's mask loss (`config.localization_loss`): the paper's MSE and the BCE + Dice option (issue 12)."""

import pytest
import torch
import torch.nn.functional as F

from modeling import DelocateConfig, DelocateForForgeryLocalization
from modeling.configuration_delocate import LOCALIZATION_AUTO_POS_WEIGHT_RANGE
from modeling.losses_delocate import forgery_mask_loss


def sparse_batch(config, seed=0, cue=0.3, side=20):
    """8 random frames `(8, 3, S, S)`: 4 real (zero mask) and 4 fake, each fake with a `side` x `side` square (10 %
    of its pixels, 5 % of the batch) whose pixels are shifted by `cue`. Returns frames, masks `(8, S, S)`."""
    size = config.image_size
    generator = torch.Generator().manual_seed(seed)
    frames = torch.randn(8, 3, size, size, generator=generator)
    masks = torch.zeros(8, size, size)
    for index in range(4, 8):
        top, left = 8 + 6 * (index - 4), 40 - 5 * (index - 4)
        masks[index, top : top + side, left : left + side] = 1
        frames[index, :, top : top + side, left : left + side] += cue
    return frames, masks


def test_config_defaults_and_validation():
    config = DelocateConfig()
    assert config.localization_loss == "mse" and config.localization_pos_weight is None
    assert DelocateConfig.tiny(localization_loss="bce_dice", localization_pos_weight=10).localization_pos_weight == 10
    with pytest.raises(ValueError, match="localization_loss"):
        DelocateConfig.tiny(localization_loss="focal")
    for bad in (0, -2.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="localization_pos_weight"):
            DelocateConfig.tiny(localization_pos_weight=bad)


def test_mse_is_the_papers_formula_by_hand():
    """`loss_loc` with "mse" = mean over frames with ground truth of mean((sigmoid(logit) - y)^2); -1 frames out."""
    torch.manual_seed(0)
    config = DelocateConfig.tiny()
    model = DelocateForForgeryLocalization(config).eval()
    frames, masks = sparse_batch(config)
    masks[5] = -1  # a fake without ground truth
    with torch.no_grad():
        out = model(frames, mask_labels=masks)
    probabilities = torch.sigmoid(out.mask_logits[:, 0])  # (8, S, S)
    kept = [index for index in range(8) if index != 5]
    expected = sum(((probabilities[i] - masks[i]) ** 2).mean() for i in kept) / len(kept)
    torch.testing.assert_close(out.loss_loc, expected)
    torch.testing.assert_close(out.loss, out.loss_loc)  # the only target given


def test_bce_dice_equals_its_formula_with_fixed_and_automatic_weight():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 8, 8, generator=generator)
    masks = torch.zeros(3, 1, 8, 8)
    masks[0, :, 2:4, 2:6] = 1  # 8 positive pixels out of the 128 valid ones
    masks[2] = -1
    valid = torch.tensor([True, True, False])
    p, y = torch.sigmoid(logits[:2]), masks[:2]
    for weight, expected_weight in ((3.0, 3.0), (None, 120 / 8)):
        bce = -(expected_weight * y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
        torch.testing.assert_close(forgery_mask_loss(logits, masks, valid, "bce_dice", weight), bce + dice)
    # no positives at all: the automatic weight takes its upper bound (it multiplies nothing)
    no_positives = forgery_mask_loss(logits, torch.zeros_like(masks), valid, "bce_dice")
    p = torch.sigmoid(logits[:2])
    expected = F.binary_cross_entropy(p, torch.zeros_like(p)) + 1 - 1 / (p.sum() + 1)
    torch.testing.assert_close(no_positives, expected)
    assert LOCALIZATION_AUTO_POS_WEIGHT_RANGE == (1.0, 100.0)
    # no frame with ground truth: 0, still connected to the graph
    logits.requires_grad_(True)
    none = forgery_mask_loss(logits, masks, torch.zeros(3, dtype=torch.bool), "bce_dice")
    assert none.item() == 0 and none.requires_grad


def test_collapsed_masks_get_a_gradient_from_bce_dice_but_not_from_mse():
    """The collapse of issue 12: once every pixel reads "not tampered" (sigmoid ~ 0), MSE's gradient on the tampered
    pixels vanishes (2 (p - y) p (1 - p) ~ 0) while BCE + Dice still pushes them up."""
    logits = torch.full((2, 1, 16, 16), -8.0)
    masks = torch.zeros(2, 1, 16, 16)
    masks[1, :, 4:8, 4:8] = 1
    valid = torch.ones(2, dtype=torch.bool)
    gradients = {}
    for kind in ("mse", "bce_dice"):
        leaf = logits.clone().requires_grad_(True)
        forgery_mask_loss(leaf, masks, valid, kind).backward()
        gradients[kind] = -leaf.grad[masks.bool()].mean().item()  # > 0: raises the tampered pixels' logits
    assert 0 <= gradients["mse"] < 1e-5
    assert gradients["bce_dice"] > 1e3 * max(gradients["mse"], 1e-12)


def test_bce_dice_learns_a_sparse_mask():
    """Tiny localizer, 8 frames of which half are fakes with a 10 % square (5 % of the batch's pixels): with
    "bce_dice" the predicted mask on the training batch reaches IoU > 0.5 in 40 steps, the loss finite throughout."""
    torch.manual_seed(0)
    config = DelocateConfig.tiny(localization_loss="bce_dice")
    frames, masks = sparse_batch(config)
    assert masks.mean().item() == pytest.approx(0.0488, abs=1e-3)
    model = DelocateForForgeryLocalization(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    for _ in range(40):
        out = model(frames, mask_labels=masks)
        assert torch.isfinite(out.loss), out.loss
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = torch.sigmoid(model(frames).mask_logits[:, 0]) >= config.mask_threshold
    truth = masks > 0.5
    iou = ((predicted & truth).sum() / (predicted | truth).sum()).item()
    assert iou > 0.5, iou
    assert predicted[:4].float().mean() < 0.05  # the real frames stay (nearly) empty
