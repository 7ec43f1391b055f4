"""`delocate detect VIDEO [VIDEO ...]`: the command behind `delocate_hf.cli` (which builds the argparse parser
without importing torch or transformers, and calls `run_detect_command` with its namespace)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from processing import video_io
from processing.errors import BAD_INPUT_ERRORS, DelocateInputError

from .detect import detect_video
from .loading import load_detector
from .results import DetectionResult


def _check_video_argument(video) -> Path:
    """Fail fast on a missing, empty or undecodable path, before the model is loaded."""
    if not isinstance(video, (str, os.PathLike)) or not str(video):
        raise DelocateInputError("no video given")
    return video_io.check_video_file(video)


def verdict_line(result: DetectionResult) -> str:
    """"fake  P(fake) 0.812 (fake at >= 0.430)" / "inconclusive  P(fake) 0.502 (inconclusive for 0.41-0.58)": the
    label in lower case (a score inside the inconclusive band is never called fake), the probability and the rule."""
    band = result.verdict.band
    if result.label == "inconclusive" and band is not None:
        rule = f"inconclusive for {band[0]:.3f}-{band[1]:.3f}"
    else:
        rule = f"fake at >= {result.verdict.threshold:.3f}"
    return f"{result.label}  P(fake) {result.score:.3f} ({rule})"


def _print_result(video, result: DetectionResult, args, png, why) -> None:
    h, w = result.frame_size
    clips = len(result.clip_scores)
    skipped = f", {result.skipped_clips} clip(s) without a face skipped" if result.skipped_clips else ""
    print(f"{video}: {verdict_line(result)}  "
          f"({len(result.frames)} frames in {clips} clip{'s' if clips != 1 else ''}{skipped}, {w}x{h})")
    if result.warning:
        print(f"  warning: {result.warning}")
    for note in result.notes:
        print(f"  note: {note}")
    if len(result.tracks) > 1:
        for t in result.tracks:
            box = ", ".join(f"{v:.0f}" for v in t.frames[0].face_box)
            best = "  (highest: the video score)" if t.track_id == result.tracks[result.best_track].track_id else ""
            print(f"  face {t.track_id}: {t.label}  P(fake) {t.score:.3f}  ({len(t.frames)} frames, first "
                  f"face [{box}]){best}")
        print(f"  frames of face {result.tracks[result.best_track].track_id}:")
    for f in result.frames:
        box = ", ".join(f"{v:.0f}" for v in f.face_box)
        mark = "" if f.localized else "  (mask of nearest analysed frame)"
        mark += "  (face gone: nearest frame with it repeated)" if f.padded else (
            "" if f.face_found else "  (face not found: position interpolated)")
        print(f"  frame {f.index:>6}  score {f.score:.3f}  face [{box}]{mark}")
    if args.save_masks is not None:
        print(f"masks: {args.save_masks}")
    if args.overlay is not None:
        print(f"overlay: {args.overlay}  contact sheet: {png}")
    if why is not None:
        print(f"explanation: {args.explain}  (frame {why['frame']}, hidden part: {why['masked_part']})")


def _detect_one(video, model, processor, args, progress) -> None:
    import json

    explain_png = getattr(args, "explain", None)
    result = detect_video(video, model, processor, num_frames=args.frames, device=args.device, progress=progress,
                          explain=explain_png is not None, faces=getattr(args, "faces", "all"))
    if args.save_masks is not None:
        from .mask_files import save_masks

        save_masks(args.save_masks, result, layout=getattr(args, "mask_layout", None) or "crop")
    png = why = None
    if args.overlay is not None:
        from .overlay import write_overlay

        _, png = write_overlay(video, result, args.overlay, progress=progress, size=args.overlay_size)
    if explain_png is not None:
        from .explain import explain

        explanation = explain(result, model, processor)
        explanation.save(explain_png)
        why = explanation.info()
    if args.json:
        extra = {} if why is None else {"explanation": {**why, "png": str(explain_png)}}
        sys.stdout.write(json.dumps({"video": str(video), **result.to_json_dict(), **extra}) + "\n")
        sys.stdout.flush()
    else:
        _print_result(video, result, args, png, why)


def _number_or_word(value, word: str, minimum: int, error: str) -> int | None:
    """`value` -> None when it is `word` (any case), else an int >= `minimum`; DelocateInputError(`error`) otherwise."""
    if str(value).lower() == word:
        return None
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise DelocateInputError(error)
    return number


def _parse_localize(value: str) -> int | None:
    """`--localize N|all` -> the `localization_frames` setting: N >= 1, or None (every frame) for "all"."""
    return _number_or_word(value, "all", 1, f"--localize takes a number of frames >= 1 or 'all', got {value!r}")


def parse_overlay_size(value) -> int | str:
    """`--overlay-size WIDTH|source` -> `write_overlay(size=)`: a width >= 16 pixels, or "source"."""
    from .overlay import DEFAULT_OVERLAY_WIDTH, SOURCE_SIZE

    if value is None:
        return DEFAULT_OVERLAY_WIDTH
    width = _number_or_word(value, SOURCE_SIZE, 16,
                            f"--overlay-size takes a width >= 16 pixels or '{SOURCE_SIZE}', got {value!r}")
    return SOURCE_SIZE if width is None else width


def run_detect_command(args) -> int:
    """`delocate detect VIDEO [VIDEO ...]` (argparse namespace from `delocate_hf.cli`).

    The model is loaded once for all videos. With one video, bad input raises `DelocateInputError`, which the CLI
    turns into one stderr line and exit code 2. With several, a video that fails gets its one stderr line and the
    others go on; the exit code is 2 when any failed. `--json` prints one JSON line per video (JSON Lines)."""
    from transformers.utils import logging as hf_logging

    from .memory import unmap_large_buffers

    unmap_large_buffers()  # decoded HD / 4K frames do not stay resident once freed
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    videos = list(args.video) if isinstance(args.video, (list, tuple)) else [args.video]
    if not videos:
        raise DelocateInputError("no video given")
    single = {"--save-masks": args.save_masks, "--overlay": args.overlay, "--explain": getattr(args, "explain", None)}
    if len(videos) > 1 and any(v is not None for v in single.values()):
        raise DelocateInputError(f"{', '.join(single)} take one video; run them one video at a time")
    if args.frames is not None and args.frames < 1:
        raise DelocateInputError(f"--frames must be >= 1, got {args.frames}")
    args.overlay_size = parse_overlay_size(getattr(args, "overlay_size", None))  # fail fast on bad values
    if getattr(args, "mask_layout", None) is not None:
        from .mask_files import check_layout

        check_layout(args.mask_layout)
    if len(videos) == 1:
        _check_video_argument(videos[0])  # fail fast, before loading the model
    localize = getattr(args, "localize", None)
    localization_frames = None if localize is None else _parse_localize(localize)  # fail fast on a bad value
    progress = False if args.quiet else None
    model, processor = load_detector(args.model, device=args.device, dtype=getattr(args, "dtype", None))
    if args.json:
        return _detect_all(videos, model, processor, args, progress, localize, localization_frames)
    # text output prints the result's notes (skipped clips, several faces, ...) under the verdict: detection's
    # warnings of the same notes would repeat them on stderr
    import logging

    from . import assemble as assemble_module
    from . import detect as detect_module

    quiet_notes = _DropWarnings()
    noting = [logging.getLogger(module.__name__) for module in (detect_module, assemble_module)]  # both log notes
    for note_logger in noting:
        note_logger.addFilter(quiet_notes)
    try:
        return _detect_all(videos, model, processor, args, progress, localize, localization_frames)
    finally:
        for note_logger in noting:
            note_logger.removeFilter(quiet_notes)


class _DropWarnings:
    def filter(self, record) -> bool:
        return record.levelno != 30  # logging.WARNING


def _detect_all(videos, model, processor, args, progress, localize, localization_frames) -> int:
    if localize is not None:
        model.config.localization_frames = localization_frames
    if len(videos) == 1:
        _detect_one(videos[0], model, processor, args, progress)
        return 0
    failed = 0
    for video in videos:
        try:
            _check_video_argument(video)
            _detect_one(video, model, processor, args, progress)
        except BAD_INPUT_ERRORS as error:
            if getattr(args, "debug", False):
                raise
            failed += 1
            print(f"delocate: error: {error}", file=sys.stderr, flush=True)
    if failed:
        print(f"delocate: {failed} of {len(videos)} videos failed", file=sys.stderr)
    return 2 if failed else 0


__all__ = ["run_detect_command", "verdict_line"]
