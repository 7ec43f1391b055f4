"""Inference API: the `"deepfake-detection"` pipeline, `detect_video`, `explain`, overlays.

One module per job: `loading` (load_detector, dtype), `devices`, `results` (DetectionResult, FrameResult,
ClipEvidence, Verdict), `detect` (the three detection steps and `detect_video`), `assemble` (step 3; `FrameMasks`,
masks held at the localizer's resolution and pasted into the frame on demand), `mask_files` (`--save-masks` files:
`save_masks`, `load_masks`), `explain` (the recovery view), `overlay` (heat-map video, contact sheet, drawn while
streaming), `progress`, `cli` (`delocate detect`), `pipeline_deepfake`.

Importing this package registers the pipeline task with transformers' `PIPELINE_REGISTRY`, so
`transformers.pipeline("deepfake-detection", model=...)` works (`import delocate_hf` imports it once
`transformers.pipelines` is imported, see `delocate_hf/__init__.py`).
"""

import modeling  # noqa: F401  (AutoModel / AutoConfig registration, needed by pipeline(task, model=folder))
import processing  # noqa: F401  (AutoImageProcessor registration)

from .assemble import FrameMasks
from .detect import detect_video
from .explain import Explanation, explain
from .loading import ModelLoadError, default_model_path, load_detector
from .mask_files import load_masks, save_masks
from .results import DEFAULT_THRESHOLD, NEAR_CHANCE_AUC, ClipEvidence, DetectionResult, FrameResult, Verdict
from .pipeline_deepfake import TASK, DeepfakeDetectionPipeline, register_pipeline

register_pipeline()
pipeline_registration = True  # `from delocate_hf.inference import pipeline_registration` = "make sure it is registered"

__all__ = [
    "ClipEvidence",
    "DEFAULT_THRESHOLD",
    "DeepfakeDetectionPipeline",
    "DetectionResult",
    "Explanation",
    "FrameMasks",
    "FrameResult",
    "ModelLoadError",
    "NEAR_CHANCE_AUC",
    "TASK",
    "default_model_path",
    "detect_video",
    "explain",
    "load_detector",
    "load_masks",
    "register_pipeline",
    "save_masks",
    "Verdict",
]
