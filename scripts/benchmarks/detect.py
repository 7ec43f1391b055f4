"""`detect`: end-to-end `delocate detect` seconds per video (one-shot, several videos per call, and warm
`detect_video` calls with the model loaded, stage by stage), peak RSS, and the ratio to the FLOP floor of the model
work (target: warm <= 1.2x the fp32 floor for the paper-size detector)."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .common import DEFAULT_VIDEO, delocate_command, in_fresh_process, machine, run_child
from .hardware import hardware_worker, matmul_gflops
from .models import count_flops, delocate_config
from .table import markdown_table


def _save_detector_worker(config_name: str, folder: str) -> dict:
    """Randomly initialised `DelocateForDeepfakeDetection` + matching processor saved into `folder` (speed does
    not depend on training); returns the model's FLOPs per clip."""
    import torch

    from modeling import DelocateForDeepfakeDetection
    from processing.image_processing_delocate import DelocateFaceProcessor

    torch.manual_seed(0)
    config = delocate_config(config_name)
    config.architectures = ["DelocateForDeepfakeDetection"]
    model = DelocateForDeepfakeDetection(config).eval()
    model.save_pretrained(folder)
    DelocateFaceProcessor(num_frames=config.num_frames, size=config.image_size).save_pretrained(folder)
    inputs = torch.zeros(1, config.num_frames, config.num_channels, config.image_size, config.image_size)
    flops, per_module = count_flops(model, inputs)
    return {"flops": flops, "flops_per_module": per_module, "num_frames": config.num_frames,
            "image_size": config.image_size}


