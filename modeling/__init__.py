"""Delocate configuration and models, registered with transformers' Auto classes.

| Auto class                        | Delocate class                     | stage |
|-----------------------------------|------------------------------------|-------|
| AutoConfig                        | DelocateConfig                     | all   |
| AutoModel                         | DelocateForDeepfakeDetection       | fused detector |
| AutoModelForPreTraining           | DelocateForMaskedRecovery          | 1  (ROI-masked recovery) |
| AutoModelForVideoClassification   | DelocateForVideoClassification     | 1b (fine-tuned encoder) |
| AutoModelForImageSegmentation     | DelocateForForgeryLocalization     | 2  (mapping + localization) |
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForImageSegmentation,
    AutoModelForPreTraining,
    AutoModelForVideoClassification,
)

from .configuration_delocate import LOCALIZATION_LOSSES, MASK_STRATEGIES, SCORE_FUSIONS, DelocateConfig
from .modeling_delocate import (
    DelocateForDeepfakeDetection,
    DelocateForForgeryLocalization,
    DelocateForMaskedRecovery,
    DelocateForVideoClassification,
    DelocatePreTrainedModel,
)
from .modeling_outputs_delocate import (
    DelocateDeepfakeDetectionOutput,
    DelocateForgeryLocalizationOutput,
    DelocateMaskedRecoveryOutput,
    DelocateVideoClassifierOutput,
)

AutoConfig.register(DelocateConfig.model_type, DelocateConfig, exist_ok=True)
AutoModel.register(DelocateConfig, DelocateForDeepfakeDetection, exist_ok=True)
AutoModelForPreTraining.register(DelocateConfig, DelocateForMaskedRecovery, exist_ok=True)
AutoModelForVideoClassification.register(DelocateConfig, DelocateForVideoClassification, exist_ok=True)
AutoModelForImageSegmentation.register(DelocateConfig, DelocateForForgeryLocalization, exist_ok=True)

__all__ = [
    "LOCALIZATION_LOSSES",
    "MASK_STRATEGIES",
    "SCORE_FUSIONS",
    "DelocateConfig",
    "DelocatePreTrainedModel",
    "DelocateForMaskedRecovery",
    "DelocateForVideoClassification",
    "DelocateForForgeryLocalization",
    "DelocateForDeepfakeDetection",
    "DelocateMaskedRecoveryOutput",
    "DelocateVideoClassifierOutput",
    "DelocateForgeryLocalizationOutput",
    "DelocateDeepfakeDetectionOutput",
]
