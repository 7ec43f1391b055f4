"""Export a Delocate checkpoint for the Hugging Face Hub, and push it (`delocate push`, `scripts/push_to_hub.py`).

Model repository (`export_model_folder`): the model re-saved with `save_pretrained` (config.json with `auto_map`,
model.safetensors, the modeling remote code), the `DelocateFaceProcessor` (preprocessor_config.json with `auto_map`,
image_processing_delocate.py and the processing files it imports), the `"deepfake-detection"` pipeline as remote
code (`custom_pipelines` in config.json -> pipeline_deepfake.py and the inference files it imports, see
`save_pipeline_code`), README.md (model card with `model-index`, see
`model_card.py`) and, when given, metrics.json. Every `auto_map` file and its relative imports are checked to be in
the folder, and none of them may import the project packages (`delocate_hf`, `modeling`, `processing`), so the
folder loads with `trust_remote_code=True` on a machine without this package, `pipeline("deepfake-detection",
model=folder, trust_remote_code=True)` included.

Space repository (`export_space_folder`, `--space`): the Gradio app of `spaces_app/` (app.py, requirements.txt,
README.md and its sibling modules, e.g. analysis.py) at the top of the folder, plus **vendored sources** of
`delocate_hf/`, `modeling/` and `processing/` so `import delocate_hf` works in the Space without installing this
package, and the exported model as the package's shipped default model (`delocate_hf/default_model/`, the folder
`delocate_hf.inference.default_model_path()` loads). requirements.txt = the app's requirements.txt as it is (a
line installing this package becomes a comment: it is vendored), or, without one, this package's install
requirements less Gradio (Spaces installs the README's `sdk_version`); a stderr note lists this package's
requirements the app's file leaves out. The README's Spaces YAML header is completed (`sdk: gradio`,
`sdk_version` = the header's, else the requirements' `gradio==X`, else the installed Gradio, `app_file: app.py`, ...);
packages.txt (apt) gets `libgl1` for OpenCV unless the app ships one. The app loads `$DELOCATE_MODEL` when that
Space variable is set, else the bundled model.

`push_to_hub` uploads exactly the exported folder (`HfApi.create_repo` + `upload_folder`, remote files that are not
in the folder are deleted in the same commit, `.gitattributes` excepted); with `dry_run=DIR` it only writes DIR.
After a model push, a second commit pins the first commit's hash as `revision` in the card's snippets
(`pin_revision=False` to skip).
"""

from __future__ import annotations

import argparse
import ast
import configparser
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .model_card import MetricsFormatError, build_model_card, eval_results, parse_card_metadata

REMOTE_CODE_FORBIDDEN = ("delocate_hf", "modeling", "processing", "spaces_app")
VENDORED_PACKAGES = ("delocate_hf", "modeling", "processing")
VENDOR_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".pytest_cache",
                                       ".ipynb_checkpoints")
DEFAULT_MODEL_SUBDIR = Path("delocate_hf") / "default_model"
# The custom pipeline shipped with exported models (delocate_hf/inference/pipeline_deepfake.py and what it imports).
PIPELINE_TASK = "deepfake-detection"
PIPELINE_FILES = ("pipeline_deepfake.py", "detect.py", "results.py", "explain.py", "progress.py", "devices.py")
PIPELINE_ENTRY = {"impl": "pipeline_deepfake.DeepfakeDetectionPipeline", "pt": ["AutoModel"], "type": "video"}
SELF_NAMES = {"delocate-hf", "delocate_hf"}
SPACE_DEFAULTS = {
    "title": "Delocate deepfake detector",
    "emoji": "🕵️",
    "colorFrom": "indigo",
    "colorTo": "purple",
    "sdk": "gradio",
    "app_file": "app.py",
    "pinned": False,
    "license": "apache-2.0",
    "short_description": "Deepfake video detection with forgery localization",
}
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class HubExportError(RuntimeError):
    """An export or push that cannot go on; the message is one line."""


@dataclass
class PushResult:
    repo_id: str
    repo_type: str
    folder: Path | None = None  # the dry-run folder
    commit_url: str | None = None
    pinned_revision: str | None = None


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


# -------------------------------------------------------------------------------------------- Space folder


def spaces_app_dir() -> Path:
    import spaces_app

    return Path(spaces_app.__file__).resolve().parent


