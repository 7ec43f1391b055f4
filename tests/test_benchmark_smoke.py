"""Smoke test of scripts/benchmark.py: the cheapest subcommand runs and writes the JSON keys the report reads.
No timing assertions (the machine is shared). The end-to-end `detect` run is marked `benchmark` (minutes on a busy
machine): `pytest -m benchmark` or `make test-benchmark` runs it; `make test` skips it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HANG_TIMEOUT

REPO = Path(__file__).resolve().parents[1]


def test_hardware_quick_writes_json(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark.py"), "--output-dir", str(tmp_path), "hardware", "--quick"],
        capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=str(REPO),
    )
    assert proc.returncode == 0, proc.stderr
    assert "GFLOP/s" in proc.stdout
    result = json.loads((tmp_path / "hardware.json").read_text())
    assert result["benchmark"] == "hardware" and result["quick"] is True
    assert result["matmul_gflops"] > 0
    assert {"cpus", "torch_threads", "loadavg"} <= set(result["machine"])
    assert result["matmul_gflops_bf16"] > 0
    assert [(row["dtype"], row["size"]) for row in result["matmul"]] == [
        ("float32", 512), ("float32", 1024), ("bfloat16", 512), ("bfloat16", 1024)]
    for row in result["matmul"]:
        assert {"median_s", "best_s", "gflops_median", "gflops_best"} <= set(row)


def test_markdown_table_from_summary():
    """The `all` table renders from a summary of the shape the subcommands return (no benchmark is run)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import benchmark
    finally:
        sys.path.remove(str(REPO / "scripts"))
    machine = {"cpus": 2, "torch": "x", "torch_threads": 2, "loadavg": [1.0, 1.0, 1.0]}
    proc_row = {"backend": "mediapipe", "frame_size": [360, 640], "decode_fps": 500.0, "landmarks_crop_fps": 200.0,
                "processor_clip_s": 0.1, "peak_rss_mb": 600.0}
    model_row = {"config": "base", "model": "fused", "attn_implementation": "sdpa", "flops": 7e11, "forward_s": 10.0,
                 "achieved_gflops": 70.0, "encoder_s": 5.0, "localizer_s": 5.0, "peak_rss_mb": 900.0,
                 "input_shape": [1, 16, 3, 224, 224], "localized_frames": 4}
    bare_row = {**model_row, "model": "bare", "flops": 3.6e11, "forward_s": 5.0}
    del bare_row["encoder_s"], bare_row["localizer_s"]
    detect_row = {"config": "base", "dtype": "float32", "clip": "16x224^2", "seconds_per_video": 15.0,
                  "flops_per_clip": 7e11, "flop_floor_s": 9.0, "ratio_to_floor": 15 / 9, "peak_rss_mb": 1500.0,
                  "warm_videos": 4, "warm_seconds_per_video": 10.0, "warm_ratio_to_floor": 10 / 9, "stages": None}
    summary = {
        "video": "/x/single_face.mp4", "machine": machine, "loadavg_start": [1, 1, 1], "loadavg_end": [1, 1, 1],
        "elapsed_s": 1.0,
        "processor": {"results": [proc_row], "mediapipe_vs_dlib68_speedup": None},
        "hardware": {"machine": machine, "matmul": [{"size": 2048}], "matmul_gflops": 78.0},
        "models": {"results": [model_row, bare_row], "fused_vs_bare": {"base_sdpa": {"time_ratio": 2.0, "flop_ratio": 1.9}}},
        "detect": {"matmul_gflops": 78.0, "results": [detect_row]},
    }
    table = benchmark.markdown_table(summary)
    assert "| metric | value | target | met? |" in table
    assert "| fused / bare VideoMAE time, base sdpa (FLOP ratio 1.90x) | 2.00x | <= 1.3x | **no** |" in table
    assert "| end-to-end warm / fp32 FLOP floor, base float32 | 1.11x | <= 1.2x | yes |" in table
    assert "base fused detector (4 of 16 frames localized)" in table


@pytest.mark.benchmark
def test_detect_benchmark_runs_the_cli_on_the_tiny_config(tmp_path):
    """`benchmark.py detect` end to end on the tiny config (one-shot, several-video and warm runs of the real CLI)."""
    command = [sys.executable, str(REPO / "scripts" / "benchmark.py"), "--output-dir", str(tmp_path), "detect",
               "--configs", "tiny", "--repeats", "1", "--warm-videos", "2", "--warm-calls", "1"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "detect.json").read_text())
    (row,) = result["results"]
    assert row["config"] == "tiny" and row["dtype"] == "float32" and row["result"]["label"] in ("real", "fake")
    assert row["seconds_for_warm_videos"] > 0 and row["seconds_per_video"] > row["warm_seconds_per_video"] > 0
    assert row["stages"]["detect_video_s"] == row["warm_seconds_per_video"]
    assert row["warm_ratio_to_floor"] == row["warm_seconds_per_video"] / row["flop_floor_s"]
