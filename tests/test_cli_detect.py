"""`delocate detect`: JSON contract, mask/overlay outputs, one-line errors, run as a real subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import SINGLE_FACE, TEST_MEDIA, save_tiny_detector

from delocate_hf import cli
from delocate_hf.inference import load_masks
from delocate_hf.inference import loading as loading_module
from processing import iter_video_frames, write_video

# SINGLE_FACE (conftest): delocate_hf/assets/single_face.mp4, 640x360, 72 frames


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_detector(tmp_path_factory.mktemp("tiny_detector_cli"))


def run_cli(*args, timeout=120):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "delocate_hf.cli", "detect", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def test_json_masks_overlay_two_clips(model_dir, tmp_path):
    npz, mp4 = tmp_path / "masks.npz", tmp_path / "overlay.mp4"
    proc = run_cli(SINGLE_FACE, "--model", model_dir, "--json", "--frames", 8, "--save-masks", npz, "--overlay", mp4)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    assert {"label", "score", "frames", "frame_indices"} <= set(data) and "masks" not in data
    assert data["label"] == ("fake" if data["score"] >= 0.5 else "real")
    # --frames 8 with a 4-frame model: two clips, eight frames sampled over the whole video
    assert len(data["clip_scores"]) == 2 and len(data["frame_indices"]) == 8
    assert data["frame_indices"] == sorted(set(data["frame_indices"])) and max(data["frame_indices"]) >= 36
    assert [f["index"] for f in data["frames"]] == data["frame_indices"]
    with np.load(npz) as saved:  # the default layout: the localizer's masks and their crop transforms
        assert set(saved.files) == {"layout", "frame_size", "crop_size", "crop_masks", "face_affines", "frame_indices"}
        assert saved["crop_masks"].shape == (8, 64, 64) and saved["frame_size"].tolist() == [360, 640]
        assert saved["frame_indices"].tolist() == data["frame_indices"]
    masks, indices = load_masks(npz)
    assert masks.shape == (8, 360, 640) and np.asarray(masks).dtype == np.float32
    assert indices.tolist() == data["frame_indices"]
    assert sum(1 for _ in iter_video_frames(mp4)) == 72
    assert mp4.with_suffix(".png").stat().st_size > 0


def _noise_video(path):
    return write_video(path, np.random.default_rng(0).integers(0, 255, (8, 96, 128, 3), dtype=np.uint8))


@pytest.mark.parametrize("case", ["missing", "empty", "text", "noface"])
def test_bad_input_one_line(case, model_dir, tmp_path, capfd):
    video = tmp_path / f"{case}.mp4"
    expected = {"missing": "does not exist", "empty": "empty", "text": "not a video", "noface": "no face"}[case]
    if case == "empty":
        video.write_bytes(b"")
    elif case == "text":
        video.write_text("this is not a video\n" * 20)
    elif case == "noface":
        _noise_video(video)
    if case in ("text", "noface"):  # a real process (native MediaPipe logs, model loading); the others in-process
        proc = run_cli(video, "--model", model_dir, "--json")
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        code = cli.main(["detect", str(video), "--model", str(model_dir), "--json"])
        out, err = capfd.readouterr()
    assert code != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert video.name in lines[0] and expected in lines[0]


def test_debug_raises(model_dir, tmp_path):
    from processing.errors import VideoDecodeError

    with pytest.raises(VideoDecodeError, match="does not exist"):
        cli.main(["detect", str(tmp_path / "missing.mp4"), "--model", str(model_dir), "--debug"])


def test_bad_model_and_missing_default_model(tmp_path, monkeypatch, capsys):
    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(tmp_path / "no-model")]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot load model" in err[0]
    monkeypatch.setattr(loading_module, "DEFAULT_MODEL_DIR", tmp_path / "default_model")
    assert cli.main(["detect", str(SINGLE_FACE)]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["delocate: error: the shipped default model is missing: run `make default-model` or pass --model"]


def test_human_readable_output(model_dir, capsys):
    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(model_dir), "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "single_face.mp4: " in lines[0] and "P(fake)" in lines[0] and len(lines) == 6
    assert lines[0].split(": ", 1)[1].split()[0] in ("real", "fake")  # no band on this model
    # an uncalibrated model says so beside the verdict
    assert lines[1].startswith("  warning: not calibrated")


def test_several_videos_one_model_load(model_dir, tmp_path, carphone):
    """`delocate detect A B MISSING --json`: one JSON line per good video (in order, named), one error line for the
    missing one, exit code 2; --overlay with several videos is refused before any work."""
    missing = tmp_path / "missing.mp4"
    proc = run_cli(SINGLE_FACE, missing, carphone, "--model", model_dir, "--json", "--quiet")
    assert proc.returncode == 2
    results = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [r["video"] for r in results] == [str(SINGLE_FACE), str(carphone)]
    assert all(len(r["frames"]) == 4 and all(f["localized"] for f in r["frames"]) for r in results)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("delocate:")]
    assert len(errors) == 2 and "missing.mp4" in errors[0] and "does not exist" in errors[0]
    assert errors[1] == "delocate: 1 of 3 videos failed" and "Traceback" not in proc.stderr
    code = cli.main(["detect", str(SINGLE_FACE), str(carphone), "--model", str(model_dir),
                     "--overlay", str(tmp_path / "o.mp4")])
    assert code == cli.EXIT_BAD_INPUT and not (tmp_path / "o.mp4").exists()
    from processing.errors import VideoDecodeError

    with pytest.raises(VideoDecodeError, match="does not exist"):  # --debug: the traceback, as for one video
        cli.main(["detect", str(SINGLE_FACE), str(missing), "--model", str(model_dir), "--json", "--debug"])


def test_localize_option_sets_the_localized_frames(model_dir, capsys):
    """`--localize 2` on the tiny 4-frame model localizes frames 1 and 3 of the clip (the others show the nearest
    one's mask and score, marked); `--localize all` every frame; a bad value is one error line before any work."""
    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(model_dir), "--json", "--localize", "2"]) == 0
    frames = json.loads(capsys.readouterr().out)["frames"]
    assert [f["localized"] for f in frames] == [False, True, False, True]
    # nearest localized frame, ties to the earlier one: frames 0, 1, 2 -> 1; 3 -> 3
    assert frames[0]["score"] == frames[1]["score"] == frames[2]["score"] != frames[3]["score"]
    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(model_dir), "--json", "--localize", "all"]) == 0
    assert all(f["localized"] for f in json.loads(capsys.readouterr().out)["frames"])
    assert cli.main(["detect", str(SINGLE_FACE), "--model", str(model_dir), "--localize", "0"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["delocate: error: --localize takes a number of frames >= 1 or 'all', got '0'"]


HEAVY_MODULES = ("torch", "transformers", "huggingface_hub", "numpy", "av", "cv2")
HELP_PROBE = """
import contextlib, importlib.util, io, json, sys
spec = importlib.util.spec_from_file_location("cli_alone", sys.argv[1])
cli_alone = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli_alone)
texts = []
for argv in (["--help"], ["detect", "--help"], ["demo", "--help"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            cli_alone.build_parser(argv).parse_args(argv)
        except SystemExit:
            pass
    texts.append(out.getvalue())
print(json.dumps({"help": texts, "imported": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def test_help_is_built_from_argparse_alone():
    """`delocate --help` / `delocate detect --help` build the parser without importing torch, transformers,
    huggingface_hub, numpy, PyAV or OpenCV (cli.py loaded on its own, in a fresh interpreter)."""
    proc = subprocess.run([sys.executable, "-c", HELP_PROBE, cli.__file__, *HEAVY_MODULES], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["imported"] == []
    top, detect, demo = data["help"]
    assert "detect" in top and "push" in top and "--explain OUT.png" in detect and "--device {cpu,cuda}" in detect


def test_every_detect_flag_has_a_help_line_with_its_default():
    parser = cli.build_parser(["detect"])
    detect = next(a for a in parser._actions if a.dest == "command").choices["detect"]
    options = [a for a in detect._actions if a.option_strings and a.dest != "help"]
    assert {"--device", "--explain", "--dtype", "--frames", "--localize"} <= {a.option_strings[0] for a in options}
    for action in options:
        assert action.help and "default" in action.help, action.option_strings


def test_entry_point_help_imports_no_torch():
    probe = ("import sys\nfrom delocate_hf import cli\ntry:\n    cli.main(['detect', '--help'])\nexcept SystemExit:\n"
             "    pass\nprint('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "False", proc.stderr


def test_text_output_prints_each_note_once(model_dir):
    """The face leaves the picture in face_noface.mov: the note saying so is printed under the verdict, and the
    same note is not repeated as a log warning on stderr (neither by detect nor by its result assembly)."""
    proc = run_cli(TEST_MEDIA / "face_noface.mov", "--model", model_dir, "--frames", 16)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stdout.splitlines() if line.strip().startswith("note:")]
    assert notes, proc.stdout
    for note in notes:
        text = note.strip()[len("note:"):].strip()
        assert text not in proc.stderr, f"note repeated on stderr: {text}"


def test_faces_choices_are_the_processing_modes():
    """The light parser spells `--faces`' choices itself (it imports nothing heavy): they must be the modes the
    detection accepts (`processing.face_tracks.FACE_MODES`)."""
    from processing.face_tracks import FACE_MODES

    parser = cli.build_parser(["detect", "x.mp4"])
    detect = next(a for a in parser._subparsers._group_actions[0].choices["detect"]._actions if a.dest == "faces")
    assert sorted(detect.choices) == sorted(FACE_MODES) and detect.default in FACE_MODES