def _requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def package_requirements() -> list[str]:
    """This package's install requirements plus its `space` extra (setup.cfg of the source tree, else metadata)."""
    from packaging.requirements import Requirement

    setup_cfg = repo_root() / "setup.cfg"
    lines: list[str] = []
    if setup_cfg.is_file():
        parser = configparser.ConfigParser()
        parser.read(setup_cfg)
        for key, section in (("install_requires", "options"), ("space", "options.extras_require")):
            raw = parser.get(section, key, fallback="")
            lines += [ln.split("#")[0].strip() for ln in raw.splitlines()]
    else:
        from importlib import metadata

        for text in metadata.requires("delocate-hf") or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": "space"}):
                if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                    requirement.marker = None
                lines.append(str(requirement))
    return [ln for ln in lines if ln]


def _is_self_requirement(line: str) -> bool:
    stripped = line.strip()
    if stripped in {".", "-e .", "-e.", "./"}:
        return True
    if _requirement_name(stripped) in {"delocate-hf"}:
        return True
    return stripped.startswith(("git+", "-e git+")) and "delocate" in stripped.lower()


SPACE_SDK_PACKAGES = {"gradio", "gradio-client"}  # installed by Spaces from the README's sdk_version


def space_requirements(app_requirements: str | None) -> str:
    """requirements.txt of the Space. The app's own file is the Space's runtime list and is kept as it is, except
    lines that install this package (it is vendored; they become comments). Without one, this package's install
    requirements are used, less its Gradio pins (Spaces installs the README's `sdk_version`)."""
    if app_requirements is not None:
        return _strip_self_requirements(app_requirements)
    lines = ["# delocate-hf install requirements (the package itself is vendored in this Space)"]
    names = set(SPACE_SDK_PACKAGES)
    for line in package_requirements():
        if _requirement_name(line) not in names:
            names.add(_requirement_name(line))
            lines.append(line)
    return "\n".join(lines) + "\n"


def missing_package_requirements(requirements: str) -> list[str]:
    """Names of this package's install requirements that a requirements text leaves out (Gradio excepted)."""
    present = {_requirement_name(ln) for ln in requirements.splitlines() if ln.strip() and not ln.startswith("#")}
    wanted = [_requirement_name(ln) for ln in package_requirements()]
    return [name for name in wanted if name not in present and name not in SPACE_SDK_PACKAGES]


def _strip_self_requirements(app_requirements: str) -> str:
    lines = []
    for line in app_requirements.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            lines.append(line)
            continue
        if _is_self_requirement(stripped):
            lines.append(f"# {stripped}  (vendored in this Space: delocate_hf/, modeling/, processing/)")
            continue
        lines.append(stripped)
    return "\n".join(lines).strip() + "\n"


def _installed_gradio_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("gradio")
    except metadata.PackageNotFoundError:
        return None


def space_readme(app_readme: str | None, model_repo_id: str | None = None, pinned_gradio: str | None = None) -> str:
    """README.md of the Space: the app's text with its Spaces YAML header completed. `sdk_version`: the header's,
    else `pinned_gradio` (a `gradio==X` line of the app's requirements), else the installed Gradio."""
    import yaml

    text = app_readme or ""
    header = parse_card_metadata(text) if text else {}
    body = re.sub(r"^---\s*\n.*?\n---\s*(\n|$)", "", text, count=1, flags=re.DOTALL) if header else text
    if header.get("sdk", "gradio") != "gradio":
        raise HubExportError(f"spaces_app/README.md declares sdk {header['sdk']!r}: the Delocate Space is a Gradio app")
    merged = {**SPACE_DEFAULTS, **header}
    if not merged.get("sdk_version"):
        version = pinned_gradio or _installed_gradio_version()
        if version is None:
            raise HubExportError("sdk_version: Gradio is not installed and spaces_app/README.md does not set it "
                                 "(pip install -e .[space])")
        merged["sdk_version"] = version
    merged["sdk_version"] = str(merged["sdk_version"])
    merged.setdefault("python_version", f"{sys.version_info.major}.{sys.version_info.minor}")
    merged["python_version"] = str(merged["python_version"])
    if model_repo_id:
        models = list(merged.get("models") or [])
        merged["models"] = models + ([model_repo_id] if model_repo_id not in models else [])
    if not body.strip():
        body = (
            "\n# Delocate deepfake detector\n\nUpload a talking-head video: the app returns the probability that it is "
            "a deepfake and heat maps of the tampered face regions (Delocate, IJCAI 2024).\n\n"
            "This Space vendors the `delocate-hf` sources (`delocate_hf/`, `modeling/`, `processing/`) and its model "
            "(`delocate_hf/default_model/`).\n"
        )
    dumped = yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)
    return f"---\n{dumped}---\n{body if body.startswith(chr(10)) else chr(10) + body}"


