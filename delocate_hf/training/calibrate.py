"""Calibrate a detector's verdict on held-out scores: the decision threshold, the *inconclusive* band and the
held-out AUC they come from, written into the detector folder's `config.json` (`DelocateConfig.decision_threshold`,
`inconclusive_band`, `calibration`).

```python
from delocate_hf.training.calibrate import calibrate_detector, calibrate_scores

calibration = calibrate_scores(records)                       # records: the scores.json list of evaluate.py
calibration = calibrate_detector("runs/detector", "runs/eval/scores.json")   # also writes config.json
```

Command line: `python scripts/calibrate.py --model runs/detector --scores runs/eval/scores.json`.

The rule (documented on the model card):

- **Threshold**: `method="eer"` (default) the equal-error-rate point of the held-out ROC (false-positive rate =
  false-negative rate, `metrics.functional.equal_error_rate`); `method="youden"` the score maximising
  TPR - FPR (Youden's J).
- **Inconclusive band**: the union of two intervals around the threshold, each a range of scores where the held-out
  data cannot tell on which side a video belongs, so its verdict is "inconclusive":
  1. *threshold uncertainty* (bootstrap): the held-out clips are resampled with replacement `n_bootstrap` times
     (seeded, each resample keeping the class counts) and the threshold is chosen again on each; the central
     `band_coverage` (default 90 %) interval of those thresholds;
  2. *held-out error* (`max_error`, default 0.1): the narrowest `[lo, hi]` around the threshold such that the
     held-out clips *outside* it are misclassified at most `max_error` of the time (so the "real" / "fake"
     verdicts that remain were right at least 90 % of the time on held-out data). A model near chance cannot
     reach that outside a wide range: its band covers most scores and most of its verdicts are "inconclusive".
- **Calibration record**: held-out AUC, clip count, fake count, date (UTC), method, band rule, the score used
  (`fused` by default), bootstrap settings and the scores file's name. Front ends say "near chance on held-out
  data" beside every verdict when the AUC is below `NEAR_CHANCE_AUC` (0.65).

Needs only numpy and the standard library (plus the config check of `modeling.configuration_delocate`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from delocate_hf.metrics.functional import equal_error_rate, roc_auc, roc_curve

METHODS = ("eer", "youden")
SCORE_KEYS = ("fused", "recovery", "localization", "mask")
DEFAULT_BOOTSTRAP = 1000
DEFAULT_COVERAGE = 0.9
DEFAULT_MAX_ERROR = 0.1
# Candidate weights of the recovery stage in the fused score `w * P_recovery + (1 - w) * P_localization`.
FUSION_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Validation AUCs closer than this count as equal when choosing the fusion weight (about one standard error of an
# AUC on a few dozen clips would be 0.05; 0.01 only keeps noise-level gains from moving the paper's 0.5).
FUSION_TOLERANCE = 0.01
# A stage whose validation AUC alone is below this is "at chance" and gets no weight in the fused score (when the
# other stage is not): with 84 validation clips, an AUC under 0.55 cannot be told from 0.5.
FUSION_CHANCE_AUC = 0.55
BAND_RULE = "bootstrap+max_error"


class CalibrationError(ValueError):
    """Held-out scores that cannot calibrate a detector (one line)."""


@dataclass
class Calibration:
    """Result of `calibrate_scores`: what goes into the config (`config_values()`)."""

    decision_threshold: float
    inconclusive_band: tuple[float, float]
    auc: float
    n: int
    n_fake: int
    method: str = "eer"
    score_key: str = "fused"
    band_coverage: float = DEFAULT_COVERAGE
    max_error: float = DEFAULT_MAX_ERROR
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"))
    source: str | None = None
    held_out_error_rate: float | None = None  # misclassified held-out clips outside the band (verdict given)
    held_out_inconclusive: float | None = None  # fraction of held-out clips inside the band

    def record(self) -> dict[str, Any]:
        """The `config.calibration` dict."""
        out = asdict(self)
        for key in ("decision_threshold", "inconclusive_band"):
            out.pop(key)
        out["band_rule"] = BAND_RULE
        return {k: v for k, v in out.items() if v is not None}

    def config_values(self) -> dict[str, Any]:
        """`{"decision_threshold", "inconclusive_band", "calibration"}` for `config.json`."""
        return {"decision_threshold": self.decision_threshold,
                "inconclusive_band": [float(v) for v in self.inconclusive_band],
                "calibration": self.record()}


def _read_records(records):
    """`records` as given, or read from a scores.json path (CalibrationError naming the file if it cannot be)."""
    if isinstance(records, (str, os.PathLike)):
        path = Path(records)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise CalibrationError(f"scores file not found: {path}") from None
        except json.JSONDecodeError as error:
            raise CalibrationError(f"scores file {path} is not valid JSON: {error}") from None
    return records


def _labels_scores(records, score_key: str) -> tuple[np.ndarray, np.ndarray]:
    records = _read_records(records)
    if not isinstance(records, (list, tuple)) or not records:
        raise CalibrationError("scores must be a non-empty list of {label, fused, ...} records (scores.json of "
                               "delocate_hf.training.evaluate)")
    if score_key not in SCORE_KEYS:
        raise CalibrationError(f"score_key must be one of {SCORE_KEYS}, got {score_key!r}")
    try:
        labels = np.array([int(r["label"]) for r in records], dtype=np.int64)
        scores = np.array([float(r[score_key]) for r in records], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as error:
        raise CalibrationError(f"every score record needs 'label' and '{score_key}': {error!r}") from None
    if not set(np.unique(labels)) <= {0, 1}:
        raise CalibrationError("labels must be 0 (real) or 1 (fake)")
    if labels.min() == labels.max():
        raise CalibrationError(f"held-out scores need real and fake clips; all {len(labels)} have label "
                               f"{int(labels[0])}")
    if not np.isfinite(scores).all() or scores.min() < 0 or scores.max() > 1:
        raise CalibrationError(f"'{score_key}' scores must be probabilities in [0, 1]")
    return labels, scores


def choose_threshold(labels, scores, method: str = "eer") -> float:
    """The decision threshold on held-out `(labels, scores)`: EER point or Youden's J, clipped into (0, 1)."""
    if method == "eer":
        threshold = equal_error_rate(labels, scores)[1]
    elif method == "youden":
        fpr, tpr, thresholds = roc_curve(labels, scores)
        j = tpr - fpr
        j[~np.isfinite(thresholds)] = -np.inf
        threshold = float(thresholds[int(np.argmax(j))])
    else:
        raise CalibrationError(f"method must be one of {METHODS}, got {method!r}")
    return float(np.clip(threshold, 1e-6, 1.0 - 1e-6))


