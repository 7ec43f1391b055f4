"""The non-UI work of the Space: detection, the per-frame plot data, the people table, the overlay video and the
"why" panel (a face, its ROI-masked version and the recovery model's reconstruction).

Each upload is probed from its container (no decoding; size, duration and frame-size limits) and decoded once, by
one `detect_video(..., explain=True, keep_frames=OVERLAY_WIDTH)` that analyses every face as its own track (a row
per person in the people table): the "why" panel is `delocate_hf.inference.explain` of that result (the clip's face
crops, no second decoding or face tracking) and the overlay video is drawn on the analysed frames detection kept,
scaled to at most `OVERLAY_WIDTH` pixels wide as they were decoded (`write_overlay(..., frames=)`, played over the
source's duration): no full-resolution frame is kept, and the masks are held at the localizer's resolution, so
memory is bounded by the analysis (at most `MAX_CLIPS` clips), not by the upload's frame size.

Every user-facing failure is a `SpaceMessage` (one friendly sentence, never a traceback, never a server path).
The input side - upload limits, the app's own work folder (`WorkArea`), the checks and copy of an upload and the
friendly messages - is `uploads.py`; its names are re-exported here.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from delocate_hf.inference.explain import display_size  # noqa: F401  (the why-panel image side, for callers)
from delocate_hf.inference.overlay import DEFAULT_OVERLAY_WIDTH
from processing.video_io import VideoInfo

if __package__ in (None, ""):  # run as a script on Spaces (app.py puts this folder on sys.path)
    from uploads import (  # type: ignore[no-redef]  # noqa: F401  (re-exported: the Space's input side)
        DEFAULT_MAX_DURATION_S, DEFAULT_MAX_UPLOAD_MB, ENV_MAX_DURATION_S, ENV_MAX_UPLOAD_MB, RUN_MAX_AGE_S,
        VIDEO_EXTENSIONS, Limits, SpaceMessage, WorkArea, format_mb, friendly_message, prepare_upload, safe_name,
    )
else:
    from .uploads import (  # noqa: F401  (re-exported: the Space's input side)
        DEFAULT_MAX_DURATION_S, DEFAULT_MAX_UPLOAD_MB, ENV_MAX_DURATION_S, ENV_MAX_UPLOAD_MB, RUN_MAX_AGE_S,
        VIDEO_EXTENSIONS, Limits, SpaceMessage, WorkArea, format_mb, friendly_message, prepare_upload, safe_name,
    )

logger = logging.getLogger(__name__)

ENV_MODEL = "DELOCATE_MODEL"
ENV_DEVICE = "DELOCATE_DEVICE"
MAX_CLIPS = 8  # the frames slider's maximum, in clips of the model (API callers are held to it too)
OVERLAY_WIDTH = DEFAULT_OVERLAY_WIDTH  # the overlay's analysed frames are kept at most this wide (1280 px)


def frames_to_analyse(num_frames, clip_len: int) -> int | None:
    """The slider's value as whole clips of the model, between one clip and `MAX_CLIPS` clips (None: one clip)."""
    if not num_frames:
        return None
    clips = int(round(float(num_frames) / clip_len))
    return min(MAX_CLIPS, max(1, clips)) * clip_len


# ---------------------------------------------------------------------------------------------------- model
class DetectorHandle:
    """The detector and processor, loaded once (thread-safe). `model`: folder, Hub id, or None for
    `$DELOCATE_MODEL`, else the shipped default model."""

    def __init__(self, model: str | os.PathLike | None = None, device: str | None = None):
        env = os.environ.get(ENV_MODEL, "").strip()
        self.spec = str(model) if model is not None else (env or None)
        self.device = device or os.environ.get(ENV_DEVICE, "").strip() or "cpu"
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None
        self.error: str | None = None

    @property
    def display_name(self) -> str:
        if self.spec is None:
            return "shipped default model (delocate_hf/default_model)"
        p = Path(self.spec)
        return p.name if p.is_absolute() or p.exists() else self.spec

    def load(self) -> tuple[Any, Any]:
        """`(model, processor)`; raises `SpaceMessage` with the reason when it cannot be loaded."""
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            from delocate_hf.inference import load_detector

            try:
                self._loaded = load_detector(self.spec, device=self.device)
            except Exception as exc:  # ModelLoadError, device errors ...
                self.error = friendly_message(exc, self.display_name)
                if self.spec is None:
                    self.error = ("The shipped default model is missing from this installation. Set the "
                                  f"environment variable {ENV_MODEL} to a model folder or Hub id "
                                  "(or build it with `make default-model`), then restart the app.")
                logger.error("model %s: %s", self.spec or "default", exc)
                raise SpaceMessage(self.error) from None
            self.error = None
            return self._loaded

    def try_load(self) -> bool:
        try:
            self.load()
        except SpaceMessage:
            return False
        return True

    @property
    def clip_len(self) -> int | None:
        return int(self._loaded[0].config.num_frames) if self._loaded is not None else None

    @property
    def has_recovery(self) -> bool:
        return self._loaded is not None and getattr(self._loaded[0], "recovery", None) is not None

    def status_markdown(self) -> str:
        if self._loaded is None:
            return f"**Model:** ⚠️ {self.error or 'not loaded yet'}"
        cfg = self._loaded[0].config
        params = sum(p.numel() for p in self._loaded[0].parameters())
        rec = "with" if self.has_recovery else "without"
        return (f"**Model:** `{self.display_name}` — {params / 1e6:.2f} M parameters, {cfg.num_frames}-frame clips "
                f"of {cfg.image_size}×{cfg.image_size} faces, {rec} the recovery autoencoder.")


