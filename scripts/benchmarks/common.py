"""What every benchmark section shares: the repository's paths and media, peak memory, timing, fresh processes,
the `delocate` command and the machine's description."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MEDIA = REPO / "tests" / "media"  # face_noface.mov, sample1.jpg ... sample6.jpg (tests/media/README.md)
DEFAULT_VIDEO = REPO / "delocate_hf" / "assets" / "single_face.mp4"  # the shipped real talking-head clip
OUTPUT_DIR = REPO / "outputs" / "benchmark"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def best_of(fn, repeats: int) -> tuple[float, object]:
    """`(best seconds, last result)` of `repeats` calls of `fn`."""
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def median_time(fn, warmup: int, repeats: int) -> tuple[float, list[float]]:
    """`(median seconds, every time)` of `repeats` calls of `fn` after `warmup` untimed ones."""
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> dict:
    """Python, platform, CPU cores, torch version and threads, load average."""
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "loadavg": loadavg(),
    }


def in_fresh_process(fn, *args):
    """`fn(*args)` in a fresh spawned process (so its peak RSS is its own); returns its result."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(REPO), capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def delocate_command() -> list[str]:
    """The installed `delocate` entry point beside this interpreter (else `python -m delocate_hf.cli`)."""
    script = Path(sys.executable).parent / "delocate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "delocate_hf.cli"]


def run_child(command: list[str]) -> tuple[float, float, int, str, str]:
    """Runs `command`; returns (wall s, the child's own peak RSS MiB via wait4, exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=str(REPO))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
        return wall, peak, proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")
