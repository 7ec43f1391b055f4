"""Building blocks of Delocate's localization stage (paper §3.2).

* `DelocateMappingModule`: ResNet-18 stem + first three residual stages (`transformers.ResNetModel`), their outputs
  resized to one grid and concatenated, then three convolutions -> the 56x56x3 "mapped face". With
  `config.mapping_backbone` an EfficientNet-Lite variant, that backbone's feature maps at strides 4, 8, 16 instead.
* `DelocateSEEncoder`: convolution stages with squeeze-and-excitation (SENet).
* `DelocateEfficientNetLiteEncoder`: the same interface (a list of skips, shallowest first) on an ImageNet
  EfficientNet-Lite (`config.loc_encoder`), like smp's pretrained encoders behind its `Unet`.
* `DelocateUNetDecoder`: UNet decoder whose stages end in concurrent spatial & channel SE (scSE), giving features.
* `DelocateSegmentationHead`: smp-style head, decoder features -> 1-channel mask logits.
* `DelocateLocalizationNetwork`: the three together plus the frame classifier fed by mapping and localization features.

The losses of this stage (`forgery_mask_loss` among them) are in `losses_delocate.py`.

All tensors are per frame: `(N, C, H, W)` with N = batch * frames.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ResNetModel

from .configuration_delocate import DelocateConfig
from .efficientnet_lite import EfficientNetLite


def conv_of_concat(conv: nn.Conv2d, parts: list[torch.Tensor]) -> torch.Tensor:
    """`conv(torch.cat(parts, dim=1))` without building the concatenation: the sum of `conv`'s weight slices applied
    to each part (same parameters, same result up to float rounding). A channels-last concatenation is a strided
    copy that took a fifth of the localizer's CPU time."""
    if len(parts) == 1:
        return conv(parts[0])
    out, start = None, 0
    for index, part in enumerate(parts):
        weight = conv.weight[:, start : start + part.shape[1]]
        bias = conv.bias if index == 0 else None
        partial = F.conv2d(part, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        out = partial if out is None else out + partial
        start += part.shape[1]
    if start != conv.in_channels:
        raise ValueError(f"conv expects {conv.in_channels} input channels, the parts have {start}")
    return out


def sequential_of_concat(sequential: nn.Sequential, parts: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """`sequential(torch.cat(parts, dim=1))` for a sequential that starts with a convolution (`conv_of_concat`)."""
    hidden_states = conv_of_concat(sequential[0], list(parts) if isinstance(parts, (list, tuple)) else [parts])
    for layer in list(sequential)[1:]:  # (slicing would build a new container)
        hidden_states = layer(hidden_states)
    return hidden_states


class DelocateConvBlock(nn.Sequential):
    """Two 3x3 conv + BatchNorm + ReLU. Called with a list of tensors, it convolves their channel concatenation."""

    def forward(self, hidden_states: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        return sequential_of_concat(self, hidden_states)

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DelocateSqueezeExcitation(nn.Module):
    """Channel squeeze-and-excitation (Hu et al., 2018): x * sigmoid(MLP(avgpool(x)))."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        weights = F.adaptive_avg_pool2d(hidden_states, 1)
        weights = torch.sigmoid(self.fc2(F.relu(self.fc1(weights))))
        return hidden_states * weights


class DelocateSCSE(nn.Module):
    """Concurrent spatial and channel squeeze & excitation (Roy et al., 2018): cSE(x) + sSE(x)."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.channel_se = DelocateSqueezeExcitation(channels, reduction)
        self.spatial_se = nn.Conv2d(channels, 1, 1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.channel_se(hidden_states) + hidden_states * torch.sigmoid(self.spatial_se(hidden_states))


class DelocateMappingModule(nn.Module):
    """Maps a face `(N, 3, H, W)` to the mapped face `(N, 3, mapped_size, mapped_size)` in [0, 1].

    Returns `(mapped_faces, features)` where `features` `(N, mapping_hidden_channels, s, s)` feed the classifier.
    """

    def __init__(self, config: DelocateConfig):
        super().__init__()
        self.mapped_size = config.mapped_size
        self.num_stages = config.mapping_num_stages
        if config.mapping_backbone == "resnet":
            self.backbone = ResNetModel(config.to_resnet_config())
            in_channels = sum(config.resnet_hidden_sizes[: config.mapping_num_stages])
        else:  # EfficientNet-Lite: its maps at strides 4, 8, 16 (, 32) stand for ResNet's stages 1-3 (4)
            self.backbone = EfficientNetLite(config.mapping_backbone, config.num_channels)
            in_channels = sum(self.backbone.feature_channels[1 : 1 + config.mapping_num_stages])
        hidden = config.mapping_hidden_channels
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True))
        self.conv3 = nn.Conv2d(hidden, config.num_channels, 3, padding=1)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.backbone, EfficientNetLite):  # feature maps at strides 2, 4, ...: skip the first
            stages = self.backbone.forward_features(pixel_values, num_levels=self.num_stages + 1)[1:]
        else:  # hidden_states: (stem output, stage 1, ..., stage k)
            stages = self.backbone(pixel_values, output_hidden_states=True).hidden_states[1:]
        grid = (self.mapped_size, self.mapped_size)
        resized = [
            stage if stage.shape[-2:] == grid else F.interpolate(stage, size=grid, mode="bilinear", align_corners=False)
            for stage in stages
        ]
        features = self.conv2(sequential_of_concat(self.conv1, resized))  # (N, hidden, s, s)
        mapped = torch.sigmoid(self.conv3(features))  # (N, 3, s, s)
        return mapped, features


class DelocateSEEncoder(nn.Module):
    """SE encoder: stage 0 at full resolution, every later stage max-pools by 2 first. Returns all stage outputs."""

    def __init__(self, in_channels: int, channels: list[int], reduction: int):
        super().__init__()
        self.stages = nn.ModuleList()
        previous = in_channels
        for width in channels:
            self.stages.append(nn.Sequential(DelocateConvBlock(previous, width), DelocateSqueezeExcitation(width, reduction)))
            previous = width

    def forward(self, hidden_states: torch.Tensor | list[torch.Tensor]) -> list[torch.Tensor]:
        """`hidden_states` (N, C, H, W), or a list of tensors whose channel concatenation is the input."""
        skips = []
        for index, stage in enumerate(self.stages):
            if index > 0:
                hidden_states = F.max_pool2d(hidden_states, 2)
            hidden_states = stage(hidden_states)
            skips.append(hidden_states)
        return skips


class DelocateEfficientNetLiteEncoder(nn.Module):
    """An ImageNet EfficientNet-Lite as the localization encoder: returns six skips, shallowest first — a
    full-resolution convolution of the input `(N, 16, H, W)`, then the backbone's last feature map at each of the
    strides 2, 4, 8, 16, 32 (`(N, feature_channels[k], H / 2**(k+1), W / 2**(k+1))`).

    The input is the channel concatenation of the parts given (face, mapped face, ...); the backbone's stem reads the
    face's three channels first, so ImageNet weights apply to it (the other input channels start at zero weight).
    `with_head`: the backbone keeps its ImageNet head (1x1 convolution to 1280 channels), `head_features` applies it
    to the deepest skip (for the frame classifier; the decoder still reads the skips).
    """

    def __init__(self, in_channels: int, name: str, full_resolution_channels: int = 16, with_head: bool = False):
        super().__init__()
        self.full_resolution = nn.Sequential(
            nn.Conv2d(in_channels, full_resolution_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(full_resolution_channels),
            nn.ReLU(inplace=True),
        )
        self.backbone = EfficientNetLite(name, in_channels, with_head=with_head, num_labels=0)
        self.out_channels = [full_resolution_channels] + list(self.backbone.feature_channels)
        self.head_channels = self.backbone.head_channels

    def head_features(self, deepest: torch.Tensor) -> torch.Tensor:
        """The deepest skip `(N, out_channels[-1], h, w)` -> the ImageNet head's `(N, head_channels, h, w)`."""
        return self.backbone.forward_head(deepest)

    def forward(self, hidden_states: torch.Tensor | list[torch.Tensor]) -> list[torch.Tensor]:
        """`hidden_states` (N, C, H, W), or a list of tensors whose channel concatenation is the input."""
        if isinstance(hidden_states, (list, tuple)):
            hidden_states = torch.cat(list(hidden_states), dim=1)
        return [self.full_resolution(hidden_states)] + self.backbone.forward_features(hidden_states)


class DelocateUNetDecoderStage(nn.Module):
    """Upsample x2, concatenate the skip connection, conv block, scSE attention."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, use_scse: bool, reduction: int):
        super().__init__()
        self.block = DelocateConvBlock(in_channels + skip_channels, out_channels)
        self.attention = DelocateSCSE(out_channels, reduction) if use_scse else nn.Identity()

    def forward(self, hidden_states: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        hidden_states = F.interpolate(hidden_states, size=skip.shape[-2:], mode="nearest")
        return self.attention(self.block([hidden_states, skip]))  # block of the concatenation [upsampled, skip]


class DelocateSegmentationHead(nn.Conv2d):
    """smp's `SegmentationHead` for one class: a convolution from decoder features `(N, C, H, W)` to mask logits
    `(N, 1, H, W)`, no activation (the losses and the detector apply the sigmoid), no upsampling (the decoder already
    ends at full resolution). A `Conv2d` itself, so its weights keep the checkpoint keys `...decoder.head.weight|bias`.
    """

    def __init__(self, in_channels: int, out_channels: int = 1, kernel_size: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class DelocateUNetDecoder(nn.Module):
    """UNet decoder from the deepest encoder stage back to full resolution: returns the last stage's features
    `(N, decoder_channels[-1], H, W)`. The mask logits come from the separate segmentation head (smp's layout:
    decoder, then head), which the decoder holds as `head` only so that saved state-dict keys stay as they were;
    the localization network calls it (`DelocateLocalizationNetwork.segmentation_head`)."""

    def __init__(self, encoder_channels: list[int], decoder_channels: list[int], use_scse: bool, reduction: int):
        super().__init__()
        self.stages = nn.ModuleList()
        previous = encoder_channels[-1]
        for skip_channels, width in zip(reversed(encoder_channels[:-1]), decoder_channels):
            self.stages.append(DelocateUNetDecoderStage(previous, skip_channels, width, use_scse, reduction))
            previous = width
        self.head = DelocateSegmentationHead(previous)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        """`skips`: the encoder stage outputs, shallowest first -> decoder features `(N, decoder_channels[-1], H, W)`."""
        hidden_states = skips[-1]
        for stage, skip in zip(self.stages, reversed(skips[:-1])):
            hidden_states = stage(hidden_states, skip)
        return hidden_states


def high_pass_residual(pixel_values: torch.Tensor) -> torch.Tensor:
    """`pixel_values` (N, C, H, W) -> `x - blur(x)` (N, C, H, W): the residual of a 3x3 binomial blur per channel
    (edges replicated), i.e. the image's highest frequencies (noise, fine detail, the sharp part of a blend's edge)."""
    kernel = torch.tensor([1.0, 2.0, 1.0], dtype=pixel_values.dtype, device=pixel_values.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16.0).expand(pixel_values.shape[1], 1, 3, 3)
    blurred = F.conv2d(F.pad(pixel_values, (1, 1, 1, 1), mode="replicate"), kernel, groups=pixel_values.shape[1])
    return pixel_values - blurred


def pool_frame(features: torch.Tensor, pooling: str) -> torch.Tensor:
    """`features` (N, C, h, w) -> (N, C) for "mean", (N, 2C) for "mean_max" ([mean, max]) and "contrast".

    "contrast" pools only how a feature *varies within the face*: `[max - mean, std]` over space. A property of the
    whole frame (blur, sharpness, noise, colour cast, the scene) moves a feature's mean but not its spread, so it
    cannot raise the score; a blend, which makes one region differ from the rest, can.
    """
    mean = features.mean(dim=(2, 3))
    if pooling == "mean":
        return mean
    if pooling == "mean_max":
        return torch.cat([mean, features.amax(dim=(2, 3))], dim=1)
    return torch.cat([features.amax(dim=(2, 3)) - mean, features.std(dim=(2, 3))], dim=1)


class DelocateLocalizationNetwork(nn.Module):
    """Per-frame stage-2 network: mapping module, SE encoder / UNet-scSE decoder, frame classifier.

    The encoder sees the face and its mapped face (upsampled), 6 channels (9 with `config.loc_residual_input`: the
    face's high-pass residual too); the classifier sees pooled mapping
    features and pooled deepest encoder features ("classification uses both", paper §3.2): global average pooling, or
    average and maximum side by side (`config.frame_pooling`).
    """

    def __init__(self, config: DelocateConfig):
        super().__init__()
        self.mapping = DelocateMappingModule(config)
        self.residual_gain = float(config.loc_residual_input)
        inputs = 3 if self.residual_gain else 2  # face, mapped face (and the face's high-pass residual)
        if config.loc_encoder == "se":
            self.encoder = DelocateSEEncoder(inputs * config.num_channels, list(config.loc_encoder_channels),
                                             config.se_reduction)
            encoder_channels = list(config.loc_encoder_channels)
        else:
            self.encoder = DelocateEfficientNetLiteEncoder(inputs * config.num_channels, config.loc_encoder,
                                                           with_head=config.loc_encoder_head)
            encoder_channels = self.encoder.out_channels
        self.encoder_head = config.loc_encoder_head
        classified = self.encoder.head_channels if self.encoder_head else encoder_channels[-1]
        self.decoder = DelocateUNetDecoder(
            encoder_channels, list(config.loc_decoder_channels), config.use_scse, config.se_reduction
        )
        self.frame_pooling = config.frame_pooling
        pooled = (config.mapping_hidden_channels + classified) * (1 if self.frame_pooling == "mean" else 2)
        self.classifier = nn.Linear(pooled, 1)
        self.chunk_size = config.localization_chunk_size

    @property
    def segmentation_head(self) -> DelocateSegmentationHead:
        """The mask head applied to the decoder's features (stored as `decoder.head`, see `DelocateUNetDecoder`)."""
        return self.decoder.head

    def forward(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        """`pixel_values` (N, 3, H, W) normalised faces -> dict of `frame_logits` (N,), `mask_logits` (N, 1, H, W),
        `mapped_faces` (N, 3, s, s).

        In eval mode the frames go through in chunks of `config.localization_chunk_size` (BatchNorm uses its
        running statistics there, so the results do not depend on the chunking); in training mode all at once."""
        chunk = self.chunk_size
        if self.training or chunk is None or pixel_values.shape[0] <= chunk:
            return self._forward_frames(pixel_values)
        parts = [self._forward_frames(part) for part in pixel_values.split(chunk)]
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}

    def _forward_frames(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        # channels-last (NHWC) lets oneDNN run the convolutions without reordering every layer (about 1.3x faster
        # on CPU); the outputs are returned in the default contiguous layout.
        pixel_values = pixel_values.contiguous(memory_format=torch.channels_last)
        mapped, map_features = self.mapping(pixel_values)
        mapped_up = F.interpolate(mapped, size=pixel_values.shape[-2:], mode="bilinear", align_corners=False)
        inputs = [pixel_values, mapped_up]  # the encoder sees face and mapped face, 6 channels
        if self.residual_gain:  # and the face's high-pass residual, 9 channels
            inputs.append(self.residual_gain * high_pass_residual(pixel_values))
        skips = self.encoder(inputs)
        mask_logits = self.segmentation_head(self.decoder(skips))  # (N, 1, H, W)
        deepest = self.encoder.head_features(skips[-1]) if self.encoder_head else skips[-1]
        pooled = torch.cat([pool_frame(f, self.frame_pooling) for f in (map_features, deepest)], dim=1)  # (N, pooled)
        frame_logits = self.classifier(pooled).squeeze(-1)
        return {"frame_logits": frame_logits, "mask_logits": mask_logits.contiguous(), "mapped_faces": mapped.contiguous()}

