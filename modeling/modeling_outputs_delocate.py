"""Output dataclasses of the Delocate models (`transformers.utils.ModelOutput`)."""

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class DelocateMaskedRecoveryOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`):
        MSE between predicted and true pixels of the masked patches (normalised per patch if `norm_pix_loss`).
    logits (`torch.FloatTensor` of shape `(batch, num_masked, tubelet * patch**2 * channels)`):
        Decoder predictions for the masked patches, in token order.
    reconstruction (`torch.FloatTensor` of shape `(batch, frames, channels, height, width)`):
        The full recovered video in [0, 1] pixel space: visible patches from the input, masked patches from the
        decoder (un-normalised with the patch's own mean/std when `norm_pix_loss`).
    bool_masked_pos (`torch.BoolTensor` of shape `(batch, num_tokens)`):
        The mask that was applied.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    reconstruction: torch.FloatTensor | None = None
    bool_masked_pos: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class DelocateVideoClassifierOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, returned when `labels` are given):
        Binary cross-entropy of the fake logit.
    logits (`torch.FloatTensor` of shape `(batch,)`):
        One logit per video; sigmoid gives the probability that it is fake.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class DelocateForgeryLocalizationOutput(ModelOutput):
    r"""
    Shapes below are for video input `(batch, frames, 3, H, W)`; for frame input `(N, 3, H, W)` drop `frames` and
    `logits` equals `frame_logits`.

    loss (`torch.FloatTensor` of shape `()`, returned when any target is given):
        `cls_loss_weight * loss_cls + map_loss_weight * loss_map + loc_loss_weight * loss_loc` over the given targets.
    logits (`torch.FloatTensor` of shape `(batch,)`):
        Video fake logit: mean of the frame logits.
    frame_logits (`torch.FloatTensor` of shape `(batch, frames)`):
        Per-frame fake logits from mapping and localization features.
    mask_logits (`torch.FloatTensor` of shape `(batch, frames, 1, H, W)`):
        Forgery-mask logits; sigmoid >= `mask_threshold` marks tampered pixels.
    mapped_faces (`torch.FloatTensor` of shape `(batch, frames, 3, mapped_size, mapped_size)`):
        The mapping module's output in [0, 1].
    loss_cls, loss_map, loss_loc (`torch.FloatTensor` of shape `()`):
        BCE to `labels`; MSE of the mapped faces to `recovered_pixel_values` (the stage-1 reconstruction: input
        pixels on visible tokens, decoder prediction on masked ones) area-resized to `mapped_size`; the mask loss
        to `mask_labels` (`config.localization_loss`: `"mse"`, the paper's MSE of mask probabilities, or
        `"bce_dice"`, positive-weighted BCE + soft Dice).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    frame_logits: torch.FloatTensor | None = None
    mask_logits: torch.FloatTensor | None = None
    mapped_faces: torch.FloatTensor | None = None
    loss_cls: torch.FloatTensor | None = None
    loss_map: torch.FloatTensor | None = None
    loss_loc: torch.FloatTensor | None = None


@dataclass
class DelocateDeepfakeDetectionOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, returned when `labels` are given):
        Binary cross-entropy of the fused probability.
    logits (`torch.FloatTensor` of shape `(batch,)`):
        Fused fake logit, `log(p / (1 - p))` of `probabilities`.
    probabilities (`torch.FloatTensor` of shape `(batch,)`):
        Fused probability of fake (by default the mean of the two stages' probabilities).
    recovery_logits (`torch.FloatTensor` of shape `(batch,)`):
        Stage-1 classifier logits.
    localization_logits (`torch.FloatTensor` of shape `(batch,)`):
        Stage-2 video logits (its frame classifier).
    frame_scores (`torch.FloatTensor` of shape `(batch, frames)`):
        Stage-2 per-frame fake probabilities (`config.mask_score_weight` of each frame's mask score, the rest its
        classifier probability).
    masks (`torch.FloatTensor` of shape `(batch, frames, H, W)`):
        Forgery-mask probabilities in [0, 1], in face-crop coordinates.
    localized_frames (`torch.LongTensor` of shape `(k,)`):
        The clip frames the localizer analysed (`config.localization_frames`); the others repeat the mask and
        frame score of the nearest of them.
    mask_scores (`torch.FloatTensor` of shape `(batch,)`):
        The forgery masks' own score in [0, 1]: per analysed frame the mean of its top
        `config.mask_score_top_fraction` pixel probabilities, averaged over the frames.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    probabilities: torch.FloatTensor | None = None
    recovery_logits: torch.FloatTensor | None = None
    localization_logits: torch.FloatTensor | None = None
    frame_scores: torch.FloatTensor | None = None
    masks: torch.FloatTensor | None = None
    localized_frames: torch.LongTensor | None = None
    mask_scores: torch.FloatTensor | None = None
