"""`delocate preprocess`: the face-clip cache of a data set from the command line, on the miniature layouts of
`delocate_hf.data.fixtures` (real talking-head video: the carphone clip and single_face.mp4), a folder of the
user's own videos (a truncated file, a video with no face, the two-person clip of `two_people.py`), and bad roots
and options (one line on stderr, exit status 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import HANG_TIMEOUT, SINGLE_FACE
from two_people import two_people

from delocate_hf import cli
from delocate_hf.data import load_celebdf, load_deeperforensics, load_dfdc, load_faceforensics, load_video_folder
from delocate_hf.data.fixtures import (
    make_mini_celebdf, make_mini_deeperforensics, make_mini_dfdc, make_mini_faceforensics,
)
from delocate_hf.data.preprocess import load_cache_processor, load_preprocessed, preprocess_dataset
from processing import DelocateFaceProcessor
from processing.video_io import write_video

SMALL = ["--num_frames", "4", "--size", "64"]  # tiny clips: the command's work, not the processor's, is tested


@pytest.fixture(scope="module")
def layouts(tmp_path_factory, carphone):
    tmp = tmp_path_factory.mktemp("pp_cmd_layouts")
    sources = [carphone, SINGLE_FACE]
    ff = make_mini_faceforensics(tmp / "FaceForensics++", sources, num_videos=6, frames=8,
                                 methods=["Deepfakes", "FaceSwap"])
    return {
        "faceforensics": ff,
        "celebdf": make_mini_celebdf(tmp / "Celeb-DF-v2", sources, num_identities=2, videos_per_identity=1,
                                     num_youtube=1, frames=8),
        "dfdc": make_mini_dfdc(tmp / "DFDC" / "test", sources, form="test", frames=8),
        "deeperforensics": make_mini_deeperforensics(tmp / "DeeperForensics-1.0", ff, variants=("end_to_end",)),
    }


@pytest.fixture(scope="module")
def own_videos(tmp_path_factory, layouts):
    """A video folder: two real videos (one of two people), a truncated file and a fake with no face."""
    root = tmp_path_factory.mktemp("pp_cmd_folder") / "mine"
    (root / "real").mkdir(parents=True)
    (root / "fake" / "noise").mkdir(parents=True)
    ff_real = sorted((layouts["faceforensics"] / "original_sequences" / "youtube" / "c23" / "videos").glob("*.mp4"))
    (root / "real" / "talking.mp4").write_bytes(ff_real[0].read_bytes())
    write_video(root / "real" / "two_people.mp4", two_people(16).frames)
    (root / "real" / "truncated.mp4").write_bytes(ff_real[1].read_bytes()[:2000])
    noise = np.random.default_rng(0).integers(0, 255, (8, 96, 128, 3), dtype=np.uint8)
    write_video(root / "fake" / "noise" / "static.mp4", noise)
    return root


def run(*args, capsys):
    code = cli.main(["preprocess", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_faceforensics_as_a_real_command(layouts, tmp_path):
    """The installed entry point, two workers, a progress bar; the cache is what the Python API makes."""
    out_dir = tmp_path / "ffpp_c23_train"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "delocate_hf.cli", "preprocess", "faceforensics", str(layouts["faceforensics"]),
         "--split", "train", "--compression", "c23", "--manipulations", "Deepfakes", "FaceSwap", "--num_proc", "2",
         *SMALL, "--output_dir", str(out_dir)],
        capture_output=True, text=True, timeout=HANG_TIMEOUT, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    records = load_faceforensics(layouts["faceforensics"], compression="c23", split="train",
                                 manipulations=["Deepfakes", "FaceSwap"])
    labels = records["label"]
    real, fake = labels.count(0), labels.count(1)
    assert real >= 1 and fake >= 2
    lines = proc.stdout.splitlines()
    assert lines[0] == (f"faceforensics, split train, c23: caching {len(records)} videos ({real} real, {fake} fake)"
                        f" -> {out_dir}")
    assert lines[1].startswith(f"cached: {len(records)} face clips of {len(records)} videos ({real} real, {fake} fake;"
                               f" masks: real {real}, dataset {fake}) in {out_dir} (shards: 1 computed, 0 reused)")
    assert lines[2:] == ["skipped: none"]
    assert "Face clips, shard 1/1" in proc.stderr and "Traceback" not in proc.stderr  # the progress bar

    cached = load_preprocessed(out_dir)
    assert cached.dataset["video_id"] == records["video_id"] and not len(cached.errors)
    processor = load_cache_processor(out_dir)
    assert (processor.num_frames, processor.size, processor.landmark_backend) == (4, 64, "mediapipe")
    api = preprocess_dataset(records, DelocateFaceProcessor(num_frames=4, size=64), progress=False)
    np.testing.assert_array_equal(np.asarray(cached.dataset.with_format("numpy")["faces"]),
                                  np.asarray(api.dataset.with_format("numpy")["faces"]))
    np.testing.assert_array_equal(np.asarray(cached.dataset.with_format("numpy")["masks"]),
                                  np.asarray(api.dataset.with_format("numpy")["masks"]))


@pytest.mark.parametrize("kind", ["celebdf", "dfdc", "deeperforensics"])
def test_other_layouts_cached_and_resumed(kind, layouts, tmp_path, capsys):
    root, extra = layouts[kind], []
    if kind == "deeperforensics":
        extra = ["--faceforensics_root", layouts["faceforensics"], "--split", "test"]
        records = load_deeperforensics(root, layouts["faceforensics"], split="test")
    elif kind == "celebdf":
        extra = ["--split", "test"]
        records = load_celebdf(root, split="test")
    else:
        records = load_dfdc(root)
    out_dir = tmp_path / kind
    code, out, err = run(kind, root, *extra, *SMALL, "--quiet", "--output_dir", out_dir, capsys=capsys)
    assert code == 0, err
    assert f"caching {len(records)} videos" in out.splitlines()[0]
    assert f"cached: {len(records)} face clips of {len(records)} videos" in out and "skipped: none" in out
    assert "(shards: 1 computed, 0 reused)" in out and "Face clips" not in err  # --quiet: no bar
    cached = load_preprocessed(out_dir).dataset
    assert sorted(zip(cached["video_id"], cached["label"])) == sorted(zip(records["video_id"], records["label"]))
    assert set(records["label"]) == {0, 1}
    # the same command again: everything comes from the cache
    code, again, _ = run(kind, root, *extra, *SMALL, "--quiet", "--output_dir", out_dir, capsys=capsys)
    assert code == 0 and "(shards: 0 computed, 1 reused)" in again


def test_own_videos_skipped_with_reasons_and_every_face(own_videos, tmp_path, capsys):
    records = load_video_folder(own_videos)
    assert len(records) == 4
    code, out, err = run("video_folder", own_videos, *SMALL, "--quiet", "--output_dir", tmp_path / "largest",
                         capsys=capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"video_folder, split test: caching 4 videos (3 real, 1 fake) -> {tmp_path / 'largest'}"
    assert lines[1].startswith("cached: 2 face clips of 2 videos (2 real, 0 fake; masks: real 2)")
    assert lines[2] == "skipped: 2 videos (NoFaceDetectedError 1, VideoDecodeError 1)" or \
        lines[2] == "skipped: 2 videos (VideoDecodeError 1, NoFaceDetectedError 1)"
    skipped = {line.split(": ")[0].strip(): line.split(": ")[1] for line in lines[3:5]}
    assert skipped == {str(own_videos / "real" / "truncated.mp4"): "VideoDecodeError",
                       str(own_videos / "fake" / "noise" / "static.mp4"): "NoFaceDetectedError"}
    assert lines[5] == f"  (every skipped video: {tmp_path / 'largest' / 'errors.jsonl'})"
    logged = [json.loads(line) for line in (tmp_path / "largest" / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["error_type"] for e in logged) == ["NoFaceDetectedError", "VideoDecodeError"]

    code, out, _ = run("video_folder", own_videos, *SMALL, "--quiet", "--faces", "all", "--split", "train",
                       "--output_dir", tmp_path / "all", capsys=capsys)
    assert code == 0
    assert "cached: 3 face clips of 2 videos (3 real, 0 fake" in out  # the two people are two clips
    cached = load_preprocessed(tmp_path / "all").dataset
    assert sorted(cached["video_id"]) == ["talking", "two_people", "two_people"]
    assert set(cached["split"]) == {"train"}


def test_nothing_cached_is_a_failure(own_videos, tmp_path, capsys):
    root = tmp_path / "broken"
    (root / "real").mkdir(parents=True)
    (root / "real" / "truncated.mp4").write_bytes((own_videos / "real" / "truncated.mp4").read_bytes())
    code, out, err = run("video_folder", root, *SMALL, "--quiet", "--output_dir", tmp_path / "cache", capsys=capsys)
    assert code == cli.EXIT_FAILURE
    assert "cached: 0 face clips of 0 videos" in out and "skipped: 1 video (VideoDecodeError 1)" in out
    assert err.strip().splitlines()[-1] == ("delocate: error: no face clip was made from the 1 video "
                                            "(see the reasons above)")


BAD = [  # (kind, root key or path, extra arguments, words the one error line holds)
    ("celebdf", "faceforensics", [], ["Celeb-real does not exist", "Celeb-DF-v2"]),
    ("dfdc", "faceforensics", [], ["holds neither DFDC training parts", "labels.csv"]),
    ("faceforensics", "celebdf", [], ["original_sequences", "does not exist"]),
    ("faceforensics", "/nonexistent/FF++", [], ["/nonexistent/FF++ does not exist"]),
    ("video_folder", "empty", [], ["has neither", "real/*.mp4"]),
    ("deeperforensics", "deeperforensics", [], ["needs --faceforensics_root"]),
    ("deeperforensics", "deeperforensics", ["--faceforensics_root", "celebdf"],
     ["original_sequences", "does not exist"]),
    ("dfdc", "dfdc", ["--split", "test"], ["--split does not apply to dfdc"]),
    ("celebdf", "celebdf", ["--compression", "c23"], ["--compression does not apply to celebdf"]),
    ("celebdf", "celebdf", ["--split", "val"], ["celebdf has the splits train, test, all; got --split 'val'"]),
    ("faceforensics", "faceforensics", ["--manipulations", "Bogus"], ["unknown FaceForensics++ manipulation 'Bogus'"]),
    ("faceforensics", "faceforensics", ["--compression", "c99"], ["compression must be one of"]),
    ("faceforensics", "faceforensics", ["--size", "70"], ["size (70) must be a multiple of patch_size (16)"]),
    ("faceforensics", "faceforensics", ["--processor", "/nonexistent/model"],
     ["--processor /nonexistent/model is not a folder"]),
    ("faceforensics", "faceforensics", ["--num_proc", "0"], ["--num_proc must be at least 1"]),
]


@pytest.mark.parametrize("kind, root, extra, words", BAD, ids=[f"{b[0]}-{'-'.join(b[3][0].split()[:3])}" for b in BAD])
def test_bad_root_or_option_is_one_line(kind, root, extra, words, layouts, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    where = {**layouts, "empty": tmp_path / "empty"}
    root = where.get(root, root)
    extra = [where.get(a, a) for a in extra]
    code, out, err = run(kind, root, *extra, "--output_dir", tmp_path / "cache", capsys=capsys)
    assert code == cli.EXIT_BAD_INPUT
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("delocate: error: "), err
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / "cache").exists()  # refused before anything was written


def test_help_names_every_kind_and_flag():
    proc = subprocess.run([sys.executable, "-m", "delocate_hf.cli", "preprocess", "--help"], capture_output=True,
                          text=True, timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "{faceforensics,celebdf,dfdc,deeperforensics,video_folder}" in text
    for flag in ("--split", "--compression", "--manipulations", "--faces {largest,all}", "--num_proc", "--num_frames",
                 "--size", "--landmark_backend {mediapipe,dlib68}", "--processor", "--output_dir", "--quiet"):
        assert flag in text, flag
