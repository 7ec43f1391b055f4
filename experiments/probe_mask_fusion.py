"""Probe: does the forgery mask's own score add to the stage-2 frame classifier's? Scores a trained detector
(`assemble.py` output) on the demo's validation people (real clips + their self-blends) and held-out people (all five
families + degraded reals, the evaluation's fixed fakes), and reports the AUC of

- `classifier`: the localization stage's score as the detector fuses it (sigmoid of the mean frame logit);
- `mask@q`: the mean over frames of the mean of the top `q` fraction of the mask's pixel probabilities;
- `mix@q,a`: `a * mask@q + (1 - a) * classifier`, with `a` chosen on the validation people (the held-out people only
  ever scored).

    python experiments/probe_mask_fusion.py --detector outputs/demo/detector \
        --validation outputs/demo/cache/validation --heldout outputs/demo/cache/heldout --seed 0 --log mask.json

The seeds of the fixed fakes follow `delocate demo`'s (validation `seed + 4321`, held-out `seed + 1234`), so the
held-out `classifier` row equals the demo's `localization` AUC. Section "The mask's own score in the fused score"
of docs/experiments.md.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delocate_hf.demo import HELDOUT_FAMILIES, TRAIN_FAMILIES  # noqa: E402
from delocate_hf.metrics.functional import roc_auc  # noqa: E402
from delocate_hf.training.data import collate, load_face_clips  # noqa: E402
from delocate_hf.training.evaluate import evaluation_dataset  # noqa: E402
from experiments.detector_probe import detector_probe_parser, load_probe_detector  # noqa: E402

TOP_FRACTIONS = (0.01, 0.05, 0.2)
MIX_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def score_clips(model, cache: str, families, seed: int, degraded: bool, batch_size: int = 4) -> dict:
    """Per clip: label, manipulation, the classifier probability and the mask scores at each top fraction."""
    clips = load_face_clips([cache])
    dataset = evaluation_dataset(clips, model.config, families, seed, degraded_reals=degraded)
    rows = {"classifier": [], **{f"mask@{q}": [] for q in TOP_FRACTIONS}, "label": []}
    with torch.inference_mode():
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate):
            out = model(batch["pixel_values"])
            rows["classifier"].append(torch.sigmoid(out.localization_logits).numpy())
            pixels = out.masks.flatten(2)  # (batch, frames, H*W) probabilities
            for q in TOP_FRACTIONS:
                top = max(1, int(round(pixels.shape[-1] * q)))
                rows[f"mask@{q}"].append(pixels.topk(top, dim=-1).values.mean(dim=(1, 2)).numpy())
            rows["label"].append(batch["labels"].numpy())
    out = {k: np.concatenate(v) for k, v in rows.items()}
    out["manipulation"] = np.asarray(dataset.manipulations, dtype=object)
    return out


def aucs(scores: dict, names) -> dict:
    """AUC of each score on all clean clips, each family (vs clean reals) and each degraded-real set (vs all fakes)."""
    labels, manip = scores["label"].astype(int), scores["manipulation"]
    degraded = np.array([str(m).startswith("real+") for m in manip])
    groups = {"all": ~degraded}
    for family in sorted(set(manip[labels == 1])):
        groups[family] = (manip == family) | ((labels == 0) & ~degraded)
    for name in sorted(set(manip[degraded])):
        groups[f"vs {name}"] = (manip == name) | (labels == 1)
    return {g: {n: round(100 * roc_auc(labels[sel], scores[n][sel]), 1) for n in names} for g, sel in groups.items()}


def main(argv=None) -> dict:
    parser = detector_probe_parser(__doc__)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model = load_probe_detector(args)
    validation = score_clips(model, args.validation, TRAIN_FAMILIES, args.seed + 4321, degraded=False)
    heldout = score_clips(model, args.heldout, TRAIN_FAMILIES + HELDOUT_FAMILIES, args.seed + 1234, degraded=True)
    names = ["classifier", *(f"mask@{q}" for q in TOP_FRACTIONS)]
    for q in TOP_FRACTIONS:
        for a in MIX_WEIGHTS[1:-1]:
            for split in (validation, heldout):
                split[f"mix@{q},{a}"] = a * split[f"mask@{q}"] + (1 - a) * split["classifier"]
            names.append(f"mix@{q},{a}")
    result = {"detector": args.detector, "validation": aucs(validation, names)["all"], "heldout": aucs(heldout, names)}
    best = max(names, key=lambda n: result["validation"][n])
    result["chosen_on_validation"] = best
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{'score':<16} {'validation':>10} " + " ".join(f"{g[:14]:>14}" for g in result["heldout"]))
    for n in names:
        print(f"{n:<16} {result['validation'][n]:>10} " + " ".join(f"{result['heldout'][g][n]:>14}" for g in result["heldout"]))
    print(f"chosen on validation: {best} (held-out AUC {result['heldout']['all'][best]})")
    if args.log:
        args.log.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
