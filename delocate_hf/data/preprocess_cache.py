"""The on-disk face-clip cache (part of :mod:`delocate_hf.data.preprocess`, which re-exports the public names; import
them from there; the ``preprocess`` module docstring shows the folder layout): the cache key's processor settings
(:func:`crop_settings`: those that change the crops), the manifest, the shards (complete only with their
``_SUCCESS.json``), the error lists, and reopening a cache: :func:`load_preprocessed` (the clips, memory-mapped) and
:func:`load_cache_processor` (the processor that wrote it).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from datasets import Dataset, Features, concatenate_datasets, load_from_disk

from .preprocess_schema import ERROR_FEATURES, PreprocessResult

__all__ = ["CACHE_VERSION", "crop_settings", "load_cache_processor", "load_preprocessed"]

CACHE_VERSION = 1

# Processor settings that do not change what is cached (normalisation, token masking).
_SETTINGS_NOT_CACHED = {
    "image_mean",
    "image_std",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "mask_strategy",
    "mask_ratio",
    "patch_size",
    "tubelet_size",
    "auto_map",  # added by save_pretrained: a loaded processor caches what a fresh one does
}


# --------------------------------------------------------------------------- cache bookkeeping
def _processor_settings(processor) -> dict:
    settings = {k: v for k, v in processor.to_dict().items() if k not in _SETTINGS_NOT_CACHED}
    settings["image_processor_type"] = type(processor).__name__
    return settings


def _saved_settings(processor) -> dict:
    """What ``processor.save_pretrained`` writes to preprocessor_config.json (less ``auto_map``)."""
    settings = json.loads(processor.to_json_string())
    settings.pop("auto_map", None)
    return settings


def crop_settings(processor) -> dict:
    """The settings of a processor (or of its ``to_dict()``) that decide the cached clips: everything but the
    normalisation, the token masking and the class name (the cache key's processor settings)."""
    settings = processor if isinstance(processor, Mapping) else processor.to_dict()
    return {k: v for k, v in settings.items() if k not in _SETTINGS_NOT_CACHED and k != "image_processor_type"}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:32]


def _shard_dir(cache_dir: Path, k: int) -> Path:
    return cache_dir / "shards" / f"{k:05d}"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _shard_is_complete(folder: Path, key: str | None) -> bool:
    done = _read_json(folder / "_SUCCESS.json")
    if not done or (key is not None and done.get("key") != key):
        return False
    return done.get("num_clips", 1) == 0 or (folder / "data").is_dir()


def _load_shard(folder: Path) -> Dataset | None:
    """The clips of a complete shard (``None`` when every video of it failed: nothing was saved)."""
    return load_from_disk(str(folder / "data")) if (folder / "data").is_dir() else None


def _read_errors(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _errors_dataset(rows: Iterable[Mapping]) -> Dataset:
    rows = [{name: row.get(name) for name in ERROR_FEATURES} for row in rows]
    if not rows:
        return Dataset.from_dict({name: [] for name in ERROR_FEATURES}, features=ERROR_FEATURES)
    return Dataset.from_list(rows, features=ERROR_FEATURES)



def _concatenate(parts: list[Dataset | None], features: Features) -> Dataset:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return Dataset.from_dict({name: [] for name in features}, features=features)
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def load_preprocessed(cache_dir: str | os.PathLike) -> PreprocessResult:
    """Reopen a cache written by :func:`preprocess_dataset` (memory-mapped, nothing recomputed).

    Raises ``FileNotFoundError`` when the folder has no ``manifest.json`` or a shard is missing /
    unfinished (run :func:`preprocess_dataset` again with the same arguments to finish it).
    """
    cache = Path(cache_dir).expanduser().absolute()
    manifest = _read_json(cache / "manifest.json")
    if manifest is None:
        raise FileNotFoundError(f"{cache} is not a face-clip cache: manifest.json is missing or unreadable")
    parts, error_rows, unfinished = [], [], []
    for k in range(int(manifest["num_shards"])):
        folder = _shard_dir(cache, k)
        if not _shard_is_complete(folder, None):
            unfinished.append(k)
            continue
        parts.append(_load_shard(folder))
        error_rows += _read_errors(folder / "errors.jsonl")
    if unfinished:
        raise FileNotFoundError(
            f"{cache}: shard(s) {unfinished} of {manifest['num_shards']} are not finished; "
            "run preprocess_dataset again with the same records and settings to complete the cache"
        )
    features = Features.from_dict(manifest["features"])
    return PreprocessResult(_concatenate(parts, features), _errors_dataset(error_rows), cache, [], list(range(len(parts))))


def load_cache_processor(cache_dir: str | os.PathLike):
    """The :class:`processing.DelocateFaceProcessor` that wrote a cache: its saved settings from the manifest's
    ``preprocessor_config`` (caches written before it was recorded: the manifest's cache-key settings, which are
    every setting that changes the crops, with the normalisation and token-masking ones at the processor's
    defaults). ``None`` for a folder without ``manifest.json`` (e.g. a plain ``Dataset.save_to_disk`` folder).
    Settings the processor does not know (a subclass's own) are left out."""
    import inspect

    from processing import DelocateFaceProcessor

    manifest = _read_json(Path(cache_dir).expanduser() / "manifest.json")
    if manifest is None:
        return None
    settings = manifest.get("preprocessor_config") or manifest.get("processor")
    if not isinstance(settings, dict):
        raise ValueError(f"{cache_dir}/manifest.json records no processor settings")
    known = set(inspect.signature(DelocateFaceProcessor.__init__).parameters) - {"self", "kwargs"}
    return DelocateFaceProcessor(**{k: v for k, v in settings.items() if k in known})
