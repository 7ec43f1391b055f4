"""The model repository folder (part of :mod:`delocate_hf.hub.export`, which re-exports these names; import them
from there): :func:`export_model_folder` re-saves a Delocate checkpoint (config.json with ``auto_map``,
model.safetensors, the modeling remote code), copies its trained processor, adds the pipeline's remote code
(``remote_code.save_pipeline_code``), checks the folder loads without this package, and writes metrics.json and the
model card (:func:`write_model_card`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .export_common import HubExportError, check_metrics, load_json_arg, prepare_output_dir
from .model_card import MetricsFormatError, build_model_card
from .remote_code import save_pipeline_code, verify_remote_code

__all__ = ["export_model_folder", "write_model_card"]


# -------------------------------------------------------------------------------------------- model folder


def _load_model(model_dir: Path):
    import modeling

    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise HubExportError(f"{model_dir} is not a model folder (no config.json)")
    config = json.loads(config_path.read_text())
    if config.get("model_type") != "delocate":
        raise HubExportError(f"{model_dir} is not a Delocate checkpoint (model_type {config.get('model_type')!r})")
    architectures = config.get("architectures") or ["DelocateForDeepfakeDetection"]
    model_class = getattr(modeling, architectures[0], None)
    if model_class is None or not issubclass(model_class, modeling.DelocatePreTrainedModel):
        raise HubExportError(f"{model_dir}: unknown Delocate architecture {architectures[0]!r}")
    model, info = model_class.from_pretrained(model_dir, output_loading_info=True)
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise HubExportError(f"{model_dir}: checkpoint is incomplete ({len(missing)} missing weights, "
                             f"e.g. {missing[0]})")
    return model


def _save_processor(model_dir: Path, model, out_dir: Path) -> None:
    """Copies the trained processor (the folder's preprocessor_config.json, what training saved: the processor of its
    training clips); a folder without one gets the processor of its config (`training.processors.model_processor`),
    with a note."""
    from delocate_hf.training.processors import PROCESSOR_FILE, folder_processor, model_processor

    processor = folder_processor(model_dir)
    if processor is None:
        processor = model_processor(model.config)
        print(f"note: {model_dir} has no {PROCESSOR_FILE}; exporting the processor matching its config",
              file=sys.stderr)
    config = model.config
    if (processor.size, processor.num_frames) != (config.image_size, config.num_frames):
        raise HubExportError(f"{model_dir}: {PROCESSOR_FILE} gives {processor.num_frames} frames of {processor.size} "
                             f"px, the model takes {config.num_frames} of {config.image_size}")
    processor.save_pretrained(out_dir)


def export_model_folder(model_dir, out_dir, metrics=None, summary=None, repo_id: str | None = None,
                        revision: str | None = None, overwrite: bool = False) -> Path:
    """Writes the model repository folder (see module doc) to out_dir (created; must be empty unless overwrite).

    metrics: dict or path of `metrics.json` (or of the evaluate output folder; default: model_dir/metrics.json
    when there is one); summary: dict or JSON path of a training summary; repo_id: the Hub id shown in the card's
    snippets; revision: commit to pin in them."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise HubExportError(f"model folder not found: {model_dir}")
    if metrics is None and (model_dir / "metrics.json").is_file():
        metrics = model_dir / "metrics.json"
    metrics = load_json_arg(metrics, "metrics", "metrics.json")
    check_metrics(metrics)
    summary = load_json_arg(summary, "summary", "summary.json")
    out_dir = prepare_output_dir(out_dir, overwrite)
    model = _load_model(model_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    _save_processor(model_dir, model, out_dir)
    save_pipeline_code(out_dir)
    verify_remote_code(out_dir)
    if metrics is not None:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_model_card(out_dir, metrics=metrics, summary=summary, repo_id=repo_id, revision=revision)
    return out_dir


def write_model_card(folder, metrics=None, summary=None, repo_id=None, revision=None) -> Path:
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    processor_path = folder / "preprocessor_config.json"
    processor_config = json.loads(processor_path.read_text()) if processor_path.is_file() else None
    try:
        text = build_model_card(config, metrics=metrics, summary=summary, repo_id=repo_id,
                                processor_config=processor_config, revision=revision)
    except MetricsFormatError as error:
        raise HubExportError(f"metrics: {error}") from None
    path = folder / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