def error_band(labels, scores, threshold: float, max_error: float = DEFAULT_MAX_ERROR) -> tuple[float, float]:
    """The narrowest `[lo, hi]` with `lo <= threshold <= hi` such that the held-out clips with a score outside it
    (`s < lo`: called real, `s > hi`: called fake) are wrong at most `max_error` of the time; `(0, 1)` when no such
    interval leaves any clip outside."""
    y, s = np.asarray(labels, dtype=np.int64), np.asarray(scores, dtype=np.float64)
    los = np.unique(np.r_[s[s <= threshold], threshold])  # outside below: s < lo
    his = np.unique(np.r_[s[s >= threshold], threshold])  # outside above: s > hi
    below = np.array([[(s < lo).sum(), ((s < lo) & (y == 1)).sum()] for lo in los], dtype=np.float64)
    above = np.array([[(s > hi).sum(), ((s > hi) & (y == 0)).sum()] for hi in his], dtype=np.float64)
    decided = below[:, None, 0] + above[None, :, 0]
    wrong = below[:, None, 1] + above[None, :, 1]
    ok = (decided > 0) & (wrong <= max_error * decided + 1e-12)
    if not ok.any():
        return 0.0, 1.0
    width = np.where(ok, his[None, :] - los[:, None], np.inf)
    i, j = np.unravel_index(int(np.argmin(width)), width.shape)
    return float(los[i]), float(his[j])


