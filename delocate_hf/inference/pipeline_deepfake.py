"""The `"deepfake-detection"` transformers pipeline (registered on import of `delocate_hf`).

```python
import delocate_hf  # registers the task
from transformers import pipeline

detector = pipeline("deepfake-detection", model="path/or/hub-id")
result = detector("video.mp4", num_frames=16)  # or frames (T, H, W, 3) uint8 RGB
result["label"], result["score"], result["masks"].shape  # "fake"/"real", P(fake), (N, H, W)
```

It is a `ChunkPipeline`: `preprocess` yields one clip of `model.config.num_frames` frames at a time (sampled by
`processing.video_io.iter_clips`), `_forward` runs the detector on it, `postprocess` fuses the clips. All three
steps are the functions of `delocate_hf.inference.detect`, so the output equals `detect_video(...).to_dict()`.

Call parameters: `num_frames` (frames to analyse, rounded up to a multiple of the clip length; default one clip),
`threshold` (0.5), `progress` (progress bar on stderr for long work; default: only on a terminal), `explain`
(True: add `"explanation"`, `inference.explain(...).to_dict()` of the most suspicious clip: face, ROI-masked face,
recovery and its error; the clips' face crops are kept until postprocess).
"""

from __future__ import annotations

from transformers import AutoModel
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.base import ChunkPipeline

from .detect import DEFAULT_THRESHOLD, assemble_result, clip_length, forward_clip, iter_clip_inputs
from .explain import explain as explain_result

TASK = "deepfake-detection"


class DeepfakeDetectionPipeline(ChunkPipeline):
    """Video deepfake detection + forgery localization with a `DelocateForDeepfakeDetection` model and the
    `DelocateFaceProcessor` saved next to it (preprocessor_config.json).

    Returns a dict: `label` ("fake"/"real"), `score` (float, probability of fake), `frames` (list of
    `{index, score, face_box}`), `masks` (float32 `(N, H, W)` in [0, 1], original-frame coordinates),
    `frame_indices` (N ints), plus `clip_scores`, `frame_size`, `fps`, `total_frames`, `skipped_clips`, and
    `explanation` with `explain=True`.
    """

    _load_processor = False
    _load_image_processor = True
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.image_processor is None:
            raise ValueError(
                "the deepfake-detection pipeline needs the DelocateFaceProcessor: save it next to the model "
                "(processor.save_pretrained(folder)) or pass image_processor="
            )

    def _sanitize_parameters(self, num_frames=None, threshold=None, progress=None, explain=None, **kwargs):
        preprocess, forward, postprocess = {}, {}, {}
        if num_frames is not None:
            preprocess["num_frames"] = int(num_frames)
        if progress is not None:
            preprocess["progress"] = bool(progress)
        if threshold is not None:
            postprocess["threshold"] = float(threshold)
        if explain is not None:
            forward["keep_pixels"] = postprocess["explain"] = bool(explain)
        return preprocess, forward, postprocess

    def __call__(self, inputs, **kwargs):
        """`inputs`: a video path, frames `(T, H, W, 3)` uint8 RGB, or a list of paths."""
        return super().__call__(inputs, **kwargs)

    def preprocess(self, video, num_frames=None, progress=None):
        yield from iter_clip_inputs(video, self.image_processor, clip_length(self.model), num_frames, progress)

    def _forward(self, model_inputs, keep_pixels=False):
        return forward_clip(self.model, model_inputs, keep_pixels=keep_pixels)

    def postprocess(self, model_outputs, threshold=DEFAULT_THRESHOLD, explain=False):
        result = assemble_result(model_outputs, self.image_processor, threshold)
        out = result.to_dict()
        if explain:
            out["explanation"] = explain_result(result, self.model, self.image_processor).to_dict()
        return out


def register_pipeline() -> None:
    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=DeepfakeDetectionPipeline, pt_model=AutoModel, type="video"
    )


__all__ = ["DeepfakeDetectionPipeline", "TASK", "register_pipeline"]
