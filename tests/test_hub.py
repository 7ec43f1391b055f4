"""Hub export (`delocate push`): the dry-run folder is what would be uploaded, its remote code is self-contained
(it loads in a fresh process where delocate_hf / modeling / processing cannot be imported, with the same outputs),
the model card's YAML carries the metrics, the Space folder runs standalone, and offline pushes fail in one line."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

import delocate_hf
from delocate_hf.hub import export as hub_export
from delocate_hf.hub import space_folder
from delocate_hf.hub.export import HubExportError, export_space_folder, push_to_hub, verify_remote_code
from delocate_hf.hub.model_card import eval_results, parse_card_metadata
from modeling import DelocateConfig, DelocateForDeepfakeDetection
from processing import DelocateFaceProcessor

REPO = Path(__file__).resolve().parents[1]
VIDEO = Path(delocate_hf.__file__).resolve().parent / "assets" / "single_face.mp4"

METRICS = {
    "all": {
        "fused": {"auc": 0.8123, "eer": 0.2541, "ap": 0.79, "acc": 0.75, "n": 40, "n_fake": 20},
        "recovery": {"acc": 0.5, "n": 40, "n_fake": 20},
        "localization": {"acc": 0.5, "n": 40, "n_fake": 20},
        "frame_level": {"auc": 0.7, "acc": 0.6, "n": 160, "n_fake": 80},
        "localization_masks": {"iou": 0.4321, "pbca": 0.8765, "n": 20},
    },
    "Celeb-DF-v2": {
        "fused": {"auc": 0.913, "eer": 0.162, "ap": 0.9012, "acc": 0.8, "n": 20, "n_fake": 10},
        "recovery": {}, "localization": {}, "frame_level": {},
        "localization_masks": {"iou": 0.5123, "pbca": 0.9, "n": 10},
    },
    "Celeb-DF-v2 / Celeb-synthesis": {
        "fused": {"acc": 0.8, "n": 10, "n_fake": 10}, "recovery": {}, "localization": {}, "frame_level": {},
    },
}

# Runs in a fresh interpreter: hides the project (repo on sys.path, editable-install finder), then loads the
# exported folder with the Auto classes and remote code only.
ISOLATED_LOAD = textwrap.dedent(
    """
    import importlib.util, os, sys
    repo, folder, video, out = sys.argv[1:5]
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != repo and "__editable__" not in p]
    for name in ("delocate_hf", "modeling", "processing", "spaces_app"):
        assert importlib.util.find_spec(name) is None, f"{name} is importable"
    import torch
    from transformers import AutoImageProcessor, AutoModel

    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    processor = AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)
    inputs = processor(video, return_tensors="pt")
    with torch.no_grad():
        output = model(inputs["pixel_values"])
    loaded = sorted(k for k in sys.modules if k.split(".")[0] in ("delocate_hf", "modeling", "processing"))
    torch.save({"pixel_values": inputs["pixel_values"], "roi_boxes": inputs["roi_boxes"],
                **{k: v for k, v in output.items()},
                "classes": [type(model).__module__, type(processor).__module__], "project_modules": loaded}, out)
    """
)


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env


def _delocate_cli() -> list[str]:
    script = Path(sys.executable).parent / "delocate"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "delocate_hf.cli"]


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("detector")
    torch.manual_seed(0)
    model = DelocateForDeepfakeDetection(DelocateConfig.tiny())
    model.save_pretrained(folder)
    DelocateFaceProcessor(num_frames=model.config.num_frames, size=model.config.image_size).save_pretrained(folder)
    (folder / "metrics.json").write_text(json.dumps(METRICS))
    return folder


@pytest.fixture(scope="module")
def dry_run(detector_dir, tmp_path_factory) -> Path:
    """`delocate push DIR --repo-id test/x --dry-run OUT --metrics metrics.json` in a real subprocess."""
    out = tmp_path_factory.mktemp("export") / "out"
    result = subprocess.run(
        [*_delocate_cli(), "push", str(detector_dir), "--repo-id", "test/x", "--dry-run", str(out),
         "--metrics", str(detector_dir / "metrics.json")],
        capture_output=True, text=True, env=_env(), cwd=out.parent, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout and "nothing was uploaded" in result.stdout
    return out


def test_dry_run_folder_has_model_processor_remote_code_and_card(dry_run):
    names = {p.name for p in dry_run.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md", "metrics.json"} <= names
    assert not any(p.is_dir() for p in dry_run.iterdir())  # flat: remote code needs its files beside config.json
    config = json.loads((dry_run / "config.json").read_text())
    processor = json.loads((dry_run / "preprocessor_config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_delocate.DelocateForDeepfakeDetection"
    assert processor["auto_map"]["AutoImageProcessor"] == "image_processing_delocate.DelocateFaceProcessor"
    for reference in [*config["auto_map"].values(), *processor["auto_map"].values()]:
        assert (dry_run / f"{reference.rpartition('.')[0]}.py").is_file(), reference
    files = verify_remote_code(dry_run)
    expected = {"modeling_delocate.py", "localization_modules.py", "image_processing_delocate.py", "video_io.py",
                "pipeline_deepfake.py", "detect.py", "results.py"}
    assert expected <= set(files)
    assert set(files) | {"config.json", "model.safetensors", "preprocessor_config.json", "README.md",
                         "metrics.json"} == names  # nothing else travels


def test_model_card_yaml_and_model_index(dry_run):
    text = (dry_run / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header == parse_card_metadata(text)
    assert header["license"] == "apache-2.0"
    assert header["library_name"] == "transformers"
    # no standard task fits the output: no pipeline_tag, no widget; the custom task is declared in config.json
    assert "pipeline_tag" not in header and header["inference"] is False
    assert "## Verdict and calibration" in text and "**Not calibrated**" in text
    assert header["tags"] == ["deepfake-detection", "forgery-localization", "videomae", "delocate"]
    (index,) = header["model-index"]
    assert index["name"] == "x"
    found = {}
    for result in index["results"]:
        dataset = result["dataset"]
        key = (result["task"]["type"], dataset["name"], dataset.get("config"))
        found[key] = {m["type"]: m["value"] for m in result["metrics"]}
    celeb = METRICS["Celeb-DF-v2"]
    assert found[("video-classification", "Celeb-DF-v2", None)] == {
        "roc_auc": round(100 * celeb["fused"]["auc"], 2), "eer": round(100 * celeb["fused"]["eer"], 2),
        "average_precision": round(100 * celeb["fused"]["ap"], 2), "accuracy": round(100 * celeb["fused"]["acc"], 2)}
    assert found[("image-segmentation", "Celeb-DF-v2", None)] == {
        "iou": round(100 * celeb["localization_masks"]["iou"], 2), "pbca": 90.0}
    assert found[("video-classification", "Celeb-DF-v2", "Celeb-synthesis")] == {"accuracy": 80.0}
    assert len(found) == 3  # the pooled "all" subset is left out when data sets are listed
    for section in ("## How to use", "## Training data", "## Training procedure", "## Evaluation",
                    "## Intended use", "## Out-of-scope use", "## Limitations and bias", "## Citation"):
        assert section in text
    assert 'pipeline("deepfake-detection", model="test/x", trust_remote_code=True, revision=' in text
    assert "trust_remote_code=True, revision=REVISION" in text
    assert "Delocate: Detection and Localization for Deepfake Videos with Randomly-Located Tampered Traces" in text
    assert "| Celeb-DF-v2 | 20 (10) | 91.3 | 16.2 | 90.1 | 80.0 |" in text
    assert json.loads((dry_run / "metrics.json").read_text()) == METRICS


def test_remote_code_loads_without_project_packages(dry_run, detector_dir, tmp_path):
    script = tmp_path / "isolated_load.py"
    script.write_text(ISOLATED_LOAD)
    out = tmp_path / "outputs.pt"
    result = subprocess.run(
        [sys.executable, str(script), str(REPO), str(dry_run), str(VIDEO), str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env=_env(HF_MODULES_CACHE=str(tmp_path / "modules")),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = torch.load(out, weights_only=True)
    assert remote["project_modules"] == []
    assert all(name.startswith("transformers_modules.") for name in remote["classes"]), remote["classes"]

    processor = DelocateFaceProcessor.from_pretrained(detector_dir)
    model = DelocateForDeepfakeDetection.from_pretrained(detector_dir).eval()
    inputs = processor(str(VIDEO), return_tensors="pt")
    with torch.no_grad():
        output = model(inputs["pixel_values"])
    torch.testing.assert_close(remote["pixel_values"], inputs["pixel_values"])
    torch.testing.assert_close(remote["roi_boxes"], inputs["roi_boxes"])
    for key in ("logits", "probabilities", "recovery_logits", "localization_logits", "frame_scores", "masks"):
        torch.testing.assert_close(remote[key], output[key], msg=key)


def test_push_uploads_exactly_the_dry_run_folder(dry_run, detector_dir, monkeypatch):
    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, **kwargs):
            calls["create_repo"] = (repo_id, kwargs)

        def create_branch(self, repo_id, **kwargs):
            calls["create_branch"] = (repo_id, kwargs)

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            folder = Path(folder_path)
            calls["upload_folder"] = (repo_id, kwargs, {p.relative_to(folder).as_posix(): p.read_bytes()
                                                        for p in folder.rglob("*") if p.is_file()})
            return type("CommitInfo", (), {"oid": "a" * 40, "commit_url": f"https://hf.co/{repo_id}/commit/aaaa"})()

        def upload_file(self, *, path_or_fileobj, path_in_repo, repo_id, **kwargs):
            calls["upload_file"] = (path_in_repo, Path(path_or_fileobj).read_text(), kwargs)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(hub_export, "hub_offline", lambda: False)
    result = push_to_hub(detector_dir, "test/x", private=True, revision="v1", metrics=detector_dir / "metrics.json",
                         token="hf_fake")
    repo_id, kwargs = calls["create_repo"]
    assert repo_id == "test/x" and kwargs["private"] is True and kwargs["repo_type"] == "model"
    assert calls["create_branch"][1]["branch"] == "v1"
    _, upload_kwargs, uploaded = calls["upload_folder"]
    assert upload_kwargs["revision"] == "v1" and upload_kwargs["delete_patterns"] == "*"
    expected = {p.name: p.read_bytes() for p in dry_run.iterdir()}
    assert uploaded.keys() == expected.keys()
    for name, content in expected.items():
        assert hashlib.sha256(uploaded[name]).digest() == hashlib.sha256(content).digest(), name
    path_in_repo, card, _ = calls["upload_file"]
    assert path_in_repo == "README.md" and f'revision="{"a" * 40}"' in card and "<commit-sha>" not in card
    assert result.pinned_revision == "a" * 40


def test_offline_push_fails_with_one_line(detector_dir, tmp_path):
    result = subprocess.run([*_delocate_cli(), "push", str(detector_dir), "--repo-id", "test/x"],
                            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("delocate push: error:") and "HF_HUB_OFFLINE" in lines[0]


def test_bad_inputs_are_one_line_errors(detector_dir, tmp_path, capsys):
    from delocate_hf.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"all": {"fused": {"auc": 91.3}}}))
    cases = [
        ["push", str(detector_dir), "--repo-id", "test/x", "--dry-run", str(tmp_path / "a"), "--metrics", str(bad)],
        ["push", str(tmp_path / "missing"), "--repo-id", "test/x", "--dry-run", str(tmp_path / "b")],
        ["push", str(detector_dir), "--repo-id", "not a repo id", "--dry-run", str(tmp_path / "c")],
        ["push", str(detector_dir), "--repo-id", "test/x", "--dry-run", str(detector_dir)],  # not empty
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("delocate push: error:"), (argv, err)
    with pytest.raises(ValueError):
        eval_results({"all": {"fused": {"auc": -0.1}}})


def test_verify_remote_code_catches_missing_and_project_imports(dry_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(dry_run, broken)
    (broken / "localization_modules.py").unlink()
    with pytest.raises(HubExportError, match="localization_modules"):
        verify_remote_code(broken)
    shutil.copy2(dry_run / "localization_modules.py", broken)
    source = (broken / "modeling_delocate.py").read_text()
    (broken / "modeling_delocate.py").write_text(source + "\n\ndef helper():\n    from processing import x\n")
    with pytest.raises(HubExportError, match="imports processing"):
        verify_remote_code(broken)


def _fake_spaces_app(folder: Path) -> Path:
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "app.py").write_text("import delocate_hf\nfrom delocate_hf.inference import load_detector\n")
    (folder / "README.md").write_text("---\ntitle: Delocate\nsdk: gradio\napp_file: app.py\n---\n\n# Delocate demo\n")
    return folder


def _check_space(space: Path) -> dict:
    for name in ("app.py", "requirements.txt", "README.md"):
        assert (space / name).is_file(), name
    header = yaml.safe_load((space / "README.md").read_text().split("---\n")[1])
    assert header["sdk"] == "gradio" and header["app_file"] == "app.py"
    assert header["sdk_version"] and isinstance(header["sdk_version"], str)
    requirements = (space / "requirements.txt").read_text().splitlines()
    active = [line for line in requirements if line.strip() and not line.startswith("#")]
    assert not any(line.lower().startswith(("delocate-hf", "delocate_hf", "-e")) for line in active)
    for name in ("torch", "transformers", "mediapipe", "av"):
        assert any(line.lower().startswith(name) for line in active), name
    for package in ("delocate_hf", "modeling", "processing"):
        assert (space / package / "__init__.py").is_file(), package
    assert not list(space.rglob("__pycache__"))
    model = space / "delocate_hf" / "default_model"
    assert (model / "model.safetensors").is_file() and (model / "README.md").is_file()
    verify_remote_code(model)
    return header


def test_space_dry_run_folder(detector_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(space_folder, "spaces_app_dir", lambda: _fake_spaces_app(tmp_path / "spaces_app"))
    space = export_space_folder(detector_dir, tmp_path / "space", metrics=METRICS, repo_id="test/space",
                                model_repo_id="test/x")
    header = _check_space(space)
    assert header["title"] == "Delocate" and header["models"] == ["test/x"]
    assert "# Delocate demo" in (space / "README.md").read_text()
    requirements = (space / "requirements.txt").read_text()
    assert "gradio" not in requirements and "datasets>=" in requirements  # the package's list, less Gradio
    # the vendored package and its bundled model run without the project on sys.path
    check = textwrap.dedent(
        """
        import os, sys
        repo, space = sys.argv[1:3]
        sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
        sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != repo]
        sys.path.insert(0, space)
        import delocate_hf
        from delocate_hf.inference import default_model_path, load_detector
        assert delocate_hf.__file__.startswith(space), delocate_hf.__file__
        model, processor = load_detector(None)
        assert str(default_model_path()).startswith(space)
        print(type(model).__name__, processor.num_frames)
        """
    )
    result = subprocess.run([sys.executable, "-c", check, str(REPO), str(space)], capture_output=True, text=True,
                            env=_env(), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DelocateForDeepfakeDetection 4" in result.stdout


def test_space_dry_run_with_the_project_app(detector_dir, tmp_path):
    """`delocate push --space --dry-run` with the real spaces_app/ folder (once the app is there)."""
    if not (hub_export.spaces_app_dir() / "app.py").is_file():
        pytest.skip("spaces_app/app.py is not written yet")
    from delocate_hf.cli import main

    assert main(["push", str(detector_dir), "--repo-id", "test/space", "--space", "--dry-run",
                 str(tmp_path / "space")]) == 0
    _check_space(tmp_path / "space")


def test_space_requirements_and_readme_header():
    from delocate_hf.hub.export import missing_package_requirements, space_readme, space_requirements

    lines = space_requirements("gradio==5.9.1\n-e .\ndelocate-hf[space]>=0.1\nnumpy<3\n").splitlines()
    assert lines == ["gradio==5.9.1", "# -e .  (vendored in this Space: delocate_hf/, modeling/, processing/)",
                     "# delocate-hf[space]>=0.1  (vendored in this Space: delocate_hf/, modeling/, processing/)",
                     "numpy<3"]  # the app's file is the Space's runtime list
    assert "mediapipe" in missing_package_requirements("\n".join(lines))
    text = space_readme("Some text\n", pinned_gradio="5.9.1")
    header = parse_card_metadata(text)
    assert header["sdk_version"] == "5.9.1" and header["sdk"] == "gradio" and header["app_file"] == "app.py"
    assert text.rstrip().endswith("Some text")
    with pytest.raises(HubExportError, match="sdk"):
        space_readme("---\nsdk: docker\n---\n")


def test_model_card_from_a_training_summary():
    from delocate_hf.hub.model_card import build_model_card

    summary = {"train_video": "/home/someone/videos/train.mp4", "caches": {"train": "/tmp/cache/train"},
               "data": {"train": {"real": 12, "self_blend": 12}, "heldout": {"real": 4}},
               "steps": {"recovery": 300, "localization": 200}, "learning_rate": 0.001, "metrics": METRICS,
               "eval_dataset": "demo held-out", "training data": ["FaceForensics++ c23, 4 manipulations"],
               "evaluation data": "held-out identities"}
    text = build_model_card({"num_frames": 16, "image_size": 224}, summary=summary, repo_id="org/delocate-small")
    assert "/home/someone" not in text and "/tmp/cache" not in text and "train_video" not in text
    assert "- FaceForensics++ c23, 4 manipulations" in text and "Evaluation data: held-out identities" in text
    assert "training data" not in text.split("## Training procedure")[1]  # shown once, in its own section
    assert "**steps**" in text and "**learning_rate**: 0.001" in text
    header = parse_card_metadata(text)
    assert header["model-index"][0]["name"] == "delocate-small"  # metrics taken from the summary
    summary_only_all = {"metrics": {"all": METRICS["all"]}, "eval_dataset": "demo held-out"}
    header = parse_card_metadata(build_model_card({}, summary=summary_only_all))
    datasets = {r["dataset"]["name"] for r in header["model-index"][0]["results"]}
    assert datasets == {"demo held-out"}
