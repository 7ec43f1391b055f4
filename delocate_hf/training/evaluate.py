"""Evaluate a Delocate detector on face-clip caches: detection (AUC, EER, AP, accuracy at video and frame level, for
the fused score and each stage) and localization (IoU, PBCA of masks binarised at 0.5, paper Eq. 5), overall, per
data set and per manipulation (each manipulation's fakes against the real clips of the same data set), like the
paper's Tables 1-3. Writes `metrics.json` and `metrics.md`. Runs under `accelerate launch` (`gather_for_metrics`).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from delocate_hf.metrics import functional as M
from modeling import DelocateForDeepfakeDetection

from .data import FaceClipDataset, collate, load_face_clips

SCORES = ("fused", "recovery", "localization")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a Delocate detector on face-clip caches")
    parser.add_argument("--model", required=True, help="DelocateForDeepfakeDetection folder (assemble.py output)")
    parser.add_argument("--data", nargs="+", required=True, help="face-clip cache folder(s)")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.5, help="score threshold for accuracy")
    parser.add_argument("--mixed_precision", default="no", choices=["no", "fp16", "bf16"])
    parser.add_argument("--cpu", action="store_true")
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


def collect(model, loader, accelerator) -> dict:
    """Runs the detector; returns numpy arrays gathered over processes (one row per clip)."""
    rows = {k: [] for k in ("index", "label", *SCORES, "frame_scores", "iou", "pbca")}
    model.eval()
    for batch in tqdm(loader, desc="evaluate", disable=not accelerator.is_local_main_process):
        with torch.inference_mode():
            out = model(batch["pixel_values"])
        predicted = (out.masks >= 0.5).flatten(1)  # (B, T*S*S)
        truth = (batch["mask_labels"] >= 0.5).flatten(1)
        union = (predicted | truth).sum(1)
        iou = torch.where(union > 0, (predicted & truth).sum(1) / union.clamp(min=1), torch.ones_like(union, dtype=torch.float))
        values = {
            "index": batch["index"], "label": batch["labels"], "fused": out.probabilities,
            "recovery": torch.sigmoid(out.recovery_logits), "localization": torch.sigmoid(out.localization_logits),
            "frame_scores": out.frame_scores, "iou": iou.float(), "pbca": (predicted == truth).float().mean(1),
        }
        for key, value in accelerator.gather_for_metrics(values).items():
            rows[key].append(value.float().cpu().numpy() if key not in ("index", "label") else value.cpu().numpy())
    return {k: np.concatenate(v) for k, v in rows.items()}


def metric_rows(results: dict, groups: dict[str, np.ndarray], threshold: float, has_mask: np.ndarray) -> dict:
    table = {}
    labels = results["label"].astype(np.int64)
    for name, selected in groups.items():
        entry = {score: detection_metrics(labels[selected], results[score][selected], threshold) for score in SCORES}
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

    lines = ["| subset | clips (fake) | AUC | EER | AP | ACC | AUC rec. | AUC loc. | frame AUC | IoU | PBCA |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in table.items():
        fused, masks = entry["fused"], entry.get("localization_masks", {})
        lines.append(
            f"| {name} | {fused['n']} ({fused['n_fake']}) | {fmt(fused.get('auc'))} | {fmt(fused.get('eer'))} | "
            f"{fmt(fused.get('ap'))} | {fmt(fused['acc'])} | {fmt(entry['recovery'].get('auc'))} | "
            f"{fmt(entry['localization'].get('auc'))} | {fmt(entry['frame_level'].get('auc'))} | "
            f"{fmt(masks.get('iou'))} | {fmt(masks.get('pbca'))} |"
        )
    return "\n".join(lines) + "\n\nAll numbers in %. AUC/EER/AP need both classes in a subset (– otherwise). " \
        "Localization: masks binarised at 0.5 (Eq. 5), averaged over fake clips with ground-truth masks.\n"


def evaluate(model_dir, data, output_dir: Path, batch_size: int = 4, threshold: float = 0.5,
             accelerator: Accelerator | None = None, localization_frames: int | None = None) -> dict:
    """Metrics of the detector in `model_dir` on face-clip caches `data`. The localizer analyses
    `localization_frames` frames per clip (None: every frame, whatever the model's setting)."""
    accelerator = accelerator or Accelerator()
    model = DelocateForDeepfakeDetection.from_pretrained(model_dir)
    model.config.localization_frames = localization_frames
    config = model.config
    clips = load_face_clips(data)
    dataset = FaceClipDataset(clips, config.num_frames, config.image_size, config.image_mean, config.image_std,
                              with_index=True)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    model, loader = accelerator.prepare(model, loader)
    results = collect(model, loader, accelerator)
    order = np.argsort(results["index"])
    results = {k: v[order] for k, v in results.items()}

    names = clips["dataset"] if "dataset" in clips.column_names else ["clips"] * len(clips)
    names = np.asarray(names, dtype=object)
    manipulations = np.asarray(clips["manipulation"], dtype=object)
    sources = np.asarray(clips["mask_source"] if "mask_source" in clips.column_names else ["dataset"] * len(clips), dtype=object)
    has_mask = sources != "none"
    groups = {"all": np.ones(len(clips), dtype=bool)}
    for name in sorted(set(names)):
        groups[name] = names == name
        for manipulation in sorted(set(manipulations[(names == name) & (results["label"] == 1)])):
            groups[f"{name} / {manipulation}"] = (names == name) & ((manipulations == manipulation) | (results["label"] == 0))
    table = metric_rows(results, groups, threshold, has_mask)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics.json").write_text(json.dumps(table, indent=2))
        (output_dir / "metrics.md").write_text(markdown(table))
        per_clip = [{"video_id": vid, "label": int(lab), **{s: float(results[s][i]) for s in SCORES}}
                    for i, (vid, lab) in enumerate(zip(clips["video_id"] if "video_id" in clips.column_names
                                                       else range(len(clips)), results["label"]))]
        (output_dir / "scores.json").write_text(json.dumps(per_clip, indent=1))
    return table


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    accelerator = Accelerator(mixed_precision=args.mixed_precision, cpu=args.cpu)
    table = evaluate(args.model, args.data, args.output_dir, args.batch_size, args.threshold, accelerator,
                     args.localization_frames)
    accelerator.print(markdown(table))
    return table


if __name__ == "__main__":
    main()
