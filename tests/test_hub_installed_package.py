"""An exported model folder on a machine where this package is installed loads without `trust_remote_code`:
`AutoConfig` / `AutoModel` / `AutoImageProcessor.from_pretrained(folder)` and `pipeline("deepfake-detection",
model=folder)` use the installed classes and pipeline (no file of the folder's remote code is imported), whichever
of `delocate_hf` and transformers is imported first, and with `trust_remote_code=True` too (never a mix of
installed and remote classes); the folder's `custom_pipelines` survives a re-save. Fresh interpreters (`-I`: the
installed package, not the checkout on `sys.path`), a real exported folder, offline. Without the package, the
same folder runs from its remote code: tests/test_hub_remote_pipeline.py."""

import json
import os
import subprocess
import sys

import pytest
from conftest import HANG_TIMEOUT, SINGLE_FACE, save_tiny_detector

from delocate_hf.hub import export_model_folder

TASK = "deepfake-detection"

PROBE = r"""
import json, sys
folder, video, resaved, mode = sys.argv[1:5]
if mode == "transformers-first":
    import transformers.pipelines  # noqa: F401  (transformers' Auto classes and pipelines before the package)
import delocate_hf  # noqa: F401
light = mode == "transformers-first" or not any(m in sys.modules for m in ("torch", "transformers", "modeling"))
from transformers import AutoConfig, AutoImageProcessor, AutoModel, pipeline
trust = {"trust_remote_code": True} if mode == "trusted" else {}
config = AutoConfig.from_pretrained(folder, **trust)
model = AutoModel.from_pretrained(folder, **trust)
processor = AutoImageProcessor.from_pretrained(folder, **trust)
detector = pipeline("deepfake-detection", model=folder, **trust)
result = detector(video)
model.save_pretrained(resaved)
kind = lambda obj: type(obj).__module__
print(json.dumps({
    "light": light, "config": kind(config), "model": kind(model), "processor": kind(processor),
    "pipeline": kind(detector), "pipeline_model": kind(detector.model),
    "remote_modules": sorted(m for m in sys.modules if m.startswith("transformers_modules.")),
    "declared": config.to_dict().get("custom_pipelines"),
    "score": result["score"], "label": result["label"], "inconclusive_band": result["inconclusive_band"],
}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("installed_package")
    model_dir = save_tiny_detector(root / "detector")
    config = json.loads((model_dir / "config.json").read_text())
    config.update(decision_threshold=0.4, inconclusive_band=[0.3, 0.6], calibration={"auc": 0.9, "n": 40})
    (model_dir / "config.json").write_text(json.dumps(config))
    folder = export_model_folder(model_dir, root / "exported")
    declared = json.loads((folder / "config.json").read_text())["custom_pipelines"]
    assert list(declared) == [TASK] and "auto_map" in json.loads((folder / "config.json").read_text())
    return folder, declared


def run_probe(folder, mode, tmp_path) -> tuple[dict, list]:
    modules = tmp_path / "hf_modules"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DELOCATE"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_MODULES_CACHE=str(modules), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-I", "-c", PROBE, str(folder), str(SINGLE_FACE),
                           str(tmp_path / "resaved"), mode],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    copied = sorted(p.name for p in modules.rglob("*.py")) if modules.exists() else []
    return json.loads(proc.stdout.strip().splitlines()[-1]), copied


def local_score(folder) -> float:
    from delocate_hf.inference import detect_video, load_detector

    model, processor = load_detector(folder)
    return detect_video(SINGLE_FACE, model, processor, progress=False).score


@pytest.mark.parametrize("mode", ["package-first", "transformers-first"])
def test_exported_folder_needs_no_remote_code_with_the_package(exported, tmp_path, mode):
    folder, declared = exported
    data, copied = run_probe(folder, mode, tmp_path)
    assert data["light"]  # `import delocate_hf` itself imported neither torch nor transformers
    assert data["config"] == "modeling.configuration_delocate"
    assert data["model"] == data["pipeline_model"] == "modeling.modeling_delocate"
    assert data["processor"] == "processing.image_processing_delocate"
    assert data["pipeline"] == "delocate_hf.inference.pipeline_deepfake"
    assert data["remote_modules"] == [] and copied == []  # not one file of the folder's code was run
    # the declaration stays in the config: saved again, the folder still serves the task as remote code elsewhere
    assert data["declared"] == declared
    assert json.loads((tmp_path / "resaved" / "config.json").read_text())["custom_pipelines"] == declared
    assert data["inconclusive_band"] == [0.3, 0.6]
    assert data["score"] == pytest.approx(local_score(folder), abs=1e-5)


def test_trust_remote_code_with_the_package_runs_the_installed_code_throughout(exported, tmp_path):
    """transformers prefers a registered model_type's classes to a folder's code even with `trust_remote_code=True`
    (config, model, processor); the pipeline follows them: no mix of installed and remote classes."""
    folder, declared = exported
    data, copied = run_probe(folder, "trusted", tmp_path)
    assert data["config"] == "modeling.configuration_delocate"
    assert data["model"] == data["pipeline_model"] == "modeling.modeling_delocate"
    assert data["processor"] == "processing.image_processing_delocate"
    assert data["pipeline"] == "delocate_hf.inference.pipeline_deepfake"
    assert data["remote_modules"] == []
    assert data["declared"] == declared
    assert data["score"] == pytest.approx(local_score(folder), abs=1e-5)
