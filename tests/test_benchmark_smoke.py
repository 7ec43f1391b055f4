"""Smoke test of scripts/benchmark.py (the sections of scripts/benchmarks/): the cheapest subcommand runs and writes
the JSON keys the report reads; the `all` and `memory` tables render from summaries of the shape the sections return.
No timing assertions (the machine is shared). The end-to-end `detect` and `memory` runs are marked `benchmark`
(minutes on a busy machine): `pytest -m benchmark` or `make test-benchmark` runs them; `make test` skips them."""

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


def _section(name: str):
    """`scripts/benchmarks/<name>.py`, imported as the entry point imports it."""
    import importlib

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        return importlib.import_module(f"benchmarks.{name}")
    finally:
        sys.path.remove(str(REPO / "scripts"))


def test_entry_point_lists_every_section():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark.py"), "--help"], capture_output=True,
                          text=True, timeout=HANG_TIMEOUT, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    for section in ("processor", "face-sizes", "faces-fps", "sampling", "hardware", "models", "detect", "help",
                    "memory", "paper-size", "all", "table"):
        assert section in proc.stdout
    assert "shared" not in (REPO / "scripts" / "benchmarks" / "common.py").read_text()  # the repository's media only


def test_markdown_table_from_summary():
    """The `all` table renders from a summary of the shape the subcommands return (no benchmark is run)."""
    summary_module = _section("summary")
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
    table = summary_module.summary_table(summary)
    assert "| metric | value | target | met? |" in table
    assert "| fused / bare VideoMAE time, base sdpa (FLOP ratio 1.90x) | 2.00x | <= 1.3x | **no** |" in table
    assert "| end-to-end warm / fp32 FLOP floor, base float32 | 1.11x | <= 1.2x | yes |" in table
    assert "base fused detector (4 of 16 frames localized)" in table


def _memory_row(size, rss, wall, rss_overlay, wall_overlay):
    return {"size": size, "detect": {"peak_rss_mb": rss, "wall_s": wall},
            "overlay": {"peak_rss_mb": rss_overlay, "wall_s": wall_overlay}}


def test_memory_table_and_targets_from_summary():
    """The memory-vs-resolution table and its three targets, from a summary of the shape `memory` returns."""
    memory = _section("memory")
    result = {"frames": 128, "video_frames": 288, "model": "the shipped default model", "overlay_size": None,
              "commit": "abc1234", "loadavg_start": [1, 1, 1], "loadavg_end": [2, 2, 2],
              "rows": [_memory_row("640x360", 850.0, 7.5, 1100.0, 10.7), _memory_row("1920x1080", 900.0, 12.0, 1200.0, 20.0),
                       _memory_row("3840x2160", 1300.0, 30.0, 2300.0, 95.0)]}
    table = memory.memory_table(result)
    assert "| video | peak RSS | wall time | with `--overlay OUT.mp4`: peak RSS | wall time |" in table
    assert "| 3840x2160 | 1.27 GB | 30.0 s | 2.25 GB | 95.0 s |" in table
    assert "| peak RSS 3840x2160 / 640x360, without overlay | 1.53x | <= 1.5x | **no** |" in table
    assert "| peak RSS 3840x2160 / 640x360, with overlay | 2.09x | <= 2x | **no** |" in table
    assert "| wall time 3840x2160, with / without overlay | 3.17x | <= 3x | **no** |" in table
    result["rows"][-1] = _memory_row("3840x2160", 1000.0, 30.0, 1300.0, 60.0)
    assert [met for *_, met in memory.memory_targets(result)] == [True, True, True]


@pytest.mark.benchmark
def test_memory_benchmark_runs_the_cli(tmp_path):
    """`benchmark.py memory` end to end on two small sizes with a tiny detector: the real clip looped and upscaled,
    `delocate detect` with and without the overlay in fresh processes."""
    from conftest import save_tiny_detector

    model = save_tiny_detector(tmp_path / "tiny")
    command = [sys.executable, str(REPO / "scripts" / "benchmark.py"), "--output-dir", str(tmp_path), "memory",
               "--sizes", "320x180", "960x540", "--frames", "8", "--video-frames", "80", "--model", str(model)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "memory.json").read_text())
    assert [r["size"] for r in result["rows"]] == ["320x180", "960x540"]
    for row in result["rows"]:
        assert row["video"]["frames"] == 80
        assert row["detect"]["frame_size"] == row["overlay"]["frame_size"] == list(
            reversed([int(v) for v in row["size"].split("x")]))
        for key in ("detect", "overlay"):
            assert row[key]["analysed_frames"] == 8 and row[key]["peak_rss_mb"] > 100 and row[key]["wall_s"] > 0
    assert len(result["targets"]) == 3
    assert (tmp_path / "memory.md").read_text().startswith("| video | peak RSS |")


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
