"""Does a clip's score *relative to fresh self-blends of itself* tell fakes from reals better than the score alone?

The shipped localizer ranks a fake above its own source clip in ~90 % of pairs, yet its AUC is ~63 %: the score's
level follows the clip (the scene) nearly as much as the blend moves it. A clip can be its own reference: blend a few
fresh self-blends into it (landmarks are known at inference too) and score them. A real clip's score rises a lot when
blended; a clip that already carries a blend has less room to rise. This probe scores, with a stage-2 localizer:

- `s(x)`: the clip's mean frame probability (what the detector uses now);
- `s(B_k(x))`, k = 1..K: the same for K fresh self-blends of the clip (seeded, strength `--ref_strength`);
- `relative`: `logit s(x) - mean_k logit s(B_k(x))`, and `reference`: `mean_k logit s(B_k(x))` alone (a control);

for each held-out real clip and one fixed pseudo-fake per family of it, and prints the AUCs (all families together
and per family) as JSON.

    python experiments/probe_self_reference.py --model delocate_hf/default_model --data outputs/demo/cache/heldout
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from delocate_hf.data.pseudo_fakes import make_pseudo_fake
from delocate_hf.metrics.functional import roc_auc
from delocate_hf.training.data import load_face_clips
from delocate_hf.training.pseudo_fake_dataset import PseudoFakeClipDataset
from modeling.modeling_delocate import DelocateForDeepfakeDetection, DelocateForForgeryLocalization


def load_localizer(path: str) -> tuple[torch.nn.Module, object]:
    """The stage-2 localization network of a detector folder or of a stage-2 model folder, and its config."""
    try:
        model = DelocateForDeepfakeDetection.from_pretrained(path)
    except (OSError, ValueError, KeyError):
        model = DelocateForForgeryLocalization.from_pretrained(path)
    return model.localizer.eval(), model.config


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a detector folder or a stage-2 model folder")
    parser.add_argument("--data", nargs="+", required=True, help="face-clip cache(s) of held-out clips")
    parser.add_argument("--families", default="self_blend,part_eyes,part_cheek_nose,part_lips,flicker")
    parser.add_argument("--references", type=int, default=4, help="K fresh self-blends per clip")
    parser.add_argument("--ref_family", default="self_blend", help="family of the reference blends")
    parser.add_argument("--ref_strength", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=1234, help="seed of the fixed fakes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="first N real clips only (a quick look)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    localizer, cfg = load_localizer(args.model)
    families = args.families.split(",")
    ds = PseudoFakeClipDataset(load_face_clips(args.data), cfg.num_frames, cfg.image_size, cfg.image_mean,
                               cfg.image_std, families=families, family_order="cycle", degradations=None,
                               augment=False, seed=args.seed)

    def clip_logit(faces: np.ndarray, index: int) -> float:  # (T, S0, S0, 3) uint8 -> logit of the mean frame probability
        boxes = np.zeros((len(faces), 3, 4), np.float32)
        pixels = ds.to_model_inputs(faces, boxes, None, 0, "real", index)["pixel_values"]  # (T, 3, S, S)
        with torch.no_grad():
            frame_logits = localizer(pixels)["frame_logits"]  # (T,)
        return float(torch.logit(torch.sigmoid(frame_logits).mean(), eps=1e-6))

    def measures(faces: np.ndarray, landmarks: np.ndarray, index: int) -> dict:
        own = clip_logit(faces, index)
        refs = []
        for k in range(args.references):
            rng = np.random.default_rng([args.seed, 7, int(index), k])
            ref = make_pseudo_fake(faces, landmarks, "auto", args.ref_family, rng, strength=args.ref_strength)
            refs.append(clip_logit(ref.frames, index))
        return {"score": own, "reference": float(np.mean(refs)), "relative": own - float(np.mean(refs))}

    rows = ds.real_rows[: args.limit] if args.limit else ds.real_rows
    records = []
    for row in rows:
        clip = ds.read_clip(int(row))
        landmarks = np.asarray(clip["row"]["landmarks"], dtype=np.float32)[clip["keep"]]
        records.append({"family": "real", "label": 0, **measures(clip["faces"], landmarks, int(row))})
        for f in range(len(families)):  # the fixed fake of family f of this clip: slot f * (real clips) after its first
            index = ds.pair_of(int(row)) + f * len(ds.real_rows)
            fake, _, family, _ = ds.make_fake(clip, index)
            records.append({"family": family, "label": 1, **measures(fake, landmarks, index)})

    def auc(subset: list[dict], key: str) -> float:
        return round(100 * roc_auc([r["label"] for r in subset], [r[key] for r in subset]), 1)

    reals = [r for r in records if r["label"] == 0]
    result = {"clips": len(records), "references": args.references, "ref_strength": args.ref_strength}
    for key in ("score", "reference", "relative"):
        result[key] = {"all": auc(records, key)}
        for family in families:
            result[key][family] = auc(reals + [r for r in records if r["family"] == family], key)
    print(json.dumps(result, indent=1))
    return {**result, "records": records}


if __name__ == "__main__":
    main()
