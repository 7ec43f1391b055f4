"""Verdicts a user can trust and one no-face policy (issue 16, items 2 and 3).

- `DelocateConfig` carries `decision_threshold`, `inconclusive_band` and `calibration` (old folders load as 0.5 /
  no band / not calibrated); `delocate_hf.training.calibrate` chooses them on held-out scores.
- The pipeline, `delocate detect` and the Space say "real", "fake" or "inconclusive" with the probability, never
  "fake" inside the band, and "not calibrated" / "near chance" beside every verdict of such a model.
- A video whose requested clips have no face is searched with more clips (`face_noface.mov` at default frames
  succeeds everywhere); only a video without any usable face is an error; a list of inputs gives one entry each.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import HANG_TIMEOUT, SINGLE_FACE, TEST_MEDIA

import delocate_hf  # noqa: F401  (registers the pipeline task)
from delocate_hf import cli
from delocate_hf.inference import Verdict, detect_video, load_detector
from delocate_hf.training.calibrate import (CalibrationError, calibrate_detector, calibrate_scores, choose_fusion_weight,
                                            describe_fusion, fuse_records, write_fusion_weight, write_test_auc)
from modeling import DelocateConfig
from processing import write_video
from processing.errors import NoFaceDetectedError

FACE_NOFACE = TEST_MEDIA / "face_noface.mov"  # 169 frames; the face leaves the picture at about frame 70
REPO = Path(__file__).resolve().parents[1]


def save_detector(folder: Path, num_frames: int = 8, **config) -> Path:
    """A random tiny detector with `num_frames`-frame clips (8: the shipped model's clip length)."""
    import torch

    from modeling import DelocateForDeepfakeDetection
    from processing import DelocateFaceProcessor

    torch.manual_seed(0)
    DelocateForDeepfakeDetection(DelocateConfig.tiny(num_frames=num_frames, **config)).save_pretrained(folder)
    DelocateFaceProcessor(num_frames=num_frames, size=64).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory):
    return save_detector(tmp_path_factory.mktemp("verdict_detector"))


@pytest.fixture(scope="module")
def noise_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("noise") / "noise.mp4"
    return write_video(path, np.random.default_rng(0).integers(0, 255, (16, 96, 128, 3), dtype=np.uint8))


