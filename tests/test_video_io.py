"""Video decoding/encoding: sampling, memory, typed errors on bad files."""

import tracemalloc

import numpy as np
import pytest

from conftest import SINGLE_FACE, TEST_MEDIA
from processing.errors import DelocateInputError, VideoDecodeError, VideoTooShortError
from processing.video_io import iter_video_frames, read_video, sample_indices, write_video



def _gradient_frames(n, h=48, w=64):
    """Frames whose mean brightness encodes the frame index (so decoded order can be checked)."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = ((xx + yy) % 32).astype(np.float32)
    return np.stack([np.clip(base[..., None] + 2.0 * i + np.zeros(3), 0, 255) for i in range(n)]).astype(np.uint8)


def _assert_one_line(exc, name):
    msg = str(exc)
    assert "\n" not in msg and name in msg, msg


def test_uniform_sampling_carphone(carphone):
    clip = read_video(carphone, num_frames=16)
    assert clip.frames.shape == (16, 144, 176, 3) and clip.frames.dtype == np.uint8
    assert clip.total_frames == 120 and clip.size == (144, 176)
    assert clip.fps == pytest.approx(29.97, abs=0.01)
    np.testing.assert_array_equal(clip.frame_indices, sample_indices(120, 16))
    assert clip.frame_indices.dtype == np.int64
    assert np.all(np.diff(clip.frame_indices) > 0) and clip.frame_indices[0] < 8 and clip.frame_indices[-1] > 111


def test_all_stride_max_frames_and_iterator():
    clip = read_video(SINGLE_FACE, sampling="all")
    assert clip.frames.shape == (72, 360, 640, 3) and clip.total_frames == 72
    np.testing.assert_array_equal(clip.frame_indices, np.arange(72))
    strided = read_video(SINGLE_FACE, sampling="stride", stride=4, num_frames=10)
    np.testing.assert_array_equal(strided.frame_indices, np.arange(0, 40, 4))
    np.testing.assert_array_equal(strided.frames[3], clip.frames[12])
    limited = read_video(SINGLE_FACE, sampling="all", max_frames=10)
    assert len(limited) == 10
    assert sum(1 for _ in iter_video_frames(SINGLE_FACE)) == 72


def test_write_read_roundtrip(tmp_path):
    frames = _gradient_frames(20)
    path = write_video(tmp_path / "grad.mp4", frames, fps=12)
    clip = read_video(path, sampling="all")
    assert clip.frames.shape == frames.shape and clip.fps == pytest.approx(12)
    assert np.abs(clip.frames.astype(float) - frames).mean() < 6
    # odd sizes are padded to even
    odd = write_video(tmp_path / "odd.mp4", _gradient_frames(3, 33, 41), fps=5)
    assert read_video(odd, sampling="all").size == (34, 42)


def test_uniform_sampling_keeps_only_wanted_frames(tmp_path):
    n = 240
    frames = _gradient_frames(n, 96, 128)
    path = write_video(tmp_path / "long.mp4", frames, fps=25)
    all_bytes = frames.nbytes  # ~8.8 MB if the whole video were decoded to a list
    tracemalloc.start()
    try:
        clip = read_video(path, num_frames=16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(clip.frame_indices, ((np.arange(16) + 0.5) * n / 16).astype(int))
    assert clip.total_frames == n
    assert peak < all_bytes / 4, f"peak {peak} bytes, whole video {all_bytes}"
    # the kept frames really are those frames (brightness grows 2 per frame, crf-18 H.264 is close)
    means = clip.frames.astype(float).mean(axis=(1, 2, 3))
    expected = frames[clip.frame_indices].astype(float).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(means, expected, atol=3)


@pytest.mark.parametrize(
    "kind", ["missing", "directory", "empty", "text", "truncated", "truncated_faststart", "no_video_stream"]
)
def test_bad_files_raise_video_decode_error(kind, tmp_path, carphone):
    if kind == "missing":
        path = tmp_path / "nope.mp4"
    elif kind == "directory":
        path = tmp_path / "folder.mp4"
        path.mkdir()
    elif kind == "empty":
        path = tmp_path / "empty.mp4"
        path.write_bytes(b"")
    elif kind == "text":
        path = tmp_path / "notes.mp4"
        path.write_text("this is not a video\n" * 50)
    elif kind == "truncated":
        path = tmp_path / "truncated.mp4"
        data = carphone.read_bytes()
        path.write_bytes(data[: int(len(data) * 0.3)])
    elif kind == "truncated_faststart":  # index at the front: opens fine, most frames are missing
        import av

        frames = read_video(carphone, sampling="all", max_frames=30).frames
        full = tmp_path / "full.mp4"
        with av.open(str(full), "w", options={"movflags": "faststart"}) as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        data = full.read_bytes()
        assert data.find(b"moov") < data.find(b"mdat")
        path = tmp_path / "truncated_faststart.mp4"
        path.write_bytes(data[: int(len(data) * 0.3)])
        with pytest.raises(VideoDecodeError, match="truncated"):
            read_video(path, sampling="all")
    else:
        import av

        path = tmp_path / "audio_only.wav"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("pcm_s16le", rate=8000)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    with pytest.raises(VideoDecodeError) as info:
        read_video(path)
    assert isinstance(info.value, (DelocateInputError, ValueError))
    _assert_one_line(info.value, path.name)
    expected = {"missing": "does not exist", "directory": "directory", "empty": "empty", "text": "not a video",
                "truncated": "truncated", "truncated_faststart": "truncated",
                "no_video_stream": "no video stream"}[kind]
    assert expected in str(info.value)


def test_too_short_videos_and_still_images(tmp_path):
    one = write_video(tmp_path / "one.mp4", _gradient_frames(1), fps=10)
    with pytest.raises(VideoTooShortError) as info:
        read_video(one, num_frames=16)
    _assert_one_line(info.value, "one.mp4")
    assert "16" in str(info.value)
    with pytest.raises(VideoTooShortError):
        read_video(one, sampling="all")
    assert len(read_video(one, sampling="all", allow_single_frame=True)) == 1
    repeated = read_video(one, num_frames=4, allow_single_frame=True)
    assert repeated.frames.shape[0] == 4 and np.all(repeated.frame_indices == 0)

    ten = write_video(tmp_path / "ten.mp4", _gradient_frames(10), fps=10)
    with pytest.raises(VideoTooShortError, match="10 decodable frames"):
        read_video(ten, num_frames=16)
    with pytest.raises(VideoTooShortError):
        read_video(ten, sampling="stride", stride=4, num_frames=4)

    image = TEST_MEDIA / "sample2.jpg"
    with pytest.raises(VideoTooShortError) as info:
        read_video(image)
    _assert_one_line(info.value, "sample2.jpg")
    still = read_video(image, num_frames=2, allow_single_frame=True)
    assert still.frames.shape[0] == 2 and still.frames.shape[-1] == 3 and still.total_frames == 1


def test_sample_indices_modes():
    np.testing.assert_array_equal(sample_indices(16, 16), np.arange(16))
    np.testing.assert_array_equal(sample_indices(5, 0, "all"), np.arange(5))
    np.testing.assert_array_equal(sample_indices(9, 3, "stride", 4), [0, 4, 8])
    with pytest.raises(ValueError):
        sample_indices(10, 4, "random")


def test_video_writer_streams_the_same_file_as_write_video(tmp_path):
    """`VideoWriter` frame by frame gives the bytes `write_video` gives (single-threaded encoder); gray frames are
    written as RGB; a frame of another size is refused by name."""
    from processing import VideoWriter

    frames = _gradient_frames(10, 48, 64)
    whole = write_video(tmp_path / "whole.mp4", frames, fps=10, threads=1)
    with VideoWriter(tmp_path / "streamed.mp4", fps=10, threads=1) as writer:
        for image in frames:
            writer.write(image)
    assert writer.frames_written == 10
    assert (tmp_path / "streamed.mp4").read_bytes() == whole.read_bytes()
    gray = read_video(write_video(tmp_path / "gray.mp4", frames[..., 0], fps=10), sampling="all")
    assert gray.frames.shape == frames.shape
    assert np.abs(gray.frames[..., 1].astype(float) - frames[..., 0]).mean() < 6
    with VideoWriter(tmp_path / "sizes.mp4") as writer:
        writer.write(frames[0])
        with pytest.raises(ValueError, match="frame 1 is 32x24, the video is 64x48"):
            writer.write(frames[1, :24, :32])


# ---------------------------------------------------------------------------------------------------- one owner
def test_clips_of_a_path_and_of_its_frames_are_sampled_alike(carphone):
    """`iter_clips` on a path (seeking) and on the decoded frames give the same frames, at the segment centres of
    `sample_frame_indices`, which the processor's own sampling (`read_video`) also uses."""
    from processing.video_io import iter_clips, sample_frame_indices

    every = read_video(carphone, sampling="all")
    from_path = list(iter_clips(carphone, 4, num_clips=3))
    from_array = list(iter_clips(every.frames, 4, num_clips=3))
    expected = sample_frame_indices(120, 12, "uniform")
    assert [c.clip_index for c in from_path] == [0, 1, 2] and {c.num_clips for c in from_path} == {3}
    np.testing.assert_array_equal(np.concatenate([c.frame_indices for c in from_path]), expected)
    np.testing.assert_array_equal(np.concatenate([c.frame_indices for c in from_array]), expected)
    for a, b in zip(from_path, from_array):
        np.testing.assert_array_equal(a.frames, b.frames)
    assert from_path[0].name == f"'{carphone}'" and from_array[0].name == "array of shape (120, 144, 176, 3)"
    np.testing.assert_array_equal(read_video(carphone, num_frames=12).frame_indices, expected)
    with pytest.raises(VideoTooShortError, match="has 120 decodable frames, 200 needed"):
        list(iter_clips(carphone, 200))
    with pytest.raises(DelocateInputError, match="expected a video path or RGB frames"):
        list(iter_clips(np.zeros((4, 8, 8)), 4))


