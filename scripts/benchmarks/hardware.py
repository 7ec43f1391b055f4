"""`hardware`: the machine's fp32 and bf16 matmul throughput (GFLOP/s with torch threads = CPU cores), the FLOP
floor the `models` and `detect` sections compare with."""

from __future__ import annotations

import os

from .common import in_fresh_process, machine, median_time
from .table import markdown_table


def matmul_gflops(size: int, repeats: int, dtype: str = "float32") -> dict:
    import torch

    a, b = torch.randn(size, size, dtype=getattr(torch, dtype)), torch.randn(size, size, dtype=getattr(torch, dtype))
    out = torch.empty(size, size, dtype=getattr(torch, dtype))
    torch.mm(a, b, out=out)  # warm-up
    median, times = median_time(lambda: torch.mm(a, b, out=out), warmup=1, repeats=repeats)
    flops = 2 * size**3
    return {"size": size, "dtype": dtype, "repeats": repeats, "median_s": median, "best_s": min(times),
            "gflops_median": flops / median / 1e9, "gflops_best": flops / min(times) / 1e9}


def hardware_worker(sizes: list[int], repeats: int, dtypes: tuple[str, ...] = ("float32",)) -> dict:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    rows = [matmul_gflops(size, repeats, dtype) for dtype in dtypes for size in sizes]
    return {"machine": machine(), "matmul": rows}


def run_hardware(args) -> dict:
    sizes = [512, 1024] if args.quick else args.sizes
    repeats = 2 if args.quick else args.repeats
    measured = in_fresh_process(hardware_worker, sizes, repeats, ("float32", "bfloat16"))
    best = {dtype: max(r["gflops_best"] for r in measured["matmul"] if r["dtype"] == dtype)
            for dtype in ("float32", "bfloat16")}
    result = {"benchmark": "hardware", "quick": bool(args.quick), **measured, "matmul_gflops": best["float32"],
              "matmul_gflops_bf16": best["bfloat16"]}
    print(markdown_table(["matmul", "median s", "GFLOP/s (median)", "GFLOP/s (best)"],
                         [(f"{r['size']}x{r['size']} {r['dtype']}", f"{r['median_s']:.3f}", f"{r['gflops_median']:.1f}",
                           f"{r['gflops_best']:.1f}") for r in measured["matmul"]]))
    print(f"\nmatmul: fp32 {best['float32']:.1f}, bf16 {best['bfloat16']:.1f} GFLOP/s on "
          f"{measured['machine']['torch_threads']} threads (load average {measured['machine']['loadavg']})")
    return result


def add_hardware_parser(subparsers) -> None:
    p = subparsers.add_parser("hardware", help="fp32 and bf16 matmul GFLOP/s with torch threads = CPU cores")
    p.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096], help="square matmul sizes")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per size")
    p.add_argument("--quick", action="store_true", help="small matmuls, 2 repeats (seconds; for tests)")
    p.set_defaults(func=run_hardware, name="hardware")
