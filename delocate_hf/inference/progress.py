"""The progress bar of long inference work (decoding a video, drawing an overlay): tqdm on stderr."""

from __future__ import annotations

import sys

# The progress bar appears only for work that lasts longer than this (seconds).
PROGRESS_DELAY_S = 1.0


def progress_bar(total: int | None, desc: str, progress: bool | None):
    """A tqdm bar on stderr counting frames; `progress=None`: shown only when stderr is a terminal, and only once
    the work has lasted `PROGRESS_DELAY_S`."""
    from tqdm.auto import tqdm

    enabled = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(
        total=total, desc=desc, unit="frame", file=sys.stderr, leave=False, disable=not enabled,
        delay=PROGRESS_DELAY_S, dynamic_ncols=True,
    )


__all__ = ["PROGRESS_DELAY_S", "progress_bar"]