def test_training_samples_cached_frames_like_inference(carphone):
    """The frames a training clip keeps from a cached clip are those inference keeps from a video of that many
    frames (segment centres), shown on the frames of a real video."""
    from delocate_hf.training.data import temporal_indices
    from processing.video_io import sample_frame_indices

    cached = read_video(carphone, sampling="all").frames[:16]  # a 16-frame clip of the real video
    for wanted in (4, 8, 12):
        np.testing.assert_array_equal(cached[temporal_indices(16, wanted)],
                                      cached[sample_frame_indices(16, wanted, "uniform")])


def test_read_frames_seeks_keeps_order_and_repeats_the_last_frame(tmp_path):
    from processing.video_io import read_frames

    frames = _gradient_frames(30)
    path = write_video(tmp_path / "thirty.mp4", frames, fps=10)
    every = read_video(path, sampling="all").frames
    clip = read_frames(path, [20, 3, 3, 45])
    assert clip.frame_indices.tolist() == [20, 3, 3, 29] and clip.total_frames == 30
    np.testing.assert_array_equal(clip.frames, every[[20, 3, 3, 29]])
    with pytest.raises(ValueError):
        read_frames(path, [])
    with pytest.raises(VideoDecodeError, match="does not exist"):
        read_frames(tmp_path / "missing.mp4", [0])


