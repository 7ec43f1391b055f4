"""Quiet model loading for training and assembly: transformers' expected load reports and per-load progress bars.

transformers 5 prints, on every `from_pretrained` / `save_pretrained`:

- a **LOAD REPORT** table (`transformers.utils.loading_report.log_state_dict_report`, a warning on the
  `transformers.modeling_utils` logger) whenever checkpoint and model keys differ. Starting the stage-1b classifier
  from a stage-1 checkpoint always differs (the recovery decoder is UNEXPECTED, the classifier head MISSING), so the
  table looks like an error although nothing is wrong;
- "Loading weights" (`core_model_loading`) and "Writing model shards" (`modeling_utils`) tqdm bars, made through
  `transformers.utils.logging.tqdm`, which passes every bar through the hook of `set_tqdm_hook`.

Quiet mode replaces a report that lists only UNEXPECTED / MISSING keys by one line with the counts (a report with
MISMATCH or CONVERSION entries is kept whole), and turns off those two bars only; every other log record and bar
is untouched. `--debug`, `DELOCATE_DEBUG=1` or `TRANSFORMERS_VERBOSITY=info|debug|detail` keep everything.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from transformers.utils import logging as hf_logging

LOAD_REPORT_LOGGER = "transformers.modeling_utils"
QUIET_BARS = ("Loading weights", "Writing model shards")
DEBUG_ENV = "DELOCATE_DEBUG"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def debug_enabled(debug: bool | None = None) -> bool:
    """True when the caller asked for `--debug`, or the environment does (`DELOCATE_DEBUG=1`, or a
    `TRANSFORMERS_VERBOSITY` of info / debug / detail)."""
    if debug:
        return True
    if os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return os.environ.get("TRANSFORMERS_VERBOSITY", "").strip().lower() in ("info", "debug", "detail")


def summarize_load_report(message: str) -> str | None:
    """One line for a LOAD REPORT that lists only UNEXPECTED / MISSING keys; None for any other message."""
    text = _ANSI.sub("", message)
    if "LOAD REPORT" not in text:
        return None
    statuses = re.findall(r"^[^|\n]+\|\s*([A-Z]+)\s*\|", text, flags=re.MULTILINE)
    rows = [s for s in statuses if s != "Status"]
    if not rows or set(rows) - {"UNEXPECTED", "MISSING"}:
        return None
    head = text.splitlines()[0].strip()  # "<Class> LOAD REPORT from: <path>"
    model, _, source = head.partition(" LOAD REPORT from: ")
    return (f"{model} from {source}: {rows.count('UNEXPECTED')} checkpoint weights not used, "
            f"{rows.count('MISSING')} newly initialised (full load report: --debug or {DEBUG_ENV}=1)")


# Quiet mode: the innermost `quiet_loading` block decides, else the process-wide setting; the environment's debug
# switch overrides both. The filter and the bar hook, once installed, do nothing while quiet mode is off.
_process_quiet = False
_blocks: list[bool] = []


def is_quiet() -> bool:
    """Whether expected load reports and per-load bars are silenced right now."""
    if debug_enabled():
        return False
    return _blocks[-1] if _blocks else _process_quiet


class _LoadReportFilter(logging.Filter):
    """Rewrites an UNEXPECTED / MISSING-only LOAD REPORT record into its one-line summary (in quiet mode)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_quiet():
            return True
        try:
            summary = summarize_load_report(record.getMessage())
        except Exception:  # never lose a record to the filter itself
            return True
        if summary is not None:
            record.msg, record.args = summary, ()
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
