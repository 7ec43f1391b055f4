"""Face-ROI processing: video decoding, face landmarks, aligned crops, facial-part ROI masks.

Importing this package registers `DelocateFaceProcessor` with `AutoImageProcessor` for `DelocateConfig`
(model_type "delocate"), so `AutoImageProcessor.from_pretrained(folder)` works in-process.
"""

from .alignment import AlignedFaces, align_faces, paste_back
from .errors import DelocateInputError, NoFaceDetectedError, VideoDecodeError, VideoTooShortError
from .face_parts import PARTS, part_boxes
from .image_processing_delocate import DelocateFaceProcessor
from .landmarks import (
    Dlib68Landmarker,
    FaceLandmarks,
    FaceTrack,
    LandmarkBackend,
    MediaPipeLandmarker,
    get_landmarker,
    track_faces,
)
from .video_io import VideoClip, VideoWriter, iter_video_frames, read_video, write_video
from .visualize import draw_roi_boxes, draw_token_mask, save_roi_figure


def register_auto_classes() -> bool:
    """Register `DelocateFaceProcessor` for `DelocateConfig` with `AutoImageProcessor`; False if the config is
    not importable (then `DelocateFaceProcessor.from_pretrained` still works)."""
    try:
        from modeling.configuration_delocate import DelocateConfig
    except ImportError:
        return False
    from transformers import AutoImageProcessor

    AutoImageProcessor.register(DelocateConfig, image_processor_classes={"pil": DelocateFaceProcessor}, exist_ok=True)
    return True


register_auto_classes()

__all__ = [
    "AlignedFaces",
    "DelocateFaceProcessor",
    "DelocateInputError",
    "Dlib68Landmarker",
    "FaceLandmarks",
    "FaceTrack",
    "LandmarkBackend",
    "MediaPipeLandmarker",
    "NoFaceDetectedError",
    "PARTS",
    "VideoClip",
    "VideoDecodeError",
    "VideoTooShortError",
    "align_faces",
    "draw_roi_boxes",
    "draw_token_mask",
    "get_landmarker",
    "iter_video_frames",
    "paste_back",
    "part_boxes",
    "read_video",
    "register_auto_classes",
    "save_roi_figure",
    "track_faces",
    "VideoWriter",
    "write_video",
]
