"""`python scripts/benchmark.py paper-size` (scripts/benchmarks/paper_size.py; issue 28, point 3). The FLOP formulas
it adds to torch's counter are checked here on single layers; the section itself, run with `--tiny` (the same path as
the paper-size run: real video -> cache, Hub-format checkpoints, each stage's entry point with its pretrained init), is
marked `benchmark` (`pytest -m benchmark` or `make test-benchmark`). No timing assertions: the machine is shared."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import HANG_TIMEOUT
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]


def load_script():
    """`scripts/benchmarks/paper_size.py`, imported as the entry point imports it."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        return importlib.import_module("benchmarks.paper_size")
    finally:
        sys.path.remove(str(REPO / "scripts"))


def counted(fn, mapping=None) -> int:
    with FlopCounterMode(display=False, custom_mapping=mapping or {}) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("groups", [1, 4, 16])
def test_a_convolution_backward_costs_twice_its_forward_with_groups_too(groups):
    """Forward + backward of a convolution (input and weight gradients) = 3x its forward FLOPs, grouped or not; torch's
    own formula counts a grouped weight gradient as ungrouped (the reason for the correction)."""
    bench = load_script()
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, groups=groups)
    x = torch.randn(2, 16, 12, 12, requires_grad=True)
    forward = counted(lambda: conv(x))
    assert counted(lambda: conv(x).sum().backward(), bench.flop_formulas()) == 3 * forward
    if groups > 1:
        assert counted(lambda: conv(x).sum().backward()) > 3 * forward


def test_cpu_attention_is_counted_forward_and_backward():
    """SDPA on the CPU runs the flash kernel, which torch's table lacks: with the script's formulas its FLOPs are
    torch's SDPA formulas': 2 batched matmuls forward (QK^T, AV), 5 backward (the scores recomputed, then the
    gradients of V, the scores, Q and K)."""
    bench = load_script()
    q, k, v = (torch.randn(2, 3, 10, 8, requires_grad=True) for _ in range(3))

    def attention():
        torch.nn.functional.scaled_dot_product_attention(q, k, v).sum().backward()

    assert counted(attention) == 0  # torch alone sees nothing
    matmul = 2 * (2 * 3) * 10 * 10 * 8  # one (batch x heads) of 10x8 @ 8x10: 2 FLOPs per multiply-add
    assert counted(attention, bench.flop_formulas()) == (2 + 5) * matmul


@pytest.mark.benchmark
def test_tiny_run_trains_every_stage_from_its_pretrained_init(tmp_path):
    """`--tiny`: every stage ran its entry point for warm-up + timed + FLOP-counted steps from its pretrained init
    (VideoMAE folder, ResNet-18 folder, EfficientNet-Lite0 ImageNet weights), with positive step times, FLOPs and peak
    RSS; stage 1b's counted step is one forward + backward of the same model on a batch of 2; stage 2's
    H100 row scales the localizer to every frame; the JSON and the Markdown table are written."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark.py"), "--output-dir", str(tmp_path),
                           "paper-size", "--tiny", "--steps", "2", "--stage2-frames", "2"],
                          capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=str(REPO))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "paper_size_tiny.json").read_text())
    assert summary["tiny"] is True and summary["cache"]["frames"] == 4 and summary["cache"]["size"] == 64
    results = {r["stage"]: r for r in summary["results"]}
    assert list(results) == ["stage1", "stage1b", "stage2-resnet18", "stage2-efficientnet-lite0"]
    for stage, r in results.items():
        assert "failed" not in r, r
        assert r["optimizer_steps"] == 1 + 2 + 1 and len(r["step_seconds"]) == 2
        assert r["seconds_per_step"] > 0 and r["flops_per_step"] > 0 and r["peak_rss_mb"] > 100
        assert r["init_sources"] and all(s["loaded"] > 0 for s in r["init_sources"])
        assert r["init_log"] and all(line.startswith("init: ") for line in r["init_log"])
    assert [Path(s["source"]).name for s in results["stage1"]["init_sources"]] == ["videomae"]
    assert [Path(s["source"]).name for s in results["stage1b"]["init_sources"]] == ["videomae"]
    assert [Path(s["source"]).name for s in results["stage2-resnet18"]["init_sources"]] == ["resnet"]
    lite = results["stage2-efficientnet-lite0"]
    assert {s["target"].rsplit(".", 1)[0] for s in lite["init_sources"]} == {
        "DelocateForForgeryLocalization.localizer.mapping", "DelocateForForgeryLocalization.localizer.encoder"}
    assert lite["config"]["mapping_backbone"] == lite["config"]["loc_encoder"] == "efficientnet-lite0"
    for stage in ("stage2-resnet18", "stage2-efficientnet-lite0"):
        assert results[stage]["argv"][results[stage]["argv"].index("--frames_per_clip") + 1] == "2"
        assert results[stage]["flops_by_module"]["DelocateForMaskedRecovery"] > 0  # the frozen recovery forward

    # stage 1b's counted step against the forward FLOPs of the same tiny classifier on a batch of 2
    from modeling import DelocateConfig, DelocateForVideoClassification

    model = DelocateForVideoClassification(DelocateConfig.tiny())
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=load_script().flop_formulas()) as counter:
        model(torch.randn(2, 4, 3, 64, 64))
    ops = {str(op): flops for op, flops in counter.get_flop_counts()["Global"].items()}
    patches, attention = ops.pop("aten.convolution"), ops.pop("aten._scaled_dot_product_flash_attention_for_cpu")
    # backward: the patch embedding's weight gradient only (pixels need none), 2.5x for attention (torch's formula),
    # 2x for every other matmul
    expected = (patches + attention + sum(ops.values())) + patches + 2.5 * attention + 2 * sum(ops.values())
    assert results["stage1b"]["flops_per_step"] == pytest.approx(expected, rel=1e-3)

    rows = {row["stage"]: row for row in summary["gpu"]["rows"]}
    resnet = results["stage2-resnet18"]
    localizer = resnet["flops_by_module"]["DelocateForForgeryLocalization"]
    assert rows["stage2-resnet18"]["flops_per_clip"] == pytest.approx((resnet["flops_per_step"] + localizer) / 4)
    assert rows["stage1"]["schedule_steps"] == 100_000 and rows["stage1b"]["flops_per_step_batch8"] == pytest.approx(
        results["stage1b"]["flops_per_step"] / 2 * 8)
    table = (tmp_path / "paper_size_tiny.md").read_text()
    assert table.count("\n| 1 recovery") == 2 and "4 x 4 (localizer: 2 frames each)" in table
