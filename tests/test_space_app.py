"""The Gradio Space (spaces_app/): launched on 127.0.0.1 and called through gradio_client on real video, bad inputs
and over-limit uploads, with a tiny random detector (with its recovery autoencoder) saved in a temp folder."""

import json
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

import torch  # noqa: E402
from conftest import TEST_MEDIA, carphone_path  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from delocate_hf.assets import default_video_path  # noqa: E402
from modeling import DelocateConfig, DelocateForDeepfakeDetection  # noqa: E402
from processing import DelocateFaceProcessor, write_video  # noqa: E402
from spaces_app import analysis  # noqa: E402
from spaces_app.app import API_NAME, CLIP_COLORS, build_demo, launch_options  # noqa: E402

REAL_VIDEO = default_video_path()  # 640x360, 72 frames, 2.4 s, 208 kB
ENDPOINT = f"/{API_NAME}"
FRAMES = 8  # two clips of the tiny model's 4 frames


def save_tiny_detector(folder: Path, recovery: bool = True) -> Path:
    torch.manual_seed(0)
    DelocateForDeepfakeDetection(DelocateConfig.tiny(detector_include_recovery=recovery)).save_pretrained(folder)
    DelocateFaceProcessor(num_frames=4, size=64).save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(demo, **options):
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_detector(tmp_path_factory.mktemp("space_tiny_detector"))


