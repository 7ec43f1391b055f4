"""Quiet model loading for training and assembly: transformers' expected load reports and per-load progress bars.

transformers 5 prints, on every `from_pretrained` / `save_pretrained`:

- a **LOAD REPORT** table (`transformers.utils.loading_report.log_state_dict_report`, a warning on the
  `transformers.modeling_utils` logger) whenever checkpoint and model keys differ. Starting the stage-1b classifier
  from a stage-1 checkpoint always differs (the recovery decoder is UNEXPECTED, the classifier head MISSING), so the
  table looks like an error although nothing is wrong;
- "Loading weights" (`core_model_loading`) and "Writing model shards" (`modeling_utils`) tqdm bars, made through
  `transformers.utils.logging.tqdm`, which passes every bar through the hook of `set_tqdm_hook`.

Quiet mode drops the rows of a report that the two architectures explain — a checkpoint of one Delocate head
(its `config.json` `architectures`) loaded into another: UNEXPECTED keys of the parts only the checkpoint's class
has, MISSING keys of the parts only the loading class has (`MODEL_PARTS`). A report with only such rows is not
printed at all; any other row (a MISSING key of a part both classes share, a MISMATCH, a CONVERSION error, any
load from a checkpoint that is not a Delocate head) is printed, with a line saying how many expected rows were
left out. Quiet mode also turns off those two bars; every other log record and bar is untouched. `--debug`,
`DELOCATE_DEBUG=1`, `TRANSFORMERS_VERBOSITY=info|debug|detail` or a transformers verbosity of INFO or lower
(`transformers.logging.set_verbosity_info()`) keep everything.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers.utils import logging as hf_logging

LOAD_REPORT_LOGGER = "transformers.modeling_utils"
QUIET_BARS = ("Loading weights", "Writing model shards")
DEBUG_ENV = "DELOCATE_DEBUG"
# The top-level parts of each Delocate head's state dict (first component of its keys; `recovery` only with
# `detector_include_recovery`). tests/test_quiet_loading.py checks them against the classes.
MODEL_PARTS = {
    "DelocateForMaskedRecovery": frozenset({"videomae", "encoder_to_decoder", "mask_token", "decoder"}),
    "DelocateForVideoClassification": frozenset({"videomae", "fc_norm", "classifier"}),
    "DelocateForForgeryLocalization": frozenset({"localizer"}),
    "DelocateForDeepfakeDetection": frozenset({"videomae", "fc_norm", "classifier", "localizer", "recovery"}),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ROW = re.compile(r"^(\S[^|]*?)\s*\|\s*([A-Z]+)\s*\|")
_NOTE = re.compile(r"^- ([A-Z]+):")
_HEAD = " LOAD REPORT from: "


def debug_enabled(debug: bool | None = None) -> bool:
    """True when the caller asked for `--debug`, or the environment does (`DELOCATE_DEBUG=1`, or a
    `TRANSFORMERS_VERBOSITY` of info / debug / detail)."""
    if debug:
        return True
    if os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return os.environ.get("TRANSFORMERS_VERBOSITY", "").strip().lower() in ("info", "debug", "detail")


def checkpoint_architecture(source: str) -> str | None:
    """The Delocate head a checkpoint was saved from (`architectures` of its `config.json`: a local folder, or a
    Hub repository already in the local cache; nothing is downloaded), else None."""
    config = Path(source) / "config.json"
    if not config.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(source, "config.json")
        except Exception:  # not a repository id
            cached = None
        if not isinstance(cached, str):
            return None
        config = Path(cached)
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        return None
    return next((a for a in architectures if a in MODEL_PARTS), None)


def _expected(status: str, part: str, model: str, source_arch: str | None) -> bool:
    """Whether a report row is explained by loading a `source_arch` checkpoint into a `model`."""
    if source_arch is None or model not in MODEL_PARTS or source_arch == model:
        return False
    source, target = MODEL_PARTS[source_arch], MODEL_PARTS[model]
    if status == "UNEXPECTED":
        return part in source - target
    if status == "MISSING":
        return part in target - source
    return False


def quiet_load_report(message: str) -> str | None:
    """What quiet mode prints for a log message: None for a LOAD REPORT whose rows are all expected (see the
    module docstring), the report without its expected rows (and a line saying how many were left out) when some
    are not, and any other message unchanged."""
    lines = message.splitlines()
    plain = [_ANSI.sub("", line) for line in lines]
    if not plain or _HEAD not in plain[0]:
        return message
    model, _, source = plain[0].strip().partition(_HEAD)
    source_arch = checkpoint_architecture(source.strip())
    rows = {i: m for i, m in ((i, _ROW.match(text)) for i, text in enumerate(plain)) if i > 0 and m is not None}
    if not rows:
        return message  # not a table this parser knows: shown whole
    expected = {i for i, m in rows.items() if _expected(m.group(2), m.group(1).split(".")[0], model, source_arch)}
    shown = {m.group(2) for i, m in rows.items() if i not in expected}  # statuses with a row left to show
    if not shown:
        return None
    if not expected:
        return message
    kept = []
    for i, line in enumerate(lines):
        note = _NOTE.match(plain[i])
        if i in expected or (note is not None and note.group(1) not in shown):
            continue  # an expected row, or the note of a status whose rows were all expected
        kept.append(line)
    dropped = len(expected)
    kept.append(f"({dropped} expected row{'s' if dropped != 1 else ''} of a {source_arch} checkpoint loaded into "
                f"{model} not shown; full load report: --debug or {DEBUG_ENV}=1)")
    return "\n".join(kept)


# Quiet mode: the innermost `quiet_loading` block decides, else the process-wide setting; the environment's debug
# switch overrides both. The filter and the bar hook, once installed, do nothing while quiet mode is off.
_process_quiet = False
_blocks: list[bool] = []


def is_quiet() -> bool:
    """Whether expected load reports and per-load bars are silenced right now."""
    if debug_enabled() or hf_logging.get_verbosity() <= logging.INFO:
        return False
    return _blocks[-1] if _blocks else _process_quiet


class _LoadReportFilter(logging.Filter):
    """In quiet mode: drops a LOAD REPORT record whose rows are all expected, and the expected rows of one that has
    others (`quiet_load_report`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_quiet():
            return True
        try:
            message = record.getMessage()
            kept = quiet_load_report(message)
        except Exception:  # never lose a record to the filter itself
            return True
        if kept is None:
            return False
        if kept != message:
            record.msg, record.args = kept, ()
        return True


_FILTER = _LoadReportFilter()


def _quiet_bar_hook(previous):
    def hook(factory, args, kwargs):
        if kwargs.get("desc") in QUIET_BARS and is_quiet():
            kwargs = {**kwargs, "disable": True}
        if previous is not None:
            return previous(factory, args, kwargs)
        return factory(*args, **kwargs)

    hook.delocate_quiet = True
    return hook


def _install() -> None:
    """Adds the record filter and the bar hook once per process (both inert while quiet mode is off)."""
    logger = logging.getLogger(LOAD_REPORT_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    if hasattr(hf_logging, "set_tqdm_hook"):
        current = getattr(hf_logging, "_tqdm_hook", None)
        if not getattr(current, "delocate_quiet", False):
            hf_logging.set_tqdm_hook(_quiet_bar_hook(current))


def quiet_loading_everywhere(debug: bool | None = None) -> bool:
    """Quiet mode for the rest of this process, or off with `debug` (a training run: `build_accelerator` calls it
    with `args.debug`). Returns whether quiet mode is on."""
    global _process_quiet
    _install()
    _process_quiet = not debug
    return is_quiet()


@contextmanager
def quiet_loading(debug: bool | None = None) -> Iterator[bool]:
    """Quiet mode inside the block (off with `debug`), whatever the process-wide setting; yields whether it is on."""
    _install()
    _blocks.append(not debug)
    try:
        yield is_quiet()
    finally:
        _blocks.pop()
