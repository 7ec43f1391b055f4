"""delocate-hf: Hugging Face-native Delocate (IJCAI 2024) deepfake-video detection with forgery localization.

Importing this package registers the Delocate classes with transformers' Auto classes
(`AutoConfig`, `AutoModel`, `AutoModelForPreTraining`, `AutoModelForVideoClassification`,
`AutoModelForImageSegmentation`) and the face processor with `AutoImageProcessor`.
"""

__version__ = "0.1.0"

from modeling import (  # noqa: E402  (registers the Auto classes)
    DelocateConfig,
    DelocateForDeepfakeDetection,
    DelocateForForgeryLocalization,
    DelocateForMaskedRecovery,
    DelocateForVideoClassification,
    DelocatePreTrainedModel,
)
from processing.errors import (  # noqa: E402
    DelocateInputError,
    NoFaceDetectedError,
    VideoDecodeError,
    VideoTooShortError,
)
from .inference import pipeline_registration  # noqa: E402,F401  (registers the "deepfake-detection" pipeline)

__all__ = [
    "DelocateConfig",
    "DelocatePreTrainedModel",
    "DelocateForMaskedRecovery",
    "DelocateForVideoClassification",
    "DelocateForForgeryLocalization",
    "DelocateForDeepfakeDetection",
    "DelocateInputError",
    "NoFaceDetectedError",
    "VideoDecodeError",
    "VideoTooShortError",
]
