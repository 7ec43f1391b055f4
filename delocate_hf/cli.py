"""`delocate` command line. Bad input ends with one line on stderr and a non-zero exit (traceback only with --debug)."""

import argparse
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def _add_demo(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the main job on the embedded real video (see README)")
    parser.add_argument("--video", type=Path, default=None, help="real talking-head video (default: the embedded clip)")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/demo"))
    parser.add_argument("--skip-base", action="store_true", help="do not build the full-size models to count parameters")
    parser.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .demo import run_demo

    run_demo(video=args.video, output_dir=args.output_dir, count_base_parameters=not args.skip_base)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="delocate", description="Delocate deepfake detection and localization")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_demo(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from processing.errors import DelocateInputError

    try:
        return args.func(args)
    except DelocateInputError as error:
        if args.debug:
            raise
        print(f"delocate: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        if args.debug:
            raise
        print(f"delocate: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("delocate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
