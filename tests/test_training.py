"""The three training stages under Accelerate on a tiny config and a face-clip cache made from real video."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from delocate_hf.training import finetune_classifier, pretrain_recovery, train_localization
from processing import DelocateFaceProcessor

from conftest import processed_windows, save_clip_rows

FRAMES, SIZE = 4, 64


def tamper(faces: np.ndarray, boxes: np.ndarray, part: int, strength: float):
    """Changes the pixels of one facial part in every frame; returns (fake faces, uint8 0/255 masks)."""
    fake = faces.astype(np.float32).copy()
    masks = np.zeros(faces.shape[:3], dtype=np.uint8)
    for t, box in enumerate(boxes[:, part]):
        x0, y0, x1, y1 = np.round(box).astype(int)
        fake[t, y0:y1, x0:x1] = fake[t, y0:y1, x0:x1] * (1 - strength) + 255 * strength
        masks[t, y0:y1, x0:x1] = 255
    return fake.clip(0, 255).astype(np.uint8), masks


@pytest.fixture(scope="module")
def face_clip_cache(tmp_path_factory, carphone):
    """8 clips: 4 real (two windows of each of two real videos) and 4 fakes in two domains (eyes / lips tampered)."""
    rows = []
    for name, window, out in processed_windows(carphone, 2, 24, FRAMES, SIZE):
        faces, boxes = out["faces"][0], out["roi_boxes"][0]
        base = {"roi_boxes": boxes.astype(np.float32), "video_id": f"{name}_{window}"}
        rows.append({**base, "faces": faces, "masks": np.zeros(faces.shape[:3], np.uint8), "label": 0, "manipulation": "real"})
        domain, part = ("EyeBlend", 0) if window == 0 else ("LipBlend", 2)
        fake, masks = tamper(faces, boxes, part, 0.4)
        rows.append({**base, "faces": fake, "masks": masks, "label": 1, "manipulation": domain})
    return save_clip_rows(rows, tmp_path_factory.mktemp("cache") / "clips", FRAMES, SIZE)


def common(cache, out, steps=2, *extra):
    return ["--train_data", str(cache), "--output_dir", str(out), "--model_config", "tiny",
            "--per_device_train_batch_size", "4", "--max_train_steps", str(steps), "--seed", "0", *extra]


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def stage1(face_clip_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage1")
    result = pretrain_recovery.main(common(face_clip_cache, out, 2, "--learning_rate", "1e-3"))
    return result


def test_recovery_stage_trains_and_saves_with_processor(stage1):
    final = stage1["model_dir"]
    from pathlib import Path

    final = Path(final)
    assert stage1["step"] == 2 and np.isfinite(stage1["loss"])
    assert (final / "model.safetensors").exists() and (final / "preprocessor_config.json").exists()
    from modeling import DelocateConfig, DelocateForMaskedRecovery

    torch.manual_seed(0)
    fresh = DelocateForMaskedRecovery(DelocateConfig.tiny()).state_dict()
    trained = weights(final)
    # trained parameters moved away from a fresh initialisation with the same seed
    assert not torch.equal(trained["videomae.embeddings.patch_embeddings.projection.weight"],
                           fresh["videomae.embeddings.patch_embeddings.projection.weight"])
    processor = DelocateFaceProcessor.from_pretrained(final)
    assert processor.num_frames == FRAMES


def test_classifier_stage_changes_encoder_and_head(stage1, face_clip_cache, tmp_path):
    from pathlib import Path

    result = finetune_classifier.main(common(face_clip_cache, tmp_path, 2, "--recovery_checkpoint", stage1["model_dir"]))
    before, after = weights(Path(stage1["model_dir"])), weights(Path(result["model_dir"]))
    name = "videomae.encoder.layer.0.attention.attention.query.weight"
    assert not torch.equal(before[name], after[name])  # the encoder is fine-tuned
    assert "classifier.weight" in after and not any(k.startswith("decoder.") for k in after)


@pytest.mark.parametrize("meta", ["mldg", "none"])
def test_localization_stage_keeps_recovery_frozen(stage1, face_clip_cache, tmp_path, meta):
    from pathlib import Path

    recovery_dir = Path(stage1["model_dir"])
    before = weights(recovery_dir)
    result = train_localization.main(common(
        face_clip_cache, tmp_path, 2, "--recovery_checkpoint", str(recovery_dir), "--meta_learning", meta,
        "--learning_rate", "0.01"))
    assert result["step"] == 2 and np.isfinite(result["loss"])
    if meta == "mldg":
        assert result["meta_train_loss"] > 0 and result["meta_test_loss"] > 0
    after = weights(recovery_dir)
    assert all(torch.equal(before[k], after[k]) for k in before)
    from modeling import DelocateForForgeryLocalization

    model = DelocateForForgeryLocalization.from_pretrained(result["model_dir"])
    assert model.config.image_size == SIZE


def test_localization_loss_weight_flags_reach_the_loss(stage1, face_clip_cache, tmp_path, capsys):
    """`--map_loss_weight 0` drops L_mse_map from the optimised loss (the mapping branch then trains only through
    the classifier), is saved in the model's config, and `--model_config` is reported as unused, not ignored silently."""
    from modeling import DelocateForForgeryLocalization

    runs = {}
    for weight in ("1", "0"):
        runs[weight] = train_localization.main(common(
            face_clip_cache, tmp_path / weight, 2, "--recovery_checkpoint", stage1["model_dir"], "--meta_learning",
            "none", "--learning_rate", "0.01", "--map_loss_weight", weight, "--cls_loss_weight", "0.5"))
    assert "note: --model_config is not used by stage 2" in capsys.readouterr().out
    saved = {w: DelocateForForgeryLocalization.from_pretrained(r["model_dir"]).config for w, r in runs.items()}
    assert (saved["0"].map_loss_weight, saved["1"].map_loss_weight, saved["0"].cls_loss_weight) == (0.0, 1.0, 0.5)
    assert runs["0"]["loss"] < runs["1"]["loss"]  # the same batches, minus a positive MSE term
    with pytest.raises(SystemExit):
        train_localization.main(common(face_clip_cache, tmp_path / "bad", 1, "--recovery_checkpoint",
                                       stage1["model_dir"], "--map_loss_weight", "x"))


