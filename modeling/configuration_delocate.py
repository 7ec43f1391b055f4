"""Delocate model configuration.

One `DelocateConfig` serves every Delocate head (like `VideoMAEConfig` serves every VideoMAE head):
the recovery masked autoencoder (stage 1), its fine-tuned classifier (stage 1b), the localization
network (stage 2) and the fused detector.

This file imports only `transformers`: it is shipped as remote code (`auto_map`) beside saved checkpoints.
"""

from huggingface_hub.dataclasses import strict
from transformers import PretrainedConfig, ResNetConfig, VideoMAEConfig

IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)

MASK_STRATEGIES = ("roi", "eyes", "cheek_nose", "lips", "no_roi", "mae", "tube")
SCORE_FUSIONS = ("mean_prob", "recovery_only", "localization_only")
LOCALIZATION_LOSSES = ("mse", "bce_dice")
# How the stage-2 frame classifier pools its feature maps: "mean" (global average, the paper) or "mean_max"
# (average and maximum side by side: a blend trace in a small part of the face is not averaged away).
FRAME_POOLINGS = ("mean", "mean_max", "contrast")
# ImageNet backbones stage 2 can be built on (`modeling.efficientnet_lite`; weights: `delocate_hf.pretrained`).
EFFICIENTNET_LITE_BACKBONES = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
MAPPING_BACKBONES = ("resnet",) + EFFICIENTNET_LITE_BACKBONES
LOCALIZATION_ENCODERS = ("se",) + EFFICIENTNET_LITE_BACKBONES
# Decoder widths an EfficientNet-Lite encoder needs: one per skip above the deepest (a full-resolution convolution,
# then the backbone's strides 2, 4, 8, 16, 32: six skips, five decoder stages).
EFFICIENTNET_DECODER_CHANNELS = (128, 64, 48, 32, 16)
LOCALIZATION_AUTO_POS_WEIGHT_RANGE = (1.0, 100.0)  # clamp of the automatic positive weight of "bce_dice"
# Held-out AUC below which front ends say, beside every verdict, that the model is near chance.
NEAR_CHANCE_AUC = 0.65


def check_verdict_settings(decision_threshold, inconclusive_band=None, calibration=None) -> None:
    """Checks `decision_threshold`, `inconclusive_band` and `calibration` (see `DelocateConfig`); one-line
    ValueError naming the bad one."""
    if isinstance(decision_threshold, bool) or not isinstance(decision_threshold, (int, float)) \
            or not 0.0 < float(decision_threshold) < 1.0:
        raise ValueError(f"decision_threshold must be a number in (0, 1), got {decision_threshold!r}")
    if inconclusive_band is not None:
        band = list(inconclusive_band) if isinstance(inconclusive_band, (list, tuple)) else None
        if band is None or len(band) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in band):
            raise ValueError(f"inconclusive_band must be None or two numbers (lo, hi), got {inconclusive_band!r}")
        lo, hi = float(band[0]), float(band[1])
        if not 0.0 <= lo <= float(decision_threshold) <= hi <= 1.0 or lo == hi:
            raise ValueError(f"inconclusive_band must satisfy 0 <= lo <= decision_threshold ({decision_threshold}) "
                             f"<= hi <= 1 with lo < hi, got {inconclusive_band!r}")
    if calibration is not None:
        if not isinstance(calibration, dict):
            raise ValueError(f"calibration must be a dict or None, got {type(calibration).__name__}")
        for key in ("auc", "test_auc"):
            auc = calibration.get(key)
            if auc is not None and (isinstance(auc, bool) or not isinstance(auc, (int, float)) or not 0.0 <= auc <= 1.0):
                raise ValueError(f"calibration['{key}'] must be a number in [0, 1] or None, got {auc!r}")
        n = calibration.get("n")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"calibration['n'] must be an int >= 0, got {n!r}")


