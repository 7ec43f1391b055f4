"""Stage 1b: fine-tune the recovery encoder real (0) vs fake (1) with BCE on balanced batches (paper §3.1, §4.1).

AdamW lr 1e-3 (the paper's value), weight decay 0.05; the encoder comes from the stage-1 checkpoint. The processor saved
with the model is the training caches' processor with the stage-1 checkpoint's masking (`processors`).
"""

import torch

from modeling import DelocateForVideoClassification

from delocate_hf.pretrained.init_flags import add_videomae_init_argument, init_videomae_encoder

from .arguments import add_pseudo_fake_arguments, common_parser, load_model_config, parse_with_config, setup_errors
from .common import learning_curve, balanced_loader, face_clip_dataset, parameter_groups, save_processor
from .loop import build_accelerator, save_final, train
from .processors import record_masking, save_with_checkpoints, stage_processor


def build_parser():
    parser = common_parser("Delocate stage 1b: fine-tune the recovery encoder as a real/fake classifier")
    parser.add_argument("--recovery_checkpoint", default=None,
                        help="stage-1 DelocateForMaskedRecovery folder (its encoder initialises the classifier)")
    add_videomae_init_argument(parser)
    return add_pseudo_fake_arguments(parser)


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parse_with_config(parser, argv)
    with setup_errors(parser, args):  # bad values / data: a one-line error, not a traceback
        accelerator = build_accelerator(args, "finetune_classifier")
        if args.recovery_checkpoint:
            model = DelocateForVideoClassification.from_pretrained(args.recovery_checkpoint)
            if args.model_config is not None:
                accelerator.print("note: --model_config is not used with --recovery_checkpoint: the architecture and "
                                  "settings come from the checkpoint")
        else:
            if not args.init_videomae:
                accelerator.print("warning: no --recovery_checkpoint, the encoder starts from random initialisation")
            spec = args.model_config or ("base" if args.init_videomae else None)
            model = DelocateForVideoClassification(load_model_config(spec))
        init_videomae_encoder(model, args, accelerator.print)
        config = model.config
        processor = stage_processor(args.train_data, config, masking_from=args.recovery_checkpoint)
        record_masking(config, processor)
        save_with_checkpoints(accelerator, processor)
        dataset = face_clip_dataset(args, config)
        fakes = int((dataset.labels == 1).sum())
        accelerator.print(f"stage 1b: {len(dataset)} clips ({fakes} fake), {args.max_train_steps} steps")
        optimizer = torch.optim.AdamW(parameter_groups(model, 0.05 if args.weight_decay is None else args.weight_decay),
                                      lr=args.learning_rate or 1e-3)
        curve = learning_curve(args, config, accelerator.print)  # None without --eval_data
        loader = balanced_loader(dataset, args)

    def compute_loss(model, batch, index):
        return model(batch["pixel_values"], labels=batch["labels"]).loss, {}

    result = train(accelerator, args, model, optimizer, loader, compute_loss, "stage 1b classifier", on_step=curve)
    if curve is not None and accelerator.is_main_process:
        accelerator.print(f"learning curve -> {curve.finish(result['step'], model, title='stage 1b classifier')}")
    final = save_final(accelerator, model, args.output_dir,
                       extra=lambda folder: save_processor(config, folder, processor))
    accelerator.print(f"stage 1b done: step {result['step']}, loss {result.get('loss', float('nan')):.4f} -> {final}")
    return {**result, "model_dir": str(final)}


if __name__ == "__main__":
    main()
