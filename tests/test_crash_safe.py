"""Crash safety with real kills: SIGKILL a preprocessing run after its first finished shard, and a training run
after its first checkpoint; the reruns pick up where the killed runs stopped and end with the same result as an
uninterrupted run.

The face-clip cache is built from real talking-head video (the carphone clip and single_face.mp4); the same cache
(of the uninterrupted preprocessing run) is the training data of the stage-1 runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import HANG_TIMEOUT, SINGLE_FACE
from datasets import Dataset
from safetensors.torch import load_file

from delocate_hf.data.preprocess import load_preprocessed, preprocess_dataset
from delocate_hf.data.records import VIDEO_RECORD_FEATURES
from delocate_hf.training import pretrain_recovery
from processing import DelocateFaceProcessor

REPO = Path(__file__).resolve().parents[1]
T, S = 4, 64
NUM_RECORDS, SHARD_SIZE = 6, 2  # 3 shards
STEPS, EVERY = 6, 2


def _env() -> dict:
    path = os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1"}


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = HANG_TIMEOUT) -> bool:
    """Poll until `path` exists (True) or the process ended first (False); `timeout` only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if proc.poll() is not None:
            return path.exists()
        time.sleep(0.005)
    proc.kill()
    raise AssertionError(f"{path} did not appear within {timeout} s")


def sigkill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=HANG_TIMEOUT)


@pytest.fixture(scope="module")
def records(carphone) -> Dataset:
    """6 real video records (two real talking heads, alternating)."""
    sources = [carphone, SINGLE_FACE]
    rows = [{"video_path": str(sources[i % 2]), "label": 0, "dataset": "crash", "manipulation": "real",
             "source_video": "", "mask_path": "", "split": "train", "compression": "", "video_id": f"v{i}"}
            for i in range(NUM_RECORDS)]
    return Dataset.from_list(rows, features=VIDEO_RECORD_FEATURES)


@pytest.fixture(scope="module")
def full_cache(records, tmp_path_factory) -> Path:
    """The uninterrupted preprocessing run (also the training data below)."""
    cache = tmp_path_factory.mktemp("crash_full") / "cache"
    result = preprocess_dataset(records, DelocateFaceProcessor(num_frames=T, size=S), num_proc=1, cache_dir=cache,
                                shard_size=SHARD_SIZE, progress=False)
    assert len(result.dataset) == NUM_RECORDS and len(result.errors) == 0
    return cache


PREPROCESS = """
import json, os, sys, time
from datasets import Dataset
from delocate_hf.data.preprocess import preprocess_dataset
from delocate_hf.data.records import VIDEO_RECORD_FEATURES
from processing import DelocateFaceProcessor

records_json, cache, log, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])


class CountingProcessor(DelocateFaceProcessor):
    def process_video(self, video, **kwargs):
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(str(video) + "\\n")
        time.sleep(delay)  # a slower video: the kill lands while later shards are still being built
        return super().process_video(video, **kwargs)


records = Dataset.from_list(json.loads(open(records_json).read()), features=VIDEO_RECORD_FEATURES)
result = preprocess_dataset(records, CountingProcessor(num_frames=4, size=64), num_proc=1, cache_dir=cache,
                            shard_size=2, progress=False)
print(json.dumps({"computed": result.computed_shards, "reused": result.reused_shards}))
"""


