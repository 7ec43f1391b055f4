"""Command-line arguments shared by the training scripts: `--config file.yaml` plus CLI overrides."""

import argparse
import re
from contextlib import contextmanager
from pathlib import Path

import yaml


def common_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, default=None, help="YAML file of argument values; CLI flags override it")
    parser.add_argument("--train_data", nargs="+", default=None, help="face-clip cache folder(s) (preprocess_dataset)")
    parser.add_argument("--output_dir", type=Path, required=False, default=None)
    parser.add_argument("--model_config", default=None,
                        help="'tiny' (tests; the default), 'small' (CPU demo), 'base' (the paper), or a folder / config.json "
                             "of a DelocateConfig; for a model built from scratch (stages 1b and 2 take theirs from the "
                             "checkpoint they start from)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per_device_train_batch_size", type=int, default=8)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--max_train_steps", type=int, default=100)
    parser.add_argument("--learning_rate", type=float, default=None, help="default: the paper's value for the stage")
    parser.add_argument("--weight_decay", type=float, default=None)
    parser.add_argument("--lr_warmup_steps", type=int, default=0)
    parser.add_argument("--lr_scheduler_type", default="cosine", choices=["cosine", "linear", "constant", "constant_with_warmup"])
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    parser.add_argument("--mixed_precision", default="no", choices=["no", "fp16", "bf16"])
    parser.add_argument("--checkpointing_steps", type=int, default=None, help="save_state every N optimizer steps")
    parser.add_argument("--checkpoints_total_limit", type=int, default=3)
    parser.add_argument("--resume_from_checkpoint", default=None, help="a checkpoint folder, or 'latest'")
    parser.add_argument("--with_tracking", action="store_true", help="log to TensorBoard under output_dir/logs")
    parser.add_argument("--logging_steps", type=int, default=10)
    parser.add_argument("--dataloader_num_workers", type=int, default=0)
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is present")
    parser.add_argument("--no_augment", action="store_true", help="no flip / colour augmentation of training clips")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of a setup error (default: one line naming the problem)")
    return parser


