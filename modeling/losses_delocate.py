"""Training losses of the Delocate models: the localization stage's three losses (paper Eq. 6) and their weighted
sum, the forgery-mask loss `L_loc` they use, and the fused detector's BCE. The recovery model's MAE loss is its own
`forward_loss` step. Imports only torch and transformers (remote code, saved beside checkpoints with
`modeling_delocate.py`)."""

import torch
import torch.nn.functional as F

from .configuration_delocate import LOCALIZATION_AUTO_POS_WEIGHT_RANGE, DelocateConfig
from .videomae_utils_delocate import flatten_frames


def forgery_mask_loss(
    mask_logits: torch.Tensor,
    masks: torch.Tensor,
    valid: torch.Tensor,
    kind: str = "mse",
    pos_weight: float | None = None,
) -> torch.Tensor:
    """The mask loss `L_loc` over the frames that have ground truth; 0 (still in the graph) when none has.

    mask_logits `(N, 1, H, W)`: predicted mask logits, `p = sigmoid(mask_logits)`.
    masks `(N, 1, H, W)`: ground truth `y` in [0, 1] (values of frames that are not `valid` are ignored).
    valid `(N,)` bool: frames with a ground-truth mask.
    kind: `"mse"`, the paper's `L_mse_loc` = mean over valid frames of `mean((p - y)**2)`; or `"bce_dice"` =
        `BCE_w + Dice`, `BCE_w = mean(-(w * y * log p + (1 - y) * log(1 - p)))` over the valid pixels and the soft
        Dice of all valid pixels of the batch `Dice = 1 - (2 * sum(p * y) + 1) / (sum(p) + sum(y) + 1)`.
    pos_weight: `w`; `None` takes `(1 - f) / f` for the positive fraction `f = mean(y)` of the valid pixels,
        clamped to `LOCALIZATION_AUTO_POS_WEIGHT_RANGE` (a batch without positives gets the upper bound).
    """
    mask_logits, masks = mask_logits.float(), masks.float()  # sums over whole batches: float32 also under autocast
    weights = valid.to(mask_logits.dtype).view(-1, 1, 1, 1)  # (N, 1, 1, 1): 1 for frames with ground truth
    targets = masks.clamp(0, 1) * weights
    num_pixels = (weights.sum() * mask_logits[0].numel()).clamp(min=1)
    if kind == "mse":
        return ((torch.sigmoid(mask_logits) - targets) ** 2 * weights).sum() / num_pixels
    if kind != "bce_dice":
        raise ValueError(f"unknown localization loss {kind!r}")
    if pos_weight is None:
        fraction = (targets.sum() / num_pixels).detach()
        low, high = LOCALIZATION_AUTO_POS_WEIGHT_RANGE
        pos_weight = ((1 - fraction) / fraction.clamp(min=1e-12)).clamp(low, high)
    pos_weight = torch.as_tensor(pos_weight, dtype=mask_logits.dtype, device=mask_logits.device)
    bce = F.binary_cross_entropy_with_logits(mask_logits, targets, pos_weight=pos_weight, reduction="none")
    bce = (bce * weights).sum() / num_pixels
    probabilities = torch.sigmoid(mask_logits) * weights
    dice = 1 - (2 * (probabilities * targets).sum() + 1) / (probabilities.sum() + targets.sum() + 1)
    return bce + dice


def classification_loss(frame_logits: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """`L_cls`: BCE of the video logits `logits` `(batch,)` to `labels` `(batch,)`, or of every frame logit
    `frame_logits` `(batch, frames)` / `(N,)` when `labels` has one value per frame."""
    labels = labels.to(logits.dtype)
    target_logits = frame_logits if labels.shape == frame_logits.shape else logits
    return F.binary_cross_entropy_with_logits(target_logits, labels.view_as(target_logits))


def mapping_loss(
    mapped_faces: torch.Tensor, recovered_pixel_values: torch.Tensor, pixel_values: torch.Tensor, video: bool
) -> torch.Tensor:
    """`L_mse_map`: MSE of the mapped faces `(N, 3, s, s)` to the recovery model's reconstruction
    `recovered_pixel_values` (shaped like `pixel_values`: `(batch, frames, 3, H, W)` or `(N, 3, H, W)`, in [0, 1]),
    area-resized to the mapped size `s`."""
    if recovered_pixel_values.shape != pixel_values.shape:
        raise ValueError(
            f"recovered_pixel_values must match pixel_values {tuple(pixel_values.shape)}, "
            f"got {tuple(recovered_pixel_values.shape)}"
        )
    target = F.interpolate(
        flatten_frames(recovered_pixel_values, video).to(mapped_faces.dtype),
        size=tuple(mapped_faces.shape[-2:]), mode="area",
    )  # (N, 3, s, s)
    return F.mse_loss(mapped_faces, target)


def localization_mask_loss(mask_logits: torch.Tensor, mask_labels: torch.Tensor, video: bool, config: DelocateConfig):
    """`L_loc`: `forgery_mask_loss` (`config.localization_loss`) of the mask logits `(N, 1, H, W)` to `mask_labels`
    (`(batch, frames, H, W)` / `(N, H, W)`, optionally with a channel of 1; resized bilinearly when their size
    differs) on the frames that have ground truth (a frame whose mask is all -1 has none)."""
    masks = flatten_frames(mask_labels, video).to(mask_logits.dtype)
    masks = masks.unsqueeze(1) if masks.ndim == 3 else masks
    if masks.ndim != 4 or masks.shape[0] != mask_logits.shape[0] or masks.shape[1] != 1:
        raise ValueError(
            f"mask_labels must be (batch, frames, H, W) or (N, H, W) matching pixel_values; got {tuple(mask_labels.shape)}"
        )
    valid = (masks >= 0).flatten(1).all(dim=1)  # (N,): frames whose mask is all -1 have no ground truth
    if masks.shape[-2:] != mask_logits.shape[-2:]:
        masks = F.interpolate(masks, size=mask_logits.shape[-2:], mode="bilinear", align_corners=False)
    return forgery_mask_loss(mask_logits, masks, valid, config.localization_loss, config.localization_pos_weight)


def weighted_localization_loss(losses: dict[str, torch.Tensor], config: DelocateConfig) -> torch.Tensor | None:
    """`cls_loss_weight * loss_cls + map_loss_weight * loss_map + loc_loss_weight * loss_loc` over the losses
    present; None when there are none (no target given)."""
    if not losses:
        return None
    weights = {"loss_cls": config.cls_loss_weight, "loss_map": config.map_loss_weight, "loss_loc": config.loc_loss_weight}
    return sum(weights[name] * value for name, value in losses.items())


def detection_loss(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BCE of the detector's fused fake probabilities `(batch,)` (clamped to [1e-6, 1 - 1e-6]) to `labels`."""
    return F.binary_cross_entropy(probabilities.clamp(1e-6, 1 - 1e-6), labels.to(probabilities.dtype).view_as(probabilities))