def export_space_folder(model_dir, out_dir, metrics=None, summary=None, repo_id: str | None = None,
                        model_repo_id: str | None = None, overwrite: bool = False) -> Path:
    """Writes the Gradio Space folder (see module doc) to out_dir. repo_id: the Space id (used in the model card of
    the bundled model when model_repo_id is None); model_repo_id: the model repository the Space links to."""
    app_dir = spaces_app_dir()
    if not (app_dir / "app.py").is_file():
        raise HubExportError(f"{app_dir}/app.py not found: the Gradio app is missing")
    out_dir = prepare_output_dir(out_dir, overwrite)
    for path in sorted(app_dir.iterdir()):
        if path.name in {"__init__.py", "README.md", "requirements.txt"} or path.name.startswith((".", "__pycache__")):
            continue
        if path.is_dir():
            shutil.copytree(path, out_dir / path.name, ignore=VENDOR_IGNORE)
        else:
            shutil.copy2(path, out_dir / path.name)
    root = repo_root()
    for package in VENDORED_PACKAGES:
        source = root / package
        if not (source / "__init__.py").is_file():
            raise HubExportError(f"cannot vendor {package}: {source}/__init__.py not found")
        def ignore(directory, names, _package_dir=source):  # the package's own default model is replaced below
            skipped = set(VENDOR_IGNORE(directory, names))
            if _package_dir.name == "delocate_hf" and Path(directory) == _package_dir:
                skipped.add("default_model")
            return skipped

        shutil.copytree(source, out_dir / package, ignore=ignore)
    export_model_folder(model_dir, out_dir / DEFAULT_MODEL_SUBDIR, metrics=metrics, summary=summary,
                        repo_id=model_repo_id or repo_id)
    requirements = app_dir / "requirements.txt"
    text = space_requirements(requirements.read_text() if requirements.is_file() else None)
    (out_dir / "requirements.txt").write_text(text)
    missing = missing_package_requirements(text)
    if missing:  # the app's list is trusted (training-only packages are usually left out on purpose)
        print(f"note: the Space's requirements.txt leaves out these delocate-hf requirements: {', '.join(missing)}",
              file=sys.stderr)
    if not (out_dir / "packages.txt").exists():  # OpenCV (mediapipe's opencv-contrib-python) needs libGL
        (out_dir / "packages.txt").write_text("libgl1\n")
    readme = app_dir / "README.md"
    pinned = re.search(r"^\s*gradio\s*==\s*([0-9][^\s;#]*)", (out_dir / "requirements.txt").read_text(), re.MULTILINE)
    text = space_readme(readme.read_text(encoding="utf-8") if readme.is_file() else None, model_repo_id,
                        pinned.group(1) if pinned else None)
    (out_dir / "README.md").write_text(text, encoding="utf-8")
    app_file = parse_card_metadata(text).get("app_file", "app.py")
    if not (out_dir / app_file).is_file():
        raise HubExportError(f"the Space README sets app_file: {app_file}, which is not in the Space folder")
    return out_dir


# ------------------------------------------------------------------------------------------------- push


