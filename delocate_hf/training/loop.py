"""The Accelerate training loop shared by the three stages.

`accelerator.prepare` for model/optimizer/dataloader/scheduler, `accelerator.accumulate` for gradient accumulation,
`save_state`/`load_state` checkpoints every `--checkpointing_steps` optimizer steps (with `trainer_state.json`
holding the step), and resume at the same step and data position (`skip_first_batches` into the epoch; samplers
reshuffle from `(seed, epoch)`). Multi-GPU / multi-node runs come from `accelerate launch` alone.

Model loading is quiet in a training process (`build_accelerator` turns it on, see `delocate_hf.utils.quiet`):
transformers' expected load-report rows are silenced (only rows the architectures do not explain are shown) and its
weight-loading / shard-writing bars are off, unless
`--debug` (an `args.debug`) or `DELOCATE_DEBUG=1`.
"""

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, set_seed
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..utils.quiet import quiet_loading_everywhere

logger = get_logger(__name__)
STATE_FILE = "trainer_state.json"


def build_accelerator(args, project_name: str) -> Accelerator:
    # before the stage loads its models: the stage-1 -> classifier load report and the per-load bars are expected
    quiet_loading_everywhere(getattr(args, "debug", False))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        cpu=args.cpu,
        log_with="tensorboard" if args.with_tracking else None,
        project_config=ProjectConfiguration(project_dir=str(args.output_dir), logging_dir=str(args.output_dir / "logs")),
    )
    set_seed(args.seed)
    if args.with_tracking:
        config = {k: (str(v) if not isinstance(v, (int, float, str, bool)) else v) for k, v in vars(args).items()}
        accelerator.init_trackers(project_name, config=config)
    return accelerator


def build_scheduler(args, optimizer, num_processes: int):
    # the prepared scheduler steps once per process at each optimizer step (accelerate's convention)
    return get_scheduler(
        args.lr_scheduler_type, optimizer=optimizer,
        num_warmup_steps=args.lr_warmup_steps * num_processes,
        num_training_steps=args.max_train_steps * num_processes,
    )


def checkpoint_dirs(output_dir: Path) -> list[Path]:
    folder = output_dir / "checkpoints"
    found = [p for p in folder.glob("step_*") if (p / STATE_FILE).exists()] if folder.exists() else []
    return sorted(found, key=lambda p: int(p.name.split("_")[1]))


def resolve_checkpoint(spec: str | None, output_dir: Path) -> Path | None:
    """`None` | 'latest' (newest complete checkpoint in output_dir, or None if there is none) | a folder."""
    if spec is None:
        return None
    if spec == "latest":
        found = checkpoint_dirs(output_dir)
        return found[-1] if found else None
    path = Path(spec)
    if not (path / STATE_FILE).exists():
        raise FileNotFoundError(f"--resume_from_checkpoint {spec}: no {STATE_FILE} there (not a complete checkpoint)")
    return path


def save_checkpoint(accelerator: Accelerator, output_dir: Path, step: int, limit: int | None) -> Path:
    """`save_state` into `checkpoints/step_N`; the state file is written last, so a killed save is never resumed."""
    path = output_dir / "checkpoints" / f"step_{step}"
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / STATE_FILE).write_text(json.dumps({"step": step}))
        if limit:
            for old in checkpoint_dirs(output_dir)[:-limit]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path


def train(
    accelerator: Accelerator,
    args,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    dataloader: torch.utils.data.DataLoader,
    compute_loss: Callable[[torch.nn.Module, dict, int], tuple[torch.Tensor, dict]],
    description: str,
    on_step: Callable[[int, torch.nn.Module], dict | None] | None = None,
) -> dict:
    """Runs `args.max_train_steps` optimizer steps. `compute_loss(model, batch, batch_index)` returns
    `(loss, logs)`; `batch_index = step * gradient_accumulation_steps + micro_batch` is the same after a resume, so
    per-batch randomness drawn from it (ROI masks, meta splits) is reproducible.

    Returns the last logged values. The caller prepares nothing: this prepares model, optimizer, dataloader and
    scheduler, and leaves `model` prepared on the accelerator (unwrap it to save).
    """
    scheduler = build_scheduler(args, optimizer, accelerator.num_processes)
    model, optimizer, dataloader, scheduler = accelerator.prepare(model, optimizer, dataloader, scheduler)
    sampler = getattr(dataloader, "batch_sampler", None)
    sampler = getattr(sampler, "batch_sampler", sampler)  # accelerate wraps it
    sampler = getattr(sampler, "sampler", None) if not hasattr(sampler, "set_epoch") else sampler
    steps_per_epoch = max(1, len(dataloader) // args.gradient_accumulation_steps)

    step = 0
    checkpoint = resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        step = json.loads((checkpoint / STATE_FILE).read_text())["step"]
        accelerator.print(f"resumed from {checkpoint} at step {step}")
    elif args.resume_from_checkpoint == "latest":
        accelerator.print(f"no checkpoint to resume from in {args.output_dir / 'checkpoints'}: starting at step 0")

    progress = tqdm(total=args.max_train_steps, initial=step, desc=description, disable=not accelerator.is_local_main_process)
    logs: dict = {}
    micro = 0
    model.train()
    for epoch in range(step // steps_per_epoch, math.ceil(args.max_train_steps / steps_per_epoch) + 1):
        if step >= args.max_train_steps:
            break
        skip = (step - epoch * steps_per_epoch) * args.gradient_accumulation_steps
        batches = accelerator.skip_first_batches(dataloader, skip) if skip > 0 else dataloader
        # accelerate's loaders re-set their sampler's epoch from their own counter when iterated: set both
        for loader in (dataloader, batches):
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
        if sampler is not None and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        if hasattr(dataloader.dataset, "set_epoch"):  # per-epoch augmentation draws
            dataloader.dataset.set_epoch(epoch)
        for batch in batches:
            with accelerator.accumulate(model):
                loss, logs = compute_loss(model, batch, step * args.gradient_accumulation_steps + micro)
                micro += 1
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            micro = 0
            step += 1
            progress.update(1)
            logs = {"loss": loss.detach().float().item(), "lr": scheduler.get_last_lr()[0], **logs}
            progress.set_postfix(loss=f"{logs['loss']:.4f}")
            if on_step is not None:
                logs.update(on_step(step, model) or {})
            if args.with_tracking and step % args.logging_steps == 0:
                accelerator.log(logs, step=step)
            if args.checkpointing_steps and step % args.checkpointing_steps == 0:
                save_checkpoint(accelerator, args.output_dir, step, args.checkpoints_total_limit)
            if step >= args.max_train_steps:
                break
    progress.close()
    if args.with_tracking:
        accelerator.end_training()
    return {"step": step, **logs}


def save_final(accelerator: Accelerator, model, output_dir: Path, extra: Callable[[Path], None] | None = None) -> Path:
    """`save_pretrained` of the unwrapped model into `output_dir/final` (safetensors), on the main process."""
    final = output_dir / "final"
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(final, safe_serialization=True)
        if extra is not None:
            extra(final)
    accelerator.wait_for_everyone()
    return final
