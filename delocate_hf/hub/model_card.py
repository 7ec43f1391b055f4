"""Model card (README.md) of an exported Delocate detector: YAML metadata with a `model-index` built from the
`metrics.json` of `delocate_hf.training.evaluate`, and a body with usage, training, evaluation, intended use,
limitations and citation.

Metric values in `model-index` are **percentages** (0-100, two decimals), like the paper's tables; `metrics.json`
holds fractions in [0, 1]. Detection results (fused score: AUC, EER, AP, ACC) are `video-classification` results;
localization results (IoU, PBCA of masks binarised at 0.5) are `image-segmentation` results. Each data set of
`metrics.json` becomes one result (its per-manipulation subsets `"<data set> / <manipulation>"` use the
manipulation as the dataset `config`); the pooled `"all"` subset is listed only when it is the only subset.

This module needs only `huggingface_hub` (ModelCardData / EvalResult) and the standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

LICENSE = "apache-2.0"
LIBRARY_NAME = "transformers"
# No standard Hub task fits the output (a video in; a verdict, per-frame scores and forgery masks out): the card
# sets no pipeline_tag and turns the inference widget off; the task is the custom "deepfake-detection" pipeline
# (custom_pipelines in config.json).
PIPELINE_TAG = None
CUSTOM_TASK = "deepfake-detection"
TAGS = ["deepfake-detection", "forgery-localization", "videomae", "delocate"]
REVISION_PLACEHOLDER = "<commit-sha>"

PAPER_TITLE = "Delocate: Detection and Localization for Deepfake Videos with Randomly-Located Tampered Traces"
PAPER_AUTHORS = ["Juan Hu", "Xin Liao", "Difei Gao", "Satoshi Tsutsui", "Qian Wang", "Zheng Qin", "Mike Zheng Shou"]
PAPER_VENUE = "IJCAI 2024"
CITATION = """@inproceedings{hu2024delocate,
  title     = {Delocate: Detection and Localization for Deepfake Videos with Randomly-Located Tampered Traces},
  author    = {Hu, Juan and Liao, Xin and Gao, Difei and Tsutsui, Satoshi and Wang, Qian and Qin, Zheng and
               Shou, Mike Zheng},
  booktitle = {Proceedings of the Thirty-Third International Joint Conference on Artificial Intelligence, {IJCAI-24}},
  year      = {2024}
}"""

DETECTION_TASK = ("video-classification", "Deepfake detection")
LOCALIZATION_TASK = ("image-segmentation", "Forgery localization")
# metrics.json key -> (model-index metric type, display name)
DETECTION_METRICS = {"auc": ("roc_auc", "AUC (%)"), "eer": ("eer", "EER (%)"), "ap": ("average_precision", "AP (%)"),
                     "acc": ("accuracy", "ACC (%)")}
LOCALIZATION_METRICS = {"iou": ("iou", "IoU (%)"), "pbca": ("pbca", "PBCA (%)")}
POOLED_SUBSET = "all"


class MetricsFormatError(ValueError):
    """metrics.json does not have the layout written by `delocate_hf.training.evaluate`."""


def percent(value: float) -> float:
    """Fraction in [0, 1] -> percentage with two decimals (the unit of every model-index value)."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise MetricsFormatError(f"metric value {value} is not a fraction in [0, 1] (metrics.json of evaluate.py)")
    return round(100.0 * value, 2)


def dataset_type(name: str) -> str:
    """Data set display name -> `type` slug ("Celeb-DF-v2" -> "celeb-df-v2", "FaceForensics++" -> "faceforensics++")."""
    return re.sub(r"[^a-z0-9+._-]+", "-", name.lower()).strip("-") or "dataset"