def test_probe_and_check_without_decoding(carphone, tmp_path):
    from processing.video_io import check_video_file, probe_video

    info = probe_video(carphone)
    assert (info.width, info.height, info.frames) == (176, 144, 120)
    assert info.fps == pytest.approx(29.97, abs=0.01) and info.duration_s == pytest.approx(120 / 29.97, abs=0.05)
    assert check_video_file(carphone) == carphone
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    with pytest.raises(VideoDecodeError, match="not a video"):
        check_video_file(text)


def test_pyav_is_opened_only_here_and_private_names_stay_in_processing():
    """PyAV is imported by the `processing/video_io*.py` files only (`video_io.py` and the files it is split into),
    and no module outside `processing/` uses a private name of them, nor imports a private name of any `processing`
    module (source scan of the package, the Space, the scripts and the experiments)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [p for folder in ("delocate_hf", "processing", "modeling", "spaces_app", "scripts", "experiments")
             for p in (root / folder).rglob("*.py")]
    assert len(files) > 20
    for path in files:
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
                if names[0] == "processing" and not rel.startswith("processing/"):
                    assert not any(a.name.startswith("_") for a in node.names), rel
            if "av" in names:
                assert rel.startswith("processing/video_io"), f"{rel} imports PyAV"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id.startswith("video_io"):
                assert not node.attr.startswith("_") or rel.startswith("processing/"), f"{rel}: video_io.{node.attr}"