def calibrate_scores(records, method: str = "eer", score_key: str = "fused", band_coverage: float = DEFAULT_COVERAGE,
                     n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0, source: str | None = None,
                     max_error: float = DEFAULT_MAX_ERROR) -> Calibration:
    """Threshold, bootstrap inconclusive band and held-out AUC from held-out records (a list of
    `{label, fused, recovery, localization, ...}` or the path of evaluate.py's `scores.json`). See the module doc."""
    if not 0.0 < band_coverage < 1.0:
        raise CalibrationError(f"band_coverage must be in (0, 1), got {band_coverage}")
    if not 0.0 < max_error < 0.5:
        raise CalibrationError(f"max_error must be in (0, 0.5), got {max_error}")
    if n_bootstrap < 10:
        raise CalibrationError(f"n_bootstrap must be >= 10, got {n_bootstrap}")
    if source is None and isinstance(records, (str, os.PathLike)):
        source = Path(records).name
    labels, scores = _labels_scores(records, score_key)
    threshold = choose_threshold(labels, scores, method)
    rng = np.random.default_rng(seed)
    fakes, reals = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    draws = []
    for _ in range(n_bootstrap):  # stratified: each resample keeps the held-out class counts
        idx = np.concatenate([rng.choice(fakes, fakes.size), rng.choice(reals, reals.size)])
        draws.append(choose_threshold(labels[idx], scores[idx], method))
    tail = (1.0 - band_coverage) / 2.0
    lo, hi = np.quantile(np.asarray(draws), [tail, 1.0 - tail])
    err_lo, err_hi = error_band(labels, scores, threshold, max_error)
    lo, hi = float(min(lo, err_lo, threshold)), float(max(hi, err_hi, threshold))
    if hi - lo < 1e-6:  # a degenerate interval (perfectly separated, tied scores): a minimal band around it
        lo, hi = max(0.0, threshold - 1e-3), min(1.0, threshold + 1e-3)
    inside = (scores >= lo) & (scores <= hi)
    decided = ~inside
    wrong = ((scores >= threshold).astype(np.int64) != labels) & decided
    return Calibration(
        decision_threshold=round(threshold, 6), inconclusive_band=(round(lo, 6), round(hi, 6)),
        auc=round(float(roc_auc(labels, scores)), 6), n=int(labels.size), n_fake=int(labels.sum()), method=method,
        score_key=score_key, band_coverage=float(band_coverage), max_error=float(max_error),
        n_bootstrap=int(n_bootstrap), seed=int(seed),
        source=source,
        held_out_error_rate=round(float(wrong.sum() / decided.sum()), 6) if decided.any() else None,
        held_out_inconclusive=round(float(inside.mean()), 6),
    )


def _read_model_config(model_dir) -> tuple[Path, dict]:
    """`(path, dict)` of a Delocate checkpoint's `config.json`; CalibrationError if it is not one."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise CalibrationError(f"{model_dir} is not a model folder (no config.json)")
    config = json.loads(path.read_text())
    if config.get("model_type") != "delocate":
        raise CalibrationError(f"{model_dir} is not a Delocate checkpoint (model_type {config.get('model_type')!r})")
    return path, config


def _write_model_config(path: Path, config: dict) -> Path:
    """Writes `config` to `path` atomically (a temporary file, then a rename)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def write_calibration(model_dir, calibration: Calibration) -> Path:
    """Writes the calibration into `model_dir/config.json` (the other keys are kept as they are); the values are
    checked with `DelocateConfig`'s own rule first. Returns the config path."""
    from modeling.configuration_delocate import check_verdict_settings

    path, config = _read_model_config(model_dir)
    values = calibration.config_values()
    check_verdict_settings(values["decision_threshold"], values["inconclusive_band"], values["calibration"])
    config.update(values)
    return _write_model_config(path, config)


def calibrate_detector(model_dir, scores, method: str = "eer", score_key: str = "fused",
                       band_coverage: float = DEFAULT_COVERAGE, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                       seed: int = 0, max_error: float = DEFAULT_MAX_ERROR) -> Calibration:
    """`calibrate_scores(scores, ...)` written into the saved detector `model_dir` (`write_calibration`)."""
    calibration = calibrate_scores(scores, method=method, score_key=score_key, band_coverage=band_coverage,
                                   n_bootstrap=n_bootstrap, seed=seed, max_error=max_error)
    write_calibration(model_dir, calibration)
    return calibration


def _weight_without_a_stage_at_chance(recovery_auc: float, localization_auc: float, chance: float) -> float | None:
    """The fusion rule's first clause: 0.0 (localization alone) when the recovery stage alone is below `chance` and the
    localization stage is not, 1.0 in the mirror case, else None (neither or both at chance)."""
    if recovery_auc < chance <= localization_auc:
        return 0.0
    if localization_auc < chance <= recovery_auc:
        return 1.0
    return None


