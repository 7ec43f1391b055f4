"""delocate-hf: Hugging Face-native Delocate deepfake detection and forgery localization."""

__version__ = "0.1.0"
