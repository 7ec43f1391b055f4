"""Helpers shared by the stage entry points: optimizers with the usual no-decay groups, data loaders, processors."""

import torch
from torch.utils.data import DataLoader

from .data import BalancedBatchSampler, EpochSampler, FaceClipDataset, collate, load_face_clips


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weights only: biases, norms, mask tokens and 1-d parameters are exempt."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 or name.endswith(".bias") or "mask_token" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def face_clip_dataset(args, config, real_only: bool = False) -> FaceClipDataset:
    """The training clips, with clip-consistent flip / colour augmentation unless `--no_augment`."""
    clips = load_face_clips(args.train_data)
    if real_only:
        clips = clips.filter(lambda label: label == 0, input_columns="label")
        if len(clips) == 0:
            raise ValueError(f"no real clips in {args.train_data}: stage 1 trains on real faces only")
    return FaceClipDataset(clips, config.num_frames, config.image_size, config.image_mean, config.image_std,
                           augment=not getattr(args, "no_augment", False), seed=args.seed)


def random_loader(dataset, args) -> DataLoader:
    """Shuffled (resumable) batches of `per_device_train_batch_size`."""
    batch = min(args.per_device_train_batch_size, len(dataset))
    return DataLoader(dataset, batch_size=batch, sampler=EpochSampler(len(dataset), args.seed), drop_last=True,
                      collate_fn=collate, num_workers=args.dataloader_num_workers)


def balanced_loader(dataset: FaceClipDataset, args) -> DataLoader:
    """Batches with as many real as fake clips (paper §3.2)."""
    sampler = BalancedBatchSampler(dataset.labels, args.per_device_train_batch_size, seed=args.seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=args.dataloader_num_workers)


def save_processor(config, folder) -> None:
    """Saves the `DelocateFaceProcessor` matching the model's clip shape beside the model."""
    from processing import DelocateFaceProcessor

    DelocateFaceProcessor(num_frames=config.num_frames, size=config.image_size, patch_size=config.patch_size,
                          tubelet_size=config.tubelet_size, image_mean=list(config.image_mean),
                          image_std=list(config.image_std), mask_ratio=config.mask_ratio,
                          mask_strategy=config.mask_strategy).save_pretrained(folder)
