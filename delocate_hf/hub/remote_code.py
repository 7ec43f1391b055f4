"""Remote code of an exported model folder (part of :mod:`delocate_hf.hub.export`, which re-exports these names;
import them from there): :func:`verify_remote_code` checks that every ``auto_map`` / ``custom_pipelines`` class is
defined in a file of the folder, that every file they import relatively is there too, and that none imports the
project packages; :func:`save_pipeline_code` ships the ``"deepfake-detection"`` pipeline (``PIPELINE_FILES`` of
``delocate_hf/inference/`` with their ``processing.X`` imports made relative, and the processing files they need).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from .export_common import HubExportError, repo_root

__all__ = ["PIPELINE_ENTRY", "PIPELINE_FILES", "PIPELINE_TASK", "REMOTE_CODE_FORBIDDEN", "auto_map_entries",
           "save_pipeline_code", "verify_remote_code"]

REMOTE_CODE_FORBIDDEN = ("delocate_hf", "modeling", "processing", "spaces_app")
# The custom pipeline shipped with exported models (delocate_hf/inference/pipeline_deepfake.py and what it imports).
PIPELINE_TASK = "deepfake-detection"
PIPELINE_FILES = ("pipeline_deepfake.py", "detect.py", "assemble.py", "results.py", "explain.py", "progress.py", "devices.py")
PIPELINE_ENTRY = {"impl": "pipeline_deepfake.DeepfakeDetectionPipeline", "pt": ["AutoModel"], "type": "video"}


# --------------------------------------------------------------------------------------------- remote code


def _top_level_imports(source: str) -> set[str]:
    """Absolute imports anywhere in a module (functions included), except inside try blocks (optional imports)."""
    found: set[str] = set()

    def visit(node):
        if isinstance(node, ast.Try):
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _relative_imports(source: str) -> set[str]:
    """Module names of `from .x import y` / `from . import x` (one level, like transformers' remote code)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


def auto_map_entries(folder: Path) -> dict[str, str]:
    """{"config.json:AutoModel": "modeling_delocate.DelocateForDeepfakeDetection", ...} of every auto_map."""
    entries = {}
    for name in ("config.json", "preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json"):
        path = folder / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        for task, info in (data.get("custom_pipelines") or {}).items():
            if isinstance(info, dict) and info.get("impl"):
                entries[f"{name}:custom_pipelines:{task}"] = info["impl"]
        for auto_class, reference in (data.get("auto_map") or {}).items():
            references = reference if isinstance(reference, (list, tuple)) else [reference]
            for item in references:
                if item:
                    entries[f"{name}:{auto_class}"] = item
    return entries


def verify_remote_code(folder) -> list[str]:
    """Checks that every `auto_map` class is defined in a file of the folder, that every file they import
    relatively is there too, and that none imports the project packages. Returns the remote-code files."""
    folder = Path(folder)
    entries = auto_map_entries(folder)
    if "config.json:AutoModel" not in entries and not any(k.startswith("config.json:") for k in entries):
        raise HubExportError(f"{folder}/config.json has no auto_map: the model cannot load with trust_remote_code")
    files, queue = set(), []
    for key, reference in entries.items():
        if "--" in reference:
            raise HubExportError(f"{key} points to another repository ({reference}): the export must be self-contained")
        module, _, class_name = reference.rpartition(".")
        path = folder / f"{module}.py"
        if not module or not path.is_file():
            raise HubExportError(f"auto_map {key} -> {reference}: {path.name} is missing from {folder}")
        if not re.search(rf"^class {re.escape(class_name)}\b", path.read_text(), re.MULTILINE):
            raise HubExportError(f"auto_map {key} -> {reference}: class {class_name} is not defined in {path.name}")
        queue.append(path.name)
    while queue:
        name = queue.pop()
        if name in files:
            continue
        files.add(name)
        source = (folder / name).read_text()
        forbidden = sorted(_top_level_imports(source) & set(REMOTE_CODE_FORBIDDEN))
        if forbidden:
            raise HubExportError(f"remote code {name} imports {', '.join(forbidden)}: it would not load without "
                                 "this package (use relative imports of files saved beside it)")
        for module in _relative_imports(source):
            if not (folder / f"{module}.py").is_file():
                raise HubExportError(f"remote code {name} imports .{module} but {module}.py is missing from {folder}")
            queue.append(f"{module}.py")
    return sorted(files)



def _remote_code_text(source: str) -> str:
    """A pipeline module as remote code: `from processing.X import` -> `from .X import` (the processor's files lie
    beside it in the exported folder)."""
    return re.sub(r"^(\s*)from processing\.(\w+) import", r"\1from .\2 import", source, flags=re.MULTILINE)


def save_pipeline_code(out_dir) -> list[str]:
    """Ships the `"deepfake-detection"` pipeline as remote code: `PIPELINE_FILES` of `delocate_hf/inference/`
    (their `processing.X` imports made relative), the processing files they need beyond the processor's, and
    `custom_pipelines` in config.json, so that `pipeline("deepfake-detection", model=folder_or_hub_id,
    trust_remote_code=True)` works without this package. Returns the files written."""
    out_dir = Path(out_dir)
    inference_dir = repo_root() / "delocate_hf" / "inference"
    processing_dir = repo_root() / "processing"
    written, queue = [], list(PIPELINE_FILES)
    while queue:
        name = queue.pop()
        if (out_dir / name).is_file() and name not in PIPELINE_FILES:
            continue
        source_path = inference_dir / name if name in PIPELINE_FILES else processing_dir / name
        if not source_path.is_file():
            raise HubExportError(f"pipeline remote code: {name} not found in {source_path.parent}")
        text = _remote_code_text(source_path.read_text())
        (out_dir / name).write_text(text)
        written.append(name)
        queue += [f"{m}.py" for m in sorted(_relative_imports(text)) if not (out_dir / f"{m}.py").is_file()]
    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["custom_pipelines"] = {PIPELINE_TASK: dict(PIPELINE_ENTRY)}
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return sorted(written)
