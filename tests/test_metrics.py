"""Detection / localization metrics: functional numpy code and the offline `evaluate` modules."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from delocate_hf.metrics import AVAILABLE_METRICS, load_metric, metric_path
from delocate_hf.metrics.functional import (
    accuracy,
    average_precision,
    equal_error_rate,
    iou,
    pbca,
    roc_auc,
    roc_curve,
    video_level_labels,
    video_level_scores,
)

from conftest import HANG_TIMEOUT

sk = pytest.importorskip("sklearn.metrics")


# ------------------------------------------------------------------ AUC / AP vs scikit-learn
@pytest.mark.parametrize("seed", range(4))
def test_auc_ap_match_sklearn_random(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=200)
    y[:2] = [0, 1]
    s = rng.normal(size=200) + 0.7 * y
    assert roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(sk.average_precision_score(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_auc_ap_match_sklearn_ties(seed):
    rng = np.random.default_rng(100 + seed)
    y = rng.integers(0, 2, size=150)
    y[:2] = [0, 1]
    s = np.round(rng.uniform(size=150) + 0.3 * y, 1)  # heavy ties
    assert len(np.unique(s)) < 20
    assert roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(sk.average_precision_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s)
    skf, skt, _ = sk.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, skf)
    np.testing.assert_allclose(tpr, skt)


def test_auc_hand_cases():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5  # a tie counts 1/2
    assert roc_auc([False, True, True], [0.2, 0.1, 0.3]) == 0.5


# ------------------------------------------------------------------ EER
def test_eer_perfect_separation():
    eer, thr = equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9])
    assert eer == 0.0 and thr == pytest.approx(0.7)


def test_eer_hand_4_samples_on_a_roc_point():
    # thresholds 0.8: FPR 0, FNR .5 | 0.6: FPR .5, FNR .5 -> EER 0.5 exactly at 0.6
    eer, thr = equal_error_rate([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8])
    assert eer == pytest.approx(0.5) and thr == pytest.approx(0.6)


def test_eer_hand_4_samples_interpolated():
    # labels 0,0,0,1; scores .1,.2,.9,.5
    # threshold .9: FPR 1/3, FNR 1 (d = -2/3); threshold .5: FPR 1/3, FNR 0 (d = 1/3)
    # FPR == FNR at a = 2/3 of the segment: EER = 1/3, threshold = .9 + 2/3 (.5 - .9)
    eer, thr = equal_error_rate([0, 0, 0, 1], [0.1, 0.2, 0.9, 0.5])
    assert eer == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.9 - 2 / 3 * 0.4)


def test_eer_inverted_and_random():
    eer, _ = equal_error_rate([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])
    assert eer == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + 1.5 * y
    eer, thr = equal_error_rate(y, s)
    # at the threshold, FPR and FNR of the hard decision are close to the EER
    fpr = np.mean(s[y == 0] >= thr)
    fnr = np.mean(s[y == 1] < thr)
    assert abs(fpr - eer) < 0.02 and abs(fnr - eer) < 0.02
    assert 0.15 < eer < 0.35


# ------------------------------------------------------------------ accuracy, video level, errors
def test_accuracy():
    assert accuracy([0, 1, 1, 0], [0.2, 0.5, 0.4, 0.6]) == 0.5  # 0.5 counts as fake (>=)
    assert accuracy([1, 1], [0.9, 0.8]) == 1.0  # single class is fine for accuracy
    assert accuracy([0, 1], [0.3, 0.35], threshold=0.32) == 1.0


def test_video_level():
    ids, scores = video_level_scores([0.1, 0.3, 0.9, 0.5, 0.7], ["b", "b", "a", "a", "c"])
    assert ids == ["b", "a", "c"]
    np.testing.assert_allclose(scores, [0.2, 0.7, 0.7])
    _, mx = video_level_scores([0.1, 0.3, 0.9, 0.5, 0.7], ["b", "b", "a", "a", "c"], reduce="max")
    np.testing.assert_allclose(mx, [0.3, 0.9, 0.7])
    ids, labels = video_level_labels([0, 0, 1, 1, 1], ["b", "b", "a", "a", "c"])
    assert labels.tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="inconsistent"):
        video_level_labels([0, 1], ["v", "v"])
    with pytest.raises(ValueError, match="reduce"):
        video_level_scores([0.1], ["v"], reduce="sum")
    with pytest.raises(ValueError, match="length mismatch"):
        video_level_scores([0.1, 0.2], ["v"])


@pytest.mark.parametrize("fn", [roc_auc, equal_error_rate, average_precision])
def test_detection_errors(fn):
    with pytest.raises(ValueError, match="length mismatch"):
        fn([0, 1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="one class"):
        fn([1, 1, 1], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="binary"):
        fn([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        fn([0, 1], [0.2, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


# ------------------------------------------------------------------ IoU / PBCA
PRED = np.array(
    [
        [0.9, 0.8, 0.1, 0.0],
        [0.7, 0.5, 0.4, 0.0],  # 0.5 -> forged (Eq. 5: >= 0.5)
        [0.0, 0.2, 0.6, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
)
GT = np.array(
    [
        [1, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 1, 1],
        [0, 0, 0, 0],
    ]
)
# binarised pred: (0,0) (0,1) (1,0) (1,1) (2,2) = 5 px; gt: (0,0) (0,1) (1,0) (2,2) (2,3) = 5 px
# intersection 4, union 6 -> IoU 2/3; disagreements (1,1), (2,3) -> PBCA 14/16


def test_iou_pbca_hand_4x4():
    assert iou(PRED, GT) == pytest.approx(4 / 6)
    assert pbca(PRED, GT) == pytest.approx(14 / 16)


def test_iou_pbca_empty_and_reductions():
    empty = np.zeros((4, 4))
    assert iou(empty, empty) == 1.0  # documented: both empty -> 1
    assert pbca(empty, empty) == 1.0
    assert iou(empty, GT) == 0.0
    assert pbca(empty, GT) == pytest.approx(11 / 16)
    # batch: [hand case, empty/empty, all-wrong 2x2]
    preds = [PRED, empty, np.ones((2, 2))]
    gts = [GT, empty, np.zeros((2, 2))]
    np.testing.assert_allclose(iou(preds, gts, reduction="none"), [4 / 6, 1.0, 0.0])
    assert iou(preds, gts) == pytest.approx((4 / 6 + 1 + 0) / 3)
    assert iou(preds, gts, reduction="micro") == pytest.approx((4 + 0 + 0) / (6 + 0 + 4))
    np.testing.assert_allclose(pbca(preds, gts, reduction="none"), [14 / 16, 1.0, 0.0])
    assert pbca(preds, gts) == pytest.approx((14 / 16 + 1 + 0) / 3)
    assert pbca(preds, gts, reduction="micro") == pytest.approx((14 + 16 + 0) / 36)
    assert iou([empty, empty], [empty, empty], reduction="micro") == 1.0
    # an (N, H, W) stack and a different threshold
    stack = np.stack([PRED, PRED])
    assert iou(stack, np.stack([GT, GT])) == pytest.approx(4 / 6)
    assert iou(PRED, GT, threshold=0.75) == pytest.approx(2 / 5)


def test_localization_errors():
    with pytest.raises(ValueError, match="shape"):
        iou(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="length mismatch"):
        pbca([np.zeros((2, 2))] * 2, [np.zeros((2, 2))])
    with pytest.raises(ValueError, match="reduction"):
        iou(PRED, GT, reduction="sum")
    with pytest.raises(ValueError, match="NaN"):
        iou(np.full((2, 2), np.nan), np.zeros((2, 2)))


# ------------------------------------------------------------------ evaluate modules
def test_metric_path_and_names():
    assert set(AVAILABLE_METRICS) == {"deepfake_detection", "forgery_localization"}
    for name in AVAILABLE_METRICS:
        assert (Path(metric_path(name)) / f"{name}.py").is_file()
        assert (Path(metric_path(name)) / "README.md").is_file()
    with pytest.raises(ValueError, match="available"):
        metric_path("accuracy")


def test_detection_module_matches_functional():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 64)
    y[:2] = [0, 1]
    s = np.round(rng.uniform(size=64) * 0.8 + 0.2 * y, 2).astype(np.float32)  # float32 as stored; ties
    metric = load_metric("deepfake_detection")
    out = metric.compute(predictions=s, references=y)
    eer, thr = equal_error_rate(y, s)
    assert out["auc"] == pytest.approx(roc_auc(y, s), abs=1e-12)
    assert out["auc"] == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    assert out["eer"] == pytest.approx(eer, abs=1e-12)
    assert out["eer_threshold"] == pytest.approx(thr, abs=1e-7)
    assert out["ap"] == pytest.approx(average_precision(y, s), abs=1e-12)
    assert out["accuracy"] == pytest.approx(accuracy(y, s), abs=1e-12)
    assert out["num_samples"] == 64

    # incremental add_batch + video-level aggregation
    for i in range(0, 64, 16):
        metric.add_batch(predictions=s[i : i + 16], references=y[i : i + 16])
    vids = [f"v{j // 2}" if y[j] == y[j - (j % 2)] else f"w{j}" for j in range(64)]
    out_b = metric.compute(video_ids=vids, reduce="max")
    _, vs = video_level_scores(s, vids, reduce="max")
    _, vy = video_level_labels(y, vids)
    assert out_b["auc"] == pytest.approx(roc_auc(vy, vs), abs=1e-12)
    assert out_b["num_samples"] == len(vs)


def test_localization_module_matches_functional():
    rng = np.random.default_rng(0)
    preds = [PRED.astype(np.float32), rng.uniform(size=(6, 5)).astype(np.float32), np.zeros((3, 3), np.float32)]
    gts = [GT.astype(np.float32), (rng.uniform(size=(6, 5)) > 0.6).astype(np.float32), np.zeros((3, 3), np.float32)]
    out = load_metric("forgery_localization").compute(predictions=preds, references=gts)
    assert out["iou"] == pytest.approx(iou(preds, gts))
    assert out["pbca"] == pytest.approx(pbca(preds, gts))
    assert out["iou_micro"] == pytest.approx(iou(preds, gts, reduction="micro"))
    assert out["pbca_micro"] == pytest.approx(pbca(preds, gts, reduction="micro"))
    assert out["num_images"] == 3
    single = load_metric("forgery_localization").compute(predictions=[PRED.tolist()], references=[GT.tolist()])
    assert single["iou"] == pytest.approx(4 / 6) and single["pbca"] == pytest.approx(14 / 16)


def test_evaluate_load_offline_fresh_process(tmp_path):
    """`evaluate.load(<abs folder>)` in a fresh interpreter, HF_HUB_OFFLINE=1, cwd outside the repo."""
    code = (
        "import evaluate, sys\n"
        "d = evaluate.load(sys.argv[1])\n"
        "r = d.compute(predictions=[0.1, 0.4, 0.35, 0.8], references=[0, 0, 1, 1])\n"
        "assert abs(r['auc'] - 0.75) < 1e-12 and abs(r['eer'] - 0.5) < 1e-12, r\n"
        "l = evaluate.load(sys.argv[2])\n"
        "r = l.compute(predictions=[[[0.9, 0.1], [0.2, 0.7]]], references=[[[1, 0], [1, 1]]])\n"
        "assert abs(r['iou'] - 2 / 3) < 1e-12 and r['pbca'] == 0.75, r\n"
        "print('OK')\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_EVALUATE_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    proc = subprocess.run(
        [sys.executable, "-c", code, metric_path("deepfake_detection"), metric_path("forgery_localization")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("OK")