@strict
class DelocateConfig(PretrainedConfig):
    r"""
    Configuration of the Delocate models. Defaults reproduce the paper (IJCAI 2024): VideoMAE-B encoder
    (224 px, patch 16, 16 frames, tubelet 2, 768 hidden / 12 layers), 384 / 4-layer decoder, ROI mask ratio 0.75,
    ResNet-18 mapping module giving 56x56x3 mapped faces, SE encoder + UNet/scSE decoder for the forgery mask.

    Recovery transformer (same meaning as in `VideoMAEConfig`):
        image_size, patch_size, num_channels, num_frames, tubelet_size, hidden_size, num_hidden_layers,
        num_attention_heads, intermediate_size, hidden_act, hidden_dropout_prob, attention_probs_dropout_prob,
        initializer_range, layer_norm_eps, qv_bias, use_mean_pooling, decoder_num_attention_heads,
        decoder_hidden_size, decoder_num_hidden_layers, decoder_intermediate_size, norm_pix_loss.
    image_mean / image_std (`tuple[float]`):
        Normalisation the processor applies; the recovery model un-normalises its reconstruction with them.
    mask_ratio (`float`, defaults to 0.75):
        Ratio of masked tokens inside the chosen facial-part ROI (paper §4.4).
    mask_strategy (`str`, defaults to `"roi"`):
        Token-masking strategy, one of `MASK_STRATEGIES`. These two record the masking the recovery model was
        pretrained with; the processor owns it (`mask_strategy` / `mask_ratio` in `preprocessor_config.json`, what
        training masks with and saves, `delocate_hf.training.processors`); a folder without a processor falls back
        to them.
    classifier_dropout (`float`):
        Dropout before the stage-1b classification head.
    mapped_size (`int`, defaults to 56):
        Side of the mapped face produced by the mapping module.
    resnet_embedding_size, resnet_hidden_sizes, resnet_depths:
        ResNet-18 layout (basic blocks, depths [2, 2, 2, 2]) of the mapping module, built with `transformers.ResNetModel`.
    mapping_num_stages (`int`, defaults to 3):
        How many residual stages of the ResNet feed the mapping convolutions (paper: the first three).
    mapping_backbone (`str`, defaults to `"resnet"`):
        The mapping module's backbone, one of `MAPPING_BACKBONES`: `"resnet"` (the paper's ResNet-18 stem and first
        `mapping_num_stages` stages, layout from the `resnet_*` fields) or an EfficientNet-Lite variant
        (`modeling.efficientnet_lite`: its feature maps at strides 4, 8, 16 for 3 stages).
    mapping_hidden_channels (`int`):
        Channels of the three mapping convolutions.
    loc_encoder (`str`, defaults to `"se"`):
        The localization encoder, one of `LOCALIZATION_ENCODERS`: `"se"` (the paper's SE encoder, widths
        `loc_encoder_channels`) or an EfficientNet-Lite variant (a full-resolution convolution, then the backbone's
        feature maps at strides 2-32; its stem reads the face's RGB channels first, so ImageNet weights apply; needs
        5 `loc_decoder_channels`, e.g. `EFFICIENTNET_DECODER_CHANNELS`, and `image_size` divisible by 32).
    loc_encoder_head (`bool`, defaults to `False`):
        With an EfficientNet-Lite `loc_encoder`: the frame classifier pools the backbone's ImageNet head (a 1x1
        convolution to 1280 channels, initialised with the backbone) applied to the deepest feature map, instead of
        the deepest map itself (the decoder is unchanged).
    loc_encoder_channels (`tuple[int]`):
        Channels of the SE encoder stages; each stage after the first halves the resolution.
    loc_decoder_channels (`tuple[int]`):
        Channels of the UNet decoder stages (one fewer than encoder stages).
    use_scse (`bool`):
        Concurrent spatial and channel squeeze-and-excitation in the decoder.
    se_reduction (`int`):
        Channel reduction of the SE / scSE blocks.
    mask_threshold (`float`, defaults to 0.5):
        Threshold that binarises predicted masks at evaluation (paper Eq. 5).
    cls_loss_weight, map_loss_weight, loc_loss_weight (`float`):
        Weights of the stage-2 losses `L_cls`, `L_mse_map` and `L_mse_loc` (paper Eq. 6 uses 1, 1, 1).
    localization_loss (`str`, defaults to `"mse"`):
        The mask loss `loss_loc`, one of `LOCALIZATION_LOSSES`. Means and sums run over all pixels of the batch's
        frames that have a ground-truth mask `y` (frames whose mask is all -1 are left out); `p = sigmoid(mask_logits)`.
        `"mse"` (the paper's `L_mse_loc`): `mean((p - y)**2)`. On sparse masks at small scale it collapses to
        "nothing tampered": once `p ~ 0` its gradient `2 (p - y) p (1 - p)` vanishes (issue 12).
        `"bce_dice"`: `BCE_w + Dice`, the positive-weighted binary cross-entropy
        `BCE_w = mean(-(w * y * log p + (1 - y) * log(1 - p)))` plus the soft Dice
        `Dice = 1 - (2 * sum(p * y) + 1) / (sum(p) + sum(y) + 1)`.
    localization_pos_weight (`float` or `None`, defaults to `None`):
        The positive weight `w` of `"bce_dice"`. `None`: from each batch, `w = (1 - f) / f` with `f = mean(y)`,
        clamped to `LOCALIZATION_AUTO_POS_WEIGHT_RANGE` = [1, 100] (a batch with no positive pixel gets 100).
    frame_pooling (`str`, defaults to `"mean"`):
        How the stage-2 frame classifier pools the mapping and deepest encoder features, one of `FRAME_POOLINGS`:
        `"mean"` (global average pooling), `"mean_max"` (global average and global maximum, concatenated: a
        local blending trace is not averaged away over the whole face) or `"contrast"` (maximum minus average, and
        standard deviation, over the face: only how features vary *within* the frame, so a property of the whole
        frame, such as blur or the scene, cannot raise the score; `localization_modules.pool_frame`).
    loc_residual_input (`float`, defaults to 0):
        Gain `g` of a fixed high-pass residual input to the stage-2 encoder: `g * (x - blur3x3(x))` of the face,
        3 more input channels beside the face and its mapped face (`localization_modules.high_pass_residual`). A
        blend leaves its trace mostly in the high frequencies (noise level, detail mismatch at the blend's edge); a
        small network trained from scratch sees them directly. 0: off (the paper's 6-channel encoder input).
    init_sources (`list[dict]` or `None`, defaults to `None`):
        The pretrained weights the model started from (`InitReport.to_dict()` of each: source, target, counts,
        licence), written by the training scripts' `--init_videomae` / `--init_backbone` and shown in the model card.
        The weights themselves travel in the model's safetensors.
    score_fusion (`str`, defaults to `"mean_prob"`):
        How the detector combines stages: `mean_prob` averages the two stages' fake probabilities
        (weight `fusion_weight` on stage 1), as the paper's "average the output".
    fusion_weight (`float`, defaults to 0.5):
        Weight of the stage-1 probability in `mean_prob` fusion.
    mask_score_weight (`float`, defaults to 0.0):
        Weight `a` of the forgery mask's own score in the localization stage's probability:
        `p_localization = a * mask_score + (1 - a) * sigmoid(localization_logit)`, per frame and per clip. 0: the
        frame classifier alone (the paper's). Chosen on validation people by `delocate_hf.training.calibrate`.
    mask_score_top_fraction (`float`, defaults to 0.05):
        The mask score of a frame: the mean of its top `mask_score_top_fraction` pixel probabilities (a blend
        covers part of the face, so the mean of the whole mask would dilute it); a clip's is the mean over its
        analysed frames.
    test_time_flip (`bool`, defaults to `False`):
        Test-time augmentation of the detector's localizer: in eval mode it also analyses every frame mirrored
        left-right and averages the two analyses (frame logits; mask logits mirrored back), at twice the localizer's
        cost. Training (and `DelocateForForgeryLocalization`) never flips this way. `make default-model` lets its
        validation people choose it (`delocate_hf.training.calibrate.choose_test_time_flip`).
    detector_include_recovery (`bool`):
        Whether `DelocateForDeepfakeDetection` also holds the recovery autoencoder (to show reconstructions).
    localization_frames (`int` or `None`, defaults to 4):
        How many frames of each clip the detector's per-frame localizer analyses: evenly spaced (segment centres); the
        other frames take the mask and score of the nearest analysed frame (ties: the earlier; `localized_frames` in
        the output says which). `None` analyses every frame. At 224 px a localized frame costs 21 GFLOP, 6 % of the
        VideoMAE-B clip encoder: 4 of 16 frames keeps the detector within 1.3x a bare VideoMAE, all 16 nearly double
        it. Training the localizer (stage 2) always uses every frame given.
    localization_chunk_size (`int` or `None`, defaults to 4):
        Frames per localizer forward in eval mode (results are identical; bounds activation memory, and on CPU
        small chunks stay in cache: 16 frames at once is 1.7x slower). `None` runs all frames at once.
    decision_threshold (`float`, defaults to 0.5):
        Video verdict: "fake" when the fused score (probability of fake) is `>= decision_threshold`, else "real",
        except inside `inconclusive_band`. Set from held-out scores by `delocate_hf.training.calibrate`.
    inconclusive_band (`tuple[float, float]` or `None`, defaults to `None`):
        `(lo, hi)` with `0 <= lo <= decision_threshold <= hi <= 1`: a score with `lo <= score <= hi` gets the
        verdict "inconclusive" (the held-out data cannot tell on which side of the threshold it lies). `None`: no
        band.
    calibration (`dict` or `None`, defaults to `None`):
        Where the two settings above come from: `{"auc", "n", "n_fake", "date", "method", "band_rule", ...}` of the
        held-out split they were chosen on (`auc` in [0, 1]). `None`: not calibrated; front ends then say "not
        calibrated" beside every verdict, and "near chance on held-out data" when `auc < NEAR_CHANCE_AUC` (0.65).
    """

    model_type = "delocate"

    # Recovery transformer (VideoMAE)
    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    num_frames: int = 16
    tubelet_size: int = 2
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    qv_bias: bool = True
    use_mean_pooling: bool = True
    decoder_num_attention_heads: int = 6
    decoder_hidden_size: int = 384
    decoder_num_hidden_layers: int = 4
    decoder_intermediate_size: int = 1536
    norm_pix_loss: bool = True
    image_mean: list[float] | tuple[float, ...] = IMAGENET_DEFAULT_MEAN
    image_std: list[float] | tuple[float, ...] = IMAGENET_DEFAULT_STD
    # Facial-part ROI masking
    mask_ratio: float = 0.75
    mask_strategy: str = "roi"
    # Stage 1b classifier
    classifier_dropout: float | int = 0.0
    # Stage 2 localization
    mapped_size: int = 56
    resnet_embedding_size: int = 64
    resnet_hidden_sizes: list[int] | tuple[int, ...] = (64, 128, 256, 512)
    resnet_depths: list[int] | tuple[int, ...] = (2, 2, 2, 2)
    mapping_num_stages: int = 3
    mapping_backbone: str = "resnet"
    mapping_hidden_channels: int = 64
    loc_encoder: str = "se"
    loc_encoder_head: bool = False
    loc_encoder_channels: list[int] | tuple[int, ...] = (32, 64, 128, 256)
    loc_decoder_channels: list[int] | tuple[int, ...] = (128, 64, 32)
    use_scse: bool = True
    se_reduction: int = 16
    mask_threshold: float = 0.5
    cls_loss_weight: float | int = 1.0
    map_loss_weight: float | int = 1.0
    loc_loss_weight: float | int = 1.0
    localization_loss: str = "mse"
    localization_pos_weight: float | int | None = None
    frame_pooling: str = "mean"
    loc_residual_input: float | int = 0.0
    init_sources: list[dict] | None = None
    # Detector
    score_fusion: str = "mean_prob"
    fusion_weight: float | int = 0.5
    mask_score_weight: float | int = 0.0
    mask_score_top_fraction: float | int = 0.05
    test_time_flip: bool = False
    detector_include_recovery: bool = False
    localization_frames: int | None = 4
    localization_chunk_size: int | None = 4
    # Verdict (set by delocate_hf.training.calibrate)
    decision_threshold: float | int = 0.5
    inconclusive_band: list[float] | tuple[float, ...] | None = None
    calibration: dict | None = None

    def __post_init__(self, **kwargs):
        if "qkv_bias" in kwargs:  # VideoMAE's legacy name
            self.qv_bias = kwargs.pop("qkv_bias")
        for name in ("image_mean", "image_std", "resnet_hidden_sizes", "resnet_depths",
                     "loc_encoder_channels", "loc_decoder_channels"):
            setattr(self, name, list(getattr(self, name)))
        if self.inconclusive_band is not None:
            self.inconclusive_band = list(self.inconclusive_band)
        super().__post_init__(**kwargs)
        self.check_values()

    def check_values(self):
        """Checks every Delocate setting; raises ValueError naming the bad one."""
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of patch_size ({self.patch_size})")
        if self.num_frames % self.tubelet_size:
            raise ValueError(f"num_frames ({self.num_frames}) must be a multiple of tubelet_size ({self.tubelet_size})")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads ({self.num_attention_heads})"
            )
        if self.decoder_hidden_size % self.decoder_num_attention_heads:
            raise ValueError(
                f"decoder_hidden_size ({self.decoder_hidden_size}) must be a multiple of "
                f"decoder_num_attention_heads ({self.decoder_num_attention_heads})"
            )
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.mask_strategy not in MASK_STRATEGIES:
            raise ValueError(f"mask_strategy must be one of {MASK_STRATEGIES}, got {self.mask_strategy!r}")
        if len(self.image_mean) != self.num_channels or len(self.image_std) != self.num_channels:
            raise ValueError(f"image_mean and image_std need {self.num_channels} values each")
        if len(self.resnet_hidden_sizes) != len(self.resnet_depths):
            raise ValueError("resnet_hidden_sizes and resnet_depths must have the same length")
        if not 1 <= self.mapping_num_stages <= len(self.resnet_depths):
            raise ValueError(
                f"mapping_num_stages must be in [1, {len(self.resnet_depths)}], got {self.mapping_num_stages}"
            )
        if self.mapped_size < 1:
            raise ValueError(f"mapped_size must be positive, got {self.mapped_size}")
        if self.mapping_backbone not in MAPPING_BACKBONES:
            raise ValueError(f"mapping_backbone must be one of {MAPPING_BACKBONES}, got {self.mapping_backbone!r}")
        if self.loc_encoder not in LOCALIZATION_ENCODERS:
            raise ValueError(f"loc_encoder must be one of {LOCALIZATION_ENCODERS}, got {self.loc_encoder!r}")
        if self.loc_encoder_head and self.loc_encoder == "se":
            raise ValueError("loc_encoder_head needs an EfficientNet-Lite loc_encoder (the SE encoder has no ImageNet head)")
        if self.mapping_backbone != "resnet" and not 1 <= self.mapping_num_stages <= 4:
            raise ValueError(f"mapping_num_stages must be in [1, 4] with {self.mapping_backbone}, got {self.mapping_num_stages}")
        if len(self.loc_encoder_channels) < 2:
            raise ValueError("loc_encoder_channels needs at least two stages")
        encoder_levels = len(self.loc_encoder_channels) if self.loc_encoder == "se" else len(EFFICIENTNET_DECODER_CHANNELS) + 1
        what = "one fewer than loc_encoder_channels" if self.loc_encoder == "se" else f"one per skip of {self.loc_encoder}"
        if len(self.loc_decoder_channels) != encoder_levels - 1:
            raise ValueError(
                f"loc_decoder_channels needs {encoder_levels - 1} entries ({what}), got {len(self.loc_decoder_channels)}"
            )
        if self.image_size % 2 ** (encoder_levels - 1):
            raise ValueError(
                f"image_size ({self.image_size}) must be divisible by 2**{encoder_levels - 1} for the localization encoder"
            )
        if self.image_size % 4:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of 4 for the ResNet stem")
        if not 0.0 < self.mask_threshold < 1.0:
            raise ValueError(f"mask_threshold must be in (0, 1), got {self.mask_threshold}")
        if self.score_fusion not in SCORE_FUSIONS:
            raise ValueError(f"score_fusion must be one of {SCORE_FUSIONS}, got {self.score_fusion!r}")
        if not 0.0 <= self.fusion_weight <= 1.0:
            raise ValueError(f"fusion_weight must be in [0, 1], got {self.fusion_weight}")
        if not 0.0 <= self.mask_score_weight <= 1.0:
            raise ValueError(f"mask_score_weight must be in [0, 1], got {self.mask_score_weight}")
        if not 0.0 < self.mask_score_top_fraction <= 1.0:
            raise ValueError(f"mask_score_top_fraction must be in (0, 1], got {self.mask_score_top_fraction}")
        for name in ("cls_loss_weight", "map_loss_weight", "loc_loss_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.localization_loss not in LOCALIZATION_LOSSES:
            raise ValueError(f"localization_loss must be one of {LOCALIZATION_LOSSES}, got {self.localization_loss!r}")
        if self.frame_pooling not in FRAME_POOLINGS:
            raise ValueError(f"frame_pooling must be one of {FRAME_POOLINGS}, got {self.frame_pooling!r}")
        if not 0.0 <= self.loc_residual_input < float("inf"):
            raise ValueError(f"loc_residual_input must be a gain >= 0, got {self.loc_residual_input}")
        if self.localization_pos_weight is not None and not 0.0 < self.localization_pos_weight < float("inf"):
            raise ValueError(f"localization_pos_weight must be > 0 or None, got {self.localization_pos_weight}")
        for name in ("localization_frames", "localization_chunk_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {getattr(self, name)}")
        check_verdict_settings(self.decision_threshold, self.inconclusive_band, self.calibration)

    @property
    def num_patches_per_frame(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def seq_length(self) -> int:
        """Number of VideoMAE tokens: (num_frames // tubelet_size) * (image_size // patch_size) ** 2."""
        return (self.num_frames // self.tubelet_size) * self.num_patches_per_frame

    def to_videomae_config(self) -> VideoMAEConfig:
        """The `VideoMAEConfig` of the recovery transformer (encoder and decoder)."""
        return VideoMAEConfig(
            image_size=self.image_size,
            patch_size=self.patch_size,
            num_channels=self.num_channels,
            num_frames=self.num_frames,
            tubelet_size=self.tubelet_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
            qv_bias=self.qv_bias,
            use_mean_pooling=self.use_mean_pooling,
            decoder_num_attention_heads=self.decoder_num_attention_heads,
            decoder_hidden_size=self.decoder_hidden_size,
            decoder_num_hidden_layers=self.decoder_num_hidden_layers,
            decoder_intermediate_size=self.decoder_intermediate_size,
            norm_pix_loss=self.norm_pix_loss,
            attn_implementation=self._attn_implementation,
        )

    def to_resnet_config(self) -> ResNetConfig:
        """ResNet-18 layout truncated to the `mapping_num_stages` stages the mapping module uses."""
        stages = self.mapping_num_stages
        return ResNetConfig(
            num_channels=self.num_channels,
            embedding_size=self.resnet_embedding_size,
            hidden_sizes=list(self.resnet_hidden_sizes[:stages]),
            depths=list(self.resnet_depths[:stages]),
            layer_type="basic",
            hidden_act="relu",
            downsample_in_first_stage=False,
        )

    @classmethod
    def tiny(cls, **overrides) -> "DelocateConfig":
        """A few-hundred-kilo-parameter config for tests (64 px, 4 frames; the localizer analyses every frame)."""
        values = dict(
            image_size=64, patch_size=16, num_frames=4, tubelet_size=2,
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
            decoder_intermediate_size=64, mapped_size=16, resnet_embedding_size=8,
            resnet_hidden_sizes=[8, 16, 32, 64], mapping_hidden_channels=8,
            loc_encoder_channels=[8, 16, 32], loc_decoder_channels=[16, 8], se_reduction=4,
            localization_frames=None,
        )
        values.update(overrides)
        return cls(**values)

    @classmethod
    def small(cls, **overrides) -> "DelocateConfig":
        """The CPU demo / shipped default model config: 64 px, 8 frames, ~0.4 M parameters. Trains in minutes on
        2 cores; a toy next to the paper's configuration (`DelocateConfig()`). At 64 px the localizer is cheap, so it
        analyses every frame."""
        values = dict(
            image_size=64, patch_size=16, num_frames=8, tubelet_size=2,
            hidden_size=64, num_hidden_layers=3, num_attention_heads=2, intermediate_size=128,
            decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
            decoder_intermediate_size=64, mapped_size=16, resnet_embedding_size=16,
            resnet_hidden_sizes=[16, 32, 64, 128], mapping_hidden_channels=16,
            loc_encoder_channels=[16, 32, 64], loc_decoder_channels=[32, 16], se_reduction=4,
            localization_frames=None,
        )
        values.update(overrides)
        return cls(**values)


__all__ = ["DelocateConfig", "EFFICIENTNET_DECODER_CHANNELS", "EFFICIENTNET_LITE_BACKBONES", "FRAME_POOLINGS",
           "LOCALIZATION_ENCODERS", "MAPPING_BACKBONES", "LOCALIZATION_AUTO_POS_WEIGHT_RANGE", "LOCALIZATION_LOSSES", "MASK_STRATEGIES",
           "NEAR_CHANCE_AUC", "SCORE_FUSIONS", "check_verdict_settings"]