def push_to_hub(
    model_dir,
    repo_id: str,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    dry_run=None,
    space: bool = False,
    metrics=None,
    summary=None,
    model_repo_id: str | None = None,
    pin_revision: bool = True,
    overwrite: bool = False,
) -> PushResult:
    """Export `model_dir` and upload exactly that folder to `repo_id` (a model repository, or a Gradio Space with
    space=True). dry_run=DIR: only write DIR (what would be uploaded) and return. revision: branch to push to
    (created from main if missing). Needs network access and a token (token=, HF_TOKEN or `hf auth login`)."""
    check_repo_id(repo_id)
    repo_type = "space" if space else "model"
    metrics = load_json_arg(metrics, "metrics", "metrics.json")
    summary = load_json_arg(summary, "summary", "summary.json")
    check_metrics(metrics)

    def export(folder):
        if space:
            return export_space_folder(model_dir, folder, metrics, summary, repo_id=repo_id,
                                       model_repo_id=model_repo_id, overwrite=overwrite)
        return export_model_folder(model_dir, folder, metrics, summary, repo_id=repo_id, overwrite=overwrite)

    if dry_run is not None:
        return PushResult(repo_id=repo_id, repo_type=repo_type, folder=export(dry_run))
    if hub_offline():
        raise HubExportError("HF_HUB_OFFLINE is set: cannot push to the Hub (unset it, or use --dry-run DIR)")
    if not Path(model_dir).is_dir():
        raise HubExportError(f"model folder not found: {model_dir}")

    from huggingface_hub import HfApi

    api = HfApi(token=token)
    message = commit_message or (f"Upload Delocate Space ({Path(model_dir).name})" if space
                                 else f"Upload Delocate detector ({Path(model_dir).name})")
    with tempfile.TemporaryDirectory(prefix="delocate-push-") as tmp:
        folder = export(Path(tmp) / "export")
        api.create_repo(repo_id, private=private, repo_type=repo_type, exist_ok=True,
                        space_sdk="gradio" if space else None)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type=repo_type, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type=repo_type, revision=revision,
                                 commit_message=message, delete_patterns="*")
        result = PushResult(repo_id=repo_id, repo_type=repo_type, commit_url=getattr(info, "commit_url", None))
        commit = getattr(info, "oid", None)
        if pin_revision and not space and commit:
            write_model_card(folder, metrics=metrics, summary=summary, repo_id=repo_id, revision=commit)
            api.upload_file(path_or_fileobj=str(folder / "README.md"), path_in_repo="README.md", repo_id=repo_id,
                            repo_type=repo_type, revision=revision,
                            commit_message=f"Model card: pin revision {commit[:12]} in the usage snippets")
            result.pinned_revision = commit
    return result


# -------------------------------------------------------------------------------------------------- CLI


def add_push_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("model_dir", type=Path, help="Delocate checkpoint folder (e.g. the assemble.py output)")
    parser.add_argument("--repo-id", required=True,
                        help="Hub repository id, namespace/name (the Space id with --space)")
    parser.add_argument("--dry-run", type=Path, default=None, metavar="DIR",
                        help="write the folder that would be uploaded to DIR and stop (no network)")
    parser.add_argument("--space", action="store_true", help="prepare/push the Gradio Space instead of the model repo")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--metrics", default=None, metavar="metrics.json",
                        help="evaluate.py metrics.json (or its folder): model-index + evaluation table "
                             "(default: MODEL_DIR/metrics.json when present)")
    parser.add_argument("--summary", default=None, metavar="summary.json",
                        help="training summary JSON for the card (training data / procedure)")
    parser.add_argument("--revision", default=None, metavar="BRANCH", help="branch to push to (default: main)")
    parser.add_argument("--commit-message", default=None)
    parser.add_argument("--model-repo-id", default=None, help="with --space: the model repository the Space links to")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the `hf auth login` token)")
    parser.add_argument("--no-pin-revision", dest="pin_revision", action="store_false",
                        help="do not pin the pushed commit in the model card's snippets (second commit)")
    parser.add_argument("--overwrite", action="store_true", help="empty a non-empty --dry-run DIR first")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
    return parser


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:400]


def run_push_command(args) -> int:
    """Runs `delocate push`; failures print one line on stderr (traceback with --debug)."""
    debug = getattr(args, "debug", False)
    try:
        result = push_to_hub(args.model_dir, args.repo_id, private=args.private, revision=args.revision,
                             commit_message=args.commit_message, token=args.token, dry_run=args.dry_run,
                             space=args.space, metrics=args.metrics, summary=args.summary,
                             model_repo_id=args.model_repo_id, pin_revision=args.pin_revision,
                             overwrite=args.overwrite)
    except HubExportError as error:
        if debug:
            raise
        print(f"delocate push: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("delocate push: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # Hub / network / auth errors: one line, the traceback only with --debug
        if debug:
            raise
        print(f"delocate push: error: {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE
    kind = "Space" if args.space else "model"
    if result.folder is not None:
        files = folder_files(result.folder)
        size = sum((result.folder / name).stat().st_size for name in files)
        print(f"dry run: wrote the {kind} folder for {result.repo_id} to {result.folder} "
              f"({len(files)} files, {size / 1e6:.1f} MB); nothing was uploaded")
    else:
        print(f"pushed the {kind} to {result.repo_id}: {result.commit_url or ''}".rstrip(": "))
        if result.pinned_revision:
            print(f"model card pins revision {result.pinned_revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="push_to_hub", description="Export a Delocate checkpoint and push it to "
                                     "the Hugging Face Hub (model repository or Gradio Space)")
    return add_push_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    return run_push_command(build_parser().parse_args(argv))
