"""Sampling frames by seeking from keyframe to keyframe gives exactly the frames sequential decoding gives, on real
videos and on a long H.264 file with B-frames, and decodes far fewer frames on long videos."""

import av
import numpy as np
import pytest
from conftest import SINGLE_FACE, TEST_MEDIA

from processing import read_video
from processing.video_io import iter_video_frames, iter_wanted_frames, packet_index, sample_indices


def _sequential(path, wanted):
    """The reference: one sequential pass, frames kept by decode index."""
    wanted = set(wanted)
    return {i: frame for i, frame in iter_video_frames(path, max_frames=max(wanted) + 1) if i in wanted}


def _seeking(path, wanted, stats=None):
    index = packet_index(path)
    return {i: frame.to_ndarray(format="rgb24") for i, frame, _ in iter_wanted_frames(path, wanted, index, stats)}


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """1500 frames (1 minute at 25 fps), 128x96 H.264 with B-frames and a keyframe every 50 frames; every frame
    carries its own index as a bar code, so a wrong frame cannot pass for the right one."""
    path = tmp_path_factory.mktemp("seek") / "long.mp4"
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.options = {"g": "50", "bf": "2", "crf": "18", "preset": "veryfast"}
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for index in range(1500):
            image = background.copy()
            for bit in range(11):  # 11 bars of 8 px: white = 1
                image[:16, bit * 8:(bit + 1) * 8] = 255 if (index >> bit) & 1 else 0
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _bar_code(image):
    return sum(1 << bit for bit in range(11) if image[4:12, bit * 8 + 2:bit * 8 + 6].mean() > 128)


@pytest.mark.parametrize("name", ["single_face.mp4", "face_noface.mov", "carphone"])
def test_seeking_equals_sequential_on_real_videos(name, carphone):
    path = {"carphone": carphone, "single_face.mp4": SINGLE_FACE}.get(name, TEST_MEDIA / name)
    index = packet_index(path)
    assert index.display_pts is not None and len(index.display_pts) == index.count
    wanted = sample_indices(index.count, 16, "uniform").tolist()
    reference, seeking = _sequential(path, wanted), _seeking(path, wanted)
    assert list(seeking) == wanted == list(reference)
    for i in wanted:
        np.testing.assert_array_equal(seeking[i], reference[i])


def test_long_video_seeks_and_returns_the_right_frames(long_video):
    index = packet_index(long_video)
    assert index.count == 1500 and len(index.keyframe_pts) == 30
    wanted = sample_indices(1500, 16, "uniform").tolist()
    stats = {}
    seeking = _seeking(long_video, wanted, stats)
    assert [_bar_code(seeking[i]) for i in wanted] == wanted
    reference = _sequential(long_video, wanted)
    for i in wanted:
        np.testing.assert_array_equal(seeking[i], reference[i])
    assert "fallback" not in stats and stats["seeks"] == 16
    assert stats["decoded"] < 1500 // 2  # about half a GOP per sampled frame instead of the whole video
    # dense sampling decodes straight through: one seek, no frame decoded twice
    stats = {}
    dense = list(range(100, 160))
    assert list(_seeking(long_video, dense, stats)) == dense and stats["seeks"] == 1
    assert stats["decoded"] <= 160 - 100 + 50


def test_read_video_samples_the_long_video_by_seeking(long_video):
    clip = read_video(long_video, num_frames=16)
    assert clip.total_frames == 1500
    assert [_bar_code(f) for f in clip.frames] == clip.frame_indices.tolist()
    assert clip.frame_indices.tolist() == sample_indices(1500, 16, "uniform").tolist()
