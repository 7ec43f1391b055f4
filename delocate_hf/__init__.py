"""delocate-hf: Hugging Face-native Delocate (IJCAI 2024) deepfake-video detection with forgery localization.

`import delocate_hf` is cheap (no torch, no transformers): the public names below are imported on first use
(PEP 562 `__getattr__`), so the `delocate` command answers `--help` at once. The registrations stay what the
import promises: once transformers' Auto classes or pipelines are imported (before or after this package), the
Delocate classes are registered with `AutoConfig`, `AutoModel`, `AutoModelForPreTraining`,
`AutoModelForVideoClassification`, `AutoModelForImageSegmentation` and `AutoImageProcessor`, and the
`"deepfake-detection"` task with the pipeline registry:

```python
import delocate_hf
from transformers import pipeline
detector = pipeline("deepfake-detection", model="outputs/demo/detector")
```

So a folder saved by this package, an exported Hub folder included, loads without `trust_remote_code`:
`AutoConfig` / `AutoModel` / `AutoImageProcessor.from_pretrained(folder)` use the installed classes (the
`model_type` is registered), and `pipeline("deepfake-detection", model=folder)` the installed pipeline. An exported
config.json declares that task in `custom_pipelines` (for machines without the package), which transformers would
otherwise serve from the folder's code only, with `trust_remote_code=True`: the installed `DelocateConfig` reads
`custom_pipelines` without the tasks this process serves with the package's own pipeline class, and still saves
it whole (`to_dict`), so a re-saved folder keeps working elsewhere. With `trust_remote_code=True` everything comes
from the folder's code, as without the package.

How: a meta-path finder watches the import of `transformers.models.auto.*` and `transformers.pipelines`; when an
import chain that loaded one of them has finished (no module of transformers, torch, accelerate or this project is
still half-initialised), it imports `modeling` + `processing` (Auto classes) and, once `transformers.pipelines` is
loaded, registers the pipeline task. `register()` does the same on demand.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading

__version__ = "0.1.0"

_LAZY = {
    "DelocateConfig": "modeling",
    "DelocatePreTrainedModel": "modeling",
    "DelocateForMaskedRecovery": "modeling",
    "DelocateForVideoClassification": "modeling",
    "DelocateForForgeryLocalization": "modeling",
    "DelocateForDeepfakeDetection": "modeling",
    "DelocateInputError": "processing.errors",
    "NoFaceDetectedError": "processing.errors",
    "VideoDecodeError": "processing.errors",
    "VideoTooShortError": "processing.errors",
}

__all__ = [
    "DelocateConfig",
    "DelocatePreTrainedModel",
    "DelocateForMaskedRecovery",
    "DelocateForVideoClassification",
    "DelocateForForgeryLocalization",
    "DelocateForDeepfakeDetection",
    "DelocateInputError",
    "NoFaceDetectedError",
    "VideoDecodeError",
    "VideoTooShortError",
    "register",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "pipeline_registration":  # old spelling of "make sure the task is registered"
        register()
        return True
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


# ------------------------------------------------------------------------------------------------ registration
_AUTO_TRIGGERS = ("transformers.models.auto.configuration_auto", "transformers.models.auto.modeling_auto",
                  "transformers.models.auto.image_processing_auto")
_PIPELINE_TRIGGER = "transformers.pipelines"
# Registration imports these; it waits while one of them is half-initialised (an import chain still running).
_WATCHED_ROOTS = ("transformers", "torch", "accelerate", "huggingface_hub", "safetensors", "modeling", "processing",
                  "delocate_hf")
# Roots whose imports are watched: a chain that loads transformers' Auto classes ends in one of them.
_WRAPPED_ROOTS = ("transformers", "accelerate", "peft", "modeling", "processing", "delocate_hf")
_state = {"auto": False, "pipeline": False, "busy": False}
_lock = threading.RLock()


def register(pipeline: bool = True) -> None:
    """Register the Delocate classes with transformers' Auto classes and (with `pipeline`) the
    `"deepfake-detection"` task. Idempotent; imports torch and transformers."""
    with _lock:
        if _state["busy"]:
            return
        _state["busy"] = True
        try:
            if not _state["auto"]:
                modeling = importlib.import_module("modeling")  # registers the Auto classes on import
                importlib.import_module("processing")  # AutoImageProcessor
                _serve_declared_pipelines_here(modeling.DelocateConfig)
                _state["auto"] = True
            if pipeline and not _state["pipeline"]:
                importlib.import_module("delocate_hf.inference")  # registers the task on its import (once)
                _state["pipeline"] = True
        finally:
            _state["busy"] = False
        if _state["auto"] and _state["pipeline"]:
            _remove_finder()


def _tasks_served_here(tasks) -> set:
    """Those of `tasks` that transformers' pipeline registry serves with a pipeline class of this package."""
    registry = getattr(sys.modules.get("transformers.pipelines"), "PIPELINE_REGISTRY", None)
    if registry is None:
        return set()
    served = set()
    for task in tasks:
        impl = (registry.supported_tasks.get(task) or {}).get("impl")
        if getattr(impl, "__module__", "").startswith(f"{__name__}."):
            served.add(task)
    return served


