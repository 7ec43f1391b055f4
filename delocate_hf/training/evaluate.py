"""Evaluate a Delocate detector on face-clip caches: detection (AUC, EER, AP, accuracy at video and frame level, for
the fused score and each stage) and localization (IoU, PBCA of masks binarised at the model's `mask_threshold`,
paper Eq. 5), overall, per data set and per manipulation (each manipulation's fakes against the real clips of the same
data set), like the paper's Tables 1-3. Writes `metrics.json` and `metrics.md`. Runs under `accelerate launch`
(`gather_for_metrics`).

Two checks that a scene-following model cannot pass:
- **pair wins**: how often a fake scores higher than its own source clip (`source_video` of a data set's fake; the
  real clip a pseudo-fake was made from);
- **degraded real clips** (with `--pseudo_fakes`): every held-out real clip also blurred, rescaled, noised and
  JPEG-compressed (:data:`EVAL_DEGRADATION_STRENGTHS`); their rows compare them with all fakes and report how many
  score as fake.

`--pseudo_fakes self_blend,part_eyes,...` evaluates a cache of real clips only: each real clip gets one fake of each
family, the same in every run (held-out identities with families never trained on give the real-only protocol).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from delocate_hf.data.degradations import DEGRADATIONS
from delocate_hf.metrics import functional as M
from modeling import DelocateForDeepfakeDetection

from .data import FaceClipDataset, collate, load_face_clips
from .learning_curve import clip_ious_by_threshold, clip_mask_metrics
from .pseudo_fake_dataset import PseudoFakeClipDataset, parse_families

# The fused score, each stage's (stage 2's frame classifier) and the forgery masks' own score (`mask_scores`).
SCORES = ("fused", "recovery", "localization", "mask")
# The mask thresholds each fake clip's IoU is also recorded at (scores.json "iou_at"), for
# `calibrate.choose_mask_threshold` to choose the model's `mask_threshold` among on validation people.
MASK_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a Delocate detector on face-clip caches")
    parser.add_argument("--model", required=True, help="DelocateForDeepfakeDetection folder (assemble.py output)")
    parser.add_argument("--data", nargs="+", required=True, help="face-clip cache folder(s)")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.5, help="score threshold for accuracy")
    parser.add_argument("--mixed_precision", default="no", choices=["no", "fp16", "bf16"])
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--pseudo_fakes", default=None,
                        help="comma-separated pseudo-fake families: one fake of each per real clip of the caches "
                             "(real-only protocol); also adds the degraded-real-clip check")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the evaluation pseudo-fakes")
    parser.add_argument("--localization_frames", type=int, default=None, metavar="N",
                        help="frames per clip the localizer analyses (default: every frame, so that IoU / PBCA are "
                             "measured on every frame; `delocate detect` uses the model's config.localization_frames)")
    return parser


def detection_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """AUC / EER / AP need both classes; accuracy does not."""
    result = {"n": int(len(labels)), "n_fake": int(labels.sum()), "acc": M.accuracy(labels, scores, threshold)}
    if 0 < labels.sum() < len(labels):
        result.update(auc=M.roc_auc(labels, scores), eer=M.equal_error_rate(labels, scores)[0],
                      ap=M.average_precision(labels, scores))
    return result


def collect(model, loader, accelerator, mask_threshold: float = 0.5) -> dict:
    """Runs the detector; returns numpy arrays gathered over processes (one row per clip). IoU / PBCA per clip from
    `metrics.functional` over all its frames, masks binarised at `mask_threshold` (and the IoU at each of
    `MASK_THRESHOLDS`: `iou_at`, `(N, K)`)."""
    rows = {k: [] for k in ("index", "label", *SCORES, "frame_scores", "iou", "pbca", "iou_at")}
    model.eval()
    for batch in tqdm(loader, desc="evaluate", disable=not accelerator.is_local_main_process):
        with torch.inference_mode():
            out = model(batch["pixel_values"])
        iou, pbca = clip_mask_metrics(out.masks, batch["mask_labels"], mask_threshold)
        iou_at = clip_ious_by_threshold(out.masks, batch["mask_labels"], MASK_THRESHOLDS)
        device = out.probabilities.device
        values = {
            "index": batch["index"], "label": batch["labels"], "fused": out.probabilities,
            "recovery": torch.sigmoid(out.recovery_logits), "localization": torch.sigmoid(out.localization_logits),
            "mask": out.mask_scores,
            "frame_scores": out.frame_scores, "iou": torch.as_tensor(iou, dtype=torch.float32, device=device),
            "pbca": torch.as_tensor(pbca, dtype=torch.float32, device=device),
            "iou_at": torch.as_tensor(iou_at, dtype=torch.float32, device=device),
        }
        for key, value in accelerator.gather_for_metrics(values).items():
            rows[key].append(value.float().cpu().numpy() if key not in ("index", "label") else value.cpu().numpy())
    return {k: np.concatenate(v) for k, v in rows.items()}


def metric_rows(results: dict, groups: dict[str, np.ndarray], threshold: float, has_mask: np.ndarray,
                pair_source: np.ndarray | None = None) -> dict:
    """One table row per group. `pair_source[i]`: the index of fake i's own source real clip (-1: none)."""
    table = {}
    labels = results["label"].astype(np.int64)
    pair_source = np.full(len(labels), -1) if pair_source is None else pair_source
    for name, selected in groups.items():
        entry = {score: detection_metrics(labels[selected], results[score][selected], threshold) for score in SCORES}
        paired = np.flatnonzero(selected & (labels == 1) & (pair_source >= 0))
        if len(paired):
            entry["pair_wins"] = {"rate": M.pair_win_rate(results["fused"][paired], results["fused"][pair_source[paired]]),
                                  "n": int(len(paired))}
        reals = selected & (labels == 0)
        if reals.any():
            entry["real_scored_fake"] = float((results["fused"][reals] >= threshold).mean())
        frames = results["frame_scores"][selected]
        entry["frame_level"] = detection_metrics(np.repeat(labels[selected], frames.shape[1]), frames.reshape(-1), threshold)
        fakes = selected & (labels == 1) & has_mask
        if fakes.any():
            entry["localization_masks"] = {"iou": float(results["iou"][fakes].mean()),
                                           "pbca": float(results["pbca"][fakes].mean()), "n": int(fakes.sum())}
        table[name] = entry
    return table


