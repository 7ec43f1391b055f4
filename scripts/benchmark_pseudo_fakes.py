"""Data-pipeline throughput of on-the-fly pseudo-fakes against the training step time.

    python scripts/benchmark_pseudo_fakes.py --cache outputs/demo/cache/train [--model_config small]

Reports, on a face-clip cache: the blend cost per clip for each family, the time to build one training item (read,
blend, degrade, augment, resize), a batch through a DataLoader with 0 and 1 worker processes, and the optimizer step of
stage 1b (classifier) and stage 2 (localizer, no MLDG) on that batch. The model is starved when a batch takes longer
to build than a step takes to run; then raise `--dataloader_num_workers`. Writes `benchmark_pseudo_fakes.json|md`.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from delocate_hf.data.pseudo_fakes import FAMILIES
from delocate_hf.training.arguments import load_model_config
from delocate_hf.training.data import BalancedBatchSampler, collate, load_face_clips
from delocate_hf.training.pseudo_fake_dataset import PseudoFakeClipDataset
from modeling import DelocateForForgeryLocalization, DelocateForVideoClassification


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, help="face-clip cache with real clips (preprocess_dataset)")
    parser.add_argument("--model_config", default="small", help="tiny | small | base | a config folder")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--output_dir", type=Path, default=Path("outputs/benchmark"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = load_model_config(args.model_config)
    clips = load_face_clips(args.cache)
    shape = (clips, config.num_frames, config.image_size, config.image_mean, config.image_std)
    rows: dict[str, float | str] = {"cache": args.cache, "clips": len(clips), "model": args.model_config,
                                    "torch threads": args.threads, "cpu cores": os.cpu_count()}

    for family in FAMILIES:
        ds = PseudoFakeClipDataset(*shape, families=family, degradations=None, augment=False)
        clip = ds.read_clip(0)
        slots = iter(range(ds.num_rows, len(ds)))
        rows[f"blend s/clip, {family}"] = _median_time(lambda: ds.make_fake(clip, next(slots)), args.repeats)

    ds = PseudoFakeClipDataset(*shape, families="self_blend,part_eyes,part_lips,flicker", strength=(1.0, 3.0))
    rows["item s (read + blend + degrade + augment + resize), fake"] = _median_time(lambda: ds[ds.num_rows], args.repeats)
    rows["item s, real"] = _median_time(lambda: ds[0], args.repeats)
    for workers in (0, 1):
        loader = DataLoader(ds, batch_sampler=BalancedBatchSampler(ds.labels, args.batch_size), collate_fn=collate,
                            num_workers=workers)
        it = iter(loader)
        next(it)  # worker start-up excluded
        rows[f"batch of {args.batch_size} s, {workers} workers"] = _median_time(lambda: next(it), min(args.repeats, len(loader) - 1))
    batch = collate([ds[i] for i in next(iter(BalancedBatchSampler(ds.labels, args.batch_size)))])

    for name, model in (("stage 1b classifier", DelocateForVideoClassification(config)),
                        ("stage 2 localizer", DelocateForForgeryLocalization(config))):
        optimizer = torch.optim.AdamW(model.parameters(), 1e-4)

        def step():
            kwargs = {"labels": batch["labels"]}
            if isinstance(model, DelocateForForgeryLocalization):
                kwargs["mask_labels"] = batch["mask_labels"]
            loss = model(batch["pixel_values"], **kwargs).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        step()
        rows[f"optimizer step s, {name}"] = _median_time(step, args.repeats)
    batch_time = rows[f"batch of {args.batch_size} s, 0 workers"]
    rows["data / step time, stage 2 (0 workers)"] = batch_time / rows["optimizer step s, stage 2 localizer"]

    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "benchmark_pseudo_fakes.json").write_text(json.dumps(rows, indent=2))
    lines = ["| metric | value |", "|---|---|"] + [
        f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in rows.items()]
    (args.output_dir / "benchmark_pseudo_fakes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rows


if __name__ == "__main__":
    main()
