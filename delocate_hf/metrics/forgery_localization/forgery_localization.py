"""Forgery localization metric for Delocate: IoU and PBCA of binarised masks (paper Eq. 5, Table 3).

Loadable offline: ``evaluate.load("/abs/path/to/delocate_hf/metrics/forgery_localization")`` or
``delocate_hf.metrics.load_metric("forgery_localization")``. The numbers come from
``delocate_hf.metrics.functional``; see the README.md metric card next to this file.
"""

import datasets
import evaluate

from delocate_hf.metrics.functional import iou, pbca

_DESCRIPTION = """\
Forgery localization metrics: intersection over union (IoU) and pixel-wise binary classification
accuracy (PBCA). Predicted and ground-truth masks are binarised with `>= threshold` (0.5, Eq. 5).
IoU of an image whose prediction and ground truth are both empty is 1.0. `iou`/`pbca` average per-image
values; `iou_micro`/`pbca_micro` pool the pixels of all images.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions (`list` of 2-D float arrays / nested lists): predicted forgery probability maps in [0, 1].
        Images may have different sizes.
    references (`list` of 2-D arrays / nested lists): ground-truth masks (0/1 or in [0, 1]), same sizes.
    threshold (`float`, defaults to 0.5): binarisation threshold (value >= threshold is forged).
Returns:
    iou, pbca (per-image means), iou_micro, pbca_micro (dataset-wide), num_images.
Examples:
    >>> metric = evaluate.load("delocate_hf/metrics/forgery_localization")
    >>> metric.compute(predictions=[[[0.9, 0.1], [0.2, 0.7]]], references=[[[1, 0], [1, 1]]])["iou"]
    0.6666666666666666
"""

_CITATION = """\
@inproceedings{delocate2024,
  author    = {Hu, Juan and Liao, Xin and Gao, Difei and Tsutsui, Satoshi and Wang, Qian and Qin, Zheng and Shou, Mike Zheng},
  title     = {Delocate: Detection and Localization for Deepfake Videos with Randomly-Located Tampered Traces},
  booktitle = {Proceedings of the Thirty-Third International Joint Conference on Artificial Intelligence (IJCAI)},
  year      = {2024}
}
"""

_MASK = datasets.Sequence(datasets.Sequence(datasets.Value("float32")))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ForgeryLocalization(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": _MASK, "references": _MASK}),
            reference_urls=["https://www.ijcai.org/proceedings/2024/"],
        )

    def _compute(self, predictions, references, threshold=0.5):
        return {
            "iou": iou(predictions, references, threshold=threshold, reduction="mean"),
            "pbca": pbca(predictions, references, threshold=threshold, reduction="mean"),
            "iou_micro": iou(predictions, references, threshold=threshold, reduction="micro"),
            "pbca_micro": pbca(predictions, references, threshold=threshold, reduction="micro"),
            "num_images": int(len(predictions)),
        }