@pytest.fixture(scope="module")
def space(model_dir, tmp_path_factory):
    """The Space as `main()` launches it (launch_options: the server-side upload cap of 50 MB)."""
    demo = build_demo(model=str(model_dir), work_dir=tmp_path_factory.mktemp("space_work"))
    url = launch(demo, **launch_options(demo))
    try:
        yield demo, Client(url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def real_outputs(space):
    _, client = space
    return client.predict(handle_file(str(REAL_VIDEO)), FRAMES, api_name=ENDPOINT)


def assert_message_only(outputs, *needles):
    """A friendly message in the verdict output and nothing else (no traceback, no error page)."""
    verdict, label, plot, overlay, face, masked, recon, why_text, people, details = outputs
    assert verdict.startswith("### ⚠️"), verdict
    for bad in ("Traceback", "Error:", "/tmp/", "gradio"):
        assert bad not in verdict, verdict
    for needle in needles:
        assert needle.lower() in verdict.lower(), verdict
    assert not label and overlay is None and face is None and masked is None and recon is None
    assert details is None and not why_text and (people is None or not people.get("data"))
    assert plot is None or not plot.get("data")


# ---------------------------------------------------------------------------------------------------- real video
def test_api_has_one_named_endpoint(space):
    _, client = space
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == [ENDPOINT]
    assert len(api["named_endpoints"][ENDPOINT]["returns"]) == 10


def test_real_video_verdict_and_label(real_outputs):
    verdict, label, *_, details = real_outputs
    score = details["score"]
    assert details["label"] in ("fake", "real")  # a random model: no inconclusive band
    assert verdict.startswith(f"## {details['label'].capitalize()} — P(fake) {score:.3f}\n")
    assert "single_face.mp4" in verdict and "8 frames analysed in 2 clips" in verdict
    # an uncalibrated model says so right under the verdict, and in the badge
    assert verdict.splitlines()[1].startswith("**⚠️ Not calibrated: ")
    assert details["calibration"] == "not_calibrated" and details["warning"].startswith("not calibrated")
    assert label["label"] == f"{details['label']} (not calibrated)" and not label.get("confidences")


def test_real_video_plot_has_one_point_per_frame(real_outputs):
    plot, details = real_outputs[2], real_outputs[-1]
    assert plot["columns"] == ["frame", "time_s", "score", "clip"]
    rows = plot["data"]
    assert len(rows) == FRAMES == len(details["frames"])
    assert [r[0] for r in rows] == [f["index"] for f in details["frames"]]
    assert [r[2] for r in rows] == pytest.approx([f["score"] for f in details["frames"]], abs=1e-4)
    assert {r[3] for r in rows} == {"1", "2"}  # series of the legend titled "clip"
    assert all(0.0 <= r[2] <= 1.0 for r in rows)


def plot_props(client) -> dict:
    """The per-frame plot's settings as the running Space serves them to the page."""
    (component,) = [c for c in client.config["components"] if c.get("props", {}).get("elem_id") == "score-plot"]
    assert component["type"] == "nativeplot" and component["props"]["name"] == "lineplot"
    return component["props"]


def test_small_video_plot_has_a_legend_of_its_clips(space):
    """A 176x144 video in 4 clips: the plot's value has one nominal series per clip and its served settings show
    every series in the legend with a colour of its own. Gradio sizes the chart to the block's whole `height` and
    puts a shown label or a caption outside it, which pushes the legend under the axes out of the block: neither is
    set (the title is drawn inside the chart). The browser test checks the legend as drawn."""
    _, client = space
    outputs = client.predict(handle_file(str(carphone_path())), 16, api_name=ENDPOINT)
    plot, details = outputs[2], outputs[-1]
    assert "176×144" in outputs[0] and len(details["frames"]) == 16
    assert plot["datatypes"]["clip"] == "nominal"  # Gradio draws a colour legend for a nominal column only
    series = sorted({r[3] for r in plot["data"]}, key=int)
    assert series == ["1", "2", "3", "4"]
    assert [r[3] for r in plot["data"]] == [s for s in series for _ in range(4)]  # 4 frames a clip, in order
    props = plot_props(client)
    assert props["color"] == "clip" and props["color_title"] == "clip"
    assert props.get("colors_in_legend") is None  # every series in the legend ([] would hide it)
    assert [props["color_map"][s] for s in series] == list(CLIP_COLORS[:4])
    assert props["height"] and props["show_label"] is False and not props.get("caption")
    assert props["title"] == props["label"] == "Per-frame probability of manipulation"


def test_real_video_overlay_decodes(real_outputs):
    import av

    overlay = Path(real_outputs[3])
    assert overlay.suffix == ".mp4" and overlay.stat().st_size > 0
    with av.open(str(overlay)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name in ("h264", "mpeg4")
        frames = [f for f in container.decode(stream)]
        duration = float(stream.frames / stream.average_rate) if stream.average_rate else 0.0
    # drawn on the frames detection decoded (the upload is decoded once): one overlay frame per analysed frame,
    # played over the source's 2.4 s
    details = real_outputs[-1]
    assert len(frames) == len(details["frame_indices"])
    assert (frames[0].width, frames[0].height) == (640, 360)
    assert duration == pytest.approx(2.4, abs=0.5)


def test_real_video_why_panel(real_outputs):
    import cv2

    face, masked, recon, why_text, people, details = real_outputs[4:10]
    assert people["headers"][0] == "face" and len(people["data"]) == len(details["tracks"]) == 1
    side = analysis.display_size(64)
    images = []
    for path in (face, masked, recon):
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = cv2.imread(path)
        assert image.shape == (side, side, 3)
        images.append(image.astype(np.int16))
    assert np.abs(images[0] - images[1]).mean() > 1.0  # masked patches are drawn over the face
    assert np.abs(images[0] - images[2]).mean() > 1.0  # the reconstruction differs where tokens were hidden
    assert "recovery error" in why_text and details["why"]["masked_part"] in why_text
    assert details["why"]["frame"] in [f["index"] for f in details["frames"]]
    assert 0 < details["why"]["masked_tokens_in_frame"] < details["why"]["tokens_per_frame"]


def test_runs_stay_in_the_work_folder(space, real_outputs):
    demo, _ = space
    work = demo.delocate_work
    runs = sorted(work.root.glob("run-*"))
    assert runs and all(work.contains(p) for r in runs for p in r.rglob("*"))
    assert any((r / "overlay.mp4").is_file() and (r / "single_face.mp4").is_file() for r in runs)  # real_outputs


# ---------------------------------------------------------------------------------------------------- bad inputs
def _zero_byte(tmp: Path) -> Path:
    p = tmp / "empty.mp4"
    p.write_bytes(b"")
    return p


def _text_as_mp4(tmp: Path) -> Path:
    p = tmp / "notes.mp4"
    p.write_text("this is a text file, not a video\n" * 20)
    return p


def _truncated(tmp: Path) -> Path:
    p = tmp / "truncated.mp4"
    data = REAL_VIDEO.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    return p


def _no_face(tmp: Path) -> Path:
    frames = np.random.default_rng(0).integers(0, 255, (12, 96, 128, 3), dtype=np.uint8)
    return write_video(tmp / "noise.mp4", frames)


def _audio_only(tmp: Path) -> Path:
    from test_bad_inputs import _audio_only as make  # the bad-input suite's real audio-only file

    return make(tmp, {})


def _one_frame(tmp: Path) -> Path:
    from test_bad_inputs import _one_frame as make  # a 1-frame video of a real face

    return make(tmp, {})


@pytest.mark.parametrize(
    "make, needles",
    [
        (_zero_byte, ["empty.mp4", "empty (0 bytes)"]),
        (_audio_only, ["audio_only.mp4", "could not be read as a video", "no video stream"]),
        (_one_frame, ["one_frame.mp4", "too short to analyse", "has 1 decodable frame, 4 needed"]),
        (_text_as_mp4, ["notes.mp4", "could not be read as a video", "not a video file"]),
        (_truncated, ["truncated.mp4", "could not be read as a video", "truncated"]),
        (_no_face, ["noise.mp4", "no face was found"]),
    ],
    ids=["zero-byte", "audio-only", "one-frame", "text-renamed-mp4", "truncated", "no-face"],
)
def test_bad_input_gives_a_friendly_message(space, tmp_path, make, needles):
    _, client = space
    outputs = client.predict(handle_file(str(make(tmp_path))), FRAMES, api_name=ENDPOINT)
    assert_message_only(outputs, *needles)


def test_missing_input_asks_for_a_video(space):
    _, client = space
    assert_message_only(client.predict(None, FRAMES, api_name=ENDPOINT), "please upload a video")


# ---------------------------------------------------------------------------------------------------- limits
@pytest.fixture(scope="module")
def limited_space(model_dir, tmp_path_factory):
    """Tiny limits (100 kB, 1 s), launched without the server-side cap: the app's own checks answer, as they do
    for webcam clips and API callers."""
    demo = build_demo(model=str(model_dir), max_upload_mb=0.1, max_duration_s=1.0,
                      work_dir=tmp_path_factory.mktemp("space_work_limited"))
    url = launch(demo)
    try:
        yield demo, Client(url, verbose=False)
    finally:
        demo.close()


def test_oversize_upload_gets_the_limit_message(limited_space):
    demo, client = limited_space
    outputs = client.predict(handle_file(str(REAL_VIDEO)), FRAMES, api_name=ENDPOINT)
    assert_message_only(outputs, "single_face.mp4", "208 kB", "upload limit of 100 kB")
    assert not list(demo.delocate_work.root.glob("run-*/single_face.mp4"))  # rejected before the copy


def test_overlong_video_gets_the_duration_message(limited_space, tmp_path):
    frames = np.full((50, 64, 64, 3), 128, dtype=np.uint8)  # 2 s at 25 fps, a few kB
    video = write_video(tmp_path / "long.mp4", frames, fps=25.0)
    _, client = limited_space
    outputs = client.predict(handle_file(str(video)), FRAMES, api_name=ENDPOINT)
    assert_message_only(outputs, "long.mp4", "2.0 s long", "limit of 1 s")


def test_launch_options_cap_uploads_at_the_limit(tmp_path, model_dir, monkeypatch):
    monkeypatch.setenv(analysis.ENV_MAX_UPLOAD_MB, "12.5")
    monkeypatch.setenv(analysis.ENV_MAX_DURATION_S, "30")
    demo = build_demo(model=str(model_dir), work_dir=tmp_path / "work")
    assert launch_options(demo)["max_file_size"] == 12_500_000
    assert demo.delocate_limits.max_duration_s == 30.0


# ---------------------------------------------------------------------------------------------------- units
def test_prepare_upload_never_reads_outside_the_allowed_folders(tmp_path):
    limits = analysis.Limits()
    run = tmp_path / "run"
    run.mkdir()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for outside in ("/etc/passwd", str(REAL_VIDEO), str(uploads / ".." / "secret.mp4")):
        with pytest.raises(analysis.SpaceMessage, match="not uploaded through the app"):
            analysis.prepare_upload(outside, run, limits, [uploads])
    assert not list(run.iterdir())
    assert analysis.safe_name("../../etc/pass wd.MP4") == "pass_wd.mp4"
    assert analysis.safe_name("clip") == "clip.mp4"


def test_model_errors_are_messages(tmp_path, monkeypatch):
    from delocate_hf.inference import loading as loading_module

    handle = analysis.DetectorHandle(str(tmp_path / "no_such_model"))
    assert not handle.try_load() and "model is not available" in handle.error
    assert "⚠️" in handle.status_markdown()
    monkeypatch.delenv(analysis.ENV_MODEL, raising=False)
    monkeypatch.setattr(loading_module, "DEFAULT_MODEL_DIR", tmp_path / "default_model")
    default = analysis.DetectorHandle()
    assert not default.try_load() and analysis.ENV_MODEL in default.error and "missing" in default.error
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    video = uploads / "clip.mp4"
    video.write_bytes(REAL_VIDEO.read_bytes())
    out = analysis.run_analysis(str(video), default, analysis.WorkArea(tmp_path / "work"), analysis.Limits(),
                                [uploads])
    assert not out.ok and analysis.ENV_MODEL in out.verdict and out.overlay is None


def test_why_panel_without_recovery(tmp_path):
    from delocate_hf.inference import detect_video, load_detector

    model, processor = load_detector(save_tiny_detector(tmp_path / "no_recovery", recovery=False))
    assert model.recovery is None
    video = tmp_path / "clip.mp4"
    video.write_bytes(REAL_VIDEO.read_bytes())
    result = detect_video(str(video), model, processor, num_frames=4, progress=False, explain=True)
    video.unlink()  # the why panel is built from what detection computed: the video is not decoded again
    panel = analysis.why_panel(model, processor, result, tmp_path)
    assert panel.reconstruction is None and panel.face.is_file() and panel.masked.is_file()
    assert "reconstruction is unavailable" in panel.text


def test_webcam_style_webm_is_analysed(space, tmp_path):
    """Browser webcam clips arrive as WebM (VP8); gradio hands them over unconverted (no ffmpeg needed)."""
    import av

    from processing import iter_video_frames
    from processing.video_io import probe_video

    if "libvpx" not in av.codecs_available:
        pytest.skip("PyAV without libvpx")
    frames = np.stack([f for i, f in iter_video_frames(REAL_VIDEO) if i < 24])
    webm = write_video(tmp_path / "webcam.webm", frames, fps=30.0, codec="libvpx")
    info = probe_video(webm)
    assert info.duration_s == pytest.approx(0.8, abs=0.1)
    _, client = space
    verdict, *_, details = client.predict(handle_file(str(webm)), 4, api_name=ENDPOINT)
    assert "webcam.webm" in verdict and f"{details['score']:.3f}" in verdict and len(details["frames"]) == 4


def test_lost_face_is_reported_in_the_verdict(space):
    """face_noface.mov: the face leaves the picture; the verdict says in how many analysed frames it was not found
    (and that one clip had no face at all) instead of presenting the interpolated frames as analysed faces."""
    demo, client = space
    verdict, *_, details = client.predict(handle_file(str(TEST_MEDIA / "face_noface.mov")), FRAMES,
                                          api_name=ENDPOINT)
    assert "1 clip(s) without a face skipped" in verdict
    assert "face not found in 1 of 4 analysed frames" in verdict
    assert "1 of 2 clips of 'face_noface.mov' skipped without a usable face" in verdict
    # the notes name the upload, never a server folder (the work area, Gradio's upload folder, /tmp)
    shown = verdict + json.dumps(details)
    assert str(demo.delocate_work.root) not in shown and "/tmp/" not in shown and "gradio" not in shown.lower()