def assert_stage_refuses(stage, argv: list[str], named: str, capsys) -> None:
    """`stage.main(argv)` ends as argparse does: exit status 2, one `error:` line containing `named`, no traceback,
    nothing trained (no `final` folder)."""
    with pytest.raises(SystemExit) as stopped:
        stage.main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert stopped.value.code == 2 and len(errors) == 1 and named in errors[0], err
    assert "Traceback" not in err
    assert not (Path(argv[argv.index("--output_dir") + 1]) / "final").exists()


def test_unusable_values_end_the_stage_with_one_error_line(stage1, face_clip_cache, tmp_path, capsys):
    """A value the stage cannot use (a config value out of range, a family that does not exist, a cache or checkpoint
    that is not there, a folder to resume from that is not a checkpoint, a batch that cannot be balanced) ends it as argparse does: exit status 2 and one `error:` line naming the
    problem, no traceback and nothing trained; `--debug` raises the original exception instead."""
    recovery = ["--recovery_checkpoint", stage1["model_dir"]]
    cases = [
        (train_localization, common(face_clip_cache, tmp_path / "a", 1, *recovery, "--map_loss_weight", "-1"),
         "map_loss_weight"),
        (finetune_classifier, common(face_clip_cache, tmp_path / "b", 1, *recovery, "--pseudo_fakes", "no_such_family"),
         "no_such_family"),
        (pretrain_recovery, common(tmp_path / "no_cache", tmp_path / "c", 1), "does not exist"),
        (finetune_classifier, common(face_clip_cache, tmp_path / "d", 1, *recovery, "--per_device_train_batch_size",
                                     "3"), "even batch_size"),
        (train_localization, common(face_clip_cache, tmp_path / "e", 1, "--recovery_checkpoint",
                                    str(tmp_path / "no_stage1")), "--recovery_checkpoint"),
        (pretrain_recovery, common(face_clip_cache, tmp_path / "f", 1, "--resume_from_checkpoint", str(tmp_path)),
         "not a complete checkpoint"),
    ]
    for stage, argv, named in cases:
        assert_stage_refuses(stage, argv, named, capsys)
    with pytest.raises(ValueError, match="map_loss_weight"):
        train_localization.main(cases[0][1] + ["--debug"])


