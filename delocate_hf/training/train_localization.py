"""Stage 2: train `DelocateForForgeryLocalization` with MLDG meta-learning (paper §3.2, Eq. 6, §4.1).

The frozen stage-1 recovery model supplies the reconstructions the mapping module regresses to (`L_mse_map`); GT
masks drive `L_mse_loc`; `L_cls` is BCE. SGD lr 0.1, momentum 0.9, weight decay 5e-4; balanced real/fake batches.
With `--meta_learning mldg` each batch is split into meta-train / meta-test by manipulation domain (7:3 of the
fake samples when one domain is present) and the loss is `L(theta)` on meta-train + `L(theta')` on meta-test after
one inner step (see `delocate_hf.training.meta_learning`). The recovery model's inputs are masked as in its stage-1
run: with the `mask_strategy` / `mask_ratio` of the processor saved in `--recovery_checkpoint` (a folder without one:
its config's), and that processor, in the training caches' preprocessing, is saved with the model (`processors`).
"""

import numpy as np
import torch

from modeling import DelocateForForgeryLocalization, DelocateForMaskedRecovery

from delocate_hf.pretrained.init_flags import (
    add_backbone_init_arguments,
    init_localization_backbones,
    localization_config_for_backbone,
)

from .arguments import add_pseudo_fake_arguments, common_parser, parse_with_config, setup_errors
from .common import balanced_loader, face_clip_dataset, learning_curve, parameter_groups, save_processor
from .data import batch_token_masks
from .loop import build_accelerator, save_final, train
from .meta_learning import mldg_step, select, split_meta_domains
from .processors import record_masking, save_with_checkpoints, stage_processor


# Loss settings of the model config that stage-2 flags of the same name override.
LOSS_SETTINGS = ("localization_loss", "localization_pos_weight", "cls_loss_weight", "map_loss_weight", "loc_loss_weight")