def test_preprocessing_sigkill_resumes_without_redoing_finished_shards(records, full_cache, tmp_path):
    script, rows, cache, log = tmp_path / "run.py", tmp_path / "records.json", tmp_path / "cache", tmp_path / "calls"
    script.write_text(PREPROCESS)
    rows.write_text(json.dumps(records.to_list()))
    # records go through Dataset.map one at a time: the log line of a record names its video and order
    paths = records["video_path"]

    def run(delay: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(script), str(rows), str(cache), str(log), str(delay)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)

    killed = run(0.4)
    first_done = wait_for(cache / "shards" / "00000" / "_SUCCESS.json", killed)
    sigkill(killed)
    assert first_done, killed.stderr.read()[-2000:]
    finished = sorted(int(p.parent.name) for p in (cache / "shards").glob("[0-9]*/_SUCCESS.json"))
    assert 0 in finished
    stamps = {k: (cache / "shards" / f"{k:05d}" / "_SUCCESS.json").stat().st_mtime_ns for k in finished}
    calls_before = log.read_text().splitlines()
    assert calls_before[:SHARD_SIZE] == paths[:SHARD_SIZE]
    if len(finished) < NUM_RECORDS // SHARD_SIZE:  # an unfinished cache is not mistaken for a complete one
        with pytest.raises(FileNotFoundError):
            load_preprocessed(cache)

    rerun = run(0.0)
    out, err = rerun.communicate(timeout=HANG_TIMEOUT)
    assert rerun.returncode == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])
    todo = [k for k in range(NUM_RECORDS // SHARD_SIZE) if k not in finished]
    assert summary == {"computed": todo, "reused": finished}
    calls_after = log.read_text().splitlines()[len(calls_before):]
    assert calls_after == [p for i, p in enumerate(paths) if i // SHARD_SIZE in todo]  # finished shards not redone
    for k, stamp in stamps.items():
        assert (cache / "shards" / f"{k:05d}" / "_SUCCESS.json").stat().st_mtime_ns == stamp
    assert not list((cache / "shards").glob("*.tmp-*"))  # the half-built shard of the killed run is gone

    resumed, straight = load_preprocessed(cache).dataset, load_preprocessed(full_cache).dataset
    assert resumed["video_id"] == straight["video_id"]
    a, b = resumed.with_format("numpy")[:], straight.with_format("numpy")[:]
    for name in ("faces", "landmarks", "roi_boxes", "face_affines", "frame_indices", "masks"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _stage1_args(cache: Path, out: Path, *extra) -> list[str]:
    return ["--train_data", str(cache), "--output_dir", str(out), "--model_config", "tiny",
            "--per_device_train_batch_size", "4", "--max_train_steps", str(STEPS), "--checkpointing_steps",
            str(EVERY), "--seed", "0", "--learning_rate", "1e-3", *extra]


def test_training_sigkill_after_first_checkpoint_resumes_to_the_same_weights(full_cache, tmp_path):
    """SIGKILL stage 1 once `checkpoints/step_2` is complete, resume with `--resume_from_checkpoint latest`:
    the run ends at step 6 with the weights of an uninterrupted run (cosine schedule over the same 6 steps)."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "delocate_hf.training.pretrain_recovery", *_stage1_args(full_cache, out)]
    killed = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                              cwd=tmp_path)
    first = wait_for(out / "checkpoints" / f"step_{EVERY}" / "trainer_state.json", killed)
    sigkill(killed)
    assert first, killed.stderr.read()[-2000:]
    complete = sorted(int(p.parent.name.split("_")[1]) for p in (out / "checkpoints").glob("step_*/trainer_state.json"))
    assert complete and complete[0] == EVERY

    resume = subprocess.Popen(cmd + ["--resume_from_checkpoint", "latest"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)
    # meanwhile, the uninterrupted run in this process
    straight = pretrain_recovery.main(_stage1_args(full_cache, tmp_path / "straight"))
    assert straight["step"] == STEPS
    stdout, stderr = resume.communicate(timeout=HANG_TIMEOUT)
    assert resume.returncode == 0, stderr[-3000:]
    assert f"stage 1 done: step {STEPS}," in stdout, stdout
    print(f"killed with checkpoints {complete} complete; resumed to step {STEPS}")
    state = json.loads((out / "checkpoints" / f"step_{STEPS}" / "trainer_state.json").read_text())
    assert state["step"] == STEPS

    a = load_file(str(tmp_path / "straight" / "final" / "model.safetensors"))
    b = load_file(str(out / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    torch.manual_seed(0)
    fresh = pretrain_recovery.DelocateForMaskedRecovery(pretrain_recovery.load_model_config("tiny")).state_dict()
    name = "videomae.embeddings.patch_embeddings.projection.weight"
    assert not torch.allclose(a[name], fresh[name])  # it trained
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6, msg=key)
    # weights on disk are safetensors only, in the final folder and in every checkpoint
    for folder in [out / "final", tmp_path / "straight" / "final", *sorted((out / "checkpoints").glob("step_*"))]:
        assert (folder / "model.safetensors").is_file(), folder
        assert not [p.name for p in folder.iterdir() if p.name.startswith("pytorch_model") or p.suffix == ".pt"]
