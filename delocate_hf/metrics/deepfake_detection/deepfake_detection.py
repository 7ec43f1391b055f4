"""Deepfake detection metric for Delocate: AUC, EER (+ threshold), AP and accuracy.

Loadable offline: ``evaluate.load("/abs/path/to/delocate_hf/metrics/deepfake_detection")`` or
``delocate_hf.metrics.load_metric("deepfake_detection")``. The numbers come from
``delocate_hf.metrics.functional``; see the README.md metric card next to this file.
"""

import datasets
import evaluate

from delocate_hf.metrics.functional import (
    accuracy,
    average_precision,
    equal_error_rate,
    roc_auc,
    video_level_labels,
    video_level_scores,
)

_DESCRIPTION = """\
Binary deepfake detection metrics (label 1 = fake, 0 = real; a higher score means more likely fake):
ROC AUC (ties count 1/2), equal error rate (FPR == FNR, interpolated on the ROC) and its threshold,
average precision (step-wise, as scikit-learn) and accuracy at a fixed threshold (score >= threshold).
Optionally aggregates frame/clip scores to video level first (`video_ids`, `reduce`).
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions (`list` of `float`): fake-probability (or any fake score) per sample.
    references (`list` of `int`): 0 = real, 1 = fake.
    threshold (`float`, defaults to 0.5): decision threshold for `accuracy` (score >= threshold is fake).
    video_ids (`list`, optional): one id per prediction; scores are aggregated per video with `reduce`
        and the labels of a video must agree.
    reduce (`str`, defaults to "mean"): "mean", "max" or "median" aggregation for `video_ids`.
Returns:
    auc (`float`), eer (`float`), eer_threshold (`float`), ap (`float`), accuracy (`float`),
    num_samples (`int`, after video aggregation).
Examples:
    >>> metric = evaluate.load("delocate_hf/metrics/deepfake_detection")
    >>> metric.compute(predictions=[0.1, 0.4, 0.35, 0.8], references=[0, 0, 1, 1])["auc"]
    0.75
"""

_CITATION = """\
@inproceedings{delocate2024,
  author    = {Hu, Juan and Liao, Xin and Gao, Difei and Tsutsui, Satoshi and Wang, Qian and Qin, Zheng and Shou, Mike Zheng},
  title     = {Delocate: Detection and Localization for Deepfake Videos with Randomly-Located Tampered Traces},
  booktitle = {Proceedings of the Thirty-Third International Joint Conference on Artificial Intelligence (IJCAI)},
  year      = {2024}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DeepfakeDetection(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float32"), "references": datasets.Value("int32")}
            ),
            reference_urls=["https://www.ijcai.org/proceedings/2024/"],
        )

    def _compute(self, predictions, references, threshold=0.5, video_ids=None, reduce="mean"):
        scores, labels = predictions, references
        if video_ids is not None:
            ids, scores = video_level_scores(predictions, video_ids, reduce=reduce)
            _, labels = video_level_labels(references, video_ids)
        eer, eer_threshold = equal_error_rate(labels, scores)
        return {
            "auc": roc_auc(labels, scores),
            "eer": eer,
            "eer_threshold": eer_threshold,
            "ap": average_precision(labels, scores),
            "accuracy": accuracy(labels, scores, threshold=threshold),
            "num_samples": int(len(scores)),
        }