def markdown(table: dict) -> str:
    def fmt(value):
        return "–" if value is None else f"{100 * value:.1f}"

    lines = ["| subset | clips (fake) | AUC | EER | AP | ACC | AUC rec. | AUC loc. | AUC mask | frame AUC | IoU | PBCA | pair wins | reals >= thr. |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in table.items():
        fused, masks = entry["fused"], entry.get("localization_masks", {})
        lines.append(
            f"| {name} | {fused['n']} ({fused['n_fake']}) | {fmt(fused.get('auc'))} | {fmt(fused.get('eer'))} | "
            f"{fmt(fused.get('ap'))} | {fmt(fused['acc'])} | {fmt(entry['recovery'].get('auc'))} | "
            f"{fmt(entry['localization'].get('auc'))} | {fmt(entry['mask'].get('auc'))} | "
            f"{fmt(entry['frame_level'].get('auc'))} | "
            f"{fmt(masks.get('iou'))} | {fmt(masks.get('pbca'))} | {fmt(entry.get('pair_wins', {}).get('rate'))} | "
            f"{fmt(entry.get('real_scored_fake'))} |"
        )
    return "\n".join(lines) + "\n\nAll numbers in %. AUC/EER/AP need both classes in a subset (– otherwise). " \
        "AUC loc.: stage 2's frame classifier; AUC mask: the forgery masks' own score (mean of each mask's top " \
        "pixels, config.mask_score_top_fraction). " \
        "Localization: masks binarised at the model's mask_threshold (Eq. 5; the ground truth at 0.5), averaged over " \
        "fake clips with ground-truth masks. Pair wins: fakes scoring higher than their own source clip. Reals >= thr.: real clips " \
        "whose fused score reaches the accuracy threshold. `real+<degradation>` rows: the held-out real clips " \
        "degraded globally, against all fakes.\n"


def evaluation_dataset(clips, config, pseudo_fakes=(), seed: int = 1234, degraded_reals: bool = True) -> FaceClipDataset:
    """The clips as the detector sees them; with `pseudo_fakes`, plus one fixed fake of each family per real clip
    and (unless `degraded_reals=False`) the degraded real clips (no augmentation, the same fakes in every run)."""
    args = (clips, config.num_frames, config.image_size, config.image_mean, config.image_std)
    families = parse_families(pseudo_fakes)
    if not families:
        return FaceClipDataset(*args, with_index=True)
    return PseudoFakeClipDataset(*args, families=families, family_order="cycle", degradations=None, augment=False,
                                 degraded_reals=DEGRADATIONS if degraded_reals else (), seed=seed, with_index=True)


def pair_sources(dataset: FaceClipDataset, clips) -> np.ndarray:
    """For every sample, the index of its own source real clip if it is a fake with one, else -1: the real row a
    pseudo-fake was made from, or the real row whose `video_path` is a data-set fake's `source_video`."""
    labels = dataset.labels
    out = np.full(len(labels), -1, dtype=np.int64)
    rows = np.asarray(getattr(dataset, "source_row", np.arange(len(labels))))
    cache_labels = np.asarray(clips["label"])
    by_path = {p: i for i, p in enumerate(clips["video_path"]) if cache_labels[i] == 0} if "video_path" in clips.column_names else {}
    sources = clips["source_video"] if "source_video" in clips.column_names else [""] * len(clips)
    for i in np.flatnonzero(labels == 1):
        row = int(rows[i])
        if i != row:  # a pseudo-fake of real row `row`
            out[i] = row
        elif sources[row] and sources[row] in by_path:
            out[i] = by_path[sources[row]]
    return out


def evaluate(model_dir, data, output_dir: Path, batch_size: int = 4, threshold: float = 0.5,
             accelerator: Accelerator | None = None, localization_frames: int | None = None,
             pseudo_fakes=(), seed: int = 1234, degraded_reals: bool = True) -> dict:
    """Metrics of the detector in `model_dir` on face-clip caches `data`. The localizer analyses
    `localization_frames` frames per clip (None: every frame, whatever the model's setting). With `pseudo_fakes`
    (families), each real clip also gets a fixed fake of each family, and degraded copies (see module docstring;
    `degraded_reals=False`: none, e.g. for a validation split where only the fused ranking is needed)."""
    accelerator = accelerator or Accelerator()
    model = DelocateForDeepfakeDetection.from_pretrained(model_dir)
    model.config.localization_frames = localization_frames
    config = model.config
    clips = load_face_clips(data)
    dataset = evaluation_dataset(clips, config, pseudo_fakes, seed, degraded_reals)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    model, loader = accelerator.prepare(model, loader)
    results = collect(model, loader, accelerator, config.mask_threshold)
    order = np.argsort(results["index"])
    results = {k: v[order] for k, v in results.items()}
    table = metric_rows(results, evaluation_groups(dataset, clips, results["label"]), threshold, dataset.has_mask,
                        pair_sources(dataset, clips))
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics.json").write_text(json.dumps(table, indent=2))
        (output_dir / "metrics.md").write_text(markdown(table))
        rows = np.asarray(getattr(dataset, "source_row", np.arange(len(dataset))))
        ids = clips["video_id"] if "video_id" in clips.column_names else list(range(len(clips)))
        per_clip = [{"video_id": ids[int(rows[i])], "manipulation": dataset.manipulations[i], "label": int(lab),
                     **{s: float(results[s][i]) for s in SCORES},
                     **({"iou_at": {f"{t:g}": round(float(v), 6) for t, v in zip(MASK_THRESHOLDS, results["iou_at"][i])}}
                        if lab == 1 and dataset.has_mask[i] else {})}
                    for i, lab in enumerate(results["label"])]
        (output_dir / "scores.json").write_text(json.dumps(per_clip, indent=1))
    return table


def evaluation_groups(dataset: FaceClipDataset, clips, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Table rows: all clips, each data set, each of its manipulations (its fakes + the data set's clean reals) and
    each degraded-real set (`real+<name>`: those reals + all fakes of the data set). Degraded reals count only in
    their own rows."""
    rows = np.asarray(getattr(dataset, "source_row", np.arange(len(labels))))
    names = np.asarray(clips["dataset"] if "dataset" in clips.column_names else ["clips"] * len(clips), dtype=object)[rows]
    manipulations = np.asarray(dataset.manipulations, dtype=object)
    degraded = np.asarray([str(m).startswith("real+") for m in manipulations])
    clean_real = (labels == 0) & ~degraded
    groups = {"all": ~degraded}
    for name in sorted(set(names)):
        mine = names == name
        groups[name] = mine & ~degraded
        for manipulation in sorted(set(manipulations[mine & (labels == 1)])):
            groups[f"{name} / {manipulation}"] = mine & ((manipulations == manipulation) | clean_real)
        for manipulation in sorted(set(manipulations[mine & degraded])):
            groups[f"{name} / {manipulation} (vs all fakes)"] = mine & ((manipulations == manipulation) | (labels == 1))
    return groups


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    accelerator = Accelerator(mixed_precision=args.mixed_precision, cpu=args.cpu)
    table = evaluate(args.model, args.data, args.output_dir, args.batch_size, args.threshold, accelerator,
                     args.localization_frames, pseudo_fakes=args.pseudo_fakes, seed=args.seed)
    accelerator.print(markdown(table))
    return table


if __name__ == "__main__":
    main()
