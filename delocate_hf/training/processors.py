"""The processor saved beside every trained model: the one that made its training clips.

The processor owns preprocessing (`processing.DelocateFaceProcessor`, `preprocessor_config.json`). A stage saves,
beside its final model and in every checkpoint, the processor that wrote its face-clip cache
(`delocate_hf.data.preprocess.load_cache_processor`), so a detector preprocesses videos exactly as its training
clips were preprocessed (crop scale, landmark backend, frame sampling, tracking), with

- `size`, `num_frames`, `patch_size`, `tubelet_size`, `image_mean`, `image_std` from the model config: the clip
  the model takes. A cache may hold larger crops or more frames than the model (the demo caches at 2x the model
  size to draw its pseudo-fakes at 2x); training resizes the crops to the model's size and takes `num_frames`
  segment centres of the cached frames, and the saved processor crops the same face region directly at the model's
  size. `sampling="all"` (variable-length caches) becomes `"uniform"`, the sampling training applies to them;
- `mask_strategy`, `mask_ratio`: the token masking of stage 1 (`--mask_strategy`, `--mask_ratio`). Stages 1b and 2
  take them from the processor saved with their `--recovery_checkpoint` (stage 2 masks the recovery model's inputs
  with them), folders saved before this from the model config (what they were masked with then).

The config's `mask_strategy` / `mask_ratio` record the same values (set from the processor), so the model card and
`config.json` say what the recovery model was pretrained with; training reads the processor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

PROCESSOR_FILE = "preprocessor_config.json"
# Settings of the saved processor that come from the model config.
MODEL_SETTINGS = ("size", "num_frames", "patch_size", "tubelet_size", "image_mean", "image_std")
# Settings that may differ between the caches of one run: training brings every clip to the model's shape.
_SHAPE_SETTINGS = ("size", "num_frames")


def model_processor(config, base=None, mask_strategy: str | None = None, mask_ratio: float | None = None):
    """A `DelocateFaceProcessor` with `base`'s settings (default: the processor defaults), the model's clip shape
    and normalisation (`MODEL_SETTINGS` from `config`) and the given token masking (default: the config's)."""
    from processing import DelocateFaceProcessor

    settings = {} if base is None else {k: v for k, v in base.to_dict().items() if k != "auto_map"}
    settings.update(size=int(config.image_size), num_frames=int(config.num_frames), patch_size=int(config.patch_size),
                    tubelet_size=int(config.tubelet_size), image_mean=list(config.image_mean),
                    image_std=list(config.image_std),
                    mask_strategy=config.mask_strategy if mask_strategy is None else mask_strategy,
                    mask_ratio=float(config.mask_ratio if mask_ratio is None else mask_ratio))
    if settings.get("sampling") == "all":
        settings["sampling"] = "uniform"
    return DelocateFaceProcessor.from_dict(settings)


def folder_processor(folder):
    """The processor saved in a model folder, or `None` when it has none (folders of older versions)."""
    from processing import DelocateFaceProcessor

    if folder is None or not (Path(folder) / PROCESSOR_FILE).is_file():
        return None
    return DelocateFaceProcessor.from_pretrained(folder)


def cache_processor(paths: str | Path | Sequence[str | Path]):
    """The processor that wrote the face-clip cache(s) `paths`; `None` when none of them records one (plain
    `Dataset.save_to_disk` folders). Raises ValueError when two caches were cropped differently (they cannot share
    one processor); their `size` / `num_frames` may differ."""
    from delocate_hf.data.preprocess import load_cache_processor

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found = [(Path(p), load_cache_processor(p)) for p in paths]
    found = [(path, processor) for path, processor in found if processor is not None]
    if not found:
        return None
    return _one_cropping(found, "face-clip caches {} and {} were preprocessed differently ({}); one model needs "
                                "clips of one processor: rebuild one of them")


def _one_cropping(named: list, message: str):
    """The first processor of `(name, processor)` pairs; ValueError (`message` formatted with the two names and
    the differing settings) when another one crops differently (`crop_settings` other than size / num_frames)."""
    from delocate_hf.data.preprocess import crop_settings

    def cropping(processor):
        return {k: v for k, v in crop_settings(processor).items() if k not in _SHAPE_SETTINGS}

    (first_name, first), *rest = named
    expected = cropping(first)
    for name, processor in rest:
        other = cropping(processor)
        differ = sorted(k for k in expected.keys() | other.keys() if expected.get(k) != other.get(k))
        if differ:
            details = ", ".join(f"{k} {expected.get(k)!r} vs {other.get(k)!r}" for k in differ)
            raise ValueError(message.format(first_name, name, details))
    return first


def stage_processor(train_data, config, mask_strategy: str | None = None, mask_ratio: float | None = None,
                    masking_from=None):
    """The processor a training stage saves: the caches' processor (`cache_processor`; processor defaults for plain
    folders) in the model's shape (`model_processor`), masking with `mask_strategy` / `mask_ratio` when given
    (stage 1), else with the masking of the processor saved in the folder `masking_from` (stages 1b and 2: the
    recovery checkpoint), else with the config's."""
    if mask_strategy is None:
        source = folder_processor(masking_from)
        if source is not None:
            mask_strategy, mask_ratio = source.mask_strategy, source.mask_ratio
    return model_processor(config, cache_processor(train_data), mask_strategy, mask_ratio)


def record_masking(config, processor) -> None:
    """Writes the processor's token masking into the config (what `config.json` and the model card show)."""
    config.mask_strategy, config.mask_ratio = processor.mask_strategy, float(processor.mask_ratio)
    config.check_values()


def detector_processor(config, *folders):
    """The processor of a detector assembled from stage folders: the first of `folders` that has one (in the
    detector's shape), else `model_processor(config)` (stage folders of older versions). Raises ValueError when the
    stages' processors crop differently (they were trained on different caches)."""
    found = [(folder, folder_processor(folder)) for folder in folders if folder is not None]
    found = [(folder, processor) for folder, processor in found if processor is not None]
    if not found:
        return model_processor(config)
    first = _one_cropping(found, "stages {} and {} were trained on differently preprocessed clips ({}); assemble "
                                 "stages trained on the same caches")
    return model_processor(config, first, first.mask_strategy, first.mask_ratio)


def save_with_checkpoints(accelerator, processor) -> None:
    """Saves `processor` into every `save_state` checkpoint folder of this run (main process)."""
    def hook(models, weights, output_dir):
        if accelerator.is_main_process:
            processor.save_pretrained(output_dir)

    accelerator.register_save_state_pre_hook(hook)


__all__ = ["MODEL_SETTINGS", "cache_processor", "detector_processor", "folder_processor", "model_processor",
           "record_masking", "save_with_checkpoints", "stage_processor"]
