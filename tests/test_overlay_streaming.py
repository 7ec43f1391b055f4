"""Overlays drawn while streaming at a display size (issue 30), on real footage (the talking head upscaled to
1920x1080) with the shipped default model: the overlay is bounded at 1280 px wide by default, at the video's size
with `size="source"`; its heat-map lands where the frame-size mask is; no list of frames is kept while it is drawn;
`detect_video(keep_frames=WIDTH)` keeps the analysed frames scaled down; `delocate detect --overlay-size`."""

import tracemalloc

import cv2
import numpy as np
import pytest
from conftest import SINGLE_FACE, save_tiny_detector

from delocate_hf import cli
from delocate_hf.inference import detect_video, load_detector
from delocate_hf.inference.overlay import DEFAULT_OVERLAY_WIDTH, save_contact_sheet, write_overlay
from processing import iter_video_frames, write_video

FRAMES = 48  # of the 1080p clip


@pytest.fixture(scope="module")
def hd_video(tmp_path_factory):
    """The real talking head (640x360) upscaled to 1920x1080, its first 48 frames."""
    frames = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_LINEAR)
              for _, f in iter_video_frames(SINGLE_FACE, max_frames=FRAMES)]
    return write_video(tmp_path_factory.mktemp("hd") / "single_face_1080p.mp4", np.stack(frames), fps=24)


@pytest.fixture(scope="module")
def detector():
    return load_detector(None)


@pytest.fixture(scope="module")
def result(hd_video, detector):
    """The shipped model's detection of the real clip, with a known mask painted into each analysed face crop (the
    middle half of the crop at 0.9): the model rightly paints (almost) nothing on a real face, and these tests check
    where the overlay draws a mask, not what the model finds."""
    model, processor = detector
    out = detect_video(hd_video, model, processor, num_frames=16, progress=False, keep_frames=640)
    side = out.masks.crop_masks.shape[-1]
    out.masks.crop_masks[:, side // 4: 3 * side // 4, side // 4: 3 * side // 4] = 0.9
    return out


def _tinted(overlay: np.ndarray, source: np.ndarray, where: np.ndarray) -> float:
    """Mean colour change of the overlay from the source frame at `where`."""
    return float(np.abs(overlay.astype(int) - source.astype(int)).mean(axis=-1)[where].mean())


def test_overlay_is_drawn_at_the_display_size_by_default(hd_video, result, tmp_path):
    mp4, png = write_overlay(hd_video, result, tmp_path / "overlay.mp4")
    frames = dict(iter_video_frames(mp4))
    assert len(frames) == FRAMES and frames[0].shape == (720, DEFAULT_OVERLAY_WIDTH, 3)
    # the heat-map lands where the frame-size mask is (scaled to the display size), the caption aside
    k = int(result.frame_indices[0])
    source = cv2.resize(dict(iter_video_frames(hd_video, max_frames=k + 1))[k], (1280, 720), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(result.masks[0], (1280, 720), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = (int(round(v * 2 / 3)) for v in result.frames[0].face_box)
    away = np.ones(mask.shape, bool)  # neither the mask, its face box, nor the captions
    away[max(0, y0 - 8):y1 + 8, max(0, x0 - 8):x1 + 8] = False
    away[:100] = False
    where = (mask > 0.2) & (np.arange(720)[:, None] >= 100)
    assert where.sum() > 2000 and away.sum() > 0.5 * away.size
    inside, outside = _tinted(frames[k], source, where), _tinted(frames[k], source, away)
    assert inside > 10 * max(outside, 1.0)
    sheet = cv2.imread(str(png))
    assert sheet is not None and sheet.shape[1] == 4 * 320 + 5 * 6  # four 320 px thumbnails a row
    standalone = save_contact_sheet(tmp_path / "sheet.png", result.to_dict(), video_path=hd_video)
    assert cv2.imread(str(standalone)).shape == sheet.shape


def test_overlay_at_the_source_size_and_smaller(hd_video, result, tmp_path):
    mp4, _ = write_overlay(hd_video, result, tmp_path / "source.mp4", contact_sheet=False, size="source")
    first = next(iter_video_frames(mp4))[1]
    assert first.shape == (1080, 1920, 3) and sum(1 for _ in iter_video_frames(mp4)) == FRAMES
    mp4, _ = write_overlay(hd_video, result, tmp_path / "small.mp4", contact_sheet=False, size=320)
    assert next(iter_video_frames(mp4))[1].shape == (180, 320, 3)
    with pytest.raises(ValueError, match="overlay size must be a width >= 16 pixels or 'source'"):
        write_overlay(hd_video, result, tmp_path / "bad.mp4", size="large")


def test_overlay_streams_without_a_frame_list(hd_video, result, tmp_path):
    """Drawn at the video's own size (1920x1080, 6.2 MB a frame), the overlay of 48 frames never holds more than a
    handful of frames and masks at once (numpy, OpenCV and PyAV arrays are all traced)."""
    tracemalloc.start()
    try:
        write_overlay(hd_video, result, tmp_path / "traced.mp4", size="source")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    frame_bytes = 1920 * 1080 * 3
    assert peak < 16 * frame_bytes, f"peak {peak / 1e6:.0f} MB"  # 70 MB measured; the 48 frames alone: 299 MB


def test_kept_frames_are_scaled_and_drawn_without_decoding(result, tmp_path):
    kept = result.analysed_frames
    assert sorted(kept) == result.frame_indices.tolist()
    assert {f.shape for f in kept.values()} == {(360, 640, 3)}
    mp4, png = write_overlay(None, result, tmp_path / "kept.mp4", frames=kept)
    frames = dict(iter_video_frames(mp4))
    assert len(frames) == len(kept) and frames[0].shape == (360, 640, 3)
    assert png.stat().st_size > 0


def test_cli_overlay_size(tmp_path, capfd):
    model_dir = save_tiny_detector(tmp_path / "tiny")
    out = tmp_path / "overlay.mp4"
    code = cli.main(["detect", str(SINGLE_FACE), "--model", str(model_dir), "--quiet", "--overlay", str(out),
                     "--overlay-size", "320"])
    assert code == 0
    assert next(iter_video_frames(out))[1].shape == (180, 320, 3)
    capfd.readouterr()
    code = cli.main(["detect", str(SINGLE_FACE), "--model", str(model_dir), "--overlay", str(out),
                     "--overlay-size", "8"])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--overlay-size takes a width >= 16 pixels or 'source'" in err[0]
