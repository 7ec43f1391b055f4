"""The Space's input side: upload limits, the app's own work folder, the checks and copy of an upload, and the
friendly one-sentence messages for every failure (part of the Space; `spaces_app.analysis` re-exports these names).

An upload is checked for size with `stat` (no read), copied into a fresh run folder of the `WorkArea`, then only
that copy is opened: its container is probed (no decoding) for the duration and frame-size limits, so an upload
beyond any limit gets its message before a single frame is decoded. Every user-facing failure is a `SpaceMessage`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from processing.video_io import VideoInfo, probe_video  # container metadata without decoding

logger = logging.getLogger("spaces_app.analysis")


ENV_MAX_UPLOAD_MB = "DELOCATE_MAX_UPLOAD_MB"
ENV_MAX_DURATION_S = "DELOCATE_MAX_DURATION_S"
ENV_MAX_RESOLUTION = "DELOCATE_MAX_RESOLUTION"
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_MAX_DURATION_S = 60.0
DEFAULT_MAX_RESOLUTION = (3840, 2160)  # long side x short side: 4K UHD, in either orientation
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ogv", ".ogg", ".3gp")
RUN_MAX_AGE_S = 3600.0  # run folders older than this are removed when a new run starts


class SpaceMessage(Exception):
    """A problem to show to the user as a friendly message (no traceback)."""


# ---------------------------------------------------------------------------------------------------- limits
def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        logger.warning("ignoring %s=%r (not a number); using %s", name, raw, default)
        return default
    return value if value > 0 else default


def parse_resolution(text: str) -> tuple[int, int]:
    """"3840x2160" -> (3840, 2160) as (long side, short side); raises ValueError on anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", str(text))
    if not match or min(int(match[1]), int(match[2])) < 16:
        raise ValueError(f"expected a resolution WIDTHxHEIGHT (e.g. 3840x2160), got {text!r}")
    a, b = int(match[1]), int(match[2])
    return max(a, b), min(a, b)


def _env_resolution(name: str, default: tuple[int, int]) -> tuple[int, int]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_resolution(raw)
    except ValueError:
        logger.warning("ignoring %s=%r (not a resolution such as 3840x2160); using %dx%d", name, raw, *default)
        return default


@dataclass(frozen=True)
class Limits:
    """Upload limits: file size (MB, 1 MB = 1,000,000 bytes), duration (seconds) and frame size (`max_resolution`:
    long side x short side in pixels, so a portrait video has the same limit as a landscape one)."""

    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_resolution: tuple[int, int] = DEFAULT_MAX_RESOLUTION

    @classmethod
    def from_env(cls, max_upload_mb: float | None = None, max_duration_s: float | None = None,
                 max_resolution: str | tuple[int, int] | None = None) -> "Limits":
        """Explicit values win, then `DELOCATE_MAX_UPLOAD_MB` / `DELOCATE_MAX_DURATION_S` / `DELOCATE_MAX_RESOLUTION`
        ("3840x2160"), then the defaults."""
        upload = float(max_upload_mb) if max_upload_mb else _env_float(ENV_MAX_UPLOAD_MB, DEFAULT_MAX_UPLOAD_MB)
        duration = float(max_duration_s) if max_duration_s else _env_float(ENV_MAX_DURATION_S, DEFAULT_MAX_DURATION_S)
        if max_resolution:
            resolution = (parse_resolution(max_resolution) if isinstance(max_resolution, str)
                          else parse_resolution(f"{max_resolution[0]}x{max_resolution[1]}"))
        else:
            resolution = _env_resolution(ENV_MAX_RESOLUTION, DEFAULT_MAX_RESOLUTION)
        return cls(max_upload_mb=upload, max_duration_s=duration, max_resolution=resolution)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    def fits(self, width: int, height: int) -> bool:
        """Whether a `width` x `height` frame is within `max_resolution` (in either orientation)."""
        return max(width, height) <= self.max_resolution[0] and min(width, height) <= self.max_resolution[1]

    def describe(self) -> str:
        long, short = self.max_resolution
        return (f"up to {format_mb(self.max_upload_bytes)}, {self.max_duration_s:g} s and {long}×{short} pixels "
                "(either orientation)")


def format_mb(num_bytes: float) -> str:
    mb = num_bytes / 1_000_000
    if mb >= 10:
        return f"{mb:.0f} MB"
    if mb >= 1:
        return f"{mb:.1f} MB"
    return f"{num_bytes / 1000:.0f} kB"


# ---------------------------------------------------------------------------------------------------- work area
class WorkArea:
    """The app's own temp folder; each analysis gets a fresh `run-*` subfolder. Old runs are pruned."""

    def __init__(self, root: str | os.PathLike | None = None, max_age_s: float = RUN_MAX_AGE_S):
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="delocate-space-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.max_age_s = max_age_s

    def new_run(self) -> Path:
        self.prune()
        run = self.root / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        run.mkdir()
        return run

    def prune(self) -> None:
        cutoff = time.time() - self.max_age_s
        for run in self.root.glob("run-*"):
            try:
                if run.is_dir() and run.stat().st_mtime < cutoff:
                    shutil.rmtree(run, ignore_errors=True)
            except OSError:
                pass

    def contains(self, path: str | os.PathLike) -> bool:
        return _is_within(Path(path), self.root)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def safe_name(name: str, default_suffix: str = ".mp4") -> str:
    """A file name without directories or odd characters (kept short), with a lowercase suffix."""
    base = Path(str(name)).name or "video"
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "video"
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix or "") else default_suffix
    return stem[:60] + suffix


