"""`delocate preprocess`: the face-clip cache of one benchmark data set, from the command line.

The command is the README's protocol step 0 (the paper's face clips, once per data set and split) without Python:
it loads the records with the data set's loader (:mod:`delocate_hf.data`: ``load_faceforensics``, ``load_celebdf``,
``load_dfdc``, ``load_deeperforensics``, ``load_video_folder``), builds a :class:`processing.DelocateFaceProcessor`
from the flags (or a saved one, ``--processor``) and runs :func:`~delocate_hf.data.preprocess.preprocess_dataset`
into ``--output_dir`` (resumable: finished shards of an earlier run with the same settings are reused). It shows the
progress bars of that run, then prints what was cached and what was skipped and why (one line per failed video; all
of them in ``OUTPUT_DIR/errors.jsonl``).

Bad input is one line on stderr and exit status 2, as with the other commands: a root that is not the data set's
layout (:class:`~delocate_hf.data.records.DatasetLayoutError`, naming what is missing), an option that does not
apply to the data set kind or a value the loader refuses (:class:`PreprocessOptionError`). Exit status 1 when no
video gave a face clip.

    delocate preprocess faceforensics /data/FaceForensics++ --split train --compression c23 \\
        --manipulations Deepfakes Face2Face FaceSwap NeuralTextures --num_proc 8 --output_dir cache/ffpp_c23_train

Importing this module imports :mod:`delocate_hf.data` (``datasets``): ``delocate_hf.cli`` adds these arguments only
when the command is ``preprocess``, so that ``delocate --help`` and the other commands stay fast.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from processing.errors import DelocateInputError

__all__ = ["KINDS", "PreprocessOptionError", "add_preprocess_arguments", "run_preprocess_command", "load_records"]

KINDS = ("faceforensics", "celebdf", "dfdc", "deeperforensics", "video_folder")
EXIT_OK, EXIT_NOTHING_CACHED = 0, 1
MAX_LISTED = 20  # skipped videos listed one per line; the rest are counted (all are in errors.jsonl)

# which data set kinds each loader option applies to (anything else given is refused, not silently ignored)
APPLIES = {
    "split": ("faceforensics", "celebdf", "deeperforensics", "video_folder"),
    "compression": ("faceforensics", "deeperforensics"),
    "manipulations": ("faceforensics",),
    "variants": ("deeperforensics",),
    "faceforensics_root": ("deeperforensics",),
    "splits_dir": ("faceforensics", "deeperforensics"),
    "test_list": ("celebdf",),
    "allow_missing": ("faceforensics", "celebdf", "dfdc", "deeperforensics"),
    "dataset_name": ("video_folder",),
}
DEFAULT_SPLIT = {"faceforensics": "train", "celebdf": "test", "deeperforensics": "all", "video_folder": "test"}
SPLITS = {
    "faceforensics": ("train", "val", "test", "all"),
    "celebdf": ("train", "test", "all"),
    "deeperforensics": ("train", "val", "test", "all"),
    "video_folder": None,  # any name: it only tags the records
}
# processor flags -> DelocateFaceProcessor arguments (None = not given: the processor's default or --processor's)
PROCESSOR_FLAGS = ("num_frames", "size", "sampling", "stride", "crop_scale", "landmark_backend", "max_num_faces",
                   "smooth_window", "max_gap")


class PreprocessOptionError(DelocateInputError):
    """A `delocate preprocess` option that does not apply to the data set kind, or a value its loader refuses."""


def add_preprocess_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `delocate preprocess` (argparse only: nothing heavy is imported)."""
    parser.add_argument("kind", choices=KINDS, help="data set layout of ROOT")
    parser.add_argument("root", type=Path,
                        help="the data set's root folder (video_folder: real/ and fake/<manipulation>/ subfolders)")
    parser.add_argument("--output_dir", "--output-dir", type=Path, required=True,
                        help="cache folder; an earlier run's finished shards with the same settings are reused")
    data = parser.add_argument_group("data set (each applies to the kinds named)")
    data.add_argument("--split", default=None,
                      help="faceforensics / deeperforensics: train, val, test or all (default: train / all); "
                           "celebdf: train, test or all (default: test); video_folder: the split name written on "
                           "every record (default: test). DFDC's split is its folder's (training parts or test set)")
    data.add_argument("--compression", default=None,
                      help="faceforensics: raw (c0), c23 (hq) or c40 (lq); deeperforensics: the FF++ originals "
                           "paired with its fakes (default: c23)")
    data.add_argument("--manipulations", nargs="*", default=None, metavar="METHOD",
                      help="faceforensics: method folders (Deepfakes Face2Face FaceSwap NeuralTextures FaceShifter "
                           "DeepFakeDetection); the flag with no name: real videos only (default: every FF++ method "
                           "on disk)")
    data.add_argument("--faceforensics_root", "--faceforensics-root", type=Path, default=None,
                      help="deeperforensics (required): the FaceForensics++ root holding its real target videos")
    data.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",
                      help="deeperforensics: manipulated_videos/ subfolders (default: every one on disk)")
    data.add_argument("--splits_dir", "--splits-dir", type=Path, default=None,
                      help="faceforensics / deeperforensics: folder of the split files (default: ROOT/splits, "
                           "ROOT/lists/splits)")
    data.add_argument("--test_list", "--test-list", type=Path, default=None,
                      help="celebdf: the test list (default: ROOT/List_of_testing_videos.txt)")
    data.add_argument("--dataset_name", "--dataset-name", default=None,
                      help="video_folder: the dataset column of its records (default: ROOT's folder name)")
    data.add_argument("--allow_missing", "--allow-missing", action="store_true", default=None,
                      help="skip videos the data set's lists name but that are not on disk (default: error)")
    clips = parser.add_argument_group("face clips")
    clips.add_argument("--faces", choices=["largest", "all"], default="largest",
                       help="'largest': one clip per video, its largest face; 'all': one clip per face track "
                            "(default: largest)")
    clips.add_argument("--processor", default=None, metavar="DIR",
                       help="start from a saved processor (a folder with preprocessor_config.json, e.g. a model); "
                            "the flags below override it (default: DelocateFaceProcessor's defaults)")
    clips.add_argument("--num_frames", "--num-frames", type=int, default=None, help="frames per clip (default 16)")
    clips.add_argument("--size", type=int, default=None, help="face crop side in pixels (default 224)")
    clips.add_argument("--sampling", choices=["uniform", "stride", "all"], default=None,
                       help="which frames (default uniform)")
    clips.add_argument("--stride", type=int, default=None, help="frame step of --sampling stride")
    clips.add_argument("--crop_scale", "--crop-scale", type=float, default=None,
                       help="crop side / face size (default 1.3)")
    clips.add_argument("--landmark_backend", "--landmark-backend", choices=["mediapipe", "dlib68"], default=None,
                       help="mediapipe (468 points, default) or dlib68 (the paper's 68 points)")
    clips.add_argument("--max_num_faces", "--max-num-faces", type=int, default=None,
                       help="faces searched per frame (default 5)")
    clips.add_argument("--smooth_window", "--smooth-window", type=int, default=None,
                       help="landmark smoothing window in frames (default 1: none)")
    clips.add_argument("--max_gap", "--max-gap", type=int, default=None,
                       help="frames without a face bridged by the track")
    clips.add_argument("--mask_threshold", "--mask-threshold", type=float, default=128,
                       help="grey-level cut of the data set's mask videos (default 128)")
    clips.add_argument("--diff_threshold", "--diff-threshold", type=float, default=25.5,
                       help="grey-level cut of difference masks against the source video (default 25.5)")
    run = parser.add_argument_group("run")
    run.add_argument("--num_proc", "--num-proc", type=int, default=1, help="worker processes (default 1)")
    run.add_argument("--shard_size", "--shard-size", type=int, default=64,
                     help="videos per shard, the unit a killed run resumes from (default 64)")
    run.add_argument("--quiet", action="store_true", help="no progress bars (default: shown)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks (default: one line)")