def build_parser():
    parser = common_parser("Delocate stage 2: mapping + localization with MLDG meta-learning")
    parser.add_argument("--recovery_checkpoint", required=False, default=None,
                        help="frozen stage-1 DelocateForMaskedRecovery folder (mapping targets)")
    parser.add_argument("--init_from", default=None, help="continue from a DelocateForForgeryLocalization folder")
    parser.add_argument("--meta_learning", default="mldg", choices=["mldg", "none"])
    parser.add_argument("--inner_lr", type=float, default=None, help="MLDG inner step size alpha (default: learning rate)")
    parser.add_argument("--first_order", action="store_true", help="first-order MLDG (no second derivatives)")
    parser.add_argument("--meta_test_fraction", type=float, default=0.3)
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"],
                        help="'sgd' (the paper's: lr 0.1, momentum 0.9, weight decay 5e-4) or 'adamw' (lr 1e-3, "
                             "weight decay 0.05)")
    parser.add_argument("--frames_per_clip", type=int, default=None,
                        help="train the per-frame localizer on this many random frames of each clip (default: all)")
    parser.add_argument("--localization_loss", default=None, choices=["mse", "bce_dice"],
                        help="mask loss (default: the model config's, 'mse' = the paper's plain MSE on sigmoid masks; "
                             "'bce_dice' = positive-weighted BCE + soft Dice, which does not collapse to empty masks)")
    parser.add_argument("--localization_pos_weight", type=float, default=None,
                        help="positive weight of 'bce_dice' (default: from each batch's positive fraction)")
    for name, term in (("cls", "BCE of the frame classifier"), ("map", "MSE of the mapped face to the recovery "
                       "reconstruction, L_mse_map"), ("loc", "mask loss")):
        parser.add_argument(f"--{name}_loss_weight", type=float, default=None,
                            help=f"weight of the {term} in the stage-2 loss (default: the model config's, 1)")
    add_backbone_init_arguments(parser)
    return add_pseudo_fake_arguments(parser)


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parse_with_config(parser, argv)
    if not args.recovery_checkpoint:
        parser.error("--recovery_checkpoint is required: the mapping module learns the recovery model's reconstructions")
    with setup_errors(parser, args):  # bad values / data: a one-line error, not a traceback
        accelerator = build_accelerator(args, "train_localization")
        recovery = DelocateForMaskedRecovery.from_pretrained(args.recovery_checkpoint).eval().requires_grad_(False)
        recovery.to(accelerator.device)
        if args.init_from and args.init_backbone:
            raise ValueError("--init_backbone starts a new stage-2 model and --init_from continues one: give one of them")
        if args.init_from:
            model = DelocateForForgeryLocalization.from_pretrained(args.init_from)
        else:
            model = DelocateForForgeryLocalization(localization_config_for_backbone(recovery.config, args))
            init_localization_backbones(model, args, accelerator.print)
        config = model.config
        for name in LOSS_SETTINGS:  # flags given override the checkpoint's config (and are saved with the model)
            if getattr(args, name) is not None:
                setattr(config, name, getattr(args, name))
        if args.model_config is not None:
            accelerator.print("note: --model_config is not used by stage 2: the architecture and settings come from "
                              f"{'--init_from' if args.init_from else '--recovery_checkpoint'} (loss settings: their flags)")
        config.check_values()
        processor = stage_processor(args.train_data, config, masking_from=args.recovery_checkpoint)
        record_masking(config, processor)
        save_with_checkpoints(accelerator, processor)
        dataset = face_clip_dataset(args, config)
        lr = args.learning_rate or (0.1 if args.optimizer == "sgd" else 1e-3)
        inner_lr = args.inner_lr if args.inner_lr is not None else lr
        accelerator.print(
            f"stage 2: {len(dataset)} clips, domains {dataset.domains}, recovery inputs {processor.mask_strategy}-masked, "
            f"meta-learning {args.meta_learning}"
            f"{' (first order)' if args.first_order else ''}, {args.max_train_steps} steps"
        )
        if args.optimizer == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=args.momentum,
                                        weight_decay=5e-4 if args.weight_decay is None else args.weight_decay)
        else:
            optimizer = torch.optim.AdamW(parameter_groups(model, 0.05 if args.weight_decay is None else args.weight_decay),
                                          lr=lr)
        curve = learning_curve(args, config, accelerator.print)  # None without --eval_data
        loader = balanced_loader(dataset, args)
    rank = accelerator.process_index

    def compute_loss(model, batch, index):
        seed = args.seed + 7919 * rank
        mask = batch_token_masks(batch["roi_boxes"], processor.mask_strategy, processor.mask_ratio, config.image_size,
                                 config.patch_size, config.tubelet_size, seed=seed, step=index)
        with torch.no_grad():
            recovered = recovery(batch["pixel_values"], bool_masked_pos=mask).reconstruction
        inputs = {"pixel_values": batch["pixel_values"], "labels": batch["labels"],
                  "mask_labels": batch["mask_labels"], "recovered_pixel_values": recovered}
        if args.frames_per_clip and args.frames_per_clip < config.num_frames:
            keep = np.sort(np.random.default_rng([seed, index, 2]).choice(config.num_frames, args.frames_per_clip, replace=False))
            keep = torch.as_tensor(keep, device=recovered.device)
            for key in ("pixel_values", "mask_labels", "recovered_pixel_values"):
                inputs[key] = inputs[key][:, keep]
        if args.meta_learning == "none":
            return model(**inputs).loss, {}
        domains = [dataset.domains[int(d)] for d in batch["domain"].tolist()]
        split = split_meta_domains(domains, batch["labels"].tolist(), np.random.default_rng([seed, index, 1]),
                                   test_fraction=args.meta_test_fraction, partners=pair_partners(batch["labels"]))
        with accelerator.autocast():
            losses = mldg_step(model, select(inputs, split.train), select(inputs, split.test), inner_lr,
                               first_order=args.first_order)
        return losses.loss, {"meta_train_loss": losses.train_loss.item(), "meta_test_loss": losses.test_loss.item()}

    def pair_partners(labels: torch.Tensor) -> np.ndarray | None:
        """Paired batches (`PairedBatchSampler`: reals, then their own fakes in the same order): for each fake's
        position, its real clip's position, so MLDG keeps a pair on one side."""
        if not getattr(dataset, "pairs", False):
            return None
        labels = labels.tolist()
        half = len(labels) // 2
        partners = np.full(len(labels), -1)
        for k in range(half):
            if labels[k] == 0 and labels[half + k] == 1:
                partners[half + k] = k
        return partners

    result = train(accelerator, args, model, optimizer, loader, compute_loss, "stage 2 localization", on_step=curve)
    if curve is not None and accelerator.is_main_process:
        accelerator.print(f"learning curve -> {curve.finish(result['step'], model, title='stage 2 localization')}")
    final = save_final(accelerator, model, args.output_dir,
                       extra=lambda folder: save_processor(config, folder, processor))
    accelerator.print(f"stage 2 done: step {result['step']}, loss {result.get('loss', float('nan')):.4f} -> {final}")
    return {**result, "model_dir": str(final)}


if __name__ == "__main__":
    main()
