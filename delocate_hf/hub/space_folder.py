"""The Gradio Space folder (part of :mod:`delocate_hf.hub.export`, which re-exports these names; import them from
there): :func:`export_space_folder` copies the app of ``spaces_app/``, vendors ``delocate_hf/``, ``modeling/`` and
``processing/``, bundles the exported model as the package's default model, and writes requirements.txt
(:func:`space_requirements`), packages.txt and the README's Spaces YAML header (:func:`space_readme`).
"""

from __future__ import annotations

import configparser
import re
import shutil
import sys
from pathlib import Path

from .export_common import HubExportError, prepare_output_dir, repo_root
from .model_card import parse_card_metadata
from .model_folder import export_model_folder

__all__ = ["DEFAULT_MODEL_SUBDIR", "SELF_NAMES", "SPACE_DEFAULTS", "SPACE_SDK_PACKAGES", "VENDORED_PACKAGES",
           "VENDOR_IGNORE", "export_space_folder", "missing_package_requirements", "package_requirements",
           "space_readme", "space_requirements", "spaces_app_dir"]

VENDORED_PACKAGES = ("delocate_hf", "modeling", "processing")
VENDOR_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".pytest_cache",
                                       ".ipynb_checkpoints")
DEFAULT_MODEL_SUBDIR = Path("delocate_hf") / "default_model"
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
