"""Inference API: the `"deepfake-detection"` pipeline, `detect_video`, overlays.

Importing this package (done by `import delocate_hf`) registers the pipeline task with transformers'
`PIPELINE_REGISTRY`, so `transformers.pipeline("deepfake-detection", model=...)` works.
"""

import modeling  # noqa: F401  (AutoModel / AutoConfig registration, needed by pipeline(task, model=folder))
import processing  # noqa: F401  (AutoImageProcessor registration)

from .detect import (
    DEFAULT_THRESHOLD,
    DetectionResult,
    FrameResult,
    ModelLoadError,
    default_model_path,
    detect_video,
    load_detector,
)
from .pipeline_deepfake import TASK, DeepfakeDetectionPipeline, register_pipeline

register_pipeline()
pipeline_registration = True  # `from delocate_hf.inference import pipeline_registration` = "make sure it is registered"

__all__ = [
    "DEFAULT_THRESHOLD",
    "DeepfakeDetectionPipeline",
    "DetectionResult",
    "FrameResult",
    "ModelLoadError",
    "TASK",
    "default_model_path",
    "detect_video",
    "load_detector",
    "register_pipeline",
]
