"""`models`: forward seconds and FLOPs per clip of the fused detector against a bare transformers
`VideoMAEForVideoClassification` of the same size (tiny and paper-size; the paper-size models are also timed in turn
in one process, whose times the ratios use), with the encoder / localizer split (target: fused <= 1.3x bare)."""

from __future__ import annotations

import os
import statistics
import sys
import time

from .common import in_fresh_process, machine, median_time, peak_rss_mb
from .table import markdown_table


def delocate_config(name: str, attn: str = "sdpa"):
    from modeling import DelocateConfig

    config = {"tiny": DelocateConfig.tiny, "small": DelocateConfig.small, "base": DelocateConfig}[name]()
    config._attn_implementation = attn
    return config


def count_flops(model, inputs) -> tuple[int, dict[str, int]]:
    """FLOPs of `model(inputs)` with `torch.utils.flop_counter.FlopCounterMode` (a multiply-add = 2 FLOPs).

    torch's table has no entry for the CPU SDPA kernel (`_scaled_dot_product_flash_attention_for_cpu`), which would
    silently drop the attention matmuls (a quarter of VideoMAE-B's work): it is mapped to torch's own SDPA formula.
    Returns the total and the per-module totals of the direct children of the top module.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    aten = torch.ops.aten
    mapping = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        mapping[aten._scaled_dot_product_flash_attention_for_cpu] = cpu_sdpa_flop
    with torch.inference_mode(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        model(inputs)
    per_module = {}
    top = type(model).__name__
    for name, counts in counter.get_flop_counts().items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == top:
            per_module[parts[1]] = int(sum(counts.values()))
    return int(counter.get_total_flops()), per_module


def _build_model(config_name: str, kind: str, attn: str):
    """`fused`: DelocateForDeepfakeDetection as configured (base: localizer on 4 of 16 frames); `fused_every_frame`:
    the localizer on every frame; `bare`: transformers' VideoMAEForVideoClassification, same encoder."""
    import torch
    from transformers import VideoMAEForVideoClassification

    from modeling import DelocateForDeepfakeDetection

    torch.manual_seed(0)
    config = delocate_config(config_name, attn)
    if kind == "fused_every_frame":
        config.localization_frames = None
    if kind in ("fused", "fused_every_frame"):
        model = DelocateForDeepfakeDetection(config)
    elif kind == "bare":
        videomae_config = config.to_videomae_config()
        videomae_config.num_labels = 1
        videomae_config._attn_implementation = attn
        model = VideoMAEForVideoClassification(videomae_config)
    else:
        raise ValueError(kind)
    return model.eval(), config