def choose_fusion_weight(records, weights=FUSION_WEIGHTS, tolerance: float = FUSION_TOLERANCE,
                         chance: float = FUSION_CHANCE_AUC) -> tuple[float, dict[float, float]]:
    """The recovery-stage weight `w` of the fused score `w * recovery + (1 - w) * localization`
    (`DelocateConfig.fusion_weight`, `score_fusion="mean_prob"`) chosen on `records` (scores.json rows with `label`,
    `recovery` and `localization`; use a *validation* split, never the split you report): among the weights whose
    AUC is within `tolerance` of the best, the one closest to 0.5, the paper's mean of both stages — a small
    validation split cannot tell AUCs a point apart, so the paper's rule stands unless a stage clearly hurts.
    A stage whose own AUC is below `chance` (`FUSION_CHANCE_AUC`) while the other's is not earns no share: the other
    stage alone (w = 0 or 1), however small the difference within the tolerance — a fused score must earn its parts.
    Returns `(w, {weight: auc})`."""
    labels, recovery = _labels_scores(records, "recovery")
    _, localization = _labels_scores(records, "localization")
    recovery_alone, localization_alone = (float(roc_auc(labels, scores)) for scores in (recovery, localization))
    aucs = {float(w): float(roc_auc(labels, w * recovery + (1 - w) * localization)) for w in sorted(map(float, weights))}
    alone = _weight_without_a_stage_at_chance(recovery_alone, localization_alone, chance)
    if alone is not None:
        return alone, {**aucs, 0.0: localization_alone, 1.0: recovery_alone}
    return _weight_nearest_the_mean(aucs, tolerance), aucs


def _weight_nearest_the_mean(aucs: dict[float, float], tolerance: float) -> float:
    """The choices' shared rule: among the candidates whose value (AUC, IoU) is within `tolerance` of the best, the
    one closest to 0.5 (the smaller on a tie)."""
    top = max(aucs.values())
    near = [w for w in aucs if aucs[w] >= top - tolerance - 1e-12]
    return min(near, key=lambda w: (abs(w - 0.5), w))


def describe_fusion(weight: float, aucs: dict[float, float], chance: float = FUSION_CHANCE_AUC) -> str:
    """One line for a reader: the validation AUC at each weight, the chosen `weight` (from `choose_fusion_weight`),
    and, when a stage alone is below `chance` and so got no share, which stage and why."""
    line = ", ".join(f"w={w:g}: {a:.3f}" for w, a in aucs.items()) + f" -> w = {weight:g}"
    if 0.0 in aucs and 1.0 in aucs and float(weight) == _weight_without_a_stage_at_chance(aucs[1.0], aucs[0.0], chance):
        idle, other = ("recovery (VideoMAE classifier)", 1.0) if float(weight) == 0.0 else ("localization", 0.0)
        line += (f"; the {idle} stage alone is at chance on these people (AUC {aucs[other]:.3f} < {chance:g}): "
                 "it gets no share of the fused score")
    return line


def choose_mask_weight(records, weights=FUSION_WEIGHTS, tolerance: float = FUSION_TOLERANCE,
                       chance: float = FUSION_CHANCE_AUC) -> tuple[float, dict[float, float]]:
    """The weight `a` of the forgery masks' own score in the localization stage's probability
    `a * mask + (1 - a) * localization` (`DelocateConfig.mask_score_weight`), chosen on `records` (scores.json rows
    with `label`, `localization` — stage 2's classifier — and `mask`; a *validation* split) by the fusion weight's
    rule: a part whose own AUC is below `chance` while the other's is not gets no share (the candidate nearest
    a = 0, mask at chance, or a = 1, classifier at chance); otherwise, among the weights whose AUC is within
    `tolerance` of the best, the one closest to 0.5 (neither part is preferred unless the validation people say so
    clearly). `weights=(0.0,)`: the classifier alone, no choice. Returns `(a, {weight: auc})`."""
    labels, localization = _labels_scores(records, "localization")
    _, mask = _labels_scores(records, "mask")
    aucs = {float(a): float(roc_auc(labels, a * mask + (1 - a) * localization)) for a in sorted(map(float, weights))}
    alone = _weight_without_a_stage_at_chance(float(roc_auc(labels, mask)), float(roc_auc(labels, localization)), chance)
    if alone is not None:
        return min(aucs, key=lambda a: (abs(a - alone), a)), aucs
    return _weight_nearest_the_mean(aucs, tolerance), aucs


