"""Probe: how fast does the stage-2 localizer learn fresh pseudo-fakes, and does it generalise to unseen people?

An experiment script (docs/experiments.md), not a training entry point: it trains `DelocateForForgeryLocalization`
alone (no mapping loss, no MLDG) on a face-clip cache with pseudo-fakes drawn afresh at every step
(`PseudoFakeClipDataset`), and every `--eval_every` steps scores a held-out cache (other people) with one fixed
strength-1 fake of each of the five families per real clip, and blurred copies of its real clips.

    python experiments/probe_localizer.py --train outputs/demo/cache/train --heldout outputs/demo/cache/heldout \
        --image_size 64 --steps 300 --log outputs/probe/run.jsonl
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from delocate_hf.metrics.functional import roc_auc

    return float(roc_auc(labels, scores))


def person_of(video_id: str) -> str:
    """The person of a face-library clip id: `<person>_<crop>_<window>` (`build_real_clip_folder`'s names of the
    library's `<person>_<crop>.jpg` crops) -> `<person>`; a video's `<name>_<window>` -> `<name>`."""
    from delocate_hf.training.pseudo_fake_dataset import identity_of

    return identity_of(identity_of(video_id))


def keep_people(clips, count: int, seed: int):
    """The clips of `count` people of `clips` (a seeded choice among the sorted people; `count` 0: all of them)."""
    if count <= 0:
        return clips
    persons = [person_of(v) for v in clips["video_id"]]
    people = sorted(set(persons))
    if count > len(people):
        raise ValueError(f"--train_people {count}: the training cache holds {len(people)} people")
    kept = {people[i] for i in np.random.default_rng(seed).permutation(len(people))[:count]}
    return clips.select([i for i, person in enumerate(persons) if person in kept])


def main(argv=None) -> None:
    from delocate_hf.pretrained.init_flags import add_backbone_init_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--heldout", required=True)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16, help="clips per step (half real, half fresh fakes)")
    parser.add_argument("--frames", type=int, default=2, help="random frames of each clip per step")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--families", default="self_blend")
    parser.add_argument("--strength", default="1,3")
    parser.add_argument("--degrade", type=float, default=0.25)
    parser.add_argument("--eval_every", type=int, default=100)
    parser.add_argument("--eval_clips", type=int, default=40, help="held-out real clips (each with 5 fakes + 1 blurred)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default="{}", help="JSON overrides of DelocateConfig.small()")
    parser.add_argument("--loss", default="bce_dice")
    parser.add_argument("--chroma_gain", type=float, default=0.0,
                        help="probe only: feed [Y, gain * Cb, gain * Cr] instead of RGB (0: RGB)")
    parser.add_argument("--boundary_weight", type=float, default=0.0,
                        help="probe only: an extra 1x1 head on the decoder features predicts the blend boundary "
                             "(Face X-ray style; dilate - erode of the mask, 3x3), BCE + Dice weighted by this")
    parser.add_argument("--pairs", action="store_true", help="each real clip beside its own fresh fake, both degraded alike")
    parser.add_argument("--transformed_reals", type=float, default=0.0,
                        help="probability that a real training clip is shown through the self-blend source transform")
    parser.add_argument("--low_resolution_codec", type=float, default=0.0,
                        help="probability that a rescaled training clip is noised / compressed at its small size")
    parser.add_argument("--family_strength", action="append", default=None, help="FAMILY=LOW,HIGH (repeatable)")
    parser.add_argument("--geometric_augment", type=float, default=0.0,
                        help="probability of a random similarity warp of a training clip (FaceClipDataset)")
    parser.add_argument("--init", default=None, help="start from this saved localizer (e.g. another probe's --save)")
    add_backbone_init_arguments(parser)  # --init_backbone, --backbone_for, --backbone_head: as stage 2's
    parser.add_argument("--backbone_lr_scale", type=float, default=1.0,
                        help="learning rate of the --init_backbone network(s) of --backbone_for as a fraction of --lr; "
                             "the new parts (decoder, classifier, full-resolution conv, ...) keep --lr")
    parser.add_argument("--save", default=None, help="folder to save the trained localizer into at the end")
    parser.add_argument("--bf16", action="store_true",
                        help="training forward under bfloat16 autocast (CPUs with AVX512-BF16 / AMX: ~1.7x faster); "
                             "evaluation stays float32")
    parser.add_argument("--train_people", type=int, default=0,
                        help="train on the clips of this many people of --train only (a seeded choice; 0: all): "
                             "how the held-out AUC grows with the number of training people")
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    from delocate_hf.data.degradations import DegradationSettings
    from delocate_hf.data.pseudo_fakes import FAMILIES
    from delocate_hf.training.common import parse_family_strength, parse_strength
    from delocate_hf.training.data import collate, load_face_clips
    from delocate_hf.training.learning_curve import clip_mask_metrics
    from delocate_hf.training.pseudo_fake_dataset import PseudoFakeClipDataset
    from modeling import DelocateConfig, DelocateForForgeryLocalization

    from delocate_hf.pretrained.init_flags import init_localization_backbones, localization_config_for_backbone

    config = DelocateConfig.small(image_size=args.image_size, localization_loss=args.loss, **json.loads(args.config))
    if args.init:
        model = DelocateForForgeryLocalization.from_pretrained(args.init)
        config = model.config
    else:
        config = localization_config_for_backbone(config, args)
        model = DelocateForForgeryLocalization(config)
        init_localization_backbones(model, args)
    shape = (config.num_frames, config.image_size, config.image_mean, config.image_std)
    train_clips = keep_people(load_face_clips(args.train), args.train_people, args.seed)
    print(f"training people: {len({person_of(v) for v in train_clips['video_id']})} ({len(train_clips)} clips)", flush=True)
    train = PseudoFakeClipDataset(train_clips, *shape, families=args.families.split(","),
                                  strength=parse_strength(args.strength), seed=args.seed,
                                  degradations=DegradationSettings(args.degrade, low_resolution_codec=args.low_resolution_codec)
                                  if args.degrade > 0 else None,
                                  pairs=args.pairs, transformed_reals=args.transformed_reals,
                                  geometric_augment=args.geometric_augment,
                                  family_strength=parse_family_strength(args.family_strength))
    held_clips = load_face_clips(args.heldout)
    held_clips = held_clips.select(range(min(args.eval_clips, len(held_clips))))
    held = PseudoFakeClipDataset(held_clips, *shape, families=FAMILIES[:5], family_order="cycle", degradations=None,
                                 augment=False, seed=args.seed + 202, degraded_reals=("blur",))
    seen_clips = train_clips  # the same measure on training people (strength-1 fakes)
    seen_clips = seen_clips.select(np.linspace(0, len(seen_clips) - 1, min(args.eval_clips, len(seen_clips))).astype(int))
    seen_people = PseudoFakeClipDataset(seen_clips, *shape, families=FAMILIES[:5], family_order="cycle",
                                        degradations=None, augment=False, seed=args.seed + 101)
    captured = {}
    parameters = list(model.parameters())
    if args.boundary_weight:
        from modeling.losses_delocate import forgery_mask_loss

        boundary_head = torch.nn.Conv2d(config.loc_decoder_channels[-1], 1, 1)
        parameters += list(boundary_head.parameters())
        model.localizer.decoder.register_forward_hook(  # eval runs the frames in chunks: keep every chunk's output
            lambda module, inputs, output: captured.setdefault("features", []).append(output))

        def boundary_targets(mask_labels: torch.Tensor) -> torch.Tensor:
            m = (mask_labels.flatten(0, 1)[:, None] > 0.5).float()  # (N, 1, H, W)
            dilated = torch.nn.functional.max_pool2d(m, 3, 1, 1)
            eroded = -torch.nn.functional.max_pool2d(-m, 3, 1, 1)
            return dilated - eroded

        def boundary_loss(mask_labels: torch.Tensor) -> torch.Tensor:
            logits = boundary_head(torch.cat(captured.pop("features")))
            targets = boundary_targets(mask_labels)
            valid = torch.ones(targets.shape[0], dtype=torch.bool)
            return forgery_mask_loss(logits, targets, valid, "bce_dice", None)
    pretrained = {"encoder": ("encoder.backbone.",), "mapping": ("mapping.backbone.",),
                  "both": ("encoder.backbone.", "mapping.backbone.")}[args.backbone_for] if args.init_backbone else ()
    backbone = {id(p) for n, p in model.named_parameters() if any(k in n for k in pretrained)}
    groups = [{"params": [p for p in parameters if id(p) not in backbone], "lr": args.lr},
              {"params": [p for p in parameters if id(p) in backbone], "lr": args.lr * args.backbone_lr_scale}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=args.lr, weight_decay=0.05)
    print(f"optimizer: {sum(p.numel() for p in groups[0]['params'])} parameters at lr {args.lr}, "
          f"{sum(p.numel() for p in groups[1]['params'])} pretrained at {args.lr * args.backbone_lr_scale}", flush=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, args.warmup)) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / args.steps))))
    reals, fakes = train.real_rows, np.arange(train.num_rows, train.num_rows + train.pseudo_count)
    rng = np.random.default_rng(args.seed)
    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps({"args": vars(args)}) + "\n")
    start, seen = time.perf_counter(), []

    mean = torch.tensor(config.image_mean).view(1, 1, 3, 1, 1)
    std = torch.tensor(config.image_std).view(1, 1, 3, 1, 1)

    def represent(pixel_values: torch.Tensor) -> torch.Tensor:
        if not args.chroma_gain:
            return pixel_values
        rgb = pixel_values * std + mean  # (B, T, 3, H, W) in [0, 1]
        r, g, b = rgb.unbind(2)
        y = 0.299 * r + 0.587 * g + 0.114 * b
        cb, cr = 0.564 * (b - y), 0.713 * (r - y)
        return torch.stack([(y - 0.45) / 0.25, args.chroma_gain * cb / 0.25, args.chroma_gain * cr / 0.25], dim=2)

    boundary_scores = []

    def score(dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        scores, labels, ious, mask_scores = [], [], [], []
        boundary_scores.clear()
        with torch.no_grad():
            for begin in range(0, len(dataset), 16):
                items = [dataset[i] for i in range(begin, min(len(dataset), begin + 16))]
                batch = collate(items)
                captured.clear()
                out = model(represent(batch["pixel_values"]))
                if args.boundary_weight:  # report the boundary head's top-5 % score as the mask score
                    b = torch.sigmoid(boundary_head(torch.cat(captured.pop("features")))).flatten(1)  # (N, H*W)
                    top_b = b.topk(max(1, b.shape[-1] // 20), dim=-1).values.mean(-1)
                    boundary_scores.append(top_b.view(out.logits.shape[0], -1).mean(-1).numpy())
                scores.append(torch.sigmoid(out.logits).numpy())
                probabilities = torch.sigmoid(out.mask_logits).flatten(2)  # (batch, frames, H*W)
                top = max(1, probabilities.shape[-1] // 20)  # mask score: mean of the top 5 % pixels, frames averaged
                mask_scores.append(probabilities.topk(top, dim=-1).values.mean(dim=(1, 2)).numpy())
                labels.append(batch["labels"].numpy())
                ious.append(clip_mask_metrics(torch.sigmoid(out.mask_logits), batch["mask_labels"], 0.5)[0])
        return np.concatenate(scores), np.concatenate(labels), np.concatenate(ious), np.concatenate(mask_scores)

    def evaluate(step: int) -> None:
        model.eval()
        train_scores, train_labels, train_ious, train_mask_scores = score(seen_people)
        scores, labels, ious, mask_scores = score(held)
        model.train()
        names = np.asarray(held.manipulations)
        clean = np.array([not n.startswith("real+") for n in names])
        fake = labels == 1
        row = {"step": step, "seconds": round(time.perf_counter() - start, 1),
               "batch_auc": round(auc(np.array([s for s, _ in seen]), np.array([l for _, l in seen])), 3) if seen else None,
               "train_auc": round(auc(train_scores, train_labels), 3),
               "train_iou": round(float(train_ious[train_labels == 1].mean()), 3),
               "auc": round(auc(scores[clean], labels[clean]), 3), "iou": round(float(ious[fake].mean()), 3)}
        for family in FAMILIES[:5]:
            pick = (names == family) | ((labels == 0) & clean)
            row[family] = round(auc(scores[pick], labels[pick]), 3)
        blurred = (names == "real+blur") | fake
        row["auc_vs_blurred_reals"] = round(auc(scores[blurred], labels[blurred]), 3)
        # the same figures for a score read off the predicted mask (mean of its top 5 % pixel probabilities)
        row["train_auc_mask"] = round(auc(train_mask_scores, train_labels), 3)
        row["auc_mask"] = round(auc(mask_scores[clean], labels[clean]), 3)
        row["auc_mask_vs_blurred_reals"] = round(auc(mask_scores[blurred], labels[blurred]), 3)
        if boundary_scores:
            held_boundary = np.concatenate(boundary_scores)
            row["auc_boundary"] = round(auc(held_boundary[clean], labels[clean]), 3)
            row["auc_boundary_vs_blurred_reals"] = round(auc(held_boundary[blurred], labels[blurred]), 3)
        print(json.dumps(row), flush=True)
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        seen.clear()

    for step in range(args.steps):
        train.set_epoch(step)
        half = args.batch // 2
        chosen = rng.choice(reals, half)
        indices = [*chosen, *([train.pair_of(r) for r in chosen] if args.pairs else rng.choice(fakes, half))]
        batch = collate([train[int(i)] for i in indices])
        keep = torch.as_tensor(np.sort(rng.choice(config.num_frames, args.frames, replace=False)))
        captured.clear()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            out = model(pixel_values=represent(batch["pixel_values"][:, keep]), labels=batch["labels"],
                        mask_labels=batch["mask_labels"][:, keep])
        optimizer.zero_grad()
        loss = out.loss
        if args.boundary_weight:
            loss = loss + args.boundary_weight * boundary_loss(batch["mask_labels"][:, keep])
        loss.backward()
        optimizer.step()
        schedule.step()
        seen.extend(zip(torch.sigmoid(out.logits.detach()).tolist(), batch["labels"].tolist()))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            evaluate(step + 1)
    if args.save:
        model.save_pretrained(args.save)


if __name__ == "__main__":
    main()
