"""Learning curves: train vs held-out AUC (and mask IoU) every N steps, saved as JSON and a PNG.

Used by stage 1b (`DelocateForVideoClassification`: AUC of its logits) and stage 2
(`DelocateForForgeryLocalization`: AUC of its clip logits and IoU of its masks on fakes) through the loop's
`on_step` hook: `--eval_data CACHE --eval_steps N`. A sceptical reader wants the held-out curve beside the training
one: a model that memorises its training clips shows a rising train curve and a flat held-out one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from delocate_hf.metrics import functional as M

from .data import collate

__all__ = ["LearningCurve", "TRUTH_THRESHOLD", "clip_ious_by_threshold", "clip_mask_metrics", "score_clips"]


TRUTH_THRESHOLD = 0.5  # a ground-truth pixel is tampered where its (soft) blend mask is >= 0.5, whatever the model's cut


def _clip_arrays(masks: torch.Tensor, mask_labels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Predicted masks `(B, T*S, S)` in [0, 1] and the ground truth binarised at `TRUTH_THRESHOLD` (0 / 1), frames
    stacked so that a clip counts as one image."""
    size = masks.shape[-1]
    predicted = masks.detach().float().reshape(len(masks), -1, size).cpu().numpy()
    truth = (mask_labels.detach().float() >= TRUTH_THRESHOLD).float().reshape(len(masks), -1, size).cpu().numpy()
    return predicted, truth


def clip_mask_metrics(masks: torch.Tensor, mask_labels: torch.Tensor, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip IoU and PBCA `(B,)` over all frames of predicted masks in [0, 1] and ground truth, both
    `(B, T, S, S)` (any shape with the clip first and a square frame last): predictions binarised at `threshold`
    (the model's `mask_threshold`), the ground truth at `TRUTH_THRESHOLD` (`metrics.functional`; frames stacked, so a
    clip counts as one image)."""
    predicted, truth = _clip_arrays(masks, mask_labels)
    return (M.iou(predicted, truth, threshold=threshold, reduction="none"),
            M.pbca(predicted, truth, threshold=threshold, reduction="none"))


def clip_ious_by_threshold(masks: torch.Tensor, mask_labels: torch.Tensor, thresholds) -> np.ndarray:
    """Per-clip IoU `(B, K)` as `clip_mask_metrics` with the predictions binarised at each of the K `thresholds`
    (the candidates a mask threshold is chosen among, `calibrate.choose_mask_threshold`)."""
    predicted, truth = _clip_arrays(masks, mask_labels)
    return np.stack([M.iou(predicted, truth, threshold=float(t), reduction="none") for t in thresholds], axis=1)


@torch.no_grad()
def score_clips(model: torch.nn.Module, dataset, batch_size: int = 8, mask_threshold: float = 0.5) -> dict:
    """P(fake) `(N,)`, labels `(N,)` and, when the model predicts masks, per-clip IoU `(N,)` of the masks
    (binarised at `mask_threshold`) with the clips' ground truth. Restores the model's train/eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores, labels, ious = [], [], []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate):
        out = model(batch["pixel_values"].to(device))
        scores.append(torch.sigmoid(out.logits.float()).reshape(-1).cpu().numpy())
        labels.append(batch["labels"].numpy())
        mask_logits = getattr(out, "mask_logits", None)
        if mask_logits is not None:
            ious.append(clip_mask_metrics(torch.sigmoid(mask_logits.float()), batch["mask_labels"], mask_threshold)[0])
    model.train(was_training)
    result = {"scores": np.concatenate(scores), "labels": np.concatenate(labels)}
    if ious:
        result["iou"] = np.concatenate(ious)
    return result


