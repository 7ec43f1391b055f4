"""Stage 1: pretrain `DelocateForMaskedRecovery` on real face clips with facial-part ROI masking (paper §3.1, §4.1).

AdamW (lr 1.5e-4, betas 0.9/0.95, weight decay 0.05), cosine schedule with warm-up, batch 8; MSE on masked patches.
The processor saved with the model (and in every checkpoint) is the training caches' processor masking with
`--mask_strategy` / `--mask_ratio`: stages 1b and 2 take their masking from it (`processors`).
"""

import torch

from modeling import DelocateForMaskedRecovery
from processing.roi_masking import MASKING_STRATEGIES, resolve_ratio

from delocate_hf.pretrained.init_flags import add_videomae_init_argument, init_videomae_encoder

from .arguments import common_parser, load_model_config, parse_with_config, setup_errors
from .common import face_clip_dataset, parameter_groups, random_loader, save_processor
from .data import batch_token_masks
from .loop import build_accelerator, save_final, train
from .processors import record_masking, save_with_checkpoints, stage_processor


def build_parser():
    parser = common_parser("Delocate stage 1: ROI-masked recovery pretraining on real faces")
    parser.add_argument("--mask_strategy", default="roi", choices=MASKING_STRATEGIES,
                        help="token masking (processing.roi_masking); saved in the processor, stage 2 masks with it")
    parser.add_argument("--mask_ratio", type=float, default=None, help="default: 0.75 (0.9 for tube)")
    parser.add_argument("--init_from", default=None, help="continue from a DelocateForMaskedRecovery folder")
    return add_videomae_init_argument(parser)


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parse_with_config(parser, argv)
    with setup_errors(parser, args):  # bad values / data: a one-line error, not a traceback
        accelerator = build_accelerator(args, "pretrain_recovery")
        if args.init_from:
            model = DelocateForMaskedRecovery.from_pretrained(args.init_from)
        else:
            spec = args.model_config or ("base" if args.init_videomae else None)
            model = DelocateForMaskedRecovery(load_model_config(spec))
        init_videomae_encoder(model, args, accelerator.print)
        config = model.config
        processor = stage_processor(args.train_data, config, args.mask_strategy,
                                    resolve_ratio(args.mask_strategy, args.mask_ratio))
        record_masking(config, processor)
        save_with_checkpoints(accelerator, processor)
        dataset = face_clip_dataset(args, config, real_only=True)
        accelerator.print(f"stage 1: {len(dataset)} real clips, {processor.mask_strategy} masking "
                          f"(ratio {processor.mask_ratio}), {args.max_train_steps} steps")
        optimizer = torch.optim.AdamW(parameter_groups(model, 0.05 if args.weight_decay is None else args.weight_decay),
                                      lr=args.learning_rate or 1.5e-4, betas=(0.9, 0.95))
        loader = random_loader(dataset, args)
    rank = accelerator.process_index

    def compute_loss(model, batch, index):
        mask = batch_token_masks(batch["roi_boxes"], processor.mask_strategy, processor.mask_ratio, config.image_size,
                                 config.patch_size, config.tubelet_size, seed=args.seed + 7919 * rank, step=index)
        return model(batch["pixel_values"], bool_masked_pos=mask).loss, {}

    result = train(accelerator, args, model, optimizer, loader, compute_loss, "stage 1 recovery")
    final = save_final(accelerator, model, args.output_dir,
                       extra=lambda folder: save_processor(config, folder, processor))
    accelerator.print(f"stage 1 done: step {result['step']}, loss {result.get('loss', float('nan')):.4f} -> {final}")
    return {**result, "model_dir": str(final)}


if __name__ == "__main__":
    main()
