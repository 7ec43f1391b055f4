"""What the probes that score a trained detector share (`probe_mask_fusion.py`, `probe_mask_threshold.py`): their
command line (`--detector --validation --heldout --seed --threads --log`) and the detector loaded as the evaluation
runs it (every frame analysed)."""

import argparse
from pathlib import Path

import torch

from modeling import DelocateForDeepfakeDetection


def detector_probe_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", required=True, help="a trained detector folder (assemble.py output)")
    parser.add_argument("--validation", required=True, help="face-clip cache of the validation people")
    parser.add_argument("--heldout", required=True, help="face-clip cache of the held-out people")
    parser.add_argument("--seed", type=int, default=0, help="the demo / default-model run's seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log", type=Path, default=None)
    return parser


def load_probe_detector(args: argparse.Namespace) -> DelocateForDeepfakeDetection:
    """`args.detector` in eval mode on `args.threads` threads, its localizer on every frame (as the evaluation)."""
    torch.set_num_threads(args.threads)
    model = DelocateForDeepfakeDetection.from_pretrained(args.detector).eval()
    model.config.localization_frames = None
    return model
