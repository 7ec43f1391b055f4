#!/usr/bin/env python
"""Benchmarks for delocate-hf: the entry point of the sections in `scripts/benchmarks/` (one module per section,
one table writer); `python scripts/benchmark.py --help` lists them."""

from __future__ import annotations

import sys
from pathlib import Path

_SCRIPTS = str(Path(__file__).resolve().parent)
if _SCRIPTS not in sys.path:  # run as a script, sys.path[0] is already scripts/; imported from elsewhere, not
    sys.path.insert(0, _SCRIPTS)

from benchmarks.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