@pytest.mark.parametrize("stop_at", [1, 2])  # mid-epoch (skips a batch) and at an epoch boundary (2 batches/epoch)
def test_resume_continues_at_the_saved_step_with_the_same_result(stage1, face_clip_cache, tmp_path, stop_at):
    """3 uninterrupted steps == `stop_at` steps + checkpoint + resume('latest') to 3: same last loss, same weights.
    (A constant schedule, because the interrupted run is told to stop early and its cosine schedule would differ.)"""
    extra = ["--recovery_checkpoint", stage1["model_dir"], "--learning_rate", "0.01",
             "--checkpointing_steps", str(stop_at), "--lr_scheduler_type", "constant"]
    straight = train_localization.main(common(face_clip_cache, tmp_path / "straight", 3, *extra))
    first = train_localization.main(common(face_clip_cache, tmp_path / "resumed", stop_at, *extra))
    state = tmp_path / "resumed" / "checkpoints" / f"step_{stop_at}" / "trainer_state.json"
    assert json.loads(state.read_text())["step"] == stop_at
    resumed = train_localization.main(common(face_clip_cache, tmp_path / "resumed", 3, *extra,
                                             "--resume_from_checkpoint", "latest"))
    assert first["step"] == stop_at and resumed["step"] == 3
    assert resumed["loss"] == pytest.approx(straight["loss"], rel=1e-5, abs=1e-6)
    a, b = weights(tmp_path / "straight" / "final"), weights(tmp_path / "resumed" / "final")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)


def test_yaml_config_with_cli_override(stage1, face_clip_cache, tmp_path):
    config = tmp_path / "stage.yaml"
    config.write_text(f"train_data: [{face_clip_cache}]\noutput_dir: {tmp_path / 'out'}\nmodel_config: tiny\n"
                      "per_device_train_batch_size: 4\nmax_train_steps: 5\nlearning_rate: 0.001\n")
    result = pretrain_recovery.main(["--config", str(config), "--max_train_steps", "1"])
    assert result["step"] == 1 and (tmp_path / "out" / "final" / "model.safetensors").exists()
    config.write_text("no_such_option: 1\n")
    with pytest.raises(SystemExit):
        pretrain_recovery.main(["--config", str(config)])


@pytest.fixture(scope="module")
def detector_dir(stage1, face_clip_cache, tmp_path_factory):
    from delocate_hf.training import assemble

    out = tmp_path_factory.mktemp("stages")
    classifier = finetune_classifier.main(common(face_clip_cache, out / "cls", 2, "--recovery_checkpoint", stage1["model_dir"]))
    localizer = train_localization.main(common(face_clip_cache, out / "loc", 2, "--recovery_checkpoint",
                                               stage1["model_dir"], "--learning_rate", "0.01"))
    folder = assemble.main(["--classifier", classifier["model_dir"], "--localizer", localizer["model_dir"],
                            "--output_dir", str(out / "detector")])
    return folder, classifier["model_dir"], localizer["model_dir"]


def test_assembled_detector_round_trips_and_matches_its_stages(detector_dir, face_clip_cache):
    from transformers import AutoImageProcessor, AutoModel

    from delocate_hf.training.data import FaceClipDataset, collate, load_face_clips
    from modeling import DelocateForDeepfakeDetection, DelocateForForgeryLocalization, DelocateForVideoClassification

    folder, classifier_dir, localizer_dir = detector_dir
    detector = AutoModel.from_pretrained(folder).eval()
    assert isinstance(detector, DelocateForDeepfakeDetection)
    assert AutoImageProcessor.from_pretrained(folder).num_frames == FRAMES
    config = detector.config
    dataset = FaceClipDataset(load_face_clips(face_clip_cache), config.num_frames, config.image_size,
                              config.image_mean, config.image_std)
    batch = collate([dataset[i] for i in range(4)])
    with torch.no_grad():
        out = detector(batch["pixel_values"])
        stage1 = DelocateForVideoClassification.from_pretrained(classifier_dir).eval()(batch["pixel_values"]).logits
        stage2 = DelocateForForgeryLocalization.from_pretrained(localizer_dir).eval()(batch["pixel_values"]).logits
    torch.testing.assert_close(out.probabilities, (torch.sigmoid(stage1) + torch.sigmoid(stage2)) / 2)


