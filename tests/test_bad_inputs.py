"""Bad and unusual inputs, one table for both the Python API (`detect_video`) and the CLI (`delocate detect`).

Every file is real: generated in the test from real footage (`single_face.mp4`, the carphone clip, the group
photos and `face_noface.mov` in tests/media) or written byte by byte. For each case the API either raises the
project's typed error (`processing.errors`) with a one-line message naming the file and the problem, or succeeds
with a sane result; the CLI exits 2 with exactly one stderr line `delocate: error: ...` (no traceback), or exits 0
with one JSON object on stdout.

| case         | input                                          | API (`detect_video`)  | CLI (`--json`)       |
|--------------|------------------------------------------------|-----------------------|----------------------|
| zero_byte    | empty `.mp4`                                   | VideoDecodeError      | exit 2, "empty"      |
| text_as_mp4  | text file renamed `.mp4`                       | VideoDecodeError      | exit 2, "not a video"|
| truncated    | first 30% of the carphone mp4                  | VideoDecodeError      | exit 2, "truncated"  |
| audio_only   | AAC audio in an `.mp4`, no video stream        | VideoDecodeError      | exit 2, "no video"   |
| one_frame    | 1-frame H.264 video of a real face             | VideoTooShortError    | exit 2, "1 decod..." |
| no_face      | face-less second half of `face_noface.mov`     | NoFaceDetectedError   | exit 2, "no face"    |
| three_faces  | three real faces of different sizes            | ok: three face tracks, `max_faces` 3 + a note |
| frames_4k    | real face frames upscaled to 3840x2160         | ok, masks 2160x3840   | ok                   |
| gray_yuv     | grayscale frames, H.264 yuv420p                | ok                    | ok                   |
| gray_pix_fmt | true `gray` pixel format (FFV1 in Matroska)    | ok                    | ok                   |
| portrait     | 180x320 (W x H) crop of a talking head         | ok, frame_size 320x180| ok                   |
| rotated      | sideways frames + 90 degree display matrix     | ok: upright frames, face box where it shows  |
| ten_minutes  | 15000 frames (10 min, 25 fps), 96x96 real face | ok, spans the video   | ok, peak RSS ~ 10 s  |
| missing      | path that does not exist                       | VideoDecodeError      | exit 2, "does not.." |
| directory    | a folder                                       | VideoDecodeError      | exit 2, "directory"  |

The rotation metadata is written by patching the MP4 `tkhd` display matrix (the way FFmpeg stores
`-display_rotation`): PyAV's `stream.metadata["rotate"]` is ignored by the FFmpeg 6+ MP4 muxer.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import SINGLE_FACE, TEST_MEDIA, carphone_path, save_tiny_detector

from delocate_hf import cli
from delocate_hf.inference.detect import detect_video, load_detector
from processing import get_landmarker, iter_video_frames, read_video, write_video
from processing.errors import DelocateInputError, NoFaceDetectedError, VideoDecodeError, VideoTooShortError

# SINGLE_FACE (conftest): delocate_hf/assets/single_face.mp4, 640x360, face at x 214-367, y 101-292
LONG_FRAMES = 15000  # 10 minutes at 25 fps
MEMORY_MARGIN_MB = 150


# ------------------------------------------------------------------------------------------------ generators
def encode(path: Path, frames, fps=25, codec="libx264", pix_fmt="yuv420p", fmt="rgb24", options=None) -> Path:
    """Encode frames (RGB `(H, W, 3)` or gray `(H, W)` uint8, any iterable) with PyAV."""
    with av.open(str(path), "w") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=fps)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = pix_fmt
                stream.options = options or {}
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def face_frames(n=8, size=(320, 180)) -> np.ndarray:
    """`n` real talking-head frames of single_face.mp4 resized to `size` (W, H)."""
    frames = read_video(SINGLE_FACE, num_frames=n).frames
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def set_display_rotation(path: Path, clockwise: bool = True) -> Path:
    """Write a 90 degree display matrix into the (first) `tkhd` box of an MP4, as FFmpeg's -display_rotation."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    matrix = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8  # version/flags, times/id/duration, reserved, layer..
    assert struct.unpack(">9i", data[matrix:matrix + 36])[0::4] == (0x10000, 0x10000, 0x40000000)  # identity
    a, b = (0, 0x10000) if clockwise else (0, -0x10000)
    data[matrix:matrix + 36] = struct.pack(">9i", a, b, 0, -b, a, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


def three_face_canvas() -> tuple[np.ndarray, np.ndarray]:
    """Three real faces (from the group photo sample1.jpg) of different sizes on a 480x270 frame; returns the frame
    and the box of the largest face on it."""
    photo = cv2.cvtColor(cv2.imread(str(TEST_MEDIA / "sample1.jpg")), cv2.COLOR_BGR2RGB)
    with get_landmarker("mediapipe", max_num_faces=5) as landmarker:
        faces = sorted(landmarker.detect(photo), key=lambda f: f.box[0])[:3]
    assert len(faces) == 3
    canvas = np.full((270, 480, 3), 90, np.uint8)
    x, boxes = 10, []
    for face, side in zip(faces, (180, 130, 100)):
        x0, y0, x1, y1 = face.box
        cx, cy, s = (x0 + x1) / 2, (y0 + y1) / 2, 1.3 * max(x1 - x0, y1 - y0)
        left, top = int(cx - s / 2), int(cy - s / 2)
        crop = photo[max(top, 0):top + int(s), max(left, 0):left + int(s)]
        y = (270 - side) // 2
        canvas[y:y + side, x:x + side] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        boxes.append([x, y, x + side, y + side])
        x += side + 15
    return canvas, np.array(boxes[0], dtype=np.float64)


def long_face_frames(n: int, size: int = 96):
    """`n` frames of a real moving face: the carphone face crop played forwards and backwards."""
    clip = read_video(carphone_path(), sampling="all").frames  # 120 frames, face at x 63-111, y 35-106
    crops = [cv2.resize(f[8:136, 24:152], (size, size), interpolation=cv2.INTER_AREA) for f in clip]
    period = 2 * len(crops)
    for i in range(n):
        j = i % period
        yield crops[j if j < len(crops) else period - 1 - j]


def make_long(path: Path, n: int) -> Path:
    return encode(path, long_face_frames(n), options={"preset": "ultrafast", "crf": "23"})


def _box_centre(box) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    return (box[:2] + box[2:]) / 2


# ------------------------------------------------------------------------------------------------ cases
@dataclass
class Case:
    name: str
    make: Callable[[Path, dict], Path]  # (folder, extras) -> input path; may store expectations in extras
    error: type[DelocateInputError] | None = None
    says: str = ""  # the problem, as the message words it
    frame_size: tuple[int, int] | None = None  # (H, W) of a successful result
    frames: int | None = None  # --frames / num_frames
    extra_check: Callable[[dict, dict], None] | None = field(default=None)


def _zero_byte(d, x):
    (d / "zero_byte.mp4").write_bytes(b"")
    return d / "zero_byte.mp4"


def _text(d, x):
    (d / "notes.mp4").write_text("this is a shopping list, not a video\n" * 40)
    return d / "notes.mp4"


def _truncated(d, x):
    data = carphone_path().read_bytes()
    (d / "truncated.mp4").write_bytes(data[: int(len(data) * 0.3)])
    return d / "truncated.mp4"


def _audio_only(d, x):
    path = d / "audio_only.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for i in range(16):
            tone = (0.3 * np.sin(2 * np.pi * 440 * (np.arange(1024) + 1024 * i) / 16000)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(tone[None], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, 1024 * i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:  # a real, playable audio file
        assert container.streams.audio and not container.streams.video
    return path


def _one_frame(d, x):
    return write_video(d / "one_frame.mp4", face_frames(1))


def _no_face(d, x):
    source = iter_video_frames(TEST_MEDIA / "face_noface.mov", max_frames=160)  # no face after frame ~70
    frames = [cv2.resize(f, (480, 270), interpolation=cv2.INTER_AREA) for i, f in source if i >= 100 and i % 8 == 0]
    return write_video(d / "no_face.mp4", np.stack(frames))


def _three_faces(d, x):
    canvas, largest = three_face_canvas()
    x["largest"] = largest
    frames = [np.roll(canvas, 2 * t, axis=1) for t in range(8)]  # slow pan: the faces move a little
    return write_video(d / "three_faces.mp4", np.stack(frames))


def _check_three_faces(data, x):
    """Every face is its own track (the default `faces="all"`): three tracks, the note says so, the video score is
    the highest track score, the first track follows the largest face (x 10-190)."""
    assert data["max_faces"] == 3, data["max_faces"]
    assert len(data["notes"]) == 1 and "3 face tracks" in data["notes"][0] and "three_faces.mp4" in data["notes"][0]
    assert len(data["tracks"]) == 3 and data["score"] == max(t["score"] for t in data["tracks"])
    assert data["frames"] == data["tracks"][data["best_track"]]["frames"]
    largest = x["largest"]
    for f in data["tracks"][0]["frames"]:
        centre = _box_centre(f["face_box"])
        assert largest[0] <= centre[0] <= largest[2] + 16 and largest[1] <= centre[1] <= largest[3], f


def _frames_4k(d, x):
    frames = read_video(SINGLE_FACE, num_frames=4).frames
    big = np.stack([cv2.resize(f, (3840, 2160), interpolation=cv2.INTER_LINEAR) for f in frames])
    return encode(d / "frames_4k.mp4", big, options={"preset": "ultrafast", "crf": "28"})


def _check_4k(data, x):
    for f in data["frames"]:  # the face is at x 214-367, y 101-292 of the 640x360 source: 6x here
        cx, cy = _box_centre(f["face_box"])
        assert 214 * 6 < cx < 367 * 6 and 101 * 6 < cy < 292 * 6, f


def _gray_yuv(d, x):
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in face_frames(8)]
    return write_video(d / "gray_yuv.mp4", np.stack([np.repeat(g[..., None], 3, axis=-1) for g in gray]))


def _gray_pix_fmt(d, x):
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in face_frames(8)]
    path = encode(d / "gray_pix_fmt.mkv", gray, codec="ffv1", pix_fmt="gray", fmt="gray")
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "gray"
    return path


def _portrait(d, x):
    frames = read_video(SINGLE_FACE, num_frames=8).frames[:, :, 189:391]  # 202x360 strip around the face
    frames = [cv2.resize(f, (180, 320), interpolation=cv2.INTER_AREA) for f in frames]
    return write_video(d / "portrait.mp4", np.stack(frames))


def _rotated(d, x):
    upright = face_frames(8)  # 320x180 (W x H), face at x ~107-184, y ~50-146
    with get_landmarker("mediapipe", max_num_faces=1) as landmarker:
        x["face"] = landmarker.detect(upright[0])[0].box.astype(np.float64)
    stored = np.stack([np.rot90(f, k=1) for f in upright])  # stored sideways (180 wide, 320 tall)
    path = set_display_rotation(write_video(d / "rotated.mp4", stored), clockwise=True)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height, frame.rotation) == (180, 320, -90)
    return path