class LearningCurve:
    """`on_step` hook: every `every` steps, AUC (and fake-mask IoU) on each named evaluation set.

    Args:
        sets: name -> dataset (e.g. {"train": ..., "held-out": ...}); fixed fakes (`family_order="cycle"`) and no
            augmentation, so points are comparable across steps. At most `max_clips` clips of each are used.
        every: evaluation period in optimizer steps (the last step is always evaluated by `finish`).
        output_dir: where `learning_curve.json` / `learning_curve.png` go.
    """

    def __init__(self, sets: dict, every: int, output_dir: Path, max_clips: int = 64, batch_size: int = 8,
                 mask_threshold: float = 0.5, log=print):
        if every <= 0:
            raise ValueError(f"eval_steps must be positive, got {every}")
        self.sets = {name: self._subset(ds, max_clips) for name, ds in sets.items()}
        self.every, self.output_dir, self.batch_size = every, Path(output_dir), batch_size
        self.mask_threshold, self.log = mask_threshold, log
        self.points: list[dict] = []

    @staticmethod
    def _subset(dataset, max_clips: int):
        """An even spread of at most `max_clips` clips, both classes kept (reals and fakes interleaved)."""
        if len(dataset) <= max_clips:
            return dataset
        labels = np.asarray(dataset.labels[: len(dataset)])
        keep = []
        for label in (0, 1):
            idx = np.flatnonzero(labels == label)
            keep.extend(idx[np.linspace(0, len(idx) - 1, max(1, max_clips // 2)).round().astype(int)].tolist())
        return Subset(dataset, sorted(set(keep)))

    def evaluate(self, step: int, model: torch.nn.Module) -> dict:
        model = getattr(model, "module", model)
        point: dict = {"step": int(step)}
        for name, dataset in self.sets.items():
            r = score_clips(model, dataset, self.batch_size, self.mask_threshold)
            both = 0 < r["labels"].sum() < len(r["labels"])
            point[f"{name}_auc"] = M.roc_auc(r["labels"], r["scores"]) if both else None
            if "iou" in r and (r["labels"] == 1).any():
                point[f"{name}_iou"] = float(r["iou"][r["labels"] == 1].mean())
        self.points.append(point)
        self.log("  eval " + ", ".join(f"{k} {v:.3f}" for k, v in point.items() if k != "step" and v is not None)
                 + f" (step {step})")
        return {k: v for k, v in point.items() if k != "step" and v is not None}

    def __call__(self, step: int, model: torch.nn.Module) -> dict | None:
        return self.evaluate(step, model) if step % self.every == 0 else None

    def finish(self, step: int, model: torch.nn.Module, title: str = "") -> Path:
        """Evaluates the last step (if not done) and writes the JSON and the PNG; returns the PNG path."""
        if not self.points or self.points[-1]["step"] != step:
            self.evaluate(step, model)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "learning_curve.json").write_text(json.dumps(self.points, indent=1))
        return plot_learning_curve(self.points, self.output_dir / "learning_curve.png", title)


def plot_learning_curve(points: list[dict], path: Path, title: str = "") -> Path:
    """AUC (left axis, solid) and IoU (right axis, dashed) per evaluation set against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    steps = [p["step"] for p in points]
    keys = sorted({k for p in points for k in p if k != "step"})
    colours = {}
    iou_axis = None
    for key in keys:
        name, metric = key.rsplit("_", 1)
        colour = colours.setdefault(name, f"C{len(colours)}")
        values = [p.get(key) for p in points]
        xs = [s for s, v in zip(steps, values) if v is not None]
        ys = [v for v in values if v is not None]
        if metric == "auc":
            ax.plot(xs, ys, "-o", color=colour, markersize=3, label=f"{name} AUC")
        else:
            iou_axis = iou_axis or ax.twinx()
            iou_axis.plot(xs, ys, "--s", color=colour, markersize=3, label=f"{name} IoU")
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel="optimizer step", ylabel="video AUC", ylim=(0.0, 1.02), title=title or "learning curve")
    handles, labels = ax.get_legend_handles_labels()
    if iou_axis is not None:
        iou_axis.set(ylabel="fake-mask IoU", ylim=(0.0, 1.02))
        h2, l2 = iou_axis.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path
