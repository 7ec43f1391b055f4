"""The face-clip cache on a miniature FaceForensics++ built from real talking-head video."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import HANG_TIMEOUT, SINGLE_FACE
from datasets import Dataset

from delocate_hf.data import load_faceforensics
from delocate_hf.data.fixtures import make_mini_faceforensics, write_video
from delocate_hf.data.preprocess import (
    ERROR_FEATURES,
    FACE_CLIP_FEATURES,
    dataset_mask_to_crop,
    difference_mask,
    load_preprocessed,
    preprocess_dataset,
)
from processing import DelocateFaceProcessor, get_landmarker

T, S = 4, 64
CLIP_SHAPES = {
    "faces": ((T, S, S, 3), np.uint8),
    "landmarks": ((T, 468, 2), np.float32),
    "roi_boxes": ((T, 3, 4), np.float32),
    "face_affines": ((T, 2, 3), np.float32),
    "masks": ((T, S, S), np.uint8),
}


class CountingProcessor(DelocateFaceProcessor):
    """Appends one line per processed video to ``call_log`` (works across worker processes)."""

    def __init__(self, call_log: str = "", **kwargs):
        self.call_log = call_log
        super().__init__(**kwargs)

    def process_video(self, video, **kwargs):
        if self.call_log:
            with open(self.call_log, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {video}\n")
        return super().process_video(video, **kwargs)


def _calls(log: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()] if log.exists() else []


def face_hull_fake(frames, rng):
    """A fake confined to the face: colour shift inside the convex hull of the MediaPipe landmarks."""
    import cv2

    fake, masks = frames.copy(), np.zeros(frames.shape[:3], np.uint8)
    shift = rng.uniform(35, 60, size=3) * rng.choice([-1.0, 1.0], size=3)
    hull = None
    with get_landmarker("mediapipe", max_num_faces=1) as landmarker:
        for t, frame in enumerate(frames):
            faces = landmarker.detect(frame)
            if faces:
                hull = cv2.convexHull(faces[0].points.astype(np.int32))
            if hull is None:
                continue
            inside = np.zeros(frame.shape[:2], np.uint8)
            cv2.fillConvexPoly(inside, hull, 1)
            shifted = np.clip(frame.astype(np.float32) + shift, 0, 255).astype(np.uint8)
            fake[t] = np.where(inside[..., None] > 0, shifted, frame)
            masks[t] = np.where((fake[t] != frame).any(-1), 255, 0)
    return fake, masks


@pytest.fixture(scope="module")
def records(tmp_path_factory, carphone):
    sources = [carphone, SINGLE_FACE]
    tmp = tmp_path_factory.mktemp("pp_ff")
    root = make_mini_faceforensics(
        tmp / "ff", sources, num_videos=6, frames=8, methods=["Deepfakes"], make_fake=face_hull_fake
    )
    ds = load_faceforensics(root, split="train")  # 2 reals + 2 fakes with masks
    rows = ds.to_list()
    assert [r["label"] for r in rows] == [0, 0, 1, 1]
    fake = rows[2]
    data = Path(rows[0]["video_path"]).read_bytes()
    corrupt = tmp / "corrupt.mp4"
    corrupt.write_bytes(data[: len(data) // 3])  # truncated download
    bad_mask = tmp / "bad_mask.mp4"
    bad_mask.write_bytes(b"this is not a video")
    rows += [
        {**rows[0], "video_path": str(corrupt), "video_id": "corrupt"},
        {**fake, "mask_path": "", "video_id": fake["video_id"] + "_diff"},
        {**fake, "mask_path": str(bad_mask), "video_id": fake["video_id"] + "_badmask"},
        {**fake, "mask_path": "", "source_video": "", "video_id": fake["video_id"] + "_none"},
    ]
    return Dataset.from_list(rows, features=ds.features)


@pytest.fixture(scope="module")
def built(records, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pp_cache")
    log = tmp / "calls.log"
    processor = CountingProcessor(call_log=str(log), num_frames=T, size=S)
    cache = tmp / "cache"
    result = preprocess_dataset(records, processor, num_proc=2, cache_dir=cache, shard_size=3, progress=False)
    return result, processor, cache, log


def _by_id(result):
    return {row["video_id"]: row for row in result.dataset.with_format("numpy")}


def test_schema_shapes_and_dtypes(built, records):
    result, _, cache, _ = built
    ds = result.dataset
    assert len(ds) == len(records) - 1
    assert list(ds.column_names) == list(records.column_names) + [
        "faces", "landmarks", "roi_boxes", "face_affines", "frame_indices", "frame_size", "masks",
        "mask_source", "mask_message",
    ]  # fmt: skip
    assert set(FACE_CLIP_FEATURES) == set(ds.features)
    assert str(ds.features["faces"].dtype) == "uint8" and tuple(ds.features["faces"].shape) == (T, S, S, 3)
    table = ds.with_format("arrow")[:]
    for name, (shape, dtype) in CLIP_SHAPES.items():
        values = np.asarray(table[name].to_pylist()[0], dtype=dtype)
        assert values.shape == shape, name
        assert str(ds.features[name].dtype) == np.dtype(dtype).name, name
    row = ds.with_format("numpy")[0]
    assert row["frame_indices"].shape == (T,) and np.all(np.diff(row["frame_indices"]) > 0)
    assert tuple(row["frame_size"]) == (144, 176)  # carphone H, W
    assert row["faces"].max() > 50  # real pixels
    assert (cache / "manifest.json").is_file() and (cache / "errors.jsonl").is_file()


def test_corrupt_video_gives_error_row_and_rest_is_processed(built, records):
    result, _, cache, _ = built
    errors = result.errors.to_list()
    assert len(errors) == 1 and set(result.errors.features) == set(ERROR_FEATURES)
    err = errors[0]
    assert err["video_path"].endswith("corrupt.mp4") and err["video_id"] == "corrupt"
    assert err["error_type"] == "VideoDecodeError" and err["index"] == 4
    assert "\n" not in err["message"] and "corrupt.mp4" in err["message"]
    on_disk = [json.loads(line) for line in (cache / "errors.jsonl").read_text().splitlines()]
    assert on_disk == errors
    done = {r["video_id"] for r in result.dataset}
    assert done == {r["video_id"] for r in records} - {"corrupt"}


def _inside_landmark_box(masks, landmarks, margin=0.1):
    fractions = []
    for mask, pts in zip(masks.astype(np.float64), landmarks):
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        mx, my = margin * (x1 - x0), margin * (y1 - y0)
        ys, xs = np.mgrid[: mask.shape[0], : mask.shape[1]]
        box = (xs >= x0 - mx) & (xs <= x1 + mx) & (ys >= y0 - my) & (ys <= y1 + my)
        fractions.append(mask[box].sum() / mask.sum())
    return np.array(fractions)


def test_masks_real_zero_fake_inside_face(built):
    result, _, _, _ = built
    rows = _by_id(result)
    reals = [r for r in rows.values() if r["label"] == 0]
    assert len(reals) == 2
    for r in reals:
        assert r["mask_source"] == "real" and r["masks"].max() == 0
    expected = {"002_004": "dataset", "004_002": "dataset"}
    fakes = {vid: r for vid, r in rows.items() if r["label"] == 1}
    for vid, r in fakes.items():
        if vid in expected:
            assert r["mask_source"] == "dataset", vid
            assert set(np.unique(r["masks"])) <= {0, 255}  # thresholded FF++ style
    diff_id = next(v for v in fakes if v.endswith("_diff"))
    assert fakes[diff_id]["mask_source"] == "difference" and fakes[diff_id]["mask_message"] == ""
    for vid, r in fakes.items():
        if vid.endswith("_none"):
            continue
        masks = r["masks"]
        per_frame = (masks > 127).mean(axis=(1, 2))
        assert np.all(per_frame > 0.08), (vid, per_frame)  # non-empty in every frame
        assert np.all(per_frame < 0.8), (vid, per_frame)  # not the whole crop
        inside = _inside_landmark_box(masks, r["landmarks"])
        assert np.all(inside > 0.95), (vid, inside)


def test_dataset_and_difference_masks_agree(built):
    rows = _by_id(built[0])
    fake_id = next(v for v in rows if v.endswith("_diff")).removesuffix("_diff")
    gt, diff = rows[fake_id]["masks"] > 127, rows[fake_id + "_diff"]["masks"] > 127
    iou = (gt & diff).sum() / (gt | diff).sum()
    assert iou > 0.7, iou


def test_fallbacks_are_flagged(built):
    rows = _by_id(built[0])
    bad = next(r for v, r in rows.items() if v.endswith("_badmask"))
    assert bad["mask_source"] == "difference"
    assert "mask video unusable" in bad["mask_message"] and "VideoDecodeError" in bad["mask_message"]
    assert (bad["masks"] > 127).any()
    none = next(r for v, r in rows.items() if v.endswith("_none"))
    assert none["mask_source"] == "none" and none["masks"].max() == 0
    assert "no ground-truth mask" in none["mask_message"]
    assert built[0].mask_summary == {"real": 2, "dataset": 2, "difference": 2, "none": 1}


def test_second_call_reuses_cache_without_recompute(built, records):
    result, processor, cache, log = built
    first_calls = _calls(log)
    assert len(first_calls) == len(records)  # every video exactly once, including the corrupt one
    assert len({line for line in log.read_text().splitlines()}) == len(records)
    success = sorted(cache.glob("shards/*/_SUCCESS.json"))
    assert len(success) == 3
    stamps = [p.stat().st_mtime_ns for p in success]
    again = preprocess_dataset(records, processor, num_proc=2, cache_dir=cache, shard_size=3, progress=False)
    assert _calls(log) == first_calls  # the processor was not called again
    assert again.computed_shards == [] and again.reused_shards == [0, 1, 2]
    assert [p.stat().st_mtime_ns for p in success] == stamps
    assert again.dataset["video_id"] == result.dataset["video_id"]
    a, b = again.dataset.with_format("numpy")[:], result.dataset.with_format("numpy")[:]
    assert np.array_equal(a["faces"], b["faces"]) and np.array_equal(a["masks"], b["masks"])
    assert again.errors.to_list() == result.errors.to_list()
    loaded = load_preprocessed(cache)
    assert loaded.dataset["video_id"] == result.dataset["video_id"] and len(loaded.errors) == 1
    assert loaded.dataset.features == result.dataset.features


def test_changed_settings_rebuild_stale_shards(records, tmp_path):
    log, cache = tmp_path / "calls.log", tmp_path / "cache"
    subset = records.select(range(3))  # one shard
    run = lambda proc: preprocess_dataset(subset, proc, num_proc=1, cache_dir=cache, shard_size=3, progress=False)  # noqa: E731
    first = run(CountingProcessor(call_log=str(log), num_frames=T, size=S))
    assert first.computed_shards == [0] and len(_calls(log)) == 3
    wider = run(CountingProcessor(call_log=str(log), num_frames=T, size=S, crop_scale=1.6))
    assert wider.computed_shards == [0] and len(_calls(log)) == 6  # other crop: shard rebuilt
    zoom = lambda r: np.ptp(np.asarray(r["landmarks"])[0][:, 0])  # noqa: E731
    assert zoom(wider.dataset[0]) < zoom(first.dataset.with_format("numpy")[0]) * 0.9
    # normalisation / token-masking settings do not change what is cached: reused
    same = run(CountingProcessor(call_log=str(log), num_frames=T, size=S, crop_scale=1.6, mask_ratio=0.5))
    assert same.reused_shards == [0] and len(_calls(log)) == 6


class Killed(RuntimeError):
    pass


def test_killed_midway_resumes_without_redoing_finished_shards(records, tmp_path):
    log = tmp_path / "calls.log"
    processor = CountingProcessor(call_log=str(log), num_frames=T, size=S)
    cache = tmp_path / "cache"
    subset = records.select(range(6))  # 3 shards of 2

    def kill_after_first(k, folder):
        if k == 0:
            raise Killed("simulated kill")

    with pytest.raises(Killed):
        preprocess_dataset(subset, processor, num_proc=2, cache_dir=cache, shard_size=2,
                           progress=False, on_shard_done=kill_after_first)
    first = _calls(log)
    assert sorted(first) == sorted(subset["video_path"][:2])
    with pytest.raises(FileNotFoundError, match="not finished"):
        load_preprocessed(cache)
    # a half-written shard of a process that died (no _SUCCESS.json) is thrown away and redone
    stale = cache / "shards" / "00001.tmp-99999"
    (stale / "data").mkdir(parents=True)
    shard0 = cache / "shards" / "00000" / "_SUCCESS.json"
    stamp = shard0.stat().st_mtime_ns
    time.sleep(0.01)

    result = preprocess_dataset(subset, processor, num_proc=2, cache_dir=cache, shard_size=2, progress=False)
    assert result.reused_shards == [0] and result.computed_shards == [1, 2]
    second = _calls(log)[len(first):]
    assert sorted(second) == sorted(subset["video_path"][2:])  # shard 0 not redone
    assert shard0.stat().st_mtime_ns == stamp and not stale.exists()
    assert len(result.dataset) == 5 and len(result.errors) == 1  # the corrupt video is record 4
    assert load_preprocessed(cache).dataset["video_id"] == result.dataset["video_id"]


def test_without_cache_dir_in_memory(records, tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, size=(8, 64, 64, 3), dtype=np.uint8)
    write_video(tmp_path / "noise.mp4", noise)
    rows = records.select([0, 4]).to_list()
    rows.append({**rows[0], "video_path": str(tmp_path / "noise.mp4"), "video_id": "noise"})
    result = preprocess_dataset(Dataset.from_list(rows, features=records.features),
                                DelocateFaceProcessor(num_frames=T, size=S), num_proc=1, progress=False)
    assert result.cache_dir is None and result.dataset["video_id"] == [rows[0]["video_id"]]
    assert {(e["video_id"], e["error_type"]) for e in result.errors} == {
        ("corrupt", "VideoDecodeError"), ("noise", "NoFaceDetectedError")}


SCRIPT = """
import json, sys
from delocate_hf.data.preprocess import preprocess_dataset
from processing import DelocateFaceProcessor
rows = json.loads(sys.argv[1])
result = preprocess_dataset(rows, DelocateFaceProcessor(num_frames=4, size=64), num_proc=2, progress=False)
print("RESULT", len(result.dataset), len(result.errors), "mediapipe" in sys.modules)
"""


def test_fresh_script_without_main_guard(records, tmp_path):
    """A plain script (no ``if __name__ == "__main__"``) with num_proc=2: workers are forked, no crash."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    rows = json.dumps(records.select([0, 2, 4]).to_list())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script), rows], capture_output=True, text=True, timeout=HANG_TIMEOUT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RESULT 2 1 False" in done.stdout


