"""The benchmarks of delocate-hf, one module per section (`python scripts/benchmark.py SECTION`, see `cli.py`).

    common.py      paths and media (the shipped single_face.mp4, tests/media), peak RSS, timing, fresh processes
    table.py       the one table writer (Markdown)
    processor.py   `processor`: decode / landmarks + crop speed and peak memory of both landmark backends
    face_sizes.py  `face-sizes`: detection rate and landmark error against face height, per backend
    faces_fps.py   `faces-fps`: face processor frames per second before / after full-range detection (#13)
    sampling.py    `sampling`: one clip from a long video, seeking against sequential decoding
    hardware.py    `hardware`: fp32 / bf16 matmul GFLOP/s (the FLOP floor)
    models.py      `models`: forward time and FLOPs per clip, fused detector against a bare VideoMAE
    detect.py      `detect`: end-to-end `delocate detect` per video against the FLOP floor
    help.py        `help`: seconds until `delocate --help` answers
    memory.py      `memory`: peak RSS and wall time of `delocate detect` against the frame size (640x360 to 4K)
    paper_size.py  `paper-size`: a few optimizer steps of every training stage at paper size, each from its
                   pretrained init (s/step, peak RSS, FLOPs/step; what one H100 would need per stage)
    summary.py     `all` (every section but face-sizes, faces-fps, memory and paper-size, one table) and `table`
    cli.py         the subcommands and `main`

Each section adds its subcommand with `add_<name>_parser(subparsers)`; its `func` takes the parsed args and returns
a dict, which `main` writes to `OUTPUT_DIR/<name>.json`.
"""
