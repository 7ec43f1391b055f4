"""`python scripts/benchmark.py SECTION`: one subcommand per section; results go to `outputs/benchmark/<name>.json`.

    python scripts/benchmark.py processor [--video PATH] [--frames N] [--backends mediapipe dlib68]
    python scripts/benchmark.py face-sizes [--sizes 24 32 ...]  # detection rate + landmark error vs face height
    python scripts/benchmark.py faces-fps                    # face processor fps before / after #13
    python scripts/benchmark.py sampling                     # one clip from a long video: seeking vs sequential
    python scripts/benchmark.py hardware [--quick]           # fp32 / bf16 matmul GFLOP/s (torch threads = cores)
    python scripts/benchmark.py models [--configs tiny base] # forward s/clip, FLOPs/clip, fused vs bare VideoMAE
    python scripts/benchmark.py detect [--configs tiny base] # `delocate detect` s/video, peak RSS, FLOP floor
    python scripts/benchmark.py help                         # seconds until `delocate --help` answers
    python scripts/benchmark.py memory [--sizes 640x360 ...] # peak RSS / wall time of `delocate detect` vs frame size
    python scripts/benchmark.py paper-size [--tiny]          # a few training steps of every stage at paper size, H100 need
    python scripts/benchmark.py all                          # hardware .. help + benchmark.json / benchmark.md table
    python scripts/benchmark.py table                        # benchmark.md again from the last `all` run

Every measurement whose peak RSS is reported runs in its own fresh process. Timings are wall-clock on a machine
that may be shared: the load average is recorded next to the results.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import OUTPUT_DIR
from .detect import add_detect_parser
from .face_sizes import add_face_sizes_parser
from .faces_fps import add_faces_fps_parser
from .hardware import add_hardware_parser
from .help import add_help_parser
from .memory import add_memory_parser
from .models import add_models_parser
from .paper_size import add_paper_size_parser
from .processor import add_processor_parser
from .sampling import add_sampling_parser
from .summary import add_all_parser, add_table_parser

SUBCOMMANDS = [add_processor_parser, add_face_sizes_parser, add_faces_fps_parser, add_sampling_parser,
               add_hardware_parser, add_models_parser, add_detect_parser, add_help_parser, add_memory_parser,
               add_paper_size_parser, add_all_parser, add_table_parser]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmark.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR), help="where <benchmark>.json is written")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    args = parser.parse_args(argv)
    result = args.func(args)
    out = Path(args.output_dir) / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0