def choose_test_time_flip(plain_records, flipped_records, mask_weights=FUSION_WEIGHTS) -> tuple[bool, dict]:
    """Whether the detector's localizer should also analyse mirrored frames (`DelocateConfig.test_time_flip`), chosen
    on a *validation* split scored both ways (`plain_records` / `flipped_records`: scores.json rows with `label`,
    `localization` and `mask`, the same clips): the localization stage's AUC at the mask weight
    `choose_mask_weight` picks for each; mirroring only when it is strictly higher (it doubles the localizer's cost).
    Returns `(flag, {False: auc, True: auc})`."""
    aucs = {}
    for flag, records in ((False, plain_records), (True, flipped_records)):
        weight, by_weight = choose_mask_weight(records, mask_weights)
        aucs[flag] = by_weight[weight]
    return aucs[True] > aucs[False], aucs


def write_test_time_flip(model_dir, flag: bool) -> Path:
    """Sets `test_time_flip=flag` in `model_dir/config.json`. Returns its path."""
    path, config = _read_model_config(model_dir)
    config["test_time_flip"] = bool(flag)
    return _write_model_config(path, config)


def choose_mask_threshold(records) -> tuple[float, dict[float, float]]:
    """The model's `mask_threshold` (the cut that binarises its forgery masks), chosen on `records` (scores.json rows;
    the fake clips with a ground-truth mask carry `iou_at`, their IoU at each candidate threshold,
    `evaluate.MASK_THRESHOLDS`; use a *validation* split): the candidate with the highest mean IoU over those clips,
    the one nearer 0.5 on a tie. `records` may be a scores.json path. Returns `(threshold, {threshold: mean IoU})`."""
    rows = [r["iou_at"] for r in _read_records(records) if isinstance(r, dict) and r.get("iou_at")]
    if not rows:
        raise CalibrationError("no fake clip with a ground-truth mask in the records (no 'iou_at'): the mask threshold "
                               "is chosen on fakes with masks, e.g. a validation split's pseudo-fakes")
    thresholds = sorted(float(t) for t in rows[0])
    ious = {t: float(np.mean([float(r[f"{t:g}"]) for r in rows])) for t in thresholds}
    return _weight_nearest_the_mean(ious, tolerance=0.0), ious


def write_mask_threshold(model_dir, threshold: float) -> Path:
    """Sets `mask_threshold=threshold` in `model_dir/config.json`. Returns its path."""
    if not 0.0 < float(threshold) < 1.0:
        raise CalibrationError(f"mask threshold must be in (0, 1), got {threshold}")
    path, config = _read_model_config(model_dir)
    config["mask_threshold"] = float(threshold)
    return _write_model_config(path, config)


def with_mask_weight(records, weight: float) -> list[dict]:
    """`records` with `localization` replaced by the localization stage's probability at mask weight `weight`
    (`a * mask + (1 - a) * localization`, as `DelocateForDeepfakeDetection.localization_probability`), ready for
    `choose_fusion_weight` / `fuse_records`."""
    return [{**r, "localization": weight * float(r["mask"]) + (1 - weight) * float(r["localization"])} for r in records]


def write_mask_weight(model_dir, weight: float) -> Path:
    """Sets `mask_score_weight=weight` in `model_dir/config.json`. Returns its path."""
    if not 0.0 <= float(weight) <= 1.0:
        raise CalibrationError(f"mask score weight must be in [0, 1], got {weight}")
    path, config = _read_model_config(model_dir)
    config["mask_score_weight"] = float(weight)
    return _write_model_config(path, config)


def fuse_records(records, weight: float) -> list[dict]:
    """`records` with `fused` recomputed at recovery weight `weight` (as `DelocateForDeepfakeDetection.fuse`)."""
    return [{**r, "fused": weight * float(r["recovery"]) + (1 - weight) * float(r["localization"])} for r in records]


def write_fusion_weight(model_dir, weight: float) -> Path:
    """Sets `score_fusion="mean_prob"` and `fusion_weight=weight` in `model_dir/config.json`. Returns its path."""
    if not 0.0 <= float(weight) <= 1.0:
        raise CalibrationError(f"fusion weight must be in [0, 1], got {weight}")
    path, config = _read_model_config(model_dir)
    config.update({"score_fusion": "mean_prob", "fusion_weight": float(weight)})
    return _write_model_config(path, config)