def normalize_metrics(metrics: dict) -> dict:
    """Checks the layout {subset: {"fused": {...}, ..., "localization_masks": {...}}}; a single subset entry (a dict
    with a "fused" key) is accepted as {"all": entry}."""
    if not isinstance(metrics, dict) or not metrics:
        raise MetricsFormatError("metrics must be a non-empty dict {subset: {'fused': {...}, ...}}")
    if "fused" in metrics:
        metrics = {POOLED_SUBSET: metrics}
    for name, entry in metrics.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("fused", {}), dict):
            raise MetricsFormatError(f"metrics subset {name!r} is not a dict with a 'fused' entry")
    return metrics


def _split_subset(name: str) -> tuple[str, str | None]:
    dataset, _, manipulation = name.partition(" / ")
    return dataset.strip(), (manipulation.strip() or None)


def reported_subsets(metrics: dict) -> list[str]:
    """Subsets that go into model-index: every data set and data set / manipulation; "all" only when alone."""
    names = list(metrics)
    others = [name for name in names if name != POOLED_SUBSET]
    return others if others else names


def eval_results(metrics: dict, pooled_name: str = "evaluation set", split: str | None = None) -> list[EvalResult]:
    """`EvalResult`s (percentages) for the detection and localization metrics of every reported subset."""
    metrics = normalize_metrics(metrics)
    results = []
    for subset in reported_subsets(metrics):
        entry = metrics[subset]
        dataset, config = _split_subset(pooled_name if subset == POOLED_SUBSET else subset)
        common = dict(dataset_name=dataset, dataset_type=dataset_type(dataset), dataset_config=config,
                      dataset_split=split)
        for section, table, (task_type, task_name) in (
            ("fused", DETECTION_METRICS, DETECTION_TASK),
            ("localization_masks", LOCALIZATION_METRICS, LOCALIZATION_TASK),
        ):
            values = entry.get(section) or {}
            for key, (metric_type, metric_name) in table.items():
                if values.get(key) is None:
                    continue
                results.append(EvalResult(task_type=task_type, task_name=task_name, metric_type=metric_type,
                                          metric_name=metric_name, metric_value=percent(values[key]), **common))
    return results


def card_data(model_name: str, metrics: dict | None = None, summary: dict | None = None) -> ModelCardData:
    summary = normalize_summary_keys(summary or {})
    extra = {}
    if summary.get("datasets"):  # Hub dataset ids of the training data, if any
        extra["datasets"] = list(summary["datasets"])
    if summary.get("base_model"):
        extra["base_model"] = summary["base_model"]
    results = None
    if metrics:
        results = eval_results(metrics, pooled_name=str(summary.get("eval_dataset", "evaluation set")),
                               split=summary.get("eval_split")) or None
    return ModelCardData(license=LICENSE, library_name=LIBRARY_NAME, pipeline_tag=PIPELINE_TAG, tags=list(TAGS),
                         model_name=model_name, eval_results=results, inference=False, **extra)


# ------------------------------------------------------------------------------------------------------------ body


def _pct(value) -> str:
    return "–" if value is None else f"{100.0 * float(value):.1f}"