def test_evaluate_writes_tables_that_agree_with_sklearn(detector_dir, face_clip_cache, tmp_path):
    from sklearn.metrics import roc_auc_score

    from delocate_hf.training import evaluate

    table = evaluate.main(["--model", str(detector_dir[0]), "--data", str(face_clip_cache),
                           "--output_dir", str(tmp_path), "--batch_size", "3"])
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert len(scores) == 8 and {s["label"] for s in scores} == {0, 1}
    assert all(0.0 <= s["mask"] <= 1.0 for s in scores) and "AUC mask" in (tmp_path / "metrics.md").read_text()
    expected = roc_auc_score([s["label"] for s in scores], [s["mask"] for s in scores])
    assert table["all"]["mask"]["auc"] == pytest.approx(expected)
    expected = roc_auc_score([s["label"] for s in scores], [s["fused"] for s in scores])
    assert table["all"]["fused"]["auc"] == pytest.approx(expected)
    assert set(table) >= {"all", "clips", "clips / EyeBlend", "clips / LipBlend"}
    assert table["clips / EyeBlend"]["fused"]["n"] == 6  # 2 EyeBlend fakes + the 4 real clips
    masks = table["all"]["localization_masks"]
    assert masks["n"] == 4 and 0 <= masks["iou"] <= 1 and 0 <= masks["pbca"] <= 1
    assert "| all |" in (tmp_path / "metrics.md").read_text()
    # each fake with a mask carries its IoU at every candidate mask threshold; the table's IoU is the one at the
    # model's own threshold (0.5 here)
    with_masks = [s for s in scores if "iou_at" in s]
    assert len(with_masks) == 4 and all(s["label"] == 1 for s in with_masks)
    assert list(with_masks[0]["iou_at"]) == [f"{t:g}" for t in evaluate.MASK_THRESHOLDS]
    assert masks["iou"] == pytest.approx(np.mean([s["iou_at"]["0.5"] for s in with_masks]), abs=1e-5)


def test_mask_metrics_binarise_the_prediction_at_the_threshold_and_the_truth_at_one_half():
    """Moving the model's mask threshold moves only the predicted mask: a soft ground truth (a blend mask) is cut at
    0.5 whatever the threshold."""
    from delocate_hf.training.learning_curve import clip_ious_by_threshold, clip_mask_metrics

    truth = torch.zeros(1, 2, 8, 8)
    truth[..., 2:6, 2:6] = 0.8  # tampered (>= 0.5)
    truth[..., 0:2, :] = 0.3  # soft fringe: not tampered
    predicted = torch.zeros(1, 2, 8, 8)
    predicted[..., 2:6, 2:6] = 0.2
    iou, pbca = clip_mask_metrics(predicted, truth, threshold=0.1)
    assert iou[0] == 1.0 and pbca[0] == 1.0  # a cut at 0.1 of the truth itself would have counted the fringe
    assert clip_mask_metrics(predicted, truth, threshold=0.5)[0][0] == 0.0
    np.testing.assert_array_equal(clip_ious_by_threshold(predicted, truth, (0.1, 0.5)), [[1.0, 0.0]])


