"""Face-ROI processing: video decoding, face landmarks, aligned crops, facial-part ROI masks."""

from .errors import DelocateInputError, NoFaceDetectedError, VideoDecodeError, VideoTooShortError

__all__ = ["DelocateInputError", "NoFaceDetectedError", "VideoDecodeError", "VideoTooShortError"]