# ---------------------------------------------------------------------------------------------------- outputs
def clip_series(k: int) -> str:
    """The per-frame plot's series name of the k-th clip (0-based): its number, under the legend title "clip"."""
    return str(k + 1)


def scores_table(result, clip_len: int):
    """Per-frame scores as a DataFrame: one row per analysed frame (frame index, time, score, clip)."""
    import pandas as pd

    fps = float(result.fps or 0.0)
    rows = []
    for i, f in enumerate(result.frames):
        rows.append({
            "frame": int(f.index),
            "time_s": round(f.index / fps, 3) if fps > 0 else float(f.index),
            "score": round(float(f.score), 4),
            "clip": clip_series(i // max(1, clip_len)),
        })
    return pd.DataFrame(rows, columns=["frame", "time_s", "score", "clip"])


PEOPLE_COLUMNS = ["face", "verdict", "score", "frames", "frames without the face", "box (x0, y0, x1, y1)"]


def people_table(result):
    """One row per person (face track): its number (as drawn on the overlay), verdict, P(fake), analysed frames,
    how many of them it was gone from (padded), and its median face box in frame pixels; the highest score, which
    is the video's, first."""
    import pandas as pd

    rows = []
    for t in sorted(result.tracks, key=lambda t: -t.score):
        box = np.median(np.array([f.face_box for f in t.frames], dtype=np.float64), axis=0)
        rows.append({"face": int(t.track_id), "verdict": t.label, "score": round(float(t.score), 4),
                     "frames": len(t.frames), "frames without the face": int(t.padded_frames),
                     "box (x0, y0, x1, y1)": ", ".join(f"{v:.0f}" for v in box)})
    return pd.DataFrame(rows, columns=PEOPLE_COLUMNS)


def verdict_label(result) -> str:
    """The text of the verdict badge: "real", "fake" or "inconclusive" (a score inside the model's inconclusive
    band is never shown as fake), with "(not calibrated)" / "(near chance)" when the model's verdicts are not to be
    trusted."""
    status = result.verdict.status
    suffix = {"not_calibrated": " (not calibrated)", "near_chance": " (near chance)"}.get(status, "")
    return f"{result.label}{suffix}"


def verdict_markdown(result, name: str, info: VideoInfo | None = None) -> str:
    """The verdict text: the label and the probability, the model's reliability warning right under it, the
    decision rule, what was analysed and the notes (skipped clips, several faces, ...). Names, never paths."""
    clips = len(result.clip_scores)
    h, w = result.frame_size
    skipped = f"; {result.skipped_clips} clip(s) without a face skipped" if result.skipped_clips else ""
    duration = f", {info.duration_s:.1f} s" if info is not None else ""
    warning = f"\n**⚠️ {result.warning[0].upper()}{result.warning[1:]}.**\n" if result.warning else ""
    return (
        f"## {result.label.capitalize()} — P(fake) {result.score:.3f}{warning}\n"
        f"Probability of a deepfake {result.score:.1%}; verdict rule: {result.verdict.describe()}. "
        f"`{name}` ({w}×{h}{duration}): {len(result.frames)} frames analysed in {clips} "
        f"clip{'s' if clips != 1 else ''}{skipped}."
        + "".join(f"\n- {note}" for note in result.notes)  # skipped clips, several faces, face lost in some frames
    )


def message_markdown(text: str) -> str:
    return f"### ⚠️ {text}"


@dataclass
class WhyPanel:
    face: Path | None = None
    masked: Path | None = None
    reconstruction: Path | None = None
    text: str = ""
    info: dict = field(default_factory=dict)


def _save_png(path: Path, image: np.ndarray) -> Path:
    import cv2

    if not cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path.name}")
    return path