def held_out(separation: float, n: int = 60, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    scores = np.clip(0.5 + separation * (labels - 0.5) + rng.normal(0, 0.1, n), 0, 1)
    return [{"video_id": f"v{i}", "manipulation": "x" if y else "real", "label": int(y), "fused": float(s),
             "recovery": float(s), "localization": float(s)} for i, (y, s) in enumerate(zip(labels, scores))]


# --------------------------------------------------------------------------------------------- config + rule


def test_config_verdict_fields_defaults_and_validation(tmp_path):
    config = DelocateConfig.tiny()
    assert (config.decision_threshold, config.inconclusive_band, config.calibration) == (0.5, None, None)
    for bad, message in [({"decision_threshold": 1.0}, r"decision_threshold must be a number in \(0, 1\)"),
                         ({"inconclusive_band": (0.6, 0.7)}, "inconclusive_band must satisfy"),
                         ({"inconclusive_band": (0.4,)}, "inconclusive_band must be None or two numbers"),
                         ({"calibration": {"auc": 1.5}}, r"calibration\['auc'\] must be a number in \[0, 1\]")]:
        with pytest.raises(ValueError, match=message) as info:
            DelocateConfig.tiny(**bad)
        assert "\n" not in str(info.value)
    # a folder saved before these fields existed loads with the defaults
    DelocateConfig.tiny().save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    for key in ("decision_threshold", "inconclusive_band", "calibration"):
        data.pop(key, None)
    (tmp_path / "config.json").write_text(json.dumps(data))
    old = DelocateConfig.from_pretrained(tmp_path)
    assert Verdict.from_config(old).status == "not_calibrated"


def test_verdict_rule_band_and_status():
    config = DelocateConfig.tiny(decision_threshold=0.45, inconclusive_band=(0.4, 0.55),
                                 calibration={"auc": 0.58, "n": 30})
    verdict = Verdict.from_config(config)
    assert [verdict.label(s) for s in (0.2, 0.4, 0.5, 0.55, 0.56)] == ["real", "inconclusive", "inconclusive",
                                                                         "inconclusive", "fake"]
    assert verdict.status == "near_chance" and "near chance on held-out data (AUC 0.58 on 30 clips)" in verdict.warning
    good = Verdict.from_config(DelocateConfig.tiny(calibration={"auc": 0.9}))
    assert good.status == "calibrated" and good.warning is None
    assert Verdict.from_config(DelocateConfig.tiny()).warning.startswith("not calibrated")
    override = Verdict.from_config(config, threshold=0.7)  # an explicit threshold drops the band chosen for 0.45
    assert override.band is None and override.label(0.5) == "real" and override.status == "near_chance"


# ------------------------------------------------------------------------------------------------- calibrate


def test_calibration_threshold_band_and_auc():
    good, chance = calibrate_scores(held_out(0.6)), calibrate_scores(held_out(0.0))
    labels = np.array([r["label"] for r in held_out(0.6)])
    scores = np.array([r["fused"] for r in held_out(0.6)])
    from delocate_hf.metrics.functional import equal_error_rate, roc_auc

    assert good.decision_threshold == pytest.approx(equal_error_rate(labels, scores)[1], abs=1e-6)
    assert good.auc == pytest.approx(roc_auc(labels, scores), abs=1e-6) and good.auc > 0.95
    assert (good.n, good.n_fake, good.method) == (60, 30, "eer")
    lo, hi = good.inconclusive_band
    assert lo <= good.decision_threshold <= hi
    # a model at chance cannot give verdicts right 90 % of the time outside a wide band: most of its held-out
    # clips fall inside it (inconclusive), against a few for a good model; the verdicts left were right
    assert chance.auc < 0.65
    assert chance.inconclusive_band[1] - chance.inconclusive_band[0] > 3 * (hi - lo)
    assert chance.held_out_inconclusive > 0.5 > 0.2 > good.held_out_inconclusive
    assert chance.held_out_error_rate <= 0.1 and good.held_out_error_rate <= 0.1
    assert calibrate_scores(held_out(0.6), method="youden").method == "youden"
    assert calibrate_scores(held_out(0.6)) == calibrate_scores(held_out(0.6))  # seeded bootstrap
    with pytest.raises(CalibrationError, match="need real and fake clips"):
        calibrate_scores([r for r in held_out(0.6) if r["label"] == 1])
    with pytest.raises(CalibrationError, match="needs 'label' and 'fused'"):
        calibrate_scores([{"label": 1}])


def test_fusion_weight_follows_the_informative_stage_and_reaches_the_model(tmp_path):
    """A stage at chance gets no weight when the other separates; the chosen weight lands in config.json and the
    loaded detector fuses with it (its probabilities equal w * recovery + (1 - w) * localization)."""
    import torch

    from modeling import DelocateForDeepfakeDetection

    rng = np.random.default_rng(1)
    records = held_out(0.6, n=80)
    for r in records:
        r["recovery"] = float(rng.uniform(0, 1))  # a stage at chance
    weight, aucs = choose_fusion_weight(records)
    assert sorted(aucs) == [0.0, 0.25, 0.5, 0.75, 1.0] and aucs[1.0] < 0.55 < 0.95 < aucs[0.0]
    assert weight == 0.0  # the stage at chance gets nothing, even at the loosest tolerance
    assert choose_fusion_weight(records, tolerance=1.0)[0] == 0.0
    line = describe_fusion(weight, aucs)
    assert "w = 0" in line and "recovery (VideoMAE classifier) stage alone is at chance" in line
    assert "at chance" not in describe_fusion(0.5, aucs)  # a shared score names no idle stage
    for r in records:  # swap the stages: now the recovery stage separates
        r["recovery"], r["localization"] = r["localization"], r["recovery"]
    assert choose_fusion_weight(records)[0] == 1.0
    both = [{**r, "recovery": r["fused"], "localization": r["fused"]} for r in records]
    assert choose_fusion_weight(both)[0] == 0.5  # a tie: the paper's mean
    # neither at chance: gains within the tolerance do not move the paper's 0.5; with no tolerance the best weight wins
    weak = [{**r, "localization": 0.5 * r["recovery"] + 0.5 * float(rng.uniform(0, 1))} for r in records]
    weight, aucs = choose_fusion_weight(weak, tolerance=0.0)
    assert aucs[weight] == max(aucs.values()) and min(aucs[0.0], aucs[1.0]) > 0.55
    loose, _ = choose_fusion_weight(weak, tolerance=1.0)
    assert loose == 0.5
    # two stages at chance: nothing to prefer, the paper's mean
    assert choose_fusion_weight([{**r, "recovery": 0.5, "localization": 0.5} for r in records])[0] == 0.5
    fused = fuse_records(records, 0.25)
    assert fused[0]["fused"] == pytest.approx(0.25 * records[0]["recovery"] + 0.75 * records[0]["localization"])
    with pytest.raises(CalibrationError, match="recovery"):
        choose_fusion_weight([{"label": 0, "localization": 0.2}, {"label": 1, "localization": 0.7}])

    folder = save_detector(tmp_path / "det")
    write_fusion_weight(folder, 0.25)
    model = DelocateForDeepfakeDetection.from_pretrained(folder).eval()
    assert model.config.score_fusion == "mean_prob" and model.config.fusion_weight == 0.25
    with torch.inference_mode():
        out = model(torch.randn(2, 8, 3, 64, 64))
    expected = 0.25 * torch.sigmoid(out.recovery_logits) + 0.75 * torch.sigmoid(out.localization_logits)
    torch.testing.assert_close(out.probabilities, expected)
    with pytest.raises(CalibrationError, match="fusion weight"):
        write_fusion_weight(folder, 1.5)


def test_test_time_flip_is_chosen_only_when_the_mirrored_scores_separate_better(tmp_path):
    """`choose_test_time_flip` compares the validation people's stage-2 AUC scored plainly and with mirrored frames
    (each at its own chosen mask weight): mirroring only when strictly better (it doubles the localizer's cost)."""
    from delocate_hf.training.calibrate import choose_test_time_flip, write_test_time_flip

    rng = np.random.default_rng(3)
    sharp = [{**r, "localization": r["fused"], "mask": float(rng.uniform(0, 1))} for r in held_out(0.6, n=80)]
    vague = [{**r, "localization": r["fused"], "mask": float(rng.uniform(0, 1))} for r in held_out(0.1, n=80)]
    flag, aucs = choose_test_time_flip(vague, sharp)
    assert flag is True and aucs[True] > aucs[False]
    flag, aucs = choose_test_time_flip(sharp, vague)
    assert flag is False and aucs[True] < aucs[False]
    assert choose_test_time_flip(sharp, sharp)[0] is False  # a tie keeps the single pass
    folder = save_detector(tmp_path / "det")
    write_test_time_flip(folder, True)
    assert json.loads((folder / "config.json").read_text())["test_time_flip"] is True


def test_mask_weight_follows_the_informative_score_and_reaches_the_model(tmp_path):
    """The masks' own score gets weight where it separates and the classifier does not; `with_mask_weight` gives the
    stage-2 probability the fusion weight is then chosen on; the chosen weight lands in config.json and the loaded
    detector's stage-2 score is `a * mask_scores + (1 - a) * sigmoid(localization_logits)`."""
    import torch

    from delocate_hf.training.calibrate import choose_mask_weight, with_mask_weight, write_mask_weight
    from modeling import DelocateForDeepfakeDetection

    rng = np.random.default_rng(2)
    records = [{**r, "mask": r["fused"], "localization": float(rng.uniform(0, 1)), "recovery": 0.5}
               for r in held_out(0.6, n=80)]
    weight, aucs = choose_mask_weight(records)
    assert sorted(aucs) == [0.0, 0.25, 0.5, 0.75, 1.0] and aucs[0.0] < 0.6 and aucs[1.0] > 0.95
    assert weight > 0.5 and aucs[weight] >= max(aucs.values()) - 0.01
    flipped = [{**r, "mask": r["localization"], "localization": r["mask"]} for r in records]
    assert choose_mask_weight(flipped)[0] < 0.5  # the classifier separates: the mask gets the smaller share
    assert choose_mask_weight(records, weights=(0.0,)) == (0.0, {0.0: aucs[0.0]})  # no choice: the classifier
    assert choose_mask_weight([{**r, "mask": r["localization"]} for r in records])[0] == 0.5  # a tie: the mean
    # a mask score at chance gets no share, even where mixing it in costs less than the tolerance (a near-constant
    # mask score beside a good classifier): the classifier alone; the mirror case: the mask alone
    faint = [{**r, "localization": r["fused"], "mask": 0.5 + 1e-4 * float(rng.uniform(0, 1))} for r in records]
    assert choose_mask_weight(faint, chance=0.0)[0] == 0.5  # without the clause: the tolerance rule's mean
    assert choose_mask_weight(faint)[0] == 0.0
    mirror = [{**r, "localization": r["mask"], "mask": r["localization"]} for r in faint]
    assert choose_mask_weight(mirror, chance=0.0)[0] == 0.5 and choose_mask_weight(mirror)[0] == 1.0
    assert choose_mask_weight(faint, weights=(0.25, 0.5))[0] == 0.25  # the candidate nearest the classifier alone
    stage2 = with_mask_weight(records, 0.25)
    assert stage2[3]["localization"] == pytest.approx(0.25 * records[3]["mask"] + 0.75 * records[3]["localization"])
    assert choose_fusion_weight(stage2)[0] == 0.0  # the recovery stage (constant) is at chance
    with pytest.raises(CalibrationError, match="'mask'"):
        choose_mask_weight([{"label": 0, "localization": 0.2}, {"label": 1, "localization": 0.7}])

    folder = save_detector(tmp_path / "det")
    write_mask_weight(folder, 0.75)
    write_fusion_weight(folder, 0.0)
    model = DelocateForDeepfakeDetection.from_pretrained(folder).eval()
    assert model.config.mask_score_weight == 0.75
    with torch.inference_mode():
        out = model(torch.randn(2, 8, 3, 64, 64))
    expected = 0.75 * out.mask_scores + 0.25 * torch.sigmoid(out.localization_logits)
    torch.testing.assert_close(out.probabilities, expected)
    with pytest.raises(CalibrationError, match="mask score weight"):
        write_mask_weight(folder, -0.1)


def test_a_recorded_test_auc_judges_the_verdicts_and_the_card(tmp_path):
    """Calibrated on easy validation fakes (AUC 0.95) but tested at 0.58: verdicts and card say near chance."""
    from delocate_hf.hub.model_card import verdict_section

    folder = save_detector(tmp_path / "det")
    with pytest.raises(CalibrationError, match="not calibrated"):
        write_test_auc(folder, 0.58, 216, "held-out people")
    calibrate_detector(folder, held_out(0.6))
    config = DelocateConfig.from_pretrained(folder)
    assert Verdict.from_config(config).status == "calibrated"
    write_test_auc(folder, 0.58, 216, "held-out people")
    config = DelocateConfig.from_pretrained(folder)
    assert config.calibration["auc"] > 0.95 and config.calibration["test_n"] == 216
    verdict = Verdict.from_config(config)
    assert verdict.status == "near_chance" and "(AUC 0.58 on 216 clips)" in verdict.warning
    card = verdict_section(config.to_dict())
    assert "test AUC" in card and "58.0 % on 216 clips (held-out people)" in card and "near chance" in card
    with pytest.raises(ValueError, match="test_auc"):
        DelocateConfig.tiny(calibration={"auc": 0.9, "test_auc": 1.5})


def test_calibrate_script_writes_the_config(tmp_path):
    model_dir = save_detector(tmp_path / "detector")
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps(held_out(0.6)))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "calibrate.py"), "--model", str(model_dir),
                           "--scores", str(scores)], capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "threshold" in proc.stdout and "held-out AUC" in proc.stdout
    config = DelocateConfig.from_pretrained(model_dir)
    assert config.calibration["auc"] > 0.95 and config.calibration["n"] == 60
    assert config.calibration["band_rule"] == "bootstrap+max_error" and config.calibration["source"] == "scores.json"
    lo, hi = config.inconclusive_band
    assert lo <= config.decision_threshold <= hi
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "calibrate.py"), "--model", str(model_dir),
                          "--scores", str(tmp_path / "missing.json")], capture_output=True, text=True,
                         timeout=HANG_TIMEOUT)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "scores file not found" in bad.stderr
    # --mask-threshold: the cut of the best mean IoU of the fakes' masks (evaluate's iou_at), or a one-line error
    # when the scores hold no fake with a mask
    with_masks = [{**r, "iou_at": {"0.1": 0.3, "0.3": 0.6, "0.5": 0.4}} if r["label"] else r for r in held_out(0.6)]
    scores.write_text(json.dumps(with_masks))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "calibrate.py"), "--model", str(model_dir),
                           "--scores", str(scores), "--mask-threshold"], capture_output=True, text=True,
                          timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "mask_threshold 0.3" in proc.stdout and DelocateConfig.from_pretrained(model_dir).mask_threshold == 0.3
    scores.write_text(json.dumps(held_out(0.6)))
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "calibrate.py"), "--model", str(model_dir),
                          "--scores", str(scores), "--mask-threshold"], capture_output=True, text=True,
                         timeout=HANG_TIMEOUT)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "no fake clip with a ground-truth mask" in bad.stderr


