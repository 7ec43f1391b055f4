"""The `"deepfake-detection"` transformers pipeline (registered on import of `delocate_hf`).

```python
import delocate_hf  # registers the task
from transformers import pipeline

detector = pipeline("deepfake-detection", model="path/to/detector")
result = detector("video.mp4", num_frames=16)  # or frames (T, H, W, 3) uint8 RGB
result["label"], result["score"], result["warning"]   # "real"/"fake"/"inconclusive", P(fake), reliability note
results = detector(["a.mp4", "b.mp4"])  # one result or one {"video", "error", "error_type"} entry per input
```

It is a `ChunkPipeline`: `preprocess` yields one clip of `model.config.num_frames` frames at a time (sampled by
`processing.video_io.iter_clips`), `_forward` runs the detector on it, `postprocess` fuses the clips. All three
steps are the functions of `delocate_hf.inference.detect`, so the output equals `detect_video(...).to_dict()`.

Call parameters: `num_frames` (frames to analyse, rounded up to a multiple of the clip length; default one clip),
`threshold` (default: the model's calibrated `config.decision_threshold` with its inconclusive band; a number
replaces both), `faces` (`"all"`, the default: every face analysed as its own track, the video score the highest
track score; `"largest"`: the largest face only), `progress` (progress bar on stderr for long work; default: only
on a terminal), `explain`
(True: add `"explanation"`, `inference.explain(...).to_dict()` of the most suspicious clip: face, ROI-masked face,
recovery and its error; the clips' face crops are kept until postprocess), `errors` (a list of inputs:
`"return"` (default) gives a `{"video", "error", "error_type"}` entry for an input that is bad input - no face,
undecodable, too short - and goes on, as `delocate detect` does; `"raise"` raises the first such error).

Exported models ship this module with `detect.py`, `results.py`, `explain.py`, `progress.py` and `devices.py` as
remote code (`custom_pipelines` in config.json, see `delocate_hf.hub.export`), so it imports only transformers,
the files beside it and, through `processing.<module>` imports rewritten to `.<module>`, the processor's files.
"""

from __future__ import annotations

import os

from transformers import AutoModel
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.base import ChunkPipeline

from .detect import assemble_result, check_faces, clip_length, forward_clip, is_bad_input, iter_clip_inputs
from .explain import explain as explain_result

TASK = "deepfake-detection"
ERROR_MODES = ("return", "raise")


def _input_name(item, position: int) -> str:
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return f"input {position}"


class DeepfakeDetectionPipeline(ChunkPipeline):
    """Video deepfake detection + forgery localization with a `DelocateForDeepfakeDetection` model and the
    `DelocateFaceProcessor` saved next to it (preprocessor_config.json).

    Returns a dict: `label` ("real", "fake" or "inconclusive", from the model's calibrated `decision_threshold` and
    `inconclusive_band`), `score` (float, probability of fake), `threshold`, `inconclusive_band`, `calibration`
    ("calibrated" / "near_chance" / "not_calibrated"), `calibration_auc`, `warning` (the sentence to show beside
    the verdict when the model is not calibrated or near chance on held-out data, else None), `frames` (list of
    `{index, score, face_box, localized, face_found}`), `masks` (float32 `(N, H, W)` in [0, 1], original-frame
    coordinates), `frame_indices` (N ints), plus `clip_scores`, `frame_size`, `fps`, `total_frames`,
    `skipped_clips`, `max_faces`, `notes` (skipped clips without a face, several faces, ...), `tracks` (every face:
    `{track_id, label, score, clip_scores, frames, frame_indices, padded_frames, masks}`), `best_track` (the
    top-level frames and masks are its), `faces`, `score_rule` (the video score is the maximum over the tracks),
    and `explanation` with `explain=True`. A list of inputs gives a list: per input its result or, for bad input, an
    error entry
    `{"video", "error", "error_type"}` (`errors="raise"` to raise instead).
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

    def _sanitize_parameters(self, num_frames=None, threshold=None, progress=None, explain=None, faces=None, **kwargs):
        preprocess, forward, postprocess = {}, {}, {}
        if faces is not None:
            preprocess["faces"] = check_faces(faces)
        if num_frames is not None:
            preprocess["num_frames"] = int(num_frames)
        if progress is not None:
            preprocess["progress"] = bool(progress)
        if threshold is not None:
            postprocess["threshold"] = float(threshold)
        if explain is not None:
            forward["keep_pixels"] = postprocess["explain"] = bool(explain)
        return preprocess, forward, postprocess

    def __call__(self, inputs, errors: str = "return", **kwargs):
        """`inputs`: a video path, frames `(T, H, W, 3)` uint8 RGB, or a list of them. A single input raises its
        bad-input error (a one-line `DelocateInputError`); a list gives one entry per input (see `errors`)."""
        if errors not in ERROR_MODES:
            raise ValueError(f"errors must be one of {ERROR_MODES}, got {errors!r}")
        if not isinstance(inputs, (list, tuple)):
            return super().__call__(inputs, **kwargs)
        results = []
        for position, item in enumerate(inputs):
            try:
                results.append(super().__call__(item, **kwargs))
            except Exception as error:  # bad input only (`is_bad_input`); anything else is a bug and raises
                if errors == "raise" or not is_bad_input(error):
                    raise
                results.append({"video": _input_name(item, position), "error": str(error),
                                "error_type": type(error).__name__})
        return results

    def preprocess(self, video, num_frames=None, progress=None, faces="all"):
        yield from iter_clip_inputs(video, self.image_processor, clip_length(self.model), num_frames, progress, faces)

    def _forward(self, model_inputs, keep_pixels=False):
        return forward_clip(self.model, model_inputs, keep_pixels=keep_pixels)

    def postprocess(self, model_outputs, threshold=None, explain=False):
        result = assemble_result(model_outputs, self.image_processor, threshold, config=self.model.config)
        out = result.to_dict()
        if explain:
            out["explanation"] = explain_result(result, self.model, self.image_processor).to_dict()
        return out


def register_pipeline() -> None:
    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=DeepfakeDetectionPipeline, pt_model=AutoModel, type="video"
    )


__all__ = ["DeepfakeDetectionPipeline", "ERROR_MODES", "TASK", "register_pipeline"]