def _given(args, name: str) -> bool:
    return getattr(args, name, None) is not None


def _check_options(args) -> None:
    for name, kinds in APPLIES.items():
        if _given(args, name) and args.kind not in kinds:
            flag = "--" + name
            raise PreprocessOptionError(f"{flag} does not apply to {args.kind} (only to {', '.join(kinds)})")
    if args.kind == "deeperforensics" and args.faceforensics_root is None:
        raise PreprocessOptionError("deeperforensics needs --faceforensics_root: the FaceForensics++ root holding "
                                    "its real target videos (original_sequences/youtube/<compression>/videos)")
    splits = SPLITS.get(args.kind)
    if args.split is not None and splits is not None and args.split not in splits:
        raise PreprocessOptionError(f"{args.kind} has the splits {', '.join(splits)}; got --split {args.split!r}")
    for name in ("num_proc", "shard_size"):
        if getattr(args, name) < 1:
            raise PreprocessOptionError(f"--{name} must be at least 1, got {getattr(args, name)}")


def _split(args) -> str | None:
    return args.split if args.split is not None else DEFAULT_SPLIT.get(args.kind)


def load_records(args):
    """The video records of `args.kind` at `args.root` (a `datasets.Dataset`), through the project's loader."""
    from . import load_celebdf, load_deeperforensics, load_dfdc, load_faceforensics, load_video_folder

    optional = {k: getattr(args, k) for k in ("splits_dir", "allow_missing") if _given(args, k)}
    try:
        if args.kind == "faceforensics":
            return load_faceforensics(args.root, compression=args.compression or "c23", split=_split(args),
                                      manipulations=args.manipulations, **optional)
        if args.kind == "celebdf":
            extra = {"test_list": args.test_list} if args.test_list is not None else {}
            return load_celebdf(args.root, split=_split(args), **extra,
                                **{k: v for k, v in optional.items() if k == "allow_missing"})
        if args.kind == "dfdc":
            return load_dfdc(args.root, **{k: v for k, v in optional.items() if k == "allow_missing"})
        if args.kind == "deeperforensics":
            return load_deeperforensics(args.root, args.faceforensics_root, split=_split(args),
                                        variants=args.variants, compression=args.compression or "c23", **optional)
        return load_video_folder(args.root, split=_split(args), dataset=args.dataset_name)
    except DelocateInputError:
        raise
    except ValueError as error:  # a value the loader refuses (split, compression, manipulation name, ...)
        raise PreprocessOptionError(f"{args.kind} {args.root}: {error}") from None


