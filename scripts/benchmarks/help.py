"""`help`: seconds until `delocate --help` and `delocate detect --help` answer in a fresh process (interpreter start,
`import delocate_hf`, argparse; target < 2 s: the parser imports nothing heavy)."""

from __future__ import annotations

import statistics

from .common import delocate_command, machine, run_child


HELP_TARGET_S = 2.0  # issue 16: `delocate --help` / `delocate detect --help` answer in under 2 s


def run_help(args) -> dict:
    """Wall seconds of `delocate --help` and `delocate detect --help` (median of `repeats` fresh processes each),
    the whole entry point included (interpreter start, `import delocate_hf`, argparse)."""
    results = {}
    for argv in (["--help"], ["detect", "--help"]):
        runs = []
        for _ in range(args.repeats):
            wall, peak, code, out, err = run_child(delocate_command() + argv)
            if code != 0:
                raise RuntimeError(f"delocate {' '.join(argv)} failed ({code}): {err.strip()[-300:]}")
            runs.append({"wall_s": wall, "peak_rss_mb": peak})
        wall = float(statistics.median(r["wall_s"] for r in runs))
        results[" ".join(argv)] = {"wall_s": wall, "runs": runs, "met": wall < HELP_TARGET_S}
        print(f"delocate {' '.join(argv)}: {wall:.2f} s (median of {args.repeats})", flush=True)
    return {"benchmark": "help", "target_s": HELP_TARGET_S, "results": results, "machine": machine()}


def add_help_parser(subparsers) -> None:
    p = subparsers.add_parser("help", help="seconds until `delocate --help` / `delocate detect --help` answer")
    p.add_argument("--repeats", type=int, default=5, help="fresh processes per command (median)")
    p.set_defaults(func=run_help, name="help")