# ----------------------------------------------------------------------------- verdicts in every front end


def test_score_inside_the_band_is_inconclusive_everywhere(detector_dir, tmp_path, capsys):
    """A model whose band holds the video's score: the pipeline, `delocate detect` (text and JSON) and the Space
    say "inconclusive" with the probability, never FAKE, and "near chance" beside it (held-out AUC 0.55)."""
    from transformers import pipeline

    model, processor = load_detector(detector_dir)
    score = detect_video(SINGLE_FACE, model, processor, progress=False).score
    folder = save_detector(tmp_path / "banded")
    scores = [{"label": 1, "fused": score + 0.01}, {"label": 0, "fused": score - 0.01}] * 10
    calibration = calibrate_detector(folder, [dict(r, fused=r["fused"] + 0.3 * (k % 3 - 1) * 0.1)
                                              for k, r in enumerate(scores)])
    config = json.loads((folder / "config.json").read_text())
    config.update(decision_threshold=score, inconclusive_band=[score - 0.05, score + 0.05],
                  calibration={**config["calibration"], "auc": 0.55})
    (folder / "config.json").write_text(json.dumps(config))
    assert calibration.n == 20

    result = pipeline("deepfake-detection", model=str(folder))(str(SINGLE_FACE))
    assert result["label"] == "inconclusive" and result["score"] == pytest.approx(score, abs=1e-6)
    assert result["calibration"] == "near_chance" and "near chance" in result["warning"]

    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(folder), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(": ", 1)[1].startswith("inconclusive  P(fake) ") and "FAKE" not in lines[0]
    assert "fake " not in lines[0].split(": ", 1)[1].split("(")[0]
    assert lines[1].startswith("  warning: this model is near chance on held-out data")
    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(folder), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["label"] == "inconclusive" and data["inconclusive_band"] == pytest.approx([score - 0.05, score + 0.05])

    pytest.importorskip("gradio")
    from spaces_app import analysis

    handle = analysis.DetectorHandle(str(folder))
    work = analysis.WorkArea(tmp_path / "space")
    upload = work.root / "single_face.mp4"
    upload.write_bytes(SINGLE_FACE.read_bytes())
    shown = analysis.run_analysis(upload, handle, work, analysis.Limits(), [work.root], num_frames=8)
    assert shown.ok and shown.verdict.startswith("## Inconclusive") and "FAKE" not in shown.verdict
    assert "near chance on held-out data" in shown.verdict and str(work.root) not in shown.verdict