def write_test_auc(model_dir, auc: float, n: int, test_set: str) -> Path:
    """Records the AUC of the detector on a *test* split (people and fakes its calibration never saw) in
    `config.calibration` (`test_auc`, `test_n`, `test_set`). Verdicts then judge the model by it ("near chance on
    held-out data" when it is below `NEAR_CHANCE_AUC`), not by the calibration split's AUC, which can be higher
    (e.g. validation fakes of the trained family only). Returns the config path."""
    from modeling.configuration_delocate import check_verdict_settings

    path, config = _read_model_config(model_dir)
    if not config.get("calibration"):
        raise CalibrationError(f"{model_dir} is not calibrated: calibrate it before recording a test AUC")
    calibration = {**config["calibration"], "test_auc": round(float(auc), 6), "test_n": int(n), "test_set": str(test_set)}
    check_verdict_settings(config.get("decision_threshold", 0.5), config.get("inconclusive_band"), calibration)
    config["calibration"] = calibration
    return _write_model_config(path, config)


def describe(calibration: Calibration) -> str:
    lo, hi = calibration.inconclusive_band
    from delocate_hf.inference.results import NEAR_CHANCE_AUC

    chance = "  (near chance: verdicts will say so)" if calibration.auc < NEAR_CHANCE_AUC else ""
    return (f"threshold {calibration.decision_threshold:.4f} ({calibration.method}), inconclusive band "
            f"[{lo:.4f}, {hi:.4f}], held-out AUC {calibration.auc:.4f} on {calibration.n} clips "
            f"({calibration.n_fake} fake){chance}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calibrate", description="Choose a detector's decision threshold and "
                                     "inconclusive band on held-out scores and write them into its config.json")
    parser.add_argument("--model", required=True, type=Path, help="saved detector folder (config.json is updated)")
    parser.add_argument("--scores", required=True, type=Path,
                        help="scores.json of scripts/evaluate.py on a held-out split")
    parser.add_argument("--method", default="eer", choices=METHODS,
                        help="threshold rule: equal-error-rate point or Youden's J (default: eer)")
    parser.add_argument("--score-key", default="fused", choices=SCORE_KEYS, help="score to calibrate (default: fused)")
    parser.add_argument("--band-coverage", type=float, default=DEFAULT_COVERAGE,
                        help=f"central bootstrap interval of the threshold (default: {DEFAULT_COVERAGE})")
    parser.add_argument("--max-error", type=float, default=DEFAULT_MAX_ERROR,
                        help="largest held-out error rate of the verdicts outside the band "
                             f"(default: {DEFAULT_MAX_ERROR})")
    parser.add_argument("--n-bootstrap", type=int, default=DEFAULT_BOOTSTRAP,
                        help=f"bootstrap resamples (default: {DEFAULT_BOOTSTRAP})")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--mask-threshold", action="store_true",
                        help="also choose the cut that binarises the forgery masks (config.mask_threshold): the best "
                             "mean IoU of the fakes' masks in the scores (scripts/evaluate.py records it for fakes "
                             "with ground-truth masks, e.g. FF++ or pseudo-fakes)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        calibration = calibrate_detector(args.model, args.scores, method=args.method, score_key=args.score_key,
                                         band_coverage=args.band_coverage, n_bootstrap=args.n_bootstrap,
                                         seed=args.seed, max_error=args.max_error)
        if args.mask_threshold:
            mask_threshold, ious = choose_mask_threshold(args.scores)
            write_mask_threshold(args.model, mask_threshold)
    except (CalibrationError, ValueError) as error:
        print(f"calibrate: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(f"{args.model}/config.json: {describe(calibration)}")
    if args.mask_threshold:
        print(f"{args.model}/config.json: mask_threshold {mask_threshold:g} (mean mask IoU by threshold: "
              + ", ".join(f"{t:g}: {iou:.3f}" for t, iou in ious.items()) + ")")
    return 0


__all__ = ["BAND_RULE", "Calibration", "CalibrationError", "FUSION_CHANCE_AUC", "FUSION_TOLERANCE", "FUSION_WEIGHTS", "METHODS", "calibrate_detector",
           "calibrate_scores", "choose_fusion_weight", "choose_mask_threshold", "choose_mask_weight", "describe_fusion", "fuse_records", "with_mask_weight",
           "write_fusion_weight", "write_mask_threshold", "write_mask_weight", "write_test_auc",
           "choose_threshold", "describe", "error_band", "main", "write_calibration"]