def _check_rotated(data, x):
    face = x["face"]
    for f in data["frames"]:
        cx, cy = _box_centre(f["face_box"])
        assert face[0] <= cx <= face[2] and face[1] <= cy <= face[3], (f, face)


def _ten_minutes(d, x):
    return make_long(d / "ten_minutes.mp4", LONG_FRAMES)


def _check_long(data, x):
    assert data["total_frames"] == LONG_FRAMES
    idx = data["frame_indices"]
    assert len(idx) == 16 and idx == sorted(set(idx)) and idx[0] < 1000 and idx[-1] > LONG_FRAMES - 1000


def _missing(d, x):
    return d / "missing.mp4"


def _directory(d, x):
    (d / "folder.mp4").mkdir(exist_ok=True)
    return d / "folder.mp4"


CASES = [
    Case("zero_byte", _zero_byte, VideoDecodeError, "empty (0 bytes)"),
    Case("text_as_mp4", _text, VideoDecodeError, "not a video file"),
    Case("truncated", _truncated, VideoDecodeError, "truncated"),
    Case("audio_only", _audio_only, VideoDecodeError, "no video stream"),
    Case("one_frame", _one_frame, VideoTooShortError, "1 decodable frame"),
    Case("no_face", _no_face, NoFaceDetectedError, "no face detected"),
    Case("three_faces", _three_faces, frame_size=(270, 480), extra_check=_check_three_faces),
    Case("frames_4k", _frames_4k, frame_size=(2160, 3840), extra_check=_check_4k),
    Case("gray_yuv", _gray_yuv, frame_size=(180, 320)),
    Case("gray_pix_fmt", _gray_pix_fmt, frame_size=(180, 320)),
    Case("portrait", _portrait, frame_size=(320, 180)),
    Case("rotated", _rotated, frame_size=(180, 320), extra_check=_check_rotated),
    Case("ten_minutes", _ten_minutes, frame_size=(96, 96), frames=16, extra_check=_check_long),
    Case("missing", _missing, VideoDecodeError, "does not exist"),
    Case("directory", _directory, VideoDecodeError, "is a directory"),
]
BY_NAME = {c.name: c for c in CASES}


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_detector(tmp_path_factory.mktemp("tiny_detector_bad_inputs"))