def test_augmentation_keeps_pixels_boxes_and_masks_aligned(face_clip_cache):
    from modeling import DelocateConfig
    from delocate_hf.training.data import FaceClipDataset, load_face_clips

    config = DelocateConfig.tiny()
    clips = load_face_clips(face_clip_cache)
    args = (FRAMES, SIZE, config.image_mean, config.image_std)
    plain, augmented = FaceClipDataset(clips, *args), FaceClipDataset(clips, *args, augment=True, seed=0)
    fake = next(i for i in range(len(clips)) if clips[i]["manipulation"] == "EyeBlend")
    reference = plain[fake]
    flips = 0
    for epoch in range(8):
        augmented.set_epoch(epoch)
        item = augmented[fake]
        mask, box = item["mask_labels"][0] > 0.5, item["roi_boxes"][0, 0]  # EyeBlend tampers the eyes box
        xs = mask.nonzero()[:, 1]
        assert xs.min() >= box[0].floor() - 1 and xs.max() <= box[2].ceil() + 1
        if torch.equal(item["mask_labels"], reference["mask_labels"].flip(-1)):
            flips += 1
        else:
            assert torch.equal(item["mask_labels"], reference["mask_labels"])
    assert 0 < flips < 8
    augmented.set_epoch(3)
    first = augmented[fake]["pixel_values"]
    augmented.set_epoch(3)
    assert torch.equal(first, augmented[fake]["pixel_values"])  # reproducible (resume-safe)


def test_with_tracking_writes_tensorboard_events(face_clip_cache, tmp_path):
    result = pretrain_recovery.main(common(face_clip_cache, tmp_path, 2, "--with_tracking", "--logging_steps", "1"))
    assert result["step"] == 2
    assert list((tmp_path / "logs").rglob("events.out.tfevents.*"))


def test_demo_stage_flags_name_known_stages(tmp_path):
    """`run_demo(stage_flags=...)` (how `make default-model` changes a stage's flags) refuses a stage name that is not
    one of the three before it builds anything."""
    from delocate_hf.demo import DEMO_STEPS, run_demo

    with pytest.raises(ValueError, match="unknown stage"):
        run_demo(output_dir=tmp_path / "demo", stage_flags={"stage2": ["--max_grad_norm", "0"]})
    assert not (tmp_path / "demo").exists() and "localization" in DEMO_STEPS


def test_demo_stage2_header_names_its_encoder_and_mldg_domains():
    from delocate_hf.demo import stage2_header

    assert stage2_header(200, []) == ("Stage 2: mapping + localization from an ImageNet encoder (efficientnet-lite0), "
                                      "first-order MLDG (200 steps; one family: its fakes split 7:3)")
    flags = ["--pseudo_fakes", "self_blend,local_blend", "--family_strength", "local_blend=2,4",
             "--init_backbone", "efficientnet-lite2"]
    assert stage2_header(1200, flags).endswith("(efficientnet-lite2), first-order MLDG (1200 steps; the families "
                                               "self_blend, local_blend as its domains)")
    assert "one family" in stage2_header(5, ["--pseudo_fakes", "a,b", "--pseudo_fakes", "part_eyes"])  # the last wins