def add_pseudo_fake_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of the stages that see fakes (1b, 2): pseudo-fakes drawn on the fly from the real clips (SBI-style), so
    a data set of real videos only trains the whole detector, and global degradations of real and fake alike."""
    parser.add_argument("--pseudo_fakes", default=None,
                        help="comma-separated pseudo-fake families drawn afresh from the real clips at every read "
                             "(self_blend, part_eyes, part_cheek_nose, part_lips, flicker, part_swap; 'all' = these six; "
                             "and the training family local_blend: a self-blend in a random face region); "
                             "default: none, train on the data set's own fakes only")
    parser.add_argument("--pseudo_fake_ratio", type=float, default=0.5,
                        help="when the data set has fakes of its own: the fraction of fakes that are pseudo-fakes")
    parser.add_argument("--pseudo_fake_strength", default="1.0",
                        help="scale of the self-blend transforms: a value, or LOW,HIGH drawn per fake (1: SBI-like "
                             "magnitudes; larger: more visible blends)")
    parser.add_argument("--family_strength", action="append", default=None, metavar="FAMILY=LOW,HIGH",
                        help="a strength (range) of its own for one family, e.g. local_blend=2,4 (repeatable; the "
                             "other families use --pseudo_fake_strength)")
    parser.add_argument("--paired_pseudo_fakes", action="store_true",
                        help="SBI's batches: each real clip beside its own fresh pseudo-fake, with the same "
                             "degradations, flip and colour jitter (and, with --transformed_reals, blended into the real clip as "
                             "it is shown), so the blend is the only difference in a pair")
    parser.add_argument("--transformed_reals", type=float, default=0.0,
                        help="probability that a real clip is shown whole through the self-blend source transform "
                             "(colour, blur / sharpen, down-scaling), so that a blended-in face's softness or colour "
                             "alone does not tell it from a real one, only its mismatch with the rest (0: off)")
    parser.add_argument("--geometric_augment", type=float, default=0.0,
                        help="probability that a training clip (real or fake alike) is also warped by a random "
                             "similarity (rotation +-10 degrees, scale 0.9-1.1, shift +-5%%), mask and ROI boxes "
                             "with it, so no face is seen twice at the same pixels (0: off; needs augmentation on)")
    parser.add_argument("--degrade_probability", type=float, default=0.25,
                        help="probability of each global degradation (blur, rescale, noise, JPEG) per clip, drawn "
                             "for real and fake clips alike (0: off)")
    parser.add_argument("--low_resolution_codec", type=float, default=0.0,
                        help="probability that a rescaled clip gets its noise and JPEG at the small size, before it is "
                             "scaled back up (a small face in a compressed video), instead of after (0: off)")
    parser.add_argument("--eval_data", nargs="+", default=None,
                        help="face-clip cache(s) of held-out clips: AUC (and mask IoU) on them and on the training "
                             "clips every --eval_steps steps, saved as OUTPUT/learning_curve.png|json")
    parser.add_argument("--eval_steps", type=int, default=50, help="learning-curve period in optimizer steps")
    parser.add_argument("--eval_pseudo_fakes", default="self_blend,part_eyes,part_cheek_nose,part_lips,flicker",
                        help="families of the fixed pseudo-fakes made from the real clips of --eval_data (and of "
                             "the training clips) for the learning curve ('none': the caches' own fakes only)")
    parser.add_argument("--eval_max_clips", type=int, default=64, help="clips per learning-curve set (spread evenly)")
    return parser


def parse_with_config(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parses `argv`; values from `--config` YAML become defaults that explicit flags override."""
    known, _ = parser.parse_known_args(argv)
    if known.config is not None:
        values = yaml.safe_load(Path(known.config).read_text()) or {}
        if not isinstance(values, dict):
            raise SystemExit(f"--config {known.config}: expected a mapping of argument names to values")
        valid = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise SystemExit(f"--config {known.config}: unknown argument(s) {', '.join(unknown)}")
        parser.set_defaults(**values)
    args = parser.parse_args(argv)
    if args.train_data is None:
        parser.error("--train_data is required (on the command line or in --config)")
    if args.output_dir is None:
        parser.error("--output_dir is required (on the command line or in --config)")
    args.output_dir = Path(args.output_dir)
    return args


def load_model_config(spec: str | None):
    """'tiny' (also None) | 'small' | 'base' | a folder or config.json path -> DelocateConfig."""
    from modeling import DelocateConfig

    if spec is None or spec == "tiny":
        return DelocateConfig.tiny()
    if spec == "small":
        return DelocateConfig.small()
    if spec == "base":
        return DelocateConfig()
    return DelocateConfig.from_pretrained(spec)


# What a stage's setup raises for a bad flag value or unusable data: a config value out of range (`check_values`),
# a cache or checkpoint that is not there or does not fit the model, a family name, a batch that cannot be balanced.
SETUP_ERRORS = (ValueError, OSError)
HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")  # "name" or "org/name": anything else is a local path


def check_checkpoint_flags(args: argparse.Namespace,
                           names=("recovery_checkpoint", "init_from", "init_videomae", "init_backbone")) -> None:
    """FileNotFoundError naming the flag when a checkpoint flag holds a local path (not a Hub id) that is not there,
    instead of transformers' message about repo-id characters; and, before anything is built, when
    `--resume_from_checkpoint` names a folder that is not a complete checkpoint."""
    for name in names:
        value = getattr(args, name, None)
        if value and not Path(value).exists() and not HUB_ID.match(str(value)):
            raise FileNotFoundError(f"--{name} '{value}' does not exist (a checkpoint folder or a Hub model id)")
    if getattr(args, "resume_from_checkpoint", None):
        from .loop import resolve_checkpoint

        resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)


@contextmanager
def setup_errors(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """Around a stage's setup (model, config, data, optimizer, loader; not the training loop): a bad flag value or
    unusable data ends the run with one line, `prog: error: message (see --help)`, and exit status 2, as argparse's
    own errors do, instead of a traceback. `--debug` re-raises the original exception."""
    try:
        check_checkpoint_flags(args)
        yield
    except SETUP_ERRORS as error:
        if args.debug:
            raise
        message = " ".join(str(error).split())[:400] or type(error).__name__
        parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")
