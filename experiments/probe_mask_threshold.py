"""Probe: at which pixel threshold should a trained detector's forgery masks be binarised? Scores the detector
(`assemble.py` output) on the validation people (real clips + fakes of the families it was trained on) and the
held-out people (all five families, the evaluation's fixed fakes), and reports the mean mask IoU of the fake clips
with the ground truth (binarised at 0.5, as always) when the predicted masks are binarised at

- `abs@t`: pixel probability >= t (the detector's `mask_threshold`, 0.5 by default), t = 0.1 ... 0.9;
- `rel@r`: pixel probability >= r * the clip's highest pixel probability (a threshold that follows each clip's
  confidence), r = 0.3 ... 0.9;

and the threshold chosen on the validation people (the held-out people only ever scored).

    python experiments/probe_mask_threshold.py --detector outputs/demo/detector \
        --validation outputs/demo/cache/validation --heldout outputs/demo/cache/heldout --seed 0 --log thr.json

The seeds of the fixed fakes follow `delocate demo`'s (validation `seed + 4321`, held-out `seed + 1234`), so the
held-out `abs@0.5` row equals the demo's IoU. Section "The masks' threshold" of docs/experiments.md.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delocate_hf.demo import HELDOUT_FAMILIES, TRAIN_FAMILIES  # noqa: E402
from delocate_hf.training.data import collate, load_face_clips  # noqa: E402
from delocate_hf.training.evaluate import evaluation_dataset  # noqa: E402
from experiments.detector_probe import detector_probe_parser, load_probe_detector  # noqa: E402

ABSOLUTE = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
RELATIVE = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TRUTH_THRESHOLD = 0.5


def rule_names() -> list[str]:
    return [f"abs@{t}" for t in ABSOLUTE] + [f"rel@{r}" for r in RELATIVE]


def clip_ious(masks: torch.Tensor, truth: torch.Tensor) -> dict[str, np.ndarray]:
    """Per clip IoU `(B,)` of predicted masks `(B, T, H, W)` in [0, 1] with the ground truth `(B, T, H, W)` (>= 0.5),
    all frames of a clip pooled (as `metrics.functional.iou` on stacked frames), for every binarisation rule."""
    gt = (truth.flatten(1) >= TRUTH_THRESHOLD)
    pixels = masks.flatten(1).float()
    peak = pixels.amax(dim=1, keepdim=True)
    cuts = {f"abs@{t}": torch.full_like(peak, t) for t in ABSOLUTE}
    cuts.update({f"rel@{r}": r * peak for r in RELATIVE})
    out = {}
    for name, cut in cuts.items():
        predicted = pixels >= cut
        inter = (predicted & gt).sum(1).double()
        union = (predicted | gt).sum(1).double()
        out[name] = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).numpy()
    return out


def score_masks(model, cache: str, families, seed: int, batch_size: int = 4) -> dict:
    """Per fake clip (the evaluation's fixed fakes; real clips are not run): its family and its IoU under every
    rule."""
    clips = load_face_clips([cache])
    dataset = evaluation_dataset(clips, model.config, families, seed, degraded_reals=False)
    fakes = np.flatnonzero(np.asarray(dataset.labels) == 1)
    rows = {name: [] for name in rule_names()}
    with torch.inference_mode():
        for batch in DataLoader(Subset(dataset, fakes), batch_size=batch_size, shuffle=False, collate_fn=collate):
            out = model(batch["pixel_values"])
            for name, values in clip_ious(out.masks, batch["mask_labels"]).items():
                rows[name].append(values)
    result = {k: np.concatenate(v) for k, v in rows.items()}
    result["manipulation"] = np.asarray(dataset.manipulations, dtype=object)[fakes]
    return result


def mean_ious(scores: dict) -> dict:
    """Mean IoU (%) of each rule over all fakes and over each family's."""
    manip = scores["manipulation"]
    groups = {"all": np.ones(len(manip), dtype=bool), **{f: manip == f for f in sorted(set(manip))}}
    return {g: {n: round(100 * float(scores[n][sel].mean()), 1) for n in rule_names()} for g, sel in groups.items()}


def main(argv=None) -> dict:
    parser = detector_probe_parser(__doc__)
    parser.add_argument("--families", default=",".join(TRAIN_FAMILIES),
                        help="the families the detector was trained on: the validation people's fakes")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model = load_probe_detector(args)
    validation = mean_ious(score_masks(model, args.validation, tuple(args.families.split(",")), args.seed + 4321))
    heldout = mean_ious(score_masks(model, args.heldout, TRAIN_FAMILIES + HELDOUT_FAMILIES, args.seed + 1234))
    best = max(rule_names(), key=lambda n: validation["all"][n])
    result = {"detector": args.detector, "validation": validation, "heldout": heldout, "chosen_on_validation": best,
              "seconds": round(time.perf_counter() - start, 1)}
    print(f"{'rule':<9} " + " ".join(f"{'val ' + g[:10]:>14}" for g in validation)
          + " " + " ".join(f"{g[:14]:>14}" for g in heldout))
    for n in rule_names():
        print(f"{n:<9} " + " ".join(f"{validation[g][n]:>14}" for g in validation)
              + " " + " ".join(f"{heldout[g][n]:>14}" for g in heldout))
    print(f"chosen on validation: {best} (held-out IoU {heldout['all'][best]}; at abs@0.5: {heldout['all']['abs@0.5']})")
    if args.log:
        args.log.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
