"""Do global edits of a whole clip (colour grading, contrast, saturation, down-scaling, compression, compression at
low resolution) move a detector's stage-2 score, for real clips and for fakes?

For each held-out real clip of a face-clip cache and one fixed self-blend of it, the detector's localization
probability (`DelocateForDeepfakeDetection(...).localization_logits`; or a stage-2 model's clip probability) of the clip as it is and after each edit,
applied alike to the real clip and to its fake. A detector that follows blending traces keeps real scores where they
are under every edit (a real clip edited globally is still real); a score that rises for edited reals is a global
shortcut, one that falls for edited fakes shows what hides a blend. Also lists the real clips that score highest, and
can save their first frames as a picture. Prints JSON (docs/experiments.md, "what makes a real clip score as fake").

    python experiments/probe_global_edits.py --model delocate_hf/default_model \
        --data outputs/default-model-run/cache/heldout --picture top_reals.png
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch

from delocate_hf.data.degradations import apply_degradation, compressed_at_low_resolution
from delocate_hf.metrics.functional import roc_auc
from delocate_hf.training.data import load_face_clips
from delocate_hf.training.pseudo_fake_dataset import PseudoFakeClipDataset
from modeling import DelocateConfig, DelocateForDeepfakeDetection, DelocateForForgeryLocalization


def grade(frames: np.ndarray, shift=(0.0, 0.0, 0.0), contrast: float = 1.0, saturation: float = 1.0) -> np.ndarray:
    """A global colour grade of uint8 `frames (T, H, W, 3)`: saturation about the grey value, contrast about mid-grey,
    then an RGB shift."""
    x = frames.astype(np.float32)
    grey = x.mean(-1, keepdims=True)
    x = (grey + (x - grey) * saturation - 128.0) * contrast + 128.0 + np.asarray(shift, np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


EDITS = {
    "warm": lambda f: grade(f, shift=(20, 0, -20)),
    "cool": lambda f: grade(f, shift=(-15, 0, 15)),
    "low contrast": lambda f: grade(f, contrast=0.7),
    "high contrast": lambda f: grade(f, contrast=1.3),
    "desaturated": lambda f: grade(f, saturation=0.5),
    "saturated": lambda f: grade(f, saturation=1.5),
    "down-scaled 0.4": lambda f: apply_degradation(f, "resize", 0.4),
    "JPEG 40": lambda f: apply_degradation(f, "jpeg", 40),
    "JPEG 40 at 0.4 size": lambda f: compressed_at_low_resolution(f, 0.4, 40),
}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True,
                        help="a detector folder (DelocateForDeepfakeDetection: its stage-2 probability is scored) or a "
                             "stage-2 folder (DelocateForForgeryLocalization: its clip probability)")
    parser.add_argument("--data", nargs="+", required=True, help="face-clip cache(s) of held-out clips")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the fixed self-blends")
    parser.add_argument("--top", type=int, default=6, help="how many of the highest-scoring real clips to list")
    parser.add_argument("--picture", default=None, help="PNG of the first frame of the highest-scoring real clips")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    cfg = DelocateConfig.from_pretrained(args.model)
    localizer_only = "DelocateForForgeryLocalization" in (cfg.architectures or [])
    model = (DelocateForForgeryLocalization if localizer_only else DelocateForDeepfakeDetection).from_pretrained(args.model)
    model.eval()
    clips = load_face_clips(args.data)
    ds = PseudoFakeClipDataset(clips, cfg.num_frames, cfg.image_size, cfg.image_mean, cfg.image_std,
                               families=["self_blend"], family_order="cycle", degradations=None, augment=False,
                               seed=args.seed)

    def score(faces: np.ndarray, index: int) -> float:  # faces (T, S0, S0, 3) uint8 -> stage-2 probability
        boxes = np.zeros((len(faces), 3, 4), np.float32)
        pixels = ds.to_model_inputs(faces, boxes, None, 0, "real", index)["pixel_values"]  # (T, 3, S, S)
        with torch.no_grad():
            out = model(pixels[None])
            return float(torch.sigmoid(out.logits if localizer_only else out.localization_logits)[0])

    scores: dict[str, list[float]] = {}
    real_rows = [int(r) for r in ds.real_rows]
    for row in real_rows:
        real = ds.read_clip(row)["faces"]
        fake = ds.make_fake(ds.read_clip(row), ds.pair_of(row))[0]
        for name, edit in {"as it is": lambda f: f, **EDITS}.items():
            scores.setdefault(f"real, {name}", []).append(score(edit(real), row))
            scores.setdefault(f"fake, {name}", []).append(score(edit(fake), row))

    def auc(fakes: list[float], reals: list[float]) -> float:
        return round(100 * roc_auc([1] * len(fakes) + [0] * len(reals), fakes + reals), 1)

    clean_fakes = scores["fake, as it is"]
    result = {"mean_score": {k: round(float(np.mean(v)), 3) for k, v in scores.items()},
              "auc (both edited)": {n: auc(scores[f"fake, {n}"], scores[f"real, {n}"]) for n in ["as it is", *EDITS]},
              "auc (clean fakes vs edited reals)": {n: auc(clean_fakes, scores[f"real, {n}"]) for n in EDITS}}
    order = np.argsort(scores["real, as it is"])[::-1][: args.top]
    result["highest-scoring real clips"] = [
        {"video_id": clips[real_rows[i]]["video_id"], "score": round(scores["real, as it is"][i], 3)} for i in order]
    if args.picture:
        tiles = [ds.read_clip(real_rows[i])["faces"][0] for i in order]
        cv2.imwrite(args.picture, np.concatenate(tiles, axis=1)[..., ::-1])
        result["picture"] = args.picture
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
