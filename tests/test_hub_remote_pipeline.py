"""An exported model folder is Hub-native end to end: `pipeline("deepfake-detection", model=folder,
trust_remote_code=True)` works in a fresh interpreter that cannot import this package (nor `modeling` /
`processing`), and gives the package's own result, verdict rule included."""

import json
import os
import subprocess
import sys
import sysconfig

import pytest
from conftest import HANG_TIMEOUT, SINGLE_FACE, save_tiny_detector

from delocate_hf.hub import export_model_folder, verify_remote_code


PROBE = r"""
import json, sys
sys.path.append(sys.argv[1])  # site-packages only: no .pth files, so no editable install of delocate-hf
found = []
for name in ("delocate_hf", "modeling", "processing", "spaces_app"):
    try:
        __import__(name)
        found.append(name)
    except ImportError:
        pass
from transformers import pipeline
detector = pipeline("deepfake-detection", model=sys.argv[2], trust_remote_code=True)
result = detector(sys.argv[3])
listed = detector([sys.argv[3], sys.argv[4]])
print(json.dumps({
    "found": found,
    "pipeline_module": type(detector).__module__,
    "model_module": type(detector.model).__module__,
    "label": result["label"], "score": result["score"], "calibration": result["calibration"],
    "inconclusive_band": result["inconclusive_band"], "masks": list(result["masks"].shape),
    "listed": [sorted(r) for r in listed], "error_type": listed[1].get("error_type"),
    "loaded": [m for m in ("delocate_hf", "modeling", "processing") if m in sys.modules],
}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote_pipeline")
    model_dir = save_tiny_detector(root / "detector")
    config = json.loads((model_dir / "config.json").read_text())
    config.update(decision_threshold=0.4, inconclusive_band=[0.3, 0.6], calibration={"auc": 0.9, "n": 40})
    (model_dir / "config.json").write_text(json.dumps(config))
    return export_model_folder(model_dir, root / "exported"), root


def test_export_declares_the_custom_pipeline(exported):
    folder, _ = exported
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"] == {"deepfake-detection": {
        "impl": "pipeline_deepfake.DeepfakeDetectionPipeline", "pt": ["AutoModel"], "type": "video"}}
    files = verify_remote_code(folder)
    assert {"pipeline_deepfake.py", "detect.py", "results.py", "explain.py", "video_io.py", "errors.py",
            "visualize.py"} <= set(files)
    for name in files:
        text = (folder / name).read_text()
        assert "from processing." not in text and "from delocate_hf" not in text, name


def test_pipeline_from_remote_code_without_the_package(exported, tmp_path):
    folder, root = exported
    noface = root / "noise.mp4"
    import numpy as np

    from processing import write_video

    write_video(noface, np.random.default_rng(0).integers(0, 255, (8, 96, 128, 3), dtype=np.uint8))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DELOCATE"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"),
               OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, sysconfig.get_paths()["purelib"], str(folder), str(SINGLE_FACE),
         str(noface)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["found"] == [] and data["loaded"] == []  # the package was not importable, and was not used
    assert data["pipeline_module"].startswith("transformers_modules.")
    assert data["model_module"].startswith("transformers_modules.")
    assert data["calibration"] == "calibrated" and data["inconclusive_band"] == [0.3, 0.6]
    assert data["masks"][1:] == [360, 640]
    assert data["error_type"] == "NoFaceDetectedError" and data["listed"][1] == ["error", "error_type", "video"]

    # the package's own detection on the same folder gives the same score and verdict
    from delocate_hf.inference import detect_video, load_detector

    model, processor = load_detector(folder)
    local = detect_video(SINGLE_FACE, model, processor, progress=False)
    assert local.score == pytest.approx(data["score"], abs=1e-5)
    assert local.label == data["label"] == ("inconclusive" if 0.3 <= local.score <= 0.6 else
                                            "fake" if local.score >= 0.4 else "real")


def test_with_the_package_the_exported_folder_needs_no_remote_code(exported):
    """With the package imported, the folder's declared custom pipeline is served by the package's own
    `DeepfakeDetectionPipeline` without `trust_remote_code` (fresh processes: tests/test_hub_installed_package.py);
    `pipeline_class=` names it explicitly."""
    from transformers import pipeline

    from delocate_hf.inference import DeepfakeDetectionPipeline

    folder, _ = exported
    for detector in (pipeline("deepfake-detection", model=str(folder)),
                     pipeline("deepfake-detection", model=str(folder), pipeline_class=DeepfakeDetectionPipeline)):
        assert type(detector) is DeepfakeDetectionPipeline and type(detector.model).__module__.startswith("modeling.")
        assert detector(str(SINGLE_FACE))["inconclusive_band"] == [0.3, 0.6]