def evaluation_table(metrics: dict) -> str:
    metrics = normalize_metrics(metrics)
    lines = ["| subset | clips (fake) | AUC | EER | AP | ACC | frame AUC | IoU | PBCA |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in metrics.items():
        fused = entry.get("fused") or {}
        frame = entry.get("frame_level") or {}
        masks = entry.get("localization_masks") or {}
        clips = f"{fused.get('n', '–')} ({fused.get('n_fake', '–')})"
        lines.append(f"| {name} | {clips} | {_pct(fused.get('auc'))} | {_pct(fused.get('eer'))} | "
                     f"{_pct(fused.get('ap'))} | {_pct(fused.get('acc'))} | {_pct(frame.get('auc'))} | "
                     f"{_pct(masks.get('iou'))} | {_pct(masks.get('pbca'))} |")
    return "\n".join(lines)


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


SUMMARY_SPECIAL_KEYS = {"datasets", "base_model", "eval_dataset", "eval_split", "training_data", "evaluation_data",
                        "metrics", "data"}


def normalize_summary_keys(summary: dict) -> dict:
    """Recognised keys may be written with spaces or hyphens ("training data" -> "training_data")."""
    result = {}
    for key, value in summary.items():
        normalized = re.sub(r"[\s-]+", "_", str(key).strip().lower())
        result[normalized if normalized in SUMMARY_SPECIAL_KEYS else key] = value
    return result
_LOCAL_PATH = re.compile(r"^(/|~|\.{1,2}/|[A-Za-z]:[\\/])")


def public_summary(value: Any) -> Any:
    """The summary without local file-system paths (they mean nothing on the Hub and may leak user names):
    path-like strings are dropped, containers that become empty too. Returns None when nothing is left."""
    if isinstance(value, str):
        return None if _LOCAL_PATH.match(value) else value
    if isinstance(value, dict):
        kept = {k: public_summary(v) for k, v in value.items()}
        kept = {k: v for k, v in kept.items() if v is not None}
        return kept or None
    if isinstance(value, (list, tuple)):
        kept = [v for v in (public_summary(item) for item in value) if v is not None]
        return kept or None
    return value


def _training_data_section(summary: dict) -> str:
    data = summary.get("training_data")
    if not data and isinstance(summary.get("data"), dict) and summary["data"].get("train"):
        data = [f"clips per class / manipulation: {_short(summary['data']['train'], 400)}"]  # `delocate demo` summary
    if data:
        items = [data] if isinstance(data, str) else list(data)
        listed = "\n".join(f"- {_short(item, 800)}" for item in items)
        return f"This checkpoint was trained on:\n\n{listed}\n"
    return (
        "The training data of this checkpoint was not recorded in the export. The paper's protocol trains on "
        "FaceForensics++ (real videos only for the recovery stage; the four manipulations DeepFakes, Face2Face, "
        "FaceSwap and NeuralTextures, with their masks, for the localization stage) and tests cross-data-set on "
        "Celeb-DF, DeeperForensics-1.0 and DFDC.\n"
    )


def initialisation_text(config: dict) -> str:
    """"Initialised from ..." of `config["init_sources"]` (what `--init_videomae` / `--init_backbone` loaded, with the
    weights' licence), or a sentence saying every stage started from random initialisation."""
    sources = config.get("init_sources") or []
    if not sources:
        return "\nEvery stage started from random initialisation (no pretrained weights).\n"
    lines = [f"- `{s.get('target')}` initialised from **{s.get('source')}** ({s.get('loaded')} tensors"
             f"{'; weights licence ' + s['licence'] if s.get('licence') else ''})" for s in sources]
    return ("\nInitialised from pretrained weights (they are part of this checkpoint's safetensors; the packages they "
            "came from are not needed to load it):\n\n" + "\n".join(lines) + "\n")


def _training_procedure_section(config: dict, summary: dict) -> str:
    text = (
        "Three stages (paper, Sec. 3): (1) **recovery** - a VideoMAE masked autoencoder pretrained on real faces "
        "only, masking whole facial-part regions of interest (eyes, cheek & nose, lips; one part at a time) "
        "instead of random tubes; (1b) the "
        "recovery encoder fine-tuned real vs. fake; (2) **localization** - a mapping + ResNet localization network "
        "trained with meta-learning (MLDG) across manipulation domains, supervised by the recovery output and the "
        "forgery masks. The detector fuses the stage-1b probability with the localization network's score "
        "(`config.fusion_weight`; the paper averages the two); that score is its frame classifier's, or, with "
        "`config.mask_score_weight` a > 0, a share a of the forgery masks' own score (the mean of each mask's top "
        "pixels).\n"
    )
    keys = ("num_frames", "image_size", "patch_size", "tubelet_size", "mask_ratio", "mask_strategy", "fusion_weight",
            "mask_score_weight", "score_fusion", "localization_frames", "hidden_size", "num_hidden_layers")
    text += initialisation_text(config)
    keys += ("mapping_backbone", "loc_encoder")
    rows = [f"| `{key}` | `{_short(config[key], 80)}` |" for key in keys if key in config]
    if rows:
        text += "\nModel configuration (`config.json`):\n\n| setting | value |\n|---|---|\n" + "\n".join(rows) + "\n"
    details = {key: value for key, value in summary.items() if key not in SUMMARY_SPECIAL_KEYS}
    if details:
        text += "\nTraining summary of this checkpoint:\n\n" + "\n".join(
            f"- **{key}**: {_short(value)}" for key, value in details.items()) + "\n"
    return text


def _usage_section(repo_id: str, revision: str | None, num_frames: int) -> str:
    pinned = revision or REVISION_PLACEHOLDER
    note = "" if revision else (
        f"\nReplace `{REVISION_PLACEHOLDER}` with a commit hash of this repository (*Files and versions* -> "
        "*History*): `trust_remote_code=True` runs this repository's Python files on your machine, so review them and "
        "pin the revision you reviewed.\n")
    return f"""### With `transformers` only: the `deepfake-detection` pipeline (remote code)

No standard Hub task fits this model's output, so it ships its own pipeline (`custom_pipelines` in `config.json`,
code in `pipeline_deepfake.py`): video in, verdict + per-frame scores + forgery masks out.

```python
# pip install "transformers>=5,<6" torch av "mediapipe==0.10.14"
from transformers import pipeline

detector = pipeline("deepfake-detection", model="{repo_id}", trust_remote_code=True, revision="{pinned}")
result = detector("video.mp4", num_frames={4 * num_frames})   # frames to analyse (whole clips of {num_frames})
result["label"], result["score"]   # "real" / "fake" / "inconclusive", probability of fake
result["warning"]                  # set when the model is not calibrated or near chance on held-out data
result["masks"].shape              # (N, H, W) forgery masks in [0, 1], one per analysed frame
result["tracks"]                   # every face: its score, frames, boxes, masks; the video score is their maximum
detector("video.mp4", faces="largest")   # the largest face only
detector(["a.mp4", "b.mp4"])       # one result, or one {{"video", "error", "error_type"}} entry, per input
```

### With the `delocate-hf` package (no remote code)

```python
# pip install delocate-hf
from transformers import pipeline
import delocate_hf  # registers the classes and the "deepfake-detection" task: no remote code
from delocate_hf.inference import detect_video, load_detector

detector = pipeline("deepfake-detection", model="{repo_id}")

model, processor = load_detector("{repo_id}")
result = detect_video("video.mp4", model, processor, num_frames={4 * num_frames})
result.label, result.score, result.warning, result.masks.shape
# the localizer runs on config.localization_frames frames of each clip (null: all); the others show the nearest
# localized frame's mask: result.frames[i].localized; face_found is false where the face was lost
```

or from the command line: `delocate detect video.mp4 --model {repo_id} --overlay overlay.mp4`.

### The model and processor alone (remote code)

```python
import torch
from transformers import AutoImageProcessor, AutoModel

REVISION = "{pinned}"
model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True, revision=REVISION).eval()
processor = AutoImageProcessor.from_pretrained("{repo_id}", trust_remote_code=True, revision=REVISION)

inputs = processor("video.mp4", return_tensors="pt")   # {num_frames} aligned face frames per clip
with torch.no_grad():
    out = model(inputs["pixel_values"])
out.probabilities   # (batch,) probability that the clip is fake
out.masks           # (batch, frames, h, w) forgery masks on the aligned face crop
out.localized_frames  # the clip frames the localizer analysed (the others repeat the nearest one's mask)
```
{note}"""


def verdict_section(config: dict) -> str:
    """How the verdict is decided: threshold, inconclusive band and the held-out calibration they come from."""
    threshold = float(config.get("decision_threshold", 0.5))
    band = config.get("inconclusive_band")
    calibration = config.get("calibration") or {}
    auc = calibration.get("auc")
    test_auc = calibration.get("test_auc")
    rule = (f"The pipeline and `delocate detect` say **fake** when the probability of fake is >= "
            f"**{threshold:.4f}** (`config.decision_threshold`) and **real** below")
    if band:
        rule += (f", except **inconclusive** for scores in **[{float(band[0]):.4f}, {float(band[1]):.4f}]** "
                 "(`config.inconclusive_band`): a score there is never reported as fake or real")
    rule += ".\n\n"
    if auc is None:
        return rule + ("**Not calibrated**: the threshold is the 0.5 default, not chosen on held-out data, and every "
                       "verdict says so (\"not calibrated\"). Calibrate it with `python scripts/calibrate.py --model "
                       "DIR --scores scores.json` (scores of `scripts/evaluate.py` on a held-out split).\n")
    rows = [("held-out AUC", f"{100 * float(auc):.1f} %"), ("held-out clips (fake)",
            f"{calibration.get('n', '–')} ({calibration.get('n_fake', '–')})"),
            ("threshold rule", {"eer": "equal-error-rate point", "youden": "Youden's J"}.get(
                calibration.get("method"), str(calibration.get("method", "–")))),
            ("band rule", f"central {100 * float(calibration.get('band_coverage', 0.9)):.0f} % interval of the "
             f"threshold over {calibration.get('n_bootstrap', '–')} bootstrap resamples of the held-out clips, "
             f"widened until the verdicts outside it were wrong on at most "
             f"{100 * float(calibration.get('max_error', 0.1)):.0f} % of the held-out clips"
             if calibration.get("band_rule") == "bootstrap+max_error" else str(calibration.get("band_rule", "–"))),
            ("held-out clips inside the band", "–" if calibration.get("held_out_inconclusive") is None
             else f"{100 * float(calibration['held_out_inconclusive']):.1f} %"),
            ("error rate of the other held-out clips", "–" if calibration.get("held_out_error_rate") is None
             else f"{100 * float(calibration['held_out_error_rate']):.1f} %"),
            ("calibrated on", str(calibration.get("date", "–")))]
    if test_auc is not None:  # the figure verdicts are judged by
        rows.append(("test AUC (people and fakes the calibration never saw)",
                     f"{100 * float(test_auc):.1f} % on {calibration.get('test_n', '–')} clips "
                     f"({calibration.get('test_set', '–')})"))
    text = rule + "| calibration | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
    if float(auc if test_auc is None else test_auc) < 0.65:
        text += ("\n**This model is near chance on held-out data** (AUC below 65 %): every verdict says so, and "
                 "none should be trusted.\n")
    return text


def build_model_card(
    config: dict,
    metrics: dict | None = None,
    summary: dict | None = None,
    repo_id: str | None = None,
    processor_config: dict | None = None,
    revision: str | None = None,
) -> str:
    """README.md text: YAML header (license, library_name, pipeline_tag, tags, model-index) + body.

    config / processor_config: the dicts of config.json / preprocessor_config.json. metrics: `metrics.json` of
    `evaluate.py`. summary: optional training summary; recognised keys (spaces allowed: "training data"):
    `training_data` (str or list), `evaluation_data` (str), `datasets` (Hub ids), `base_model`, `eval_dataset`
    (name of the pooled "all" subset), `eval_split`; the other
    keys are listed under "Training procedure" (local file paths are dropped, see `public_summary`; a
    `data: {"train": ...}` entry as in `delocate demo`'s summary.json describes the training data).
    revision: commit to pin in the usage snippets (placeholder if None).
    """
    summary = normalize_summary_keys(dict(summary or {}))
    if metrics is None and isinstance(summary.get("metrics"), dict):
        metrics = summary["metrics"]
    summary = public_summary(summary) or {}
    repo_id = repo_id or "your-org/delocate"
    model_name = repo_id.split("/")[-1]
    data = card_data(model_name, metrics, summary)
    processor_config = processor_config or {}
    num_frames = int(processor_config.get("num_frames") or config.get("num_frames") or 16)
    size = processor_config.get("size") or config.get("image_size")
    architecture = ", ".join(config.get("architectures") or ["DelocateForDeepfakeDetection"])

    evaluation_data = summary.get("evaluation_data")
    evaluation_data = f"Evaluation data: {_short(evaluation_data, 800)}\n\n" if evaluation_data else ""
    if metrics:
        evaluation = evaluation_data + (
            "Numbers in %, from `metrics.json` of `delocate_hf.training.evaluate` (`model-index` above holds the "
            "same values, in %). Detection: fused score, threshold 0.5 for ACC; AUC/EER/AP need both classes in a "
            "subset (– otherwise); ACC uses 0.5, not the calibrated threshold below. Localization: IoU and PBCA of "
            "masks binarised at 0.5 (paper Eq. 5), averaged over "
            "fake clips with ground-truth masks.\n\n" + evaluation_table(metrics) + "\n"
        )
    else:
        evaluation = evaluation_data + "No evaluation results were supplied with this export.\n"

    body = f"""
# {model_name}

**Delocate** ({PAPER_VENUE}) detects deepfake videos *and* localizes the tampered face regions. It learns what real
faces look like by recovering masked facial parts (eyes, cheek & nose, lips) with a VideoMAE masked autoencoder
trained on real faces only, then maps the recovery result to forgery masks with a localization network trained with
meta-learning across manipulation types. This repository holds a `{architecture}` checkpoint of the Hugging Face
implementation (the `delocate-hf` package) with its face processor (`DelocateFaceProcessor`:
video decoding, face landmarks, aligned {size}×{size} face crops, {num_frames} frames per clip) and the remote code
of both (`auto_map`), so it loads with `trust_remote_code=True` without installing the package.

Paper: *{PAPER_TITLE}*, {", ".join(PAPER_AUTHORS)}. {PAPER_VENUE}.

## How to use

{_usage_section(repo_id, revision, num_frames)}
## Training data

{_training_data_section(summary)}
## Training procedure

{_training_procedure_section(config, summary)}
## Evaluation

{evaluation}
## Verdict and calibration

{verdict_section(config)}
## Intended use

- Research on deepfake detection and forgery localization; reproducing and extending the paper's cross-data-set
  experiments.
- Assisting human reviewers (journalists, fact-checkers, trust-and-safety teams) by flagging talking-head videos
  that may be manipulated and showing *where* on the face the evidence is, as one signal among others.

## Out-of-scope use

- Sole or automated basis for decisions about people (moderation without human review, legal evidence,
  employment, journalism verdicts): a score is not proof of manipulation or of authenticity.
- Identifying or tracking people; the model has no notion of identity and must not be used for surveillance.
- Media it was not built for: still images, audio deepfakes, full-body or scene edits, non-face manipulations,
  videos without a visible frontal face, and fully synthetic (text-to-video) content.

## Limitations and bias

- **Generalization**: detectors trained on a few manipulation methods degrade on unseen generators, heavy
  compression, resizing, filters and adversarial perturbations; treat scores on new sources as uncalibrated and
  validate on your own data before choosing a threshold.
- **Face pipeline**: decisions are made on aligned face crops found by MediaPipe FaceMesh landmarks; missed or
  wrongly tracked faces (profile views, occlusion, low light, very small faces) yield no score or a wrong one.
  Frames outside the analysed clips are not inspected.
- **Localization** is coarse: masks are predicted on the {size}×{size} aligned crop (patch-level evidence)
  and pasted back to the frame; they show where the evidence is, not an exact manipulation boundary.
- **Bias**: public deepfake benchmarks (FaceForensics++, Celeb-DF, DFDC, DeeperForensics) over-represent some
  demographics, recording conditions and celebrity/YouTube footage; error rates may differ across skin tones,
  ages, genders and video qualities. No per-group evaluation was made for this checkpoint.
- Detectors and generators co-evolve: a low score does not certify a video as authentic.

## Citation

```bibtex
{CITATION}
```
"""
    return f"---\n{data.to_yaml()}\n---\n{body}"


def parse_card_metadata(text: str) -> dict:
    """YAML header of a README.md text as a dict (empty without a header)."""
    import yaml

    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.DOTALL)
    return (yaml.safe_load(match.group(1)) or {}) if match else {}