def why_panel(model, processor, result, out_dir: Path, seed: int = 0) -> WhyPanel:
    """The face of the most suspicious analysed frame (in the clip with the highest score), its ROI token mask
    and, when the detector includes the recovery autoencoder, the recovery model's reconstruction: the panels of
    `delocate_hf.inference.explain(result, ...)` (`result` from `detect_video(..., explain=True)`)."""
    from delocate_hf.inference import explain

    explanation = explain(result, model, processor, seed=seed)
    panels = explanation.panels()
    panel = WhyPanel(info=explanation.info(), text=explanation.summary())
    panel.face = _save_png(out_dir / "why_face.png", panels["face"])
    panel.masked = _save_png(out_dir / "why_masked.png", panels["masked"])
    if "reconstruction" in panels:
        panel.reconstruction = _save_png(out_dir / "why_reconstruction.png", panels["reconstruction"])
    return panel


@dataclass
class Analysis:
    """Everything the UI shows for one video."""

    verdict: str
    label: str | None = None  # verdict_label(result): "real" / "fake" / "inconclusive" [+ reliability]
    scores: Any = None  # pandas DataFrame, one row per analysed frame
    people: Any = None  # pandas DataFrame, one row per face track (person)
    overlay: Path | None = None
    why: WhyPanel = field(default_factory=WhyPanel)
    details: dict | None = None
    ok: bool = True


def run_analysis(
    upload, handle: DetectorHandle, work: WorkArea, limits: Limits, allowed_roots: list[Path],
    num_frames: int | None = None, progress=None,
) -> Analysis:
    """Check the upload, detect, write the overlay and the why panel. Never raises: failures become
    `Analysis(ok=False, verdict=<friendly message>)`."""
    from delocate_hf.inference import detect_video
    from delocate_hf.inference.overlay import write_overlay

    def step(fraction: float, desc: str) -> None:
        if progress is not None:
            try:
                progress(fraction, desc=desc)
            except Exception:  # progress is cosmetic
                pass

    name = "the video"
    try:
        run_dir = work.new_run()
        step(0.02, "Checking the video")
        video, name, info = prepare_upload(upload, run_dir, limits, allowed_roots + [work.root])
        step(0.08, "Loading the model")
        model, processor = handle.load()
        clip_len = int(model.config.num_frames)
        frames = frames_to_analyse(num_frames, clip_len)
        step(0.15, "Finding the face and running the detector")
        result = detect_video(str(video), model, processor, num_frames=frames, device=None, progress=False,
                              explain=True, faces="all", keep_frames=OVERLAY_WIDTH)
        step(0.6, "Drawing the overlay video")
        # from the frames detection decoded (kept at display size): the upload is decoded once
        overlay, _ = write_overlay(None, result, run_dir / "overlay.mp4", contact_sheet=False, progress=False,
                                   frames=result.analysed_frames, size=OVERLAY_WIDTH)
        result.analysed_frames = None
        step(0.85, "Explaining: recovery of a masked face")
        try:
            why = why_panel(model, processor, result, run_dir)
        except Exception as exc:  # the verdict stands even when the explanation fails
            logger.warning("why panel failed for %s: %s", name, exc, exc_info=not isinstance(exc, SpaceMessage))
            why = WhyPanel(text=f"The explanation panel is unavailable for this video ({friendly_message(exc, name)})")
        step(1.0, "Done")
        details = result.to_json_dict()
        details["video"] = {"name": name, "duration_s": round(info.duration_s, 3), "fps": round(info.fps, 3)}
        details["why"] = why.info
        return Analysis(
            verdict=verdict_markdown(result, name, info),
            label=verdict_label(result),
            scores=scores_table(result, clip_len),
            people=people_table(result),
            overlay=overlay,
            why=why,
            details=details,
        )
    except Exception as exc:
        if not isinstance(exc, SpaceMessage):
            from processing.errors import DelocateInputError

            log = logger.info if isinstance(exc, DelocateInputError) else logger.exception
            log("analysis of %s failed: %s", name, exc)
        return Analysis(verdict=message_markdown(friendly_message(exc, name)), ok=False)
