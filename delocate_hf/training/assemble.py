"""Assemble `DelocateForDeepfakeDetection` from the stage checkpoints, with its processor, into one folder that
loads with `from_pretrained` (and `AutoModel` / `pipeline("deepfake-detection")`). The processor is the one the stages
were trained with (the localizer's, else the classifier's or the recovery model's; stages whose processors crop
differently are refused; folders without one get the config's, `processors.detector_processor`). Loading and saving
are quiet (no per-load progress bars; expected load-report rows silenced, only rows the architectures do not explain shown) unless `--debug` or `DELOCATE_DEBUG=1`."""

import argparse
from pathlib import Path

from modeling import (
    DelocateForDeepfakeDetection,
    DelocateForForgeryLocalization,
    DelocateForMaskedRecovery,
    DelocateForVideoClassification,
)

from ..utils.quiet import quiet_loading
from .common import save_processor
from .processors import detector_processor, record_masking


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Assemble the Delocate detector from its trained stages")
    parser.add_argument("--classifier", required=True, help="stage-1b DelocateForVideoClassification folder")
    parser.add_argument("--localizer", required=True, help="stage-2 DelocateForForgeryLocalization folder")
    parser.add_argument("--recovery", default=None, help="optional stage-1 folder, kept to show reconstructions")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--fusion_weight", type=float, default=None, help="weight of the stage-1 probability")
    parser.add_argument("--debug", action="store_true",
                        help="show transformers' load reports and its weight loading / writing progress bars")
    return parser


def assemble(classifier_dir, localizer_dir, output_dir: Path, recovery_dir=None, fusion_weight=None,
             debug: bool = False) -> Path:
    with quiet_loading(debug):
        classifier = DelocateForVideoClassification.from_pretrained(classifier_dir)
        localizer = DelocateForForgeryLocalization.from_pretrained(localizer_dir)
        recovery = DelocateForMaskedRecovery.from_pretrained(recovery_dir) if recovery_dir else None
        detector = DelocateForDeepfakeDetection.from_stages(classifier, localizer, recovery=recovery)
        if fusion_weight is not None:
            detector.config.fusion_weight = fusion_weight
            detector.config.check_values()
        processor = detector_processor(detector.config, localizer_dir, classifier_dir, recovery_dir)
        record_masking(detector.config, processor)
        output_dir = Path(output_dir)
        detector.save_pretrained(output_dir, safe_serialization=True)
        save_processor(detector.config, output_dir, processor)
    return output_dir


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    folder = assemble(args.classifier, args.localizer, args.output_dir, args.recovery, args.fusion_weight, args.debug)
    print(f"detector -> {folder}")
    return folder


if __name__ == "__main__":
    main()
