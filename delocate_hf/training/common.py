"""Helpers shared by the stage entry points: optimizers with the usual no-decay groups, data loaders, the processor
saved beside each model (`processors`)."""

import torch
from torch.utils.data import DataLoader

from delocate_hf.data.degradations import DegradationSettings

from .learning_curve import LearningCurve
from .data import BalancedBatchSampler, EpochSampler, FaceClipDataset, PairedBatchSampler, collate, load_face_clips
from .processors import model_processor
from .pseudo_fake_dataset import PseudoFakeClipDataset, parse_families


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weights only: biases, norms, mask tokens and 1-d parameters are exempt."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 or name.endswith(".bias") or "mask_token" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def face_clip_dataset(args, config, real_only: bool = False) -> FaceClipDataset:
    """The training clips, with clip-consistent flip / colour augmentation unless `--no_augment`; with
    `--pseudo_fakes`, plus pseudo-fakes drawn on the fly and global degradations (`PseudoFakeClipDataset`)."""
    clips = load_face_clips(args.train_data)
    if real_only:
        clips = clips.filter(lambda label: label == 0, input_columns="label")
        if len(clips) == 0:
            raise ValueError(f"no real clips in {args.train_data}: stage 1 trains on real faces only")
    augment = not getattr(args, "no_augment", False)
    families = parse_families(getattr(args, "pseudo_fakes", None))
    geometric = getattr(args, "geometric_augment", 0.0)
    if real_only or not families:
        return FaceClipDataset(clips, config.num_frames, config.image_size, config.image_mean, config.image_std,
                               augment=augment, seed=args.seed, geometric_augment=geometric)
    probability = getattr(args, "degrade_probability", 0.25)
    return PseudoFakeClipDataset(clips, config.num_frames, config.image_size, config.image_mean, config.image_std,
                                 families=families, ratio=args.pseudo_fake_ratio, augment=augment, seed=args.seed,
                                 strength=parse_strength(getattr(args, "pseudo_fake_strength", "1.0")),
                                 degradations=DegradationSettings(
                                     probability, low_resolution_codec=getattr(args, "low_resolution_codec", 0.0))
                                 if probability > 0 else None,
                                 pairs=getattr(args, "paired_pseudo_fakes", False),
                                 transformed_reals=getattr(args, "transformed_reals", 0.0),
                                 geometric_augment=geometric,
                                 family_strength=parse_family_strength(getattr(args, "family_strength", None)))


def parse_family_strength(specs) -> dict[str, tuple[float, float]]:
    """['local_blend=2,4', ...] -> {'local_blend': (2.0, 4.0)} (`--family_strength`, repeatable)."""
    out = {}
    for spec in specs or []:
        name, sep, value = str(spec).partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--family_strength takes FAMILY=VALUE or FAMILY=LOW,HIGH, got {spec!r}")
        out[name.strip()] = parse_strength(value)
    return out


def parse_strength(spec) -> tuple[float, float]:
    """'2' -> (2, 2); '1,3' -> (1, 3)."""
    values = [float(v) for v in str(spec).split(",") if v.strip()]
    if len(values) not in (1, 2):
        raise ValueError(f"--pseudo_fake_strength takes a value or LOW,HIGH, got {spec!r}")
    return (values[0], values[-1])


def learning_curve(args, config, log=print) -> LearningCurve | None:
    """The `--eval_data` learning curve: the training caches and the held-out ones, each with fixed pseudo-fakes of
    `--eval_pseudo_fakes` made from their real clips (one of each family per clip) beside their own fakes."""
    if not getattr(args, "eval_data", None):
        return None
    families = parse_families(args.eval_pseudo_fakes)

    def fixed(paths, seed):
        clips = load_face_clips(paths)
        shape = (clips, config.num_frames, config.image_size, config.image_mean, config.image_std)
        if not families:
            return FaceClipDataset(*shape)
        return PseudoFakeClipDataset(*shape, families=families, family_order="cycle", degradations=None,
                                     augment=False, seed=seed)

    sets = {"train": fixed(args.train_data, args.seed + 101), "held-out": fixed(args.eval_data, args.seed + 202)}
    return LearningCurve(sets, args.eval_steps, args.output_dir, max_clips=args.eval_max_clips,
                         mask_threshold=config.mask_threshold, log=log)


def random_loader(dataset, args) -> DataLoader:
    """Shuffled (resumable) batches of `per_device_train_batch_size`."""
    batch = min(args.per_device_train_batch_size, len(dataset))
    return DataLoader(dataset, batch_size=batch, sampler=EpochSampler(len(dataset), args.seed), drop_last=True,
                      collate_fn=collate, num_workers=args.dataloader_num_workers)


def balanced_loader(dataset: FaceClipDataset, args) -> DataLoader:
    """Batches with as many real as fake clips (paper §3.2); with `--paired_pseudo_fakes`, each real clip beside its
    own pseudo-fake (`PairedBatchSampler`)."""
    if getattr(dataset, "pairs", False):
        sampler = PairedBatchSampler(dataset, args.per_device_train_batch_size, seed=args.seed)
    else:
        sampler = BalancedBatchSampler(dataset.labels, args.per_device_train_batch_size, seed=args.seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=args.dataloader_num_workers)


def save_processor(config, folder, processor=None) -> None:
    """Saves `processor` (what `stage_processor` gives: the training caches' processor in the model's shape) beside
    the model; without one, the processor of `config` with the processor defaults (`processors.model_processor`)."""
    if processor is None:
        processor = model_processor(config)
    elif (processor.size, processor.num_frames) != (config.image_size, config.num_frames):
        raise ValueError(f"the processor gives {processor.num_frames} frames of {processor.size} px, the model takes "
                         f"{config.num_frames} of {config.image_size}")
    processor.save_pretrained(folder)