@pytest.fixture(scope="module")
def detector(model_dir):
    return load_detector(model_dir)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """`media(name) -> (path, extras)`: each input is generated once per module."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    made: dict[str, tuple[Path, dict]] = {}

    def get(name: str) -> tuple[Path, dict]:
        if name not in made:
            extras: dict = {}
            made[name] = (BY_NAME[name].make(folder, extras), extras)
        return made[name]

    return get


def check_success(case: Case, data: dict, extras: dict) -> None:
    """Shared checks of a successful result dict (`to_dict()` of the API or the CLI's JSON)."""
    clips = (case.frames or 4) // 4
    assert data["label"] in ("real", "fake") and 0.0 <= data["score"] <= 1.0
    assert data["label"] == ("fake" if data["score"] >= 0.5 else "real")
    assert len(data["clip_scores"]) == clips and len(data["frames"]) == len(data["frame_indices"]) == 4 * clips
    assert tuple(data["frame_size"]) == case.frame_size
    assert data["skipped_clips"] == 0
    h, w = case.frame_size
    for f in data["frames"]:
        x0, y0, x1, y1 = f["face_box"]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, f
        assert (x1 - x0) * (y1 - y0) < 0.9 * h * w, f  # a face box, not the whole frame
        assert 0.0 <= f["score"] <= 1.0
    if case.name != "three_faces":
        assert data["max_faces"] == 1 and data["notes"] == []
    if case.extra_check is not None:
        case.extra_check(data, extras)


def assert_one_line_error(message: str, path: Path, says: str) -> None:
    assert "\n" not in message.strip() and "Traceback" not in message, message
    assert path.name in message and says in message, message


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_python_api(case, media, detector):
    path, extras = media(case.name)
    model, processor = detector
    if case.error is not None:
        with pytest.raises(case.error) as info:
            detect_video(path, model, processor, num_frames=case.frames, progress=False)
        assert isinstance(info.value, DelocateInputError) and isinstance(info.value, ValueError)
        assert_one_line_error(str(info.value), path, case.says)
        return
    result = detect_video(path, model, processor, num_frames=case.frames, progress=False)
    data = result.to_dict()
    assert data["masks"].shape == (len(data["frames"]), *case.frame_size) and data["masks"].dtype == np.float32
    assert 0.0 <= data["masks"].min() and data["masks"].max() <= 1.0
    check_success(case, data, extras)


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "ten_minutes"], ids=lambda c: c.name)
def test_cli(case, media, model_dir, capfd, caplog):
    """In-process `delocate detect --json` (a real subprocess run is in `test_cli_ten_minutes_bounded_memory`)."""
    path, extras = media(case.name)
    argv = ["detect", str(path), "--model", str(model_dir), "--json", "--quiet"]
    if case.frames:
        argv += ["--frames", str(case.frames)]
    with caplog.at_level(logging.WARNING):
        code = cli.main(argv)
    out, err = capfd.readouterr()
    assert "Traceback" not in err
    if case.error is not None:
        assert code == cli.EXIT_BAD_INPUT and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("delocate: error: ")
        assert_one_line_error(lines[0], path, case.says)
        return
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert "masks" not in data
    check_success(case, data, extras)
    if case.name == "three_faces":  # also said as a warning (a stderr line outside pytest's log capture)
        assert any("3 face tracks" in r.getMessage() and "highest track score" in r.getMessage() for r in caplog.records)


WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr, "peak_mb": peak}))
"""


def start_cli_measured(path: Path, model_dir: Path, *args) -> subprocess.Popen:
    """`python -m delocate_hf.cli detect ...` in a fresh process; its peak RSS from a tiny wrapper process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-m", "delocate_hf.cli", "detect", str(path),
           "--model", str(model_dir), *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out)


def test_cli_ten_minutes_bounded_memory(media, model_dir, tmp_path):
    """A 10-minute video needs about as much memory as a 10-second one: frames are streamed, not held.
    (Both runs at once: each wrapper sees only its own child.)"""
    long_path, extras = media("ten_minutes")
    short_path = make_long(tmp_path / "ten_seconds.mp4", 250)
    runs = [start_cli_measured(p, model_dir, "--json", "--quiet", "--frames", 16) for p in (short_path, long_path)]
    short, long = [finish(p) for p in runs]
    for run in (short, long):
        assert run["rc"] == 0, run["err"]
        assert "Traceback" not in run["err"]
    data = json.loads(long["out"])
    check_success(BY_NAME["ten_minutes"], data, extras)
    assert json.loads(short["out"])["total_frames"] == 250
    growth = long["peak_mb"] - short["peak_mb"]
    print(f"peak RSS: 10 min {long['peak_mb']:.0f} MB, 10 s {short['peak_mb']:.0f} MB")
    assert growth < MEMORY_MARGIN_MB, f"peak RSS {long['peak_mb']:.0f} MB vs {short['peak_mb']:.0f} MB (10 s)"