# ---------------------------------------------------------------------------------------------------- input checks
def prepare_upload(
    upload: str | os.PathLike | None, run_dir: Path, limits: Limits, allowed_roots: list[Path]
) -> tuple[Path, str, VideoInfo]:
    """Check the upload and copy it into `run_dir`. Returns `(copy, display name, info)`.

    Order: no file -> outside the allowed folders -> empty -> over the size limit (all from `stat`), then copy,
    then the container check, the duration and the frame-size limits on the copy (container metadata: nothing is
    decoded before every limit is met).
    """
    from processing.errors import DelocateInputError

    if upload is None or (isinstance(upload, str) and not upload.strip()):
        raise SpaceMessage("Please upload a video (or record a clip with the webcam) first.")
    if isinstance(upload, dict):  # a FileData-like dict from an API caller
        upload = upload.get("path") or upload.get("name") or ""
    src = Path(str(upload))
    name = safe_name(src.name)
    if not any(_is_within(src, root) for root in allowed_roots):
        logger.warning("refused a file outside the upload folders: %s", src)
        raise SpaceMessage("This file was not uploaded through the app; please upload the video again.")
    if not src.is_file():
        raise SpaceMessage(f"The uploaded file '{name}' is no longer available; please upload it again.")
    size = src.stat().st_size
    if size == 0:
        raise SpaceMessage(f"The file '{name}' is empty (0 bytes). Please upload a video file.")
    if size > limits.max_upload_bytes:
        raise SpaceMessage(
            f"The file '{name}' is {format_mb(size)}, over this Space's upload limit of "
            f"{format_mb(limits.max_upload_bytes)}. Please trim or compress the video and try again."
        )
    from processing.video_io import IMAGE_EXTENSIONS

    if src.suffix.lower() in IMAGE_EXTENSIONS:
        raise SpaceMessage(f"'{name}' is a still image; this Space analyses videos (MP4, MOV, WebM, AVI ...).")
    local = run_dir / name
    shutil.copyfile(src, local)
    try:
        info = probe_video(local)
    except DelocateInputError as exc:
        raise SpaceMessage(friendly_message(exc, name)) from None
    if info.duration_s > limits.max_duration_s:
        raise SpaceMessage(
            f"The video '{name}' is {info.duration_s:.1f} s long, over this Space's limit of "
            f"{limits.max_duration_s:g} s. Please trim it to a shorter clip and try again."
        )
    if not limits.fits(info.width, info.height):
        long, short = limits.max_resolution
        raise SpaceMessage(
            f"The video '{name}' is {info.width}×{info.height} pixels, over this Space's limit of {long}×{short} "
            "(either orientation). Please downscale it (e.g. to 1080p) and try again."
        )
    return local, name, info


def _strip_paths(text: str, name: str) -> str:
    """Replace quoted file paths in an error text by the display name (never show server paths)."""
    text = re.sub(r"'[^']*[/\\][^']*'", f"'{name}'", text)
    return " ".join(text.split())


def friendly_message(exc: BaseException, name: str = "the video") -> str:
    """One friendly sentence for a failure, by type; the technical reason is kept, paths are removed."""
    from processing.errors import NoFaceDetectedError, VideoDecodeError, VideoTooShortError

    try:
        from delocate_hf.inference import ModelLoadError
    except Exception:  # pragma: no cover - import problems are reported as model errors below
        ModelLoadError = ()  # type: ignore[assignment]

    if isinstance(exc, SpaceMessage):
        return str(exc)
    reason = _strip_paths(str(exc), name)
    if reason.startswith("cannot decode video"):  # keep the reason, drop FFmpeg's own parenthesised detail
        reason = re.sub(r"\s*\([^()]*\)$", "", reason.split(": ", 1)[-1]) or "unreadable file"
    if isinstance(exc, NoFaceDetectedError):
        return (f"No face was found in '{name}'. Please upload a clip in which one face is clearly visible "
                "(frontal, well lit, not too small).")
    if isinstance(exc, VideoTooShortError):
        return f"The video '{name}' is too short to analyse ({reason}). Please upload a longer clip."
    if isinstance(exc, VideoDecodeError):
        return (f"The file '{name}' could not be read as a video ({reason}). "
                "Please upload an MP4, MOV, WebM or AVI video.")
    if ModelLoadError and isinstance(exc, ModelLoadError):
        return f"The detection model is not available: {reason}"
    if isinstance(exc, (ValueError, RuntimeError, OSError)):
        return f"'{name}' could not be analysed ({type(exc).__name__}). Please try another clip."
    return f"Something went wrong while analysing '{name}'. Please try another clip."
