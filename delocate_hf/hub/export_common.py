"""What every export step shares (part of :mod:`delocate_hf.hub.export`, which re-exports these names; import them
from there): the one error type (:class:`HubExportError`, a one-line message), the repository root, whether the Hub
is offline, the checks of the command's arguments (a metrics / summary JSON, a repo id) and the output folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .model_card import MetricsFormatError, eval_results

__all__ = ["HubExportError", "check_metrics", "check_repo_id", "folder_files", "hub_offline", "load_json_arg",
           "prepare_output_dir", "repo_root"]


class HubExportError(RuntimeError):
    """An export or push that cannot go on; the message is one line."""


# ------------------------------------------------------------------------------------------------ helpers


def repo_root() -> Path:
    """Folder that holds the `delocate_hf`, `modeling`, `processing`, `spaces_app` packages."""
    return Path(__file__).resolve().parents[2]


def hub_offline() -> bool:
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    return env or bool(constants.is_offline_mode())


def load_json_arg(value, name: str, default_file: str) -> dict | None:
    """None, a dict, a .json file, or a folder holding `default_file` -> dict."""
    if value is None or isinstance(value, dict):
        return value
    path = Path(value)
    if path.is_dir():
        path = path / default_file
    if not path.is_file():
        raise HubExportError(f"{name} file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise HubExportError(f"{name} file {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise HubExportError(f"{name} file {path} must hold a JSON object")
    return data


def check_metrics(metrics: dict | None) -> None:
    """Fails early (before any export work) on a metrics dict that the model card cannot use."""
    if metrics is None:
        return
    try:
        eval_results(metrics)
    except MetricsFormatError as error:
        raise HubExportError(f"metrics: {error}") from None


def check_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except Exception as error:  # HFValidationError
        raise HubExportError(f"invalid --repo-id {repo_id!r}: {' '.join(str(error).split())[:200]}") from None
    if "/" not in repo_id:
        raise HubExportError(f"invalid --repo-id {repo_id!r}: expected 'namespace/name'")
    return repo_id


def prepare_output_dir(out_dir, overwrite: bool = False) -> Path:
    """An empty folder to write to: a non-empty one is refused unless overwrite (then it is emptied)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise HubExportError(f"{out_dir} exists and is not a folder")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise HubExportError(f"{out_dir} is not empty: choose an empty folder or pass --overwrite")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def folder_files(folder: Path) -> list[str]:
    """Relative POSIX paths of every file under folder, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())
