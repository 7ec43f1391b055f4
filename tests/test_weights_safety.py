"""Safety of weights: only safetensors are written and read; every `torch.load` passes `weights_only=True`.

The repository's Python files (library, scripts, Space, tests) are parsed (AST, so strings and comments do not
count) for `torch.load(...)` without `weights_only=True`, `pickle`/`dill`/`joblib`/`cloudpickle` loads, and
`safe_serialization=False` (pytorch_model.bin writing). An in-memory `pickle.loads(pickle.dumps(obj))` round trip
(picklability checks) reads no file and is allowed. A saved model folder holds `.safetensors` weights only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SCANNED = ["delocate_hf", "experiments", "modeling", "processing", "scripts", "spaces_app", "tests"]
PICKLE_MODULES = {"pickle", "dill", "joblib", "cloudpickle", "_pickle"}


def python_files() -> list[Path]:
    files = []
    for top in SCANNED:
        root = REPO / top
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files += [p for p in root.rglob("*.py") if ".venv" not in p.parts and "__pycache__" not in p.parts]
    return sorted(files)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def unsafe_calls(source: str, filename: str) -> list[str]:
    """`file:line: reason` for each unsafe load/save call in `source`."""
    found = []
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        where = f"{filename}:{node.lineno}"
        if name in ("torch.load", "th.load"):
            flag = _keyword(node, "weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                found.append(f"{where}: torch.load without weights_only=True")
        elif name.split(".")[0] in PICKLE_MODULES and name.split(".")[-1] in ("load", "loads", "Unpickler"):
            arg = node.args[0] if node.args else None
            in_memory = (name.endswith(".loads") and isinstance(arg, ast.Call)
                         and _dotted(arg.func).split(".")[-1] == "dumps")
            if not in_memory:  # `pickle.loads(pickle.dumps(obj))` (a picklability check) reads no file
                found.append(f"{where}: {name} (pickle deserialisation)")
        flag = _keyword(node, "safe_serialization")
        if isinstance(flag, ast.Constant) and flag.value is False:
            found.append(f"{where}: safe_serialization=False (writes pytorch_model.bin)")
    return found


def test_scanner_catches_the_unsafe_patterns():
    bad = (
        "import torch, pickle\n"
        "torch.load('a.pt')\n"
        "torch.load('a.pt', weights_only=False)\n"
        "pickle.load(open('m.pkl', 'rb'))\n"
        "model.save_pretrained('out', safe_serialization=False)\n"
        "torch.load('a.pt', weights_only=True)\n"
        "same = pickle.loads(pickle.dumps(processor))\n"
        "text = 'torch.load(x)'  # only a string\n"
    )
    found = unsafe_calls(bad, "bad.py")
    assert [f.split(":")[1] for f in found] == ["2", "3", "4", "5"], found


def test_repository_has_no_unsafe_weight_loading_or_saving():
    files = python_files()
    assert len(files) > 20 and any(p.name == "loop.py" for p in files)
    found = []
    for path in files:
        found += unsafe_calls(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert not found, "unsafe weight (de)serialisation:\n" + "\n".join(found)


def test_saved_model_folder_holds_safetensors_only(tmp_path):
    from modeling import DelocateConfig, DelocateForDeepfakeDetection

    torch.manual_seed(0)
    model = DelocateForDeepfakeDetection(DelocateConfig.tiny())
    model.save_pretrained(tmp_path / "model")  # the defaults
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    weights = [n for n in files if n.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt", ".safetensors", ".h5"))]
    assert weights == ["model.safetensors"], files
    again = DelocateForDeepfakeDetection.from_pretrained(tmp_path / "model")
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