def _models_worker(config_name: str, kind: str, attn: str, warmup: int, repeats: int, components: bool) -> dict:
    import torch

    rss_start = peak_rss_mb()
    model, config = _build_model(config_name, kind, attn)
    inputs = torch.randn(1, config.num_frames, config.num_channels, config.image_size, config.image_size)
    with torch.inference_mode():
        median, times = median_time(lambda: model(inputs), warmup, repeats)
        row = {
            "config": config_name, "model": kind, "class": type(model).__name__, "attn_implementation": attn,
            "input_shape": list(inputs.shape),
            "parameters": sum(p.numel() for p in model.parameters()), "torch_threads": torch.get_num_threads(),
            "forward_s": median, "forward_times_s": times,
        }
        if components and kind == "fused":  # where the fused detector's time goes
            from modeling.modeling_delocate import localized_frame_indices

            frames = inputs[:, localized_frame_indices(config.num_frames, config.localization_frames)].flatten(0, 1)
            row["localized_frames"] = int(frames.shape[0])
            row["encoder_s"] = median_time(lambda: model._classify(inputs), 0, repeats)[0]
            row["localizer_s"] = median_time(lambda: model.localizer(frames), 0, repeats)[0]
    row["peak_rss_mb"] = peak_rss_mb()
    row["rss_at_start_mb"] = rss_start
    flops, per_module = count_flops(model, inputs)
    row["flops"] = flops
    row["flops_per_module"] = per_module
    row["achieved_gflops"] = flops / median / 1e9
    row["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    return row


def _interleaved_worker(config_name: str, kinds: tuple[str, ...], attn: str, rounds: int) -> dict:
    """Forward times of several models timed in turn, round after round, in one process: slow phases of a shared
    machine hit every model alike, so the ratios are steadier than from separate processes. Returns
    {kind: [seconds per round]}."""
    import torch

    models = {kind: _build_model(config_name, kind, attn) for kind in kinds}
    config = next(iter(models.values()))[1]
    inputs = torch.randn(1, config.num_frames, config.num_channels, config.image_size, config.image_size)
    times = {kind: [] for kind in kinds}
    with torch.inference_mode():
        for kind, (model, _) in models.items():  # warm-up
            model(inputs)
        for _ in range(rounds):
            for kind, (model, _) in models.items():
                start = time.perf_counter()
                model(inputs)
                times[kind].append(time.perf_counter() - start)
    return times


def run_models(args) -> dict:
    rows = []
    for config_name in args.configs:
        base_like = config_name == "base"
        warmup, repeats = (args.warmup, args.repeats) if base_like else (max(args.warmup, 3), max(args.repeats, 20))
        # the tiny/small presets already localize every frame
        kinds = ("fused", "fused_every_frame", "bare") if base_like else ("fused", "bare")
        for attn in args.attn:
            for kind in kinds:
                print(f"models: {config_name} {kind} ({attn}) ...", file=sys.stderr, flush=True)
                rows.append(in_fresh_process(_models_worker, config_name, kind, attn, warmup, repeats,
                                              not args.no_components))
            if base_like and args.rounds:
                # the forward times that the ratios use: all models in one process, timed in turn
                print(f"models: {config_name} {'/'.join(kinds)} ({attn}) interleaved x{args.rounds} ...",
                      file=sys.stderr, flush=True)
                interleaved = in_fresh_process(_interleaved_worker, config_name, kinds, attn, args.rounds)
                for row in rows[-len(kinds):]:
                    row["separate_process_forward_s"] = row["forward_s"]
                    row["forward_times_s"] = interleaved[row["model"]]
                    row["forward_s"] = statistics.median(interleaved[row["model"]])
                    row["achieved_gflops"] = row["flops"] / row["forward_s"] / 1e9
                    row["timing"] = f"median of {args.rounds} interleaved rounds"
    ratios = {}
    for config_name in args.configs:
        for attn in args.attn:
            fused = next(r for r in rows if (r["config"], r["model"], r["attn_implementation"]) == (config_name, "fused", attn))
            bare = next(r for r in rows if (r["config"], r["model"], r["attn_implementation"]) == (config_name, "bare", attn))
            ratios[f"{config_name}_{attn}"] = {
                "time_ratio": fused["forward_s"] / bare["forward_s"],
                "flop_ratio": fused["flops"] / bare["flops"],
            }
            every = [r for r in rows if (r["config"], r["model"], r["attn_implementation"])
                     == (config_name, "fused_every_frame", attn)]
            if every:
                ratios[f"{config_name}_{attn}_every_frame"] = {
                    "time_ratio": every[0]["forward_s"] / bare["forward_s"],
                    "flop_ratio": every[0]["flops"] / bare["flops"],
                }
    result = {"benchmark": "models", "machine": machine(), "results": rows, "fused_vs_bare": ratios,
              "target_fused_vs_bare": 1.3}
    print(markdown_table(
        ["config", "model", "attention", "params", "GFLOP/clip", "forward s/clip", "achieved GFLOP/s", "peak RSS MiB"],
        [(r["config"], r["class"] + (" (every frame)" if r["model"] == "fused_every_frame" else ""),
          r["attn_implementation"], f"{r['parameters'] / 1e6:.2f} M", f"{r['flops'] / 1e9:.2f}", f"{r['forward_s']:.3f}",
          f"{r['achieved_gflops']:.1f}", f"{r['peak_rss_mb']:.0f}") for r in rows]))
    for key, value in ratios.items():
        print(f"fused / bare VideoMAE ({key}): time {value['time_ratio']:.2f}x, FLOPs {value['flop_ratio']:.2f}x "
              "(target <= 1.3x)")
    return result


def add_models_parser(subparsers) -> None:
    p = subparsers.add_parser("models", help="forward time and FLOPs per clip; fused detector vs bare VideoMAE")
    p.add_argument("--configs", nargs="+", default=["tiny", "base"], choices=["tiny", "small", "base"])
    p.add_argument("--attn", nargs="+", default=["sdpa"], choices=["sdpa", "eager"],
                   help="VideoMAE attention implementation(s) to time")
    p.add_argument("--warmup", type=int, default=1, help="untimed forwards first (tiny/small: at least 3)")
    p.add_argument("--repeats", type=int, default=3, help="timed forwards, median reported (tiny/small: at least 20)")
    p.add_argument("--no-components", action="store_true", help="skip the encoder / localizer split of the fused model")
    p.add_argument("--rounds", type=int, default=7,
                   help="base config: rounds of the interleaved timing the ratios use (0: separate processes only)")
    p.set_defaults(func=run_models, name="models")