def test_mask_helpers():
    real = np.full((2, 32, 32, 3), 100, np.uint8)
    fake = real.copy()
    fake[:, 8:20, 10:24] += 60
    soft = difference_mask(fake, real)
    assert soft.dtype == np.uint8 and soft.shape == (2, 32, 32)
    assert soft[:, 14, 17].min() == 255 and soft[:, 0, 0].max() == 0 and soft[:, 28:, :].max() == 0
    noisy = fake.copy()
    noisy[:, 2, 2] += 80  # one-pixel speckle: removed by the opening
    assert difference_mask(noisy, real)[:, 2, 2].max() == 0
    gray = np.zeros((2, 40, 40), np.uint8)
    gray[:, 10:30, 10:30] = 200
    gray[:, 0:5, 0:5] = 90  # compression ringing below the threshold
    identity = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (2, 1, 1))
    crop = dataset_mask_to_crop(gray, identity, 40)
    assert set(np.unique(crop)) == {0, 255} and crop[:, 20, 20].min() == 255 and crop[:, 2, 2].max() == 0
    half = identity * np.array([[0.5], [0.5]], np.float32)  # 80x80 frames into a 40 px crop
    big = np.zeros((2, 80, 80), np.uint8)
    big[:, 40:, 40:] = 255
    assert dataset_mask_to_crop(big, half, 40)[:, 30, 30].min() == 255
