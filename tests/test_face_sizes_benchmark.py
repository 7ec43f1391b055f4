"""`scripts/benchmark.py face-sizes` (scripts/benchmarks/face_sizes.py): its table and minimum-face-height rule from a
summary of the shape it writes (no benchmark is run), and (marked `benchmark`) a short real run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HANG_TIMEOUT

REPO = Path(__file__).resolve().parents[1]


def _benchmark_module():
    """`scripts/benchmarks/face_sizes.py`, imported as the entry point imports it."""
    import importlib

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        return importlib.import_module("benchmarks.face_sizes")
    finally:
        sys.path.remove(str(REPO / "scripts"))


def _row(backend, size, found, nme, condition="plain"):
    return {"backend": backend, "condition": condition, "face_height": size, "faces": 24, "found": found,
            "detection_rate": found / 24, "nme_median": nme, "nme_mean": nme, "nme_faces": found, "false_faces": 0,
            "ms_per_frame": 10.0}


def test_min_face_height_and_table():
    benchmark = _benchmark_module()
    rows = [_row("mediapipe-before", 32, 0, None), _row("mediapipe-before", 64, 0, None),
            _row("mediapipe-before", 128, 23, 0.05),
            _row("mediapipe", 32, 20, 0.08), _row("mediapipe", 64, 24, 0.05), _row("mediapipe", 128, 24, 0.04),
            _row("mediapipe", 64, 20, 0.06, "dark")]
    assert benchmark._min_face_height(rows, "mediapipe") == 64  # 20/24 < 90 % at 32 px
    assert benchmark._min_face_height(rows, "mediapipe-before") == 128
    rows.append(_row("mediapipe", 256, 10, 0.05))  # a larger size failing breaks "from N px up"
    assert benchmark._min_face_height(rows, "mediapipe") is None
    rows.pop()
    table = benchmark.face_sizes_table({"canvas": [720, 1280], "rows": rows, "fps": [
        {"backend": "mediapipe", "clip": "c", "fps": 50.0, "frames": 8, "frames_with_face": 8}]})
    assert "| face height (px), 1280x720 frame | mediapipe-before | mediapipe |" in table
    assert "| 64 | 0/24 · – | 24/24 · 5.0 % |" in table
    assert "| 64, dark |  | 20/24 · 6.0 % |" in table
    assert "| **faces from (px up)** | **128** | **64** |" in table
    assert "| mediapipe | c | 50.0 | 8/8 |" in table


@pytest.mark.benchmark
def test_face_sizes_benchmark_runs(tmp_path):
    command = [sys.executable, str(REPO / "scripts" / "benchmark.py"), "--output-dir", str(tmp_path), "face-sizes",
               "--sizes", "48", "--conditions", "plain", "dark", "--condition-sizes", "64", "--backends",
               "mediapipe-before", "mediapipe", "--fps-frames", "4", "--repeats", "1"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "face_sizes.json").read_text())
    rows = {(r["backend"], r["condition"], r["face_height"]): r for r in result["rows"]}
    assert set(rows) == {(b, c, s) for b in ("mediapipe-before", "mediapipe") for c, s in (("plain", 48), ("dark", 64))}
    assert len(result["sources"]) == 24 and rows[("mediapipe", "plain", 48)]["faces"] == 24
    # the short-range model alone finds none of these 48 px faces in 1280x720 frames; full-range detection does
    assert rows[("mediapipe-before", "plain", 48)]["found"] == 0 and rows[("mediapipe", "plain", 48)]["found"] >= 18
    assert (tmp_path / "face_sizes.md").read_text().startswith("| face height (px), 1280x720 frame |")
    assert {r["clip"] for r in result["fps"]} >= {"single_face.mp4 640x360"}