# ---------------------------------------------------------------------------------------------- no-face policy


def test_face_leaving_the_picture_at_default_frames_everywhere(detector_dir, capsys, tmp_path):
    """`face_noface.mov` at the default frames (one 8-frame clip: the face is in 3 of 8, lost for 5 > max_gap):
    the video is searched with more clips and analysed, with the same notes, by detect_video / the pipeline,
    `delocate detect` and the Space."""
    from transformers import pipeline

    model, processor = load_detector(detector_dir)
    result = detect_video(FACE_NOFACE, model, processor, progress=False)
    assert result.clip_scores and result.skipped_clips >= 1
    assert any("searched 4 clips over the video instead" in note for note in result.notes)
    assert any("skipped without a usable face" in note for note in result.notes)
    assert not any(str(FACE_NOFACE.parent) in note for note in result.notes)  # the file, never its folder
    assert max(f.index for f in result.frames) < 100  # the analysed clips are those with the face

    piped = pipeline("deepfake-detection", model=str(detector_dir))(str(FACE_NOFACE))
    assert piped["notes"] == result.notes and piped["score"] == pytest.approx(result.score, abs=1e-6)

    assert cli.main(["detect", str(FACE_NOFACE), "--model", str(detector_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["notes"] == result.notes and data["skipped_clips"] == result.skipped_clips

    pytest.importorskip("gradio")
    from spaces_app import analysis

    handle = analysis.DetectorHandle(str(detector_dir))
    work = analysis.WorkArea(tmp_path / "space")
    upload = work.root / "face_noface.mov"
    upload.write_bytes(FACE_NOFACE.read_bytes())
    shown = analysis.run_analysis(upload, handle, work, analysis.Limits(), [work.root], num_frames=None)
    assert shown.ok and shown.details["notes"] == result.notes
    assert "skipped without a usable face" in shown.verdict and str(work.root) not in shown.verdict


def test_only_a_video_without_any_face_is_an_error(detector_dir, noise_video):
    model, processor = load_detector(detector_dir)
    with pytest.raises(NoFaceDetectedError, match=r"noise.mp4.*no usable face in any of the 3 sampled clips"):
        detect_video(noise_video, model, processor, progress=False)


def test_pipeline_list_returns_an_entry_per_input(detector_dir, noise_video, tmp_path):
    from transformers import pipeline

    detector = pipeline("deepfake-detection", model=str(detector_dir))
    missing = tmp_path / "missing.mp4"
    results = detector([str(SINGLE_FACE), str(noise_video), str(missing)])
    assert len(results) == 3 and results[0]["label"] in ("real", "fake")
    assert results[1]["video"] == str(noise_video) and results[1]["error_type"] == "NoFaceDetectedError"
    assert results[2]["error_type"] == "VideoDecodeError" and "does not exist" in results[2]["error"]
    assert all("\n" not in r.get("error", "") for r in results)
    with pytest.raises(NoFaceDetectedError):
        detector([str(SINGLE_FACE), str(noise_video)], errors="raise")
    with pytest.raises(NoFaceDetectedError):  # one input: its error, as `delocate detect` with one video
        detector(str(noise_video))
    with pytest.raises(ValueError, match="errors must be one of"):
        detector([str(SINGLE_FACE)], errors="ignore")


def test_mask_threshold_is_the_best_mean_iou_on_validation_and_reaches_the_config(tmp_path):
    """`choose_mask_threshold` reads the fakes' `iou_at` (scores.json), picks the threshold of the best mean IoU (the
    one nearer 0.5 on a tie), ignores rows without masks, and refuses records with none; `write_mask_threshold`
    writes it into config.json and rejects a cut outside (0, 1)."""
    from delocate_hf.training.calibrate import choose_mask_threshold, write_mask_threshold

    records = [{"label": 0, "fused": 0.1},
               {"label": 1, "fused": 0.9, "iou_at": {"0.1": 0.6, "0.3": 0.5, "0.5": 0.2}},
               {"label": 1, "fused": 0.8, "iou_at": {"0.1": 0.2, "0.3": 0.5, "0.5": 0.4}}]
    threshold, ious = choose_mask_threshold(records)
    assert threshold == 0.3 and ious == pytest.approx({0.1: 0.4, 0.3: 0.5, 0.5: 0.3})
    tie = [{**r, "iou_at": {"0.1": 0.5, "0.3": 0.5, "0.5": 0.5}} if "iou_at" in r else r for r in records]
    assert choose_mask_threshold(tie)[0] == 0.5
    with pytest.raises(CalibrationError, match="no fake clip with a ground-truth mask"):
        choose_mask_threshold(records[:1])
    folder = save_detector(tmp_path / "det")
    write_mask_threshold(folder, threshold)
    assert DelocateConfig.from_pretrained(folder).mask_threshold == 0.3
    with pytest.raises(CalibrationError, match="mask threshold must be in"):
        write_mask_threshold(folder, 1.0)
