"""`preprocess_dataset(..., faces="all")` caches every face track of a video (one row each); the default,
`faces="largest"`, one row of the largest face, with the cache key of before. Real media: the two-person clip of
`two_people.py` (real talking heads side by side)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset

from two_people import LEFT_BOX, RIGHT_BOX, two_people
from delocate_hf.data.preprocess import preprocess_dataset
from delocate_hf.data.records import VIDEO_RECORD_FEATURES
from processing import DelocateFaceProcessor
from processing.face_tracks import crop_boxes
from processing.video_io import write_video


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two_people")
    video = write_video(folder / "two_people.mp4", two_people(32).frames)
    row = {"video_path": str(video), "label": 0, "dataset": "two_people", "manipulation": "", "source_video": "",
           "mask_path": "", "split": "train", "compression": "", "video_id": "two_people"}
    return Dataset.from_list([row], features=VIDEO_RECORD_FEATURES)


def test_every_track_cached_or_the_largest(records, tmp_path):
    processor = DelocateFaceProcessor(num_frames=8, size=64)
    every = preprocess_dataset(records, processor, cache_dir=tmp_path / "all", progress=False, faces="all")
    largest = preprocess_dataset(records, processor, cache_dir=tmp_path / "largest", progress=False)
    assert len(every.dataset) == 2 and len(largest.dataset) == 1 and not every.errors
    rows = every.dataset.with_format("numpy")
    assert [m.split(";")[0] for m in rows["mask_message"]] == ["face track 1 of 2", "face track 2 of 2"]
    centres = []
    for affines, size in zip(rows["face_affines"], rows["frame_size"]):
        boxes = crop_boxes(affines, 64, tuple(int(v) for v in size))
        centres.append(np.median((boxes[:, :2] + boxes[:, 2:]) / 2, axis=0))
    (lx, ly), (rx, ry) = centres
    assert LEFT_BOX[0] <= lx <= LEFT_BOX[2] and RIGHT_BOX[0] <= rx <= RIGHT_BOX[2]
    assert np.array_equal(np.asarray(largest.dataset.with_format("numpy")["faces"][0]), rows["faces"][0])
    manifest = json.loads((tmp_path / "largest" / "manifest.json").read_text())
    assert "faces" not in manifest and json.loads((tmp_path / "all" / "manifest.json").read_text())["faces"] == "all"
    with pytest.raises(ValueError, match="faces must be 'largest' or 'all', got 'both'"):
        preprocess_dataset(records, processor, faces="both", progress=False)
