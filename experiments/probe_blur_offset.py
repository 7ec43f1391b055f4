"""Does blur raise a stage-2 localizer's score by itself, or does it only hide the blend?

For each held-out real clip of a face-clip cache, and one fixed pseudo-fake of each family per clip, the
localizer's clip score (mean frame probability over all frames) of:

- the clean real clip and the same clip blurred (Gaussian, sigma at 128 px, as the evaluation's `real+blur` rows);
- the clean fake, the fake blurred after the blend ("postblur"), and a fake blended into the blurred real clip
  ("preblur").

A model that detects blends scores blurred reals like clean reals; one that learnt "a softer face is fake" scores
them higher (a global shortcut). Prints mean scores and AUCs as JSON (docs/experiments.md, "transformed reals").

    python experiments/probe_blur_offset.py --localizer RUN/final --data outputs/default-model-run/cache/heldout
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from delocate_hf.data.degradations import apply_degradation
from delocate_hf.metrics.functional import roc_auc
from delocate_hf.training.data import load_face_clips
from delocate_hf.training.pseudo_fake_dataset import PseudoFakeClipDataset
from modeling.modeling_delocate import DelocateForForgeryLocalization


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--localizer", required=True, help="a stage-2 model folder (train_localization's final/)")
    parser.add_argument("--data", nargs="+", required=True, help="face-clip cache(s) of held-out clips")
    parser.add_argument("--families", default="self_blend,part_eyes,part_swap")
    parser.add_argument("--sigma", type=float, default=1.2, help="blur sigma in px at 128 px")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the fixed fakes")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    model = DelocateForForgeryLocalization.from_pretrained(args.localizer).eval()
    cfg = model.config
    families = args.families.split(",")
    ds = PseudoFakeClipDataset(load_face_clips(args.data), cfg.num_frames, cfg.image_size, cfg.image_mean,
                               cfg.image_std, families=families, family_order="cycle", degradations=None,
                               augment=False, seed=args.seed)

    def score(faces: np.ndarray, index: int) -> float:  # faces (T, S0, S0, 3) uint8 -> mean frame probability
        boxes = np.zeros((len(faces), 3, 4), np.float32)
        pixels = ds.to_model_inputs(faces, boxes, None, 0, "real", index)["pixel_values"]  # (T, 3, S, S)
        with torch.no_grad():
            return float(torch.sigmoid(model(pixels[None]).frame_logits).mean())

    def blur(faces):
        return apply_degradation(faces, "blur", args.sigma)

    scores: dict[str, list[float]] = {"real": [], "real+blur": []}
    for row in ds.real_rows:
        clip = ds.read_clip(int(row))
        scores["real"].append(score(clip["faces"], int(row)))
        scores["real+blur"].append(score(blur(clip["faces"]), int(row)))
    for slot in range(ds.pseudo_count):
        index = ds.num_rows + slot
        family, clip = ds.manipulations[index], ds.read_clip(int(ds.source_row[index]))
        fake = ds.make_fake(clip, index)[0]
        blurred_real = {**clip, "faces": blur(clip["faces"])}
        for name, faces in ((family, fake), (f"{family}+postblur", blur(fake)),
                            (f"{family}+preblur", ds.make_fake(blurred_real, index)[0])):
            scores.setdefault(name, []).append(score(faces, index))

    def auc(fakes: str, reals: str) -> float:
        values = scores[fakes] + scores[reals]
        return round(100 * roc_auc([1] * len(scores[fakes]) + [0] * len(scores[reals]), values), 1)

    result = {"mean_score": {k: round(float(np.mean(v)), 3) for k, v in scores.items()}}
    for family in families:
        result[family] = {"clean vs real": auc(family, "real"), "clean vs blurred real": auc(family, "real+blur"),
                          "postblur vs blurred real": auc(f"{family}+postblur", "real+blur"),
                          "preblur vs blurred real": auc(f"{family}+preblur", "real+blur")}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