def _detect_stages_worker(folder: str, video: str, dtype: str = "float32", warm_calls: int = 5) -> dict:
    """Where `delocate detect`'s time goes, stage by stage, in one fresh process (same code path as the CLI), then
    `warm_calls` more `detect_video` calls with the model loaded (what each video of a multi-video call costs)."""
    start = time.perf_counter()
    import torch

    from delocate_hf.inference import detect as D
    from processing.video_io import iter_clips

    timings = {"import_s": time.perf_counter() - start}
    t = time.perf_counter()
    model, processor = D.load_detector(folder, dtype=dtype)
    timings["load_model_s"] = time.perf_counter() - t
    clip_len = D.clip_length(model)
    t = time.perf_counter()
    clips = list(iter_clips(video, clip_len, 1))
    timings["decode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    feats = processor(clips[0].frames, num_frames=clip_len, sampling="uniform", return_tensors="pt")
    timings["face_processor_s"] = time.perf_counter() - t
    with torch.inference_mode():
        t = time.perf_counter()
        model(pixel_values=feats["pixel_values"].to(model.dtype))
        timings["forward_s"] = time.perf_counter() - t
    # each warm call is preceded by a matmul measurement, so that the floor follows the machine's speed of the
    # moment (a shared machine has slow phases that would otherwise count as software overhead)
    calls, rates = [], []
    for _ in range(max(1, warm_calls)):
        rates.append(matmul_gflops(2048, 2)["gflops_best"])
        start = time.perf_counter()
        D.detect_video(video, model, processor, progress=False)
        calls.append(time.perf_counter() - start)
    timings["detect_video_s"], timings["detect_video_times_s"] = statistics.median(calls), calls
    timings["interleaved_matmul_gflops"], timings["interleaved_matmul_gflops_all"] = statistics.median(rates), rates
    timings["attn_implementation"] = model.config._attn_implementation
    timings["torch_threads"] = torch.get_num_threads()
    return timings


def _matmul_rates(args, gflops: dict | None) -> dict:
    """{"float32": GFLOP/s, "bfloat16": GFLOP/s}: from `gflops`, a full `hardware` run saved earlier, or measured."""
    if gflops is not None:
        return gflops
    previous = Path(args.output_dir) / "hardware.json"
    if previous.is_file():
        saved = json.loads(previous.read_text())
        if not saved.get("quick") and "matmul_gflops_bf16" in saved:
            return {"float32": saved["matmul_gflops"], "bfloat16": saved["matmul_gflops_bf16"]}
    print("detect: measuring matmul GFLOP/s ...", file=sys.stderr, flush=True)
    measured = in_fresh_process(hardware_worker, [2048], 3, ("float32", "bfloat16"))
    return {dtype: max(r["gflops_best"] for r in measured["matmul"] if r["dtype"] == dtype)
            for dtype in ("float32", "bfloat16")}


def _time_cli(command: list[str], repeats: int) -> tuple[float, list[dict], str]:
    """Median wall seconds of `repeats` runs of `command` (a `delocate detect` line), the runs, the last stdout."""
    runs, out = [], ""
    for _ in range(max(1, repeats)):
        wall, peak, code, out, err = run_child(command)
        if code != 0:
            raise RuntimeError(f"delocate detect failed ({code}): {err.strip()[-2000:]}")
        runs.append({"wall_s": wall, "peak_rss_mb": peak})
    return statistics.median(r["wall_s"] for r in runs), runs, out


def run_detect(args, gflops: dict | None = None) -> dict:
    """End-to-end `delocate detect` per video, two ways, in fresh processes:

    * one-shot: `delocate detect VIDEO` (import + model load + decode + faces + forward), median of `repeats` runs;
    * warm: the median of `warm_calls` `detect_video` calls in one process with the model loaded (decode, faces,
      forward, masks pasted back: what each video of `delocate detect a.mp4 b.mp4 ...`, the pipeline or the Space
      costs), cross-checked by the CLI's marginal seconds per video when one call analyses N copies of the video
      (`(t(N videos) - t(1 video)) / (N - 1)`).

    Each is compared with the FLOP floor of the model work (FLOPs per clip / measured matmul GFLOP/s, fp32; for
    bfloat16 runs also against the bf16 matmul rate)."""
    video = str(Path(args.video).expanduser())
    rates = _matmul_rates(args, gflops)
    rows = []
    for config_name in args.configs:
        dtypes = ["float32", "bfloat16"] if config_name == "base" else ["float32"]
        with tempfile.TemporaryDirectory(prefix=f"delocate-bench-{config_name}-") as folder:
            print(f"detect: saving a random {config_name} detector ...", file=sys.stderr, flush=True)
            saved = in_fresh_process(_save_detector_worker, config_name, folder)
            for dtype in dtypes:
                base_cmd = delocate_command() + ["detect", "--model", folder, "--json", "--quiet", "--dtype", dtype]
                print(f"detect: {config_name} {dtype} `delocate detect` x{args.repeats} ...", file=sys.stderr,
                      flush=True)
                one, runs, out = _time_cli(base_cmd + [video], args.repeats)
                print(f"detect: {config_name} {dtype} `delocate detect` on {args.warm_videos} videos ...",
                      file=sys.stderr, flush=True)
                many, many_runs, _ = _time_cli(base_cmd + [video] * args.warm_videos, 1)
                marginal = (many - one) / (args.warm_videos - 1)
                print(f"detect: {config_name} {dtype} stages and warm `detect_video` x{args.warm_calls} ...",
                      file=sys.stderr, flush=True)
                stages = in_fresh_process(_detect_stages_worker, folder, video, dtype, args.warm_calls)
                warm = stages["detect_video_s"]
                floor = saved["flops"] / (rates["float32"] * 1e9)
                interleaved_floor = saved["flops"] / (stages["interleaved_matmul_gflops"] * 1e9)
                row = {
                    "config": config_name, "dtype": dtype,
                    "clip": f"{saved['num_frames']}x{saved['image_size']}^2",
                    "command": "delocate detect VIDEO [VIDEO ...] --model DIR --json --quiet --dtype " + dtype,
                    "seconds_per_video": one, "runs": runs,
                    "warm_videos": args.warm_videos, "seconds_for_warm_videos": many,
                    "cli_marginal_seconds_per_video": marginal, "cli_marginal_ratio_to_floor": marginal / floor,
                    "warm_calls": args.warm_calls, "warm_seconds_per_video": warm, "stages": stages,
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in runs + many_runs),
                    "flops_per_clip": saved["flops"], "flops_per_module": saved["flops_per_module"],
                    "flop_floor_s": floor, "ratio_to_floor": one / floor, "warm_ratio_to_floor": warm / floor,
                    "interleaved_flop_floor_s": interleaved_floor,
                    "warm_ratio_to_interleaved_floor": warm / interleaved_floor,
                    "result": json.loads(out.strip().splitlines()[-1]) if out.strip() else None,
                }
                if dtype == "bfloat16":
                    row["bf16_flop_floor_s"] = saved["flops"] / (rates["bfloat16"] * 1e9)
                    row["warm_ratio_to_bf16_floor"] = warm / row["bf16_flop_floor_s"]
                rows.append(row)
    result = {"benchmark": "detect", "video": video, "machine": machine(), "matmul_gflops": rates["float32"],
              "matmul_gflops_bf16": rates["bfloat16"], "results": rows, "target_ratio_to_floor": 1.2}
    print(markdown_table(
        ["config", "dtype", "clip", "one-shot s/video", "warm s/video", "fp32 FLOP floor s", "one-shot ratio",
         "warm ratio", "peak RSS MiB"],
        [(r["config"], r["dtype"], r["clip"], f"{r['seconds_per_video']:.2f}", f"{r['warm_seconds_per_video']:.2f}",
          f"{r['flop_floor_s']:.2f}", f"{r['ratio_to_floor']:.2f}", f"{r['warm_ratio_to_floor']:.2f}",
          f"{r['peak_rss_mb']:.0f}") for r in rows]))
    for r in rows:
        if r.get("stages"):
            print(f"{r['config']} {r['dtype']} stages: " + ", ".join(
                f"{k} {v:.2f}" for k, v in r["stages"].items() if k.endswith("_s") and isinstance(v, float)))
    return result


def add_detect_parser(subparsers) -> None:
    p = subparsers.add_parser("detect", help="end-to-end `delocate detect` seconds per video, peak RSS, FLOP floor")
    p.add_argument("--video", default=str(DEFAULT_VIDEO), help="video file (default: the shipped single_face.mp4)")
    p.add_argument("--configs", nargs="+", default=["tiny", "base"], choices=["tiny", "small", "base"])
    p.add_argument("--repeats", type=int, default=2, help="one-video runs of the CLI per config (median reported)")
    p.add_argument("--warm-videos", type=int, default=4,
                   help="videos in the one call that measures the warm (marginal) seconds per video")
    p.add_argument("--warm-calls", type=int, default=5, help="warm `detect_video` calls (median reported)")
    p.set_defaults(func=run_detect, name="detect")