class _DeclaredPipelines:
    """`custom_pipelines` of the installed `DelocateConfig`: stored as any config attribute (in the instance's
    `__dict__`, which `to_dict` / `save_pretrained` write out whole), read without the tasks this process serves
    with the package's own pipeline, so that `pipeline(task, model=folder)` does not ask for remote code."""

    def __get__(self, config, owner=None):
        if config is None:
            return self
        try:
            declared = config.__dict__["custom_pipelines"]
        except KeyError:
            raise AttributeError("custom_pipelines") from None
        if not isinstance(declared, dict):
            return declared
        served = _tasks_served_here(declared)
        return {task: entry for task, entry in declared.items() if task not in served} if served else declared

    def __set__(self, config, value):
        config.__dict__["custom_pipelines"] = value

    def __delete__(self, config):
        if "custom_pipelines" not in config.__dict__:
            raise AttributeError("custom_pipelines")
        del config.__dict__["custom_pipelines"]


def _serve_declared_pipelines_here(config_class) -> None:
    if not isinstance(config_class.__dict__.get("custom_pipelines"), _DeclaredPipelines):
        config_class.custom_pipelines = _DeclaredPipelines()


def _half_initialised(exclude: str) -> bool:
    for name, module in list(sys.modules.items()):
        if name != exclude and name.split(".")[0] in _WATCHED_ROOTS:
            spec = getattr(module, "__spec__", None)
            if spec is not None and getattr(spec, "_initializing", False):
                return True
    return False


def _maybe_register(just_loaded: str) -> None:
    """After a watched module finished executing: register what transformers can now reach, unless an import
    chain is still running (then a later module of that chain, the last to finish, does it)."""
    if _state["busy"]:
        return
    wants_auto = not _state["auto"] and any(name in sys.modules for name in _AUTO_TRIGGERS)
    wants_pipeline = not _state["pipeline"] and _PIPELINE_TRIGGER in sys.modules
    if (wants_auto or wants_pipeline) and not _half_initialised(just_loaded):
        register(pipeline=wants_pipeline)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _maybe_register(module.__name__)

    def __getattr__(self, name):  # get_code, get_source, is_package, ... of the wrapped loader
        if name == "_loader":
            raise AttributeError(name)
        return getattr(self._loader, name)


class _RegistrationFinder(importlib.abc.MetaPathFinder):
    """Wraps the loaders of `transformers.*` (and the project's packages) to call `_maybe_register` after each
    finished module. Removed once everything is registered."""

    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] not in _WRAPPED_ROOTS or _state["busy"]:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


_finder = _RegistrationFinder()


def _remove_finder() -> None:
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass


if not any(isinstance(f, _RegistrationFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _finder)
if any(name in sys.modules for name in _AUTO_TRIGGERS + (_PIPELINE_TRIGGER,)):  # transformers came first
    register(pipeline=_PIPELINE_TRIGGER in sys.modules)