def test_default_model_script_ships_a_finished_run(detector_dir, face_clip_cache, tmp_path):
    """`scripts/train_default_model.py`'s last step on a finished (tiny) run: weights, config and processor copied
    into the package folder with the held-out metrics, a training summary that names the recipe's families and the
    weights chosen on validation, and the card; the copied detector loads and scores like the run's."""
    import shutil
    import sys

    import torch

    from delocate_hf.training import evaluate
    from delocate_hf.training.calibrate import write_mask_threshold, write_mask_weight, write_test_time_flip
    from modeling import DelocateForDeepfakeDetection

    scripts = str(Path(__file__).resolve().parents[1] / "scripts")
    sys.path.insert(0, scripts)
    try:
        import train_default_model
    finally:
        sys.path.remove(scripts)
    run = tmp_path / "run"
    shutil.copytree(detector_dir[0], run / "detector")
    write_mask_weight(run / "detector", 0.5)
    write_mask_threshold(run / "detector", 0.1)
    write_test_time_flip(run / "detector", True)
    evaluate.main(["--model", str(run / "detector"), "--data", str(face_clip_cache), "--output_dir", str(run / "eval")])
    summary = {"data": {"train": 10, "heldout": 4}, "faces": "test faces", "fusion_weight": 0.0, "mask_score_weight": 0.5,
               "mask_threshold": 0.1, "test_time_flip": True}
    flags = {"localization": [*train_default_model.RECIPE_FLAGS["localization"], "--family_strength", "local_blend=1,3",
                              "--learning_rate", "6e-4"]}  # an experiment's --stage-flags after the recipe's
    dest = train_default_model.write_shipped_model(run, tmp_path / "dest", summary, {"recovery": 2}, 64, 1, 1.5, "test",
                                                   flags)
    assert sorted(p.name for p in dest.iterdir()) == sorted([*train_default_model.SHIPPED_FILES, "metrics.json",
                                                             "training_summary.json", "README.md"])
    training = json.loads((dest / "training_summary.json").read_text())
    assert "'local_blend'" in training["training data"] and "mask-score weight 0.5" in training["fusion and calibration"]
    assert "local_blend 1-3" in training["training data"] and "local_blend 2-4" not in training["training data"]
    assert "AdamW 6e-4" in training["optimizers"]  # described as the run ran, not as the recipe's constants say
    assert "mask threshold 0.1" in training["fusion and calibration"]
    card = (dest / "README.md").read_text()
    assert "About this checkpoint" in card and "50 % its forgery masks' own score" in card
    assert "Masks are binarised at 0.1" in card and "also analysed mirrored" in card
    assert "(test_time_flip) True" in training["fusion and calibration"]
    from safetensors import safe_open

    with safe_open(str(dest / "model.safetensors"), framework="pt") as weights:  # stored in 16 bits, counts as they were
        dtypes = {weights.get_slice(name).get_dtype() for name in weights.keys()}
    assert dtypes <= {"F16", "I64"} and "F16" in dtypes
    assert (dest / "model.safetensors").stat().st_size < 0.6 * (run / "detector" / "model.safetensors").stat().st_size
    clip = torch.randn(1, 4, 3, 64, 64)
    shipped, original = (DelocateForDeepfakeDetection.from_pretrained(d).eval() for d in (dest, run / "detector"))
    assert {p.dtype for p in shipped.parameters()} == {torch.float32}  # upcast on load: the config says float32
    with torch.inference_mode():
        torch.testing.assert_close(shipped(clip).probabilities, original(clip).probabilities, atol=2e-3, rtol=0)


def test_default_model_card_names_the_encoder_weights_licence_the_config_records():
    import sys

    scripts = str(Path(__file__).resolve().parents[1] / "scripts")
    sys.path.insert(0, scripts)
    try:
        import train_default_model
    finally:
        sys.path.remove(scripts)
    recovery = {"target": "DelocateForMaskedRecovery.videomae", "licence": "CC-BY-NC-4.0"}
    encoder = {"target": "DelocateForForgeryLocalization.localizer.encoder.backbone", "licence": "Apache-2.0"}
    assert train_default_model._encoder_licence({"init_sources": [recovery, encoder]}) == "Apache-2.0"
    assert train_default_model._encoder_licence({"init_sources": [recovery]}) == "unknown licence"
    assert train_default_model._encoder_licence({"init_sources": None}) == "unknown licence"


def test_default_model_script_refuses_stage_flags_of_unknown_stages(tmp_path, capsys):
    """`scripts/train_default_model.py --stage-flags JSON`: keys must be stage names; a wrong one is a one-line usage
    error before anything is built."""
    import sys
    from pathlib import Path

    scripts = str(Path(__file__).resolve().parents[1] / "scripts")
    sys.path.insert(0, scripts)
    try:
        import train_default_model
    finally:
        sys.path.remove(scripts)
    for bad in ('{"stage2": ["--max_grad_norm", "0"]}', '["--max_grad_norm"]'):
        with pytest.raises(SystemExit):
            train_default_model.main(["--run-dir", str(tmp_path / "run"), "--dest", str(tmp_path / "dest"),
                                      "--stage-flags", bad])
        assert "--stage-flags must be a JSON object" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "dest").exists()
