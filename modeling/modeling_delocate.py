"""PyTorch Delocate models (IJCAI 2024): recovery MAE, its classifier, the localization network, the fused detector.

The transformer parts reuse `transformers`' own VideoMAE modules (`VideoMAEModel`, `VideoMAEDecoder`) and the mapping
module reuses `ResNetModel`; nothing here re-implements a ViT or a ResNet. This file holds the model classes (the
`auto_map` targets); its siblings hold the rest, one job each: `configuration_delocate.py` (settings),
`localization_modules.py` (the stage-2 network and its smp-style segmentation head), `losses_delocate.py` (the
training losses), `modeling_outputs_delocate.py` (output dataclasses), `videomae_utils_delocate.py` (token layout,
input checks). They import only torch, numpy and transformers, so they travel as remote code (`auto_map`) with saved
checkpoints.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel, VideoMAEModel
from transformers import initialization as init
from transformers.models.videomae.modeling_videomae import VideoMAEDecoder

from .configuration_delocate import DelocateConfig
from .localization_modules import DelocateLocalizationNetwork
from .losses_delocate import (
    classification_loss,
    detection_loss,
    localization_mask_loss,
    mapping_loss,
    weighted_localization_loss,
)
from .modeling_outputs_delocate import (
    DelocateDeepfakeDetectionOutput,
    DelocateForgeryLocalizationOutput,
    DelocateMaskedRecoveryOutput,
    DelocateVideoClassifierOutput,
)
from .videomae_utils_delocate import (  # noqa: F401  (patchify, unpatchify, sinusoid_encoding_table: public here too)
    check_bool_masked_pos,
    check_frames_input,
    check_video_input,
    fast_videomae_position_tables,
    flatten_frames,
    localized_frame_indices,
    patchify,
    sinusoid_encoding_table,
    unnormalize,
    unpatchify,
)

# Config fields that belong to the localization stage (copied by `DelocateForDeepfakeDetection.from_stages`).
LOCALIZATION_FIELDS = (
    "mapped_size", "resnet_embedding_size", "resnet_hidden_sizes", "resnet_depths", "mapping_num_stages",
    "mapping_hidden_channels", "loc_encoder_channels", "loc_decoder_channels", "use_scse", "se_reduction",
    "mask_threshold", "cls_loss_weight", "map_loss_weight", "loc_loss_weight", "localization_loss",
    "localization_pos_weight", "mapping_backbone", "loc_encoder", "loc_encoder_head", "frame_pooling",
    "loc_residual_input",
)


class DelocatePreTrainedModel(PreTrainedModel):
    """Base class: config handling, weight initialisation, loading/saving of every Delocate model."""

    config_class = DelocateConfig
    config: DelocateConfig
    base_model_prefix = "videomae"
    main_input_name = "pixel_values"
    input_modalities = "video"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["VideoMAEEmbeddings", "VideoMAELayer"]

    def _init_weights(self, module):
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            init.trunc_normal_(module.weight, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, DelocateForMaskedRecovery):
            init.trunc_normal_(module.mask_token, std=self.config.initializer_range)
        else:
            super()._init_weights(module)


class DelocateForMaskedRecovery(DelocatePreTrainedModel):
    """Stage 1, *Recovering for consistency learning*: a VideoMAE autoencoder trained on real faces to recover
    facial-part ROIs masked by `bool_masked_pos`. Returns the MSE on masked patches and the full recovered video."""

    def __init__(self, config: DelocateConfig):
        super().__init__(config)
        videomae_config = config.to_videomae_config()
        with fast_videomae_position_tables():
            self.videomae = VideoMAEModel(videomae_config)
        self.encoder_to_decoder = nn.Linear(config.hidden_size, config.decoder_hidden_size, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_hidden_size))
        # fixed sin-cos table, like VideoMAE (not a parameter, not saved)
        self.position_embeddings = sinusoid_encoding_table(config.seq_length, config.decoder_hidden_size)
        self.decoder = VideoMAEDecoder(videomae_config)
        self.post_init()

    def check_mask(self, bool_masked_pos: torch.Tensor | None, batch_size: int) -> torch.Tensor:
        """Validates `(batch, num_tokens)` masks: same masked count in every sample, at least one visible/masked."""
        return check_bool_masked_pos(bool_masked_pos, batch_size, self.config.seq_length)

    def forward_encoder(self, pixel_values: torch.Tensor, bool_masked_pos: torch.BoolTensor, **kwargs):
        """VideoMAE encoder on the visible tokens only: `(batch, frames, 3, H, W)` -> a `BaseModelOutput` whose
        `last_hidden_state` is `(batch, num_visible, hidden_size)` (masked tokens are dropped, as in MAE)."""
        return self.videomae(pixel_values, bool_masked_pos=bool_masked_pos, **kwargs)

    def forward_decoder(self, latent: torch.Tensor, bool_masked_pos: torch.BoolTensor) -> torch.Tensor:
        """Decoder: visible latents `(batch, num_visible, hidden_size)` -> predicted patches of the masked tokens
        `(batch, num_masked, tubelet * patch**2 * channels)`, in token order. The latents are projected to the
        decoder width, visible and mask tokens get the fixed sin-cos positions of their tokens, and the decoder keeps
        the last `num_masked` outputs (VideoMAE's layout: visible first, masked last)."""
        visible = self.encoder_to_decoder(latent)  # (batch, num_visible, decoder_hidden)
        batch_size, _, dim = visible.shape
        positions = self.position_embeddings.expand(batch_size, -1, -1).to(device=visible.device, dtype=visible.dtype)
        pos_visible = positions[~bool_masked_pos].reshape(batch_size, -1, dim)
        pos_masked = positions[bool_masked_pos].reshape(batch_size, -1, dim)
        decoder_input = torch.cat([visible + pos_visible, self.mask_token + pos_masked], dim=1)
        return self.decoder(decoder_input, pos_masked.shape[1]).logits

    @torch.no_grad()
    def pixel_patches(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The clip un-normalised to pixel space (about [0, 1], not clamped) as patches `(batch, num_tokens, tubelet * patch**2, channels)`, with each
        patch's mean and std `(batch, num_tokens, 1, channels)` (std unbiased, + 1e-6)."""
        patches = patchify(unnormalize(pixel_values, self.config), self.config.tubelet_size, self.config.patch_size)
        patch_mean = patches.mean(dim=-2, keepdim=True)
        patch_std = patches.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6
        return patches, patch_mean, patch_std

    def forward_loss(
        self, pixel_values: torch.Tensor, logits: torch.Tensor, bool_masked_pos: torch.BoolTensor, pixel_patches=None
    ) -> torch.Tensor:
        """MSE between `logits` `(batch, num_masked, tubelet * patch**2 * channels)` and the masked patches' pixels,
        each patch normalised by its own mean/std when `norm_pix_loss` (MAE's target). `pixel_patches`: the result of
        `pixel_patches(pixel_values)` if already computed."""
        patches, patch_mean, patch_std = pixel_patches or self.pixel_patches(pixel_values)
        targets = (patches - patch_mean) / patch_std if self.config.norm_pix_loss else patches
        labels = targets[bool_masked_pos].reshape(logits.shape[0], -1, targets.shape[-2] * targets.shape[-1])
        return F.mse_loss(logits, labels.to(logits.dtype))

    def forward_reconstruction(
        self, pixel_values: torch.Tensor, logits: torch.Tensor, bool_masked_pos: torch.BoolTensor, pixel_patches=None
    ) -> torch.Tensor:
        """The recovered clip `(batch, frames, 3, H, W)` in [0, 1]: the input's own pixels on visible tokens, the
        decoder's prediction on masked tokens (de-normalised with the true patch's own mean/std when
        `norm_pix_loss`), clamped to [0, 1]. This is what stage 2 uses as the mapping target."""
        config = self.config
        patches, patch_mean, patch_std = pixel_patches or self.pixel_patches(pixel_values)
        batch_size, channels = logits.shape[0], patches.shape[-1]
        predicted = logits.reshape(batch_size, -1, patches.shape[-2], channels)
        if config.norm_pix_loss:
            predicted = predicted * patch_std[bool_masked_pos].reshape_as(predicted[:, :, :1]) + patch_mean[
                bool_masked_pos
            ].reshape_as(predicted[:, :, :1])
        full = patches.to(predicted.dtype).clone()
        full[bool_masked_pos] = predicted.reshape(-1, patches.shape[-2], channels)
        time, _, height, width = pixel_values.shape[1:]
        return unpatchify(full, time, height, width, config.tubelet_size, config.patch_size).clamp(0, 1)

    def forward(
        self,
        pixel_values: torch.Tensor,
        bool_masked_pos: torch.BoolTensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> DelocateMaskedRecoveryOutput | tuple:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch, frames, 3, H, W)`):
            Normalised face clips from `DelocateFaceProcessor`.
        bool_masked_pos (`torch.BoolTensor` of shape `(batch, num_tokens)`):
            Tokens to mask (True); the same count in every sample.

        MAE's steps: `forward_encoder` (visible tokens) -> `forward_decoder` (masked patches) -> `forward_loss`, plus
        `forward_reconstruction` (the full recovered clip).
        """
        check_video_input(pixel_values, self.config)
        bool_masked_pos = self.check_mask(bool_masked_pos, pixel_values.shape[0])
        outputs = self.forward_encoder(pixel_values, bool_masked_pos, **kwargs)
        logits = self.forward_decoder(outputs.last_hidden_state, bool_masked_pos)  # (batch, num_masked, ts*p*p*C)
        pixel_patches = self.pixel_patches(pixel_values)
        loss = self.forward_loss(pixel_values, logits, bool_masked_pos, pixel_patches)
        reconstruction = self.forward_reconstruction(pixel_values, logits, bool_masked_pos, pixel_patches)
        output = DelocateMaskedRecoveryOutput(
            loss=loss,
            logits=logits,
            reconstruction=reconstruction,
            bool_masked_pos=bool_masked_pos,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return output if return_dict is not False else output.to_tuple()


class DelocateVideoClassifierMixin:
    """Stage-1b head shared by the classifier and the detector: mean-pooled VideoMAE tokens -> one fake logit."""

    def _build_classifier(self, config: DelocateConfig) -> None:
        with fast_videomae_position_tables():
            self.videomae = VideoMAEModel(config.to_videomae_config())
        self.fc_norm = nn.LayerNorm(config.hidden_size) if config.use_mean_pooling else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, 1)

    def _classify(self, pixel_values: torch.Tensor, **kwargs):
        outputs = self.videomae(pixel_values, **kwargs)
        tokens = outputs.last_hidden_state  # (batch, num_tokens, hidden)
        pooled = self.fc_norm(tokens.mean(1)) if self.fc_norm is not None else tokens[:, 0]
        return self.classifier(self.dropout(pooled)).squeeze(-1), outputs  # (batch,)


class DelocateForVideoClassification(DelocateVideoClassifierMixin, DelocatePreTrainedModel):
    """Stage 1b: the recovery encoder without its decoder, fine-tuned real (0) vs fake (1) with BCE.

    `DelocateForVideoClassification.from_pretrained(stage1_dir)` loads the encoder of a `DelocateForMaskedRecovery`
    checkpoint (the decoder weights are unused, the head starts fresh), as VideoMAE does.
    """

    def __init__(self, config: DelocateConfig):
        super().__init__(config)
        self._build_classifier(config)
        self.post_init()

    @classmethod
    def from_recovery(cls, recovery: DelocateForMaskedRecovery) -> "DelocateForVideoClassification":
        """A classifier whose encoder is a copy of `recovery`'s encoder."""
        model = cls(copy.deepcopy(recovery.config))
        model.videomae.load_state_dict(recovery.videomae.state_dict())
        return model.to(recovery.device)

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, return_dict: bool | None = None, **kwargs
    ) -> DelocateVideoClassifierOutput | tuple:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch, frames, 3, H, W)`): normalised face clips.
        labels (`torch.Tensor` of shape `(batch,)`, *optional*): 0 real, 1 fake.
        """
        check_video_input(pixel_values, self.config)
        logits, outputs = self._classify(pixel_values, **kwargs)
        loss = None
        if labels is not None:
            loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype).view_as(logits))
        output = DelocateVideoClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return output if return_dict is not False else output.to_tuple()


class DelocateForForgeryLocalization(DelocatePreTrainedModel):
    """Stage 2, *Localization for discrepancy learning*: per frame, the mapping module gives a mapped face trained
    toward the recovery model's reconstruction, the SE encoder / UNet-scSE decoder predicts the forgery mask, and a
    classifier on both feature sets gives a fake logit. Accepts video `(batch, frames, 3, H, W)` or frames
    `(N, 3, H, W)`."""

    base_model_prefix = "localizer"

    def __init__(self, config: DelocateConfig):
        super().__init__(config)
        self.localizer = DelocateLocalizationNetwork(config)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        mask_labels: torch.Tensor | None = None,
        recovered_pixel_values: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> DelocateForgeryLocalizationOutput | tuple:
        r"""
        pixel_values (`(batch, frames, 3, H, W)` or `(N, 3, H, W)`): normalised faces.
        labels (`(batch,)` video labels, or one per frame): 0 real, 1 fake -> `loss_cls` (BCE).
        mask_labels (`(batch, frames, H, W)` / `(N, H, W)`, optionally with a channel of 1): ground-truth forgery
            masks in [0, 1] (zeros for real faces) -> `loss_loc` (`config.localization_loss`: the paper's MSE of mask
            probabilities, or BCE + Dice). A frame whose mask is all -1 has no ground truth (e.g. a fake without mask
            video or source) and is left out of `loss_loc`.
        recovered_pixel_values (same shape as `pixel_values`): the mapping target, in [0, 1] -> `loss_map` (MSE of
            the mapped faces to it, area-resized to `mapped_size`). Training passes
            `DelocateForMaskedRecovery(pixel_values, bool_masked_pos).reconstruction` of the frozen stage-1 model on
            these same faces: the **input's own pixels** (un-normalised, clamped to [0, 1]) on every visible token and
            the decoder's prediction only on the masked tokens (with `mask_strategy="roi"`, 75 % of one facial part's
            tokens: most of the face stays visible), there de-normalised with the true patch's own mean and std when
            `norm_pix_loss`. So the target is mostly the face itself; only the masked ROI carries the recovery
            model's real-face prior.
        """
        video = check_frames_input(pixel_values, self.config)
        lead = pixel_values.shape[:2] if video else pixel_values.shape[:1]
        outputs = self.localizer(flatten_frames(pixel_values, video))
        frame_logits = outputs["frame_logits"].view(*lead)
        mask_logits = outputs["mask_logits"].view(*lead, *outputs["mask_logits"].shape[1:])
        mapped_faces = outputs["mapped_faces"].view(*lead, *outputs["mapped_faces"].shape[1:])
        logits = frame_logits.mean(-1) if video else frame_logits

        losses = self._losses(
            outputs, frame_logits, logits, pixel_values, labels, mask_labels, recovered_pixel_values, video
        )
        output = DelocateForgeryLocalizationOutput(
            loss=weighted_localization_loss(losses, self.config), logits=logits, frame_logits=frame_logits,
            mask_logits=mask_logits, mapped_faces=mapped_faces, **losses,
        )
        return output if return_dict is not False else output.to_tuple()

    def _losses(
        self,
        outputs: dict[str, torch.Tensor],
        frame_logits: torch.Tensor,
        logits: torch.Tensor,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None,
        mask_labels: torch.Tensor | None,
        recovered_pixel_values: torch.Tensor | None,
        video: bool,
    ) -> dict[str, torch.Tensor]:
        """The stage-2 losses of the targets given (paper Eq. 6, before weighting): `loss_cls`, `loss_map`,
        `loss_loc`. `outputs` is the per-frame network output (`frame_logits (N,)`, `mask_logits (N, 1, H, W)`,
        `mapped_faces (N, 3, s, s)` with N = batch * frames for video input); the losses are in `losses_delocate`."""
        losses = {}
        if labels is not None:  # L_cls: BCE of the video logit, or of every frame logit for per-frame labels
            losses["loss_cls"] = classification_loss(frame_logits, logits, labels)
        if recovered_pixel_values is not None:  # L_mse_map: mapped face -> the recovery model's reconstruction
            losses["loss_map"] = mapping_loss(outputs["mapped_faces"], recovered_pixel_values, pixel_values, video)
        if mask_labels is not None:  # L_loc: config.localization_loss on the frames that have a ground-truth mask
            losses["loss_loc"] = localization_mask_loss(outputs["mask_logits"], mask_labels, video, self.config)
        return losses


class DelocateForDeepfakeDetection(DelocateVideoClassifierMixin, DelocatePreTrainedModel):
    """The full detector: stage-1b classifier + stage-2 localization network (+ optionally the recovery autoencoder
    for explanations). The video score fuses the two stages' **probabilities** (`score_fusion="mean_prob"`:
    `fusion_weight * p_recovery + (1 - fusion_weight) * p_localization`, the paper's "average the output");
    `logits` is the logit of that probability. Also returns per-frame scores and forgery masks."""

    def __init__(self, config: DelocateConfig):
        super().__init__(config)
        self._build_classifier(config)
        self.localizer = DelocateLocalizationNetwork(config)
        self.recovery = DelocateForMaskedRecovery(config) if config.detector_include_recovery else None
        self.post_init()

    @classmethod
    def from_stages(
        cls,
        recovery_or_classifier: DelocateForMaskedRecovery | DelocateForVideoClassification,
        localizer: DelocateForForgeryLocalization,
        recovery: DelocateForMaskedRecovery | None = None,
    ) -> "DelocateForDeepfakeDetection":
        """Assembles the detector from trained stages. With a `DelocateForMaskedRecovery` as first argument its
        encoder is used and the stage-1 head starts untrained; pass `recovery` to keep the autoencoder too."""
        config = copy.deepcopy(recovery_or_classifier.config)
        for name in LOCALIZATION_FIELDS:
            setattr(config, name, copy.deepcopy(getattr(localizer.config, name)))
        sources = (recovery_or_classifier.config.init_sources or []) + (localizer.config.init_sources or [])
        config.init_sources = [dict(s) for i, s in enumerate(sources) if s not in sources[:i]] or None
        config.detector_include_recovery = recovery is not None
        config.architectures = [cls.__name__]
        model = cls(config)
        if isinstance(recovery_or_classifier, DelocateForVideoClassification):
            state = {k: v for k, v in recovery_or_classifier.state_dict().items()}
            model.load_state_dict(state, strict=False)
        elif isinstance(recovery_or_classifier, DelocateForMaskedRecovery):
            model.videomae.load_state_dict(recovery_or_classifier.videomae.state_dict())
        else:
            raise TypeError(f"expected a Delocate recovery or classifier model, got {type(recovery_or_classifier).__name__}")
        model.localizer.load_state_dict(localizer.localizer.state_dict())
        if recovery is not None:
            model.recovery.load_state_dict(recovery.state_dict())
        return model.to(recovery_or_classifier.device)

    def mask_score(self, masks: torch.Tensor) -> torch.Tensor:
        """Per-frame score of forgery-mask probabilities `(..., H, W)` -> `(...)`: the mean of the top
        `config.mask_score_top_fraction` of each mask's pixels."""
        pixels = masks.flatten(-2)
        top = max(1, int(round(pixels.shape[-1] * self.config.mask_score_top_fraction)))
        return pixels.topk(top, dim=-1).values.mean(-1)

    def localize(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """The stage-2 network on `frames` `(N, 3, H, W)` -> `frame_logits (N,)`, `mask_logits (N, 1, H, W)`,
        `mapped_faces`. With `config.test_time_flip`, in eval mode, also on the frames mirrored left-right: the two
        frame logits averaged, and the two mask logits after mirroring the second back."""
        local = self.localizer(frames)
        if not self.config.test_time_flip or self.training:
            return local
        mirrored = self.localizer(frames.flip(-1))
        return {**local, "frame_logits": (local["frame_logits"] + mirrored["frame_logits"]) / 2,
                "mask_logits": (local["mask_logits"] + mirrored["mask_logits"].flip(-1)) / 2}

    def localization_probability(self, classifier_logits: torch.Tensor, mask_scores: torch.Tensor) -> torch.Tensor:
        """The localization stage's fake probability from its classifier's logits and its masks' scores (same
        shape, per frame or per clip): `a * mask_score + (1 - a) * sigmoid(logit)`, `a = config.mask_score_weight`."""
        weight = self.config.mask_score_weight
        return weight * mask_scores + (1 - weight) * torch.sigmoid(classifier_logits)

    def fuse(self, recovery_logits: torch.Tensor, localization_logits: torch.Tensor,
             mask_scores: torch.Tensor | None = None) -> torch.Tensor:
        """Fake probability `(batch,)` from the two stages' logits (and the masks' scores, weighted by
        `config.mask_score_weight` in the localization stage's probability), per `config.score_fusion`."""
        p_recovery = torch.sigmoid(recovery_logits)
        p_localization = (torch.sigmoid(localization_logits) if mask_scores is None
                          else self.localization_probability(localization_logits, mask_scores))
        if self.config.score_fusion == "recovery_only":
            return p_recovery
        if self.config.score_fusion == "localization_only":
            return p_localization
        weight = self.config.fusion_weight
        return weight * p_recovery + (1 - weight) * p_localization

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, return_dict: bool | None = None
    ) -> DelocateDeepfakeDetectionOutput | tuple:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch, frames, 3, H, W)`): normalised face clips.
        labels (`torch.Tensor` of shape `(batch,)`, *optional*): 0 real, 1 fake -> BCE of the fused probability.
        """
        check_video_input(pixel_values, self.config)
        batch, frames = pixel_values.shape[:2]
        recovery_logits, _ = self._classify(pixel_values)
        localized = localized_frame_indices(frames, self.config.localization_frames, pixel_values.device)  # (k,)
        every_frame = len(localized) == frames
        local_inputs = pixel_values if every_frame else pixel_values[:, localized]
        local = self.localize(local_inputs.flatten(0, 1))
        frame_logits = local["frame_logits"].view(batch, len(localized))
        localization_logits = frame_logits.mean(-1)
        masks = torch.sigmoid(local["mask_logits"]).view(batch, len(localized), *local["mask_logits"].shape[-2:])
        frame_mask_scores = self.mask_score(masks)  # (batch, k)
        mask_scores = frame_mask_scores.mean(-1)
        probabilities = self.fuse(recovery_logits, localization_logits, mask_scores)
        logits = torch.logit(probabilities, eps=1e-6)
        frame_scores = self.localization_probability(frame_logits, frame_mask_scores)
        if not every_frame:  # every frame takes the mask and score of its nearest analysed frame
            nearest = (torch.arange(frames, device=localized.device)[:, None] - localized[None]).abs().argmin(1)
            frame_scores, masks = frame_scores[:, nearest], masks[:, nearest]
        output = DelocateDeepfakeDetectionOutput(
            loss=detection_loss(probabilities, labels) if labels is not None else None, logits=logits,
            probabilities=probabilities, recovery_logits=recovery_logits, localization_logits=localization_logits,
            frame_scores=frame_scores, masks=masks, localized_frames=localized, mask_scores=mask_scores,
        )
        return output if return_dict is not False else output.to_tuple()


DelocateConfig.register_for_auto_class()
DelocateForMaskedRecovery.register_for_auto_class("AutoModelForPreTraining")
DelocateForVideoClassification.register_for_auto_class("AutoModelForVideoClassification")
DelocateForForgeryLocalization.register_for_auto_class("AutoModelForImageSegmentation")
DelocateForDeepfakeDetection.register_for_auto_class("AutoModel")

__all__ = [
    "DelocatePreTrainedModel",
    "DelocateForMaskedRecovery",
    "DelocateForVideoClassification",
    "DelocateForForgeryLocalization",
    "DelocateForDeepfakeDetection",
]