def build_processor(args):
    """A DelocateFaceProcessor from `--processor` (if given) with the processor flags given on top."""
    from processing import DelocateFaceProcessor

    overrides = {k: getattr(args, k) for k in PROCESSOR_FLAGS if _given(args, k)}
    base = {}
    if args.processor is not None:
        where = str(args.processor)
        if where.startswith(("/", ".", "~")) and not Path(where).expanduser().is_dir():
            raise PreprocessOptionError(f"--processor {where} is not a folder; expected a folder with "
                                        "preprocessor_config.json (a saved processor or model) or a Hub id")
        try:
            base = DelocateFaceProcessor.from_pretrained(Path(where).expanduser() if Path(where).expanduser().is_dir()
                                                         else where).to_dict()
        except (OSError, ValueError) as error:  # no preprocessor_config.json, not a Hub id, offline, ...
            raise PreprocessOptionError(f"--processor {where}: {str(error).splitlines()[0]}") from None
        base.pop("image_processor_type", None)
    try:
        return DelocateFaceProcessor(**{**base, **overrides})
    except ValueError as error:  # e.g. a size that is not a multiple of the patch size
        raise PreprocessOptionError(f"processor settings: {error}") from None


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _describe(args, records) -> str:
    parts = [args.kind] + ([f"split {_split(args)}"] if args.kind in DEFAULT_SPLIT else [])
    if args.kind in APPLIES["compression"]:
        parts.append(args.compression or "c23")
    labels = Counter(int(v) for v in records["label"]) if len(records) else Counter()
    return f"{', '.join(parts)}: caching {_n(len(records), 'video')} ({labels[0]} real, {labels[1]} fake)"


def summary_lines(result) -> list[str]:
    """What was cached and what was skipped and why (a :class:`PreprocessResult`), as the command prints it."""
    ds, errors = result.dataset, result.errors
    videos = len(set(ds["video_path"])) if len(ds) else 0
    labels = Counter(int(v) for v in ds["label"]) if len(ds) else Counter()
    masks = ", ".join(f"{name} {count}" for name, count in result.mask_summary.items() if count)
    lines = [
        f"cached: {_n(len(ds), 'face clip')} of {_n(videos, 'video')} ({labels[0]} real, {labels[1]} fake; "
        f"masks: {masks or '-'}) "
        f"in {result.cache_dir} (shards: {len(result.computed_shards)} computed, {len(result.reused_shards)} reused)",
    ]
    if not len(errors):
        lines.append("skipped: none")
        return lines
    rows = errors.to_list()
    why = Counter(row["error_type"] for row in rows)
    lines.append(f"skipped: {_n(len(rows), 'video')} (" + ", ".join(f"{k} {v}" for k, v in why.most_common()) + ")")
    for row in rows[:MAX_LISTED]:
        lines.append(f"  {row['video_path']}: {row['error_type']}: {row['message']}")
    if len(rows) > MAX_LISTED:
        lines.append(f"  ... and {len(rows) - MAX_LISTED} more")
    lines.append(f"  (every skipped video: {result.cache_dir / 'errors.jsonl'})")
    return lines


def run_preprocess_command(args) -> int:
    """Run `delocate preprocess` with parsed `args`; returns the exit status (bad input raises, see the module)."""
    _check_options(args)
    processor = build_processor(args)
    records = load_records(args)
    print(_describe(args, records) + f" -> {args.output_dir}", flush=True)

    from .preprocess import preprocess_dataset

    result = preprocess_dataset(records, processor, num_proc=args.num_proc, cache_dir=args.output_dir,
                                shard_size=args.shard_size, progress=not args.quiet, faces=args.faces,
                                mask_threshold=args.mask_threshold, diff_threshold=args.diff_threshold)
    print("\n".join(summary_lines(result)))
    if not len(result.dataset) and len(records):
        print(f"delocate: error: no face clip was made from the {_n(len(records), 'video')} (see the reasons above)",
              file=sys.stderr)
        return EXIT_NOTHING_CACHED
    return EXIT_OK
