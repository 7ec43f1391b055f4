"""Benchmark loaders on miniature copies of the published layouts, built from real video."""

import json
import shutil
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import SINGLE_FACE

from delocate_hf.data import (
    VIDEO_RECORD_FEATURES,
    DatasetLayoutError,
    load_celebdf,
    load_deeperforensics,
    load_dfdc,
    load_faceforensics,
    load_video_folder,
)
from delocate_hf.data.fixtures import (
    make_all,
    make_mini_faceforensics,
    placeholder_fake,
    read_clip,
)

FRAMES = 16
FF_METHODS = ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter"]


@pytest.fixture(scope="session")
def sources(carphone):
    return [carphone, SINGLE_FACE]


@pytest.fixture(scope="session")
def mini(tmp_path_factory, sources):
    out = tmp_path_factory.mktemp("mini_benchmarks")
    roots = make_all(out, sources, frames=FRAMES, seed=0)
    roots["out"] = out
    return roots


def _rows(ds):
    return ds.to_list()


def _count_frames(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        return sum(1 for _ in container.decode(stream)), size


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --------------------------------------------------------------------------- fixtures write real video
def test_fixture_videos_decode_and_stay_small(mini):
    videos = sorted(mini["out"].rglob("*.mp4"))
    assert len(videos) > 100
    sizes = set()
    for path in videos:
        count, size = _count_frames(path)
        assert count == FRAMES, path
        assert size[0] % 2 == 0 and size[1] % 2 == 0
        assert path.stat().st_size < 120_000, path
        sizes.add(size)
    assert (176, 144) in sizes and (320, 180) in sizes  # carphone + downscaled single_face


def test_placeholder_fake_changes_pixels_only_inside_its_mask(carphone):
    clip = read_clip(carphone, frames=8)
    fake, masks = placeholder_fake(clip, np.random.default_rng(3))
    assert fake.shape == clip.shape and fake.dtype == np.uint8
    assert masks.shape == clip.shape[:3] and set(np.unique(masks)) <= {0, 255}
    changed = (fake != clip).any(axis=-1)
    marked = masks > 0
    iou = (changed & marked).sum() / (changed | marked).sum()
    assert iou > 0.9
    frac = marked.mean()
    assert 0.03 < frac < 0.5  # a face-sized region, not the whole frame
    h, w = clip.shape[1:3]
    ys, xs = np.nonzero(marked[0])
    assert abs(xs.mean() - w / 2) < 0.15 * w and abs(ys.mean() - 0.45 * h) < 0.15 * h
    assert np.abs(fake.astype(int) - clip)[changed].mean() > 5  # a visible change


def test_make_fake_hook_is_used(tmp_path, carphone):
    calls = []

    def hook(frames, rng):
        calls.append(frames.shape)
        fake = frames.copy()
        fake[:, :8, :8] = 255 - fake[:, :8, :8]
        masks = np.zeros(frames.shape[:3], np.uint8)
        masks[:, :8, :8] = 255
        return fake, masks

    root = make_mini_faceforensics(tmp_path / "ff", [carphone], num_videos=6, frames=4,
                                   methods=("Face2Face",), make_fake=hook)
    assert len(calls) == 6 and all(s == (4, 144, 176, 3) for s in calls)
    ds = load_faceforensics(root, split=None)
    assert Counter(ds["manipulation"]) == {"real": 6, "Face2Face": 6}


# --------------------------------------------------------------------------- FaceForensics++
def test_faceforensics_splits_follow_the_json_files(mini):
    root = mini["FaceForensics++"]
    seen_reals = set()
    for split in ("train", "val", "test"):
        pairs = json.loads((root / "splits" / f"{split}.json").read_text())
        ids = {i for p in pairs for i in p}
        fakes = {f"{a}_{b}" for a, b in pairs} | {f"{b}_{a}" for a, b in pairs}
        ds = load_faceforensics(root, compression="c23", split=split)
        assert ds.features == VIDEO_RECORD_FEATURES
        rows = _rows(ds)
        assert {r["split"] for r in rows} == {split}
        assert {r["dataset"] for r in rows} == {"FaceForensics++"}
        assert {r["compression"] for r in rows} == {"c23"}
        reals = [r for r in rows if r["label"] == 0]
        assert {r["video_id"] for r in reals} == ids and {r["manipulation"] for r in reals} == {"real"}
        assert not ids & seen_reals
        seen_reals |= ids
        for method in FF_METHODS:
            mine = [r for r in rows if r["manipulation"] == method]
            assert {r["video_id"] for r in mine} == fakes and all(r["label"] == 1 for r in mine)
        assert len(rows) == len(ids) + len(FF_METHODS) * len(fakes)
        for r in rows:
            assert Path(r["video_path"]).is_absolute() and Path(r["video_path"]).is_file()
            if r["label"] == 1:
                target = r["video_id"].split("_")[0]
                assert r["source_video"] == str(root / "original_sequences/youtube/c23/videos" / f"{target}.mp4")
                if r["manipulation"] == "FaceShifter":
                    assert r["mask_path"] == ""  # the release ships no FaceShifter masks
                else:
                    assert r["mask_path"].endswith(f"{r['manipulation']}/masks/videos/{r['video_id']}.mp4")
                    assert Path(r["mask_path"]).is_file()
            else:
                assert r["source_video"] == "" and r["mask_path"] == ""
    assert len(seen_reals) == 6


def test_faceforensics_all_filter_dfd_and_determinism(mini):
    root = mini["FaceForensics++"]
    everything = load_faceforensics(root, split=None)
    assert len(everything) == 6 + 5 * 6
    assert Counter(everything["split"]) == {"train": 12, "val": 12, "test": 12}
    assert _rows(load_faceforensics(root, split=None)) == _rows(everything)  # deterministic

    only = load_faceforensics(root, split="test", manipulations=["Deepfakes"])
    assert Counter(only["manipulation"]) == {"real": 2, "Deepfakes": 2}
    assert len(load_faceforensics(root, split="val", manipulations=[])) == 2

    dfd = load_faceforensics(root, split="test", manipulations=["DeepFakeDetection"])
    rows = _rows(dfd)
    fakes = [r for r in rows if r["manipulation"] == "DeepFakeDetection"]
    assert len(fakes) == 2 and len(rows) == 4
    for r in fakes:
        actor, scene = r["video_id"].split("_")[0], r["video_id"].split("__")[1]
        assert r["source_video"].endswith(f"original_sequences/actors/c23/videos/{actor}__{scene}.mp4")
        assert Path(r["source_video"]).is_file() and Path(r["mask_path"]).is_file()
    with pytest.raises(ValueError, match="no official train/val"):
        load_faceforensics(root, split="train", manipulations=["DeepFakeDetection"])


def test_faceforensics_mask_video_marks_where_fake_differs(mini):
    root = mini["FaceForensics++"]
    row = next(r for r in _rows(load_faceforensics(root, split="train", manipulations=["FaceSwap"]))
               if r["label"] == 1)
    fake = read_clip(row["video_path"]).astype(int)
    real = read_clip(row["source_video"]).astype(int)
    mask = read_clip(row["mask_path"])[..., 0] > 127  # binary white-on-black
    assert 0.003 < mask.mean() < 0.5  # FaceSwap holds the part_eyes pseudo-fake family: a small region
    diff = np.abs(fake - real).mean(axis=-1)
    assert diff[mask].mean() > 4 * diff[~mask].mean()


def test_faceforensics_bad_layouts(mini, tmp_path):
    root = mini["FaceForensics++"]
    with pytest.raises(DatasetLayoutError, match="does_not_exist"):
        load_faceforensics(tmp_path / "does_not_exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="original_sequences"):
        load_faceforensics(tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match=r"c40"):
        load_faceforensics(root, compression="c40")
    with pytest.raises(DatasetLayoutError, match="train.json"):
        load_faceforensics(root, split="train", splits_dir=tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="NeuralTextures"):
        broken = _copy(root, tmp_path / "ff_missing_method")
        shutil.rmtree(broken / "manipulated_sequences" / "NeuralTextures")
        load_faceforensics(broken, split="test", manipulations=["NeuralTextures"])
    assert "NeuralTextures" not in set(load_faceforensics(broken, split="test")["manipulation"])

    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "test.json").write_text("[[\"001\", ")
    with pytest.raises(DatasetLayoutError, match=r"test\.json.*not valid JSON"):
        load_faceforensics(root, split="test", splits_dir=splits)
    (splits / "test.json").write_text('{"pairs": [["001", "005"]]}')
    with pytest.raises(DatasetLayoutError, match=r"test\.json is malformed"):
        load_faceforensics(root, split="test", splits_dir=splits)
    (splits / "val.json").write_text('[["001", "005"], ["998", "999"]]')  # 998/999 are not on disk
    with pytest.raises(DatasetLayoutError, match="998.mp4"):
        load_faceforensics(root, split="val", splits_dir=splits)
    partial = load_faceforensics(root, split="val", splits_dir=splits, allow_missing=True)
    assert set(partial["video_id"]) >= {"001", "005", "001_005"} and "998" not in partial["video_id"]
    with pytest.raises(ValueError, match="unknown FaceForensics"):
        load_faceforensics(root, manipulations=["DeepFaceLab"])


# --------------------------------------------------------------------------- Celeb-DF v2
def test_celebdf_test_list_with_inverted_labels_and_train_rest(mini):
    root = mini["Celeb-DF-v2"]
    listed = [line.split() for line in (root / "List_of_testing_videos.txt").read_text().splitlines()]
    test = _rows(load_celebdf(root, split="test"))
    by_path = {Path(r["video_path"]).relative_to(root).as_posix(): r for r in test}
    assert set(by_path) == {rel for _, rel in listed}
    for flag, rel in listed:  # the list says 1 = real; ours is 0 = real
        assert by_path[rel]["label"] == (0 if flag == "1" else 1)
        assert by_path[rel]["manipulation"] == ("real" if flag == "1" else "Celeb-synthesis")
    train = _rows(load_celebdf(root, split="train"))
    everything = _rows(load_celebdf(root, split=None))
    assert {r["split"] for r in test} == {"test"} and {r["split"] for r in train} == {"train"}
    assert len(everything) == len(test) + len(train) == 3 * 2 * 2 + 2
    assert not {r["video_path"] for r in test} & {r["video_path"] for r in train}
    for r in everything:
        assert r["dataset"] == "Celeb-DF-v2" and r["compression"] == "" and r["mask_path"] == ""
        if r["label"] == 1:
            x, _, n = r["video_id"].split("_")
            assert r["source_video"] == str(root / "Celeb-real" / f"{x}_{n}.mp4")
    with pytest.raises(ValueError):
        load_celebdf(root, split="val")


def test_celebdf_bad_layouts(mini, tmp_path):
    root = _copy(mini["Celeb-DF-v2"], tmp_path / "celeb")
    test_list = root / "List_of_testing_videos.txt"
    original = test_list.read_text()
    test_list.write_text(original.replace("1 Celeb-real", "0 Celeb-real", 1))
    with pytest.raises(DatasetLayoutError, match="label disagrees"):
        load_celebdf(root)
    test_list.write_text("Celeb-real/id0_0001.mp4\n")
    with pytest.raises(DatasetLayoutError, match=r"List_of_testing_videos\.txt:1 is malformed"):
        load_celebdf(root)
    test_list.write_text(original + "1 YouTube-real/00170.mp4\n")
    with pytest.raises(DatasetLayoutError, match="00170.mp4"):
        load_celebdf(root)
    test_list.unlink()
    with pytest.raises(DatasetLayoutError, match="List_of_testing_videos.txt"):
        load_celebdf(root)
    shutil.rmtree(root / "Celeb-synthesis")
    with pytest.raises(DatasetLayoutError, match="Celeb-synthesis"):
        load_celebdf(root)


# --------------------------------------------------------------------------- DFDC
def test_dfdc_training_parts(mini):
    parts_root = mini["DFDC-train"]
    rows = _rows(load_dfdc(parts_root))
    assert len(rows) == 8 and Counter(r["label"] for r in rows) == {0: 4, 1: 4}
    metas = {}
    for part in sorted(parts_root.glob("dfdc_train_part_*")):
        for name, entry in json.loads((part / "metadata.json").read_text()).items():
            metas[str(part / name)] = entry
    for r in rows:
        entry = metas[r["video_path"]]
        assert r["label"] == (1 if entry["label"] == "FAKE" else 0)
        assert r["manipulation"] == ("DFDC" if r["label"] else "real")
        assert r["split"] == "train" and r["dataset"] == "DFDC"
        if r["label"]:
            assert r["source_video"] == str(Path(r["video_path"]).parent / entry["original"])
    # the folder above dfdc_train_all/, or a single part, work too
    assert len(load_dfdc(parts_root.parent)) == 8
    assert len(load_dfdc(parts_root / "dfdc_train_part_1")) == 4


def test_dfdc_test_set_form(mini):
    root = mini["DFDC-test"]
    rows = _rows(load_dfdc(root))
    labels = dict(line.split(",") for line in (root / "labels.csv").read_text().splitlines()[1:])
    assert {Path(r["video_path"]).name for r in rows} == set(labels)
    for r in rows:
        assert r["label"] == int(labels[Path(r["video_path"]).name])  # 1 = fake in labels.csv
        assert r["split"] == "test"


def test_dfdc_bad_layouts(mini, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="labels.csv"):
        load_dfdc(tmp_path / "empty")
    parts = _copy(mini["DFDC-train"], tmp_path / "parts")
    meta = parts / "dfdc_train_part_0" / "metadata.json"
    content = json.loads(meta.read_text())
    meta.write_text("{broken")
    with pytest.raises(DatasetLayoutError, match=r"dfdc_train_part_0/metadata\.json is not valid JSON"):
        load_dfdc(parts)
    name = next(iter(content))
    meta.write_text(json.dumps({**content, name: {"label": "MAYBE"}}))
    with pytest.raises(DatasetLayoutError, match=f"malformed at entry '{name}'"):
        load_dfdc(parts)
    meta.write_text(json.dumps({**content, "zzzzzzzzzz.mp4": {"label": "REAL", "split": "train", "original": None}}))
    with pytest.raises(DatasetLayoutError, match="zzzzzzzzzz.mp4"):
        load_dfdc(parts)
    assert len(load_dfdc(parts, allow_missing=True)) == 8
    test = _copy(mini["DFDC-test"], tmp_path / "test")
    (test / "labels.csv").write_text("video,is_fake\na.mp4,1\n")
    with pytest.raises(DatasetLayoutError, match="filename,label"):
        load_dfdc(test)


# --------------------------------------------------------------------------- DeeperForensics-1.0
def test_deeperforensics_fakes_pair_with_faceforensics_targets(mini):
    root, ff = mini["DeeperForensics-1.0"], mini["FaceForensics++"]
    rows = _rows(load_deeperforensics(root, ff))
    fakes = [r for r in rows if r["label"] == 1]
    reals = [r for r in rows if r["label"] == 0]
    assert len(fakes) == 3 * 6 and len(reals) == 6
    assert {r["video_id"].split("/")[0] for r in fakes} == {"end_to_end", "reenact_postprocess", "end_to_end_level_3"}
    for r in fakes:
        assert r["manipulation"] == "DeeperForensics" and r["dataset"] == "DeeperForensics-1.0"
        target = r["video_id"].split("/")[1][:3]
        assert r["source_video"] == str(ff / "original_sequences/youtube/c23/videos" / f"{target}.mp4")
    assert {r["source_video"] for r in fakes} == {r["video_path"] for r in reals}
    splits = {s: {line.strip()[:-4] for line in (root / "lists/splits" / f"{s}.txt").read_text().splitlines()}
              for s in ("train", "val", "test")}
    for r in fakes:
        assert r["video_id"].split("/")[1] in splits[r["split"]]
    val = _rows(load_deeperforensics(root, ff, split="val", variants=["end_to_end"]))
    assert len(val) == 2 * len(splits["val"]) and {r["split"] for r in val} == {"val"}


def test_deeperforensics_bad_layouts(mini, tmp_path):
    root, ff = mini["DeeperForensics-1.0"], mini["FaceForensics++"]
    with pytest.raises(DatasetLayoutError, match="original_sequences/youtube/c40/videos"):
        load_deeperforensics(root, ff, compression="c40")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="manipulated_videos"):
        load_deeperforensics(tmp_path / "empty", ff)
    with pytest.raises(DatasetLayoutError, match=r"empty/train\.txt"):
        load_deeperforensics(root, ff, split="train", splits_dir=tmp_path / "empty")
    no_lists = _copy(root, tmp_path / "df")
    shutil.rmtree(no_lists / "lists")
    with pytest.raises(DatasetLayoutError, match=r"lists/splits/test\.txt"):
        load_deeperforensics(no_lists, ff, split="test")
    assert set(load_deeperforensics(no_lists, ff)["split"]) == {""}  # no lists: untagged
    (no_lists / "lists" / "splits").mkdir(parents=True)
    (no_lists / "lists" / "splits" / "test.txt").write_text("not a video name\n")
    with pytest.raises(DatasetLayoutError, match=r"test\.txt:1 is malformed"):
        load_deeperforensics(no_lists, ff, split="test")
    with pytest.raises(DatasetLayoutError, match="end_to_end_level_5"):
        load_deeperforensics(root, ff, variants=["end_to_end_level_5"])


# --------------------------------------------------------------------------- user folders
def test_video_folder(mini, tmp_path):
    ff = mini["FaceForensics++"]
    root = tmp_path / "mine"
    (root / "real").mkdir(parents=True)
    (root / "fake" / "FaceSwap").mkdir(parents=True)
    for vid in ("000", "001"):
        shutil.copy(ff / "original_sequences/youtube/c23/videos" / f"{vid}.mp4", root / "real")
    for fake in sorted((ff / "manipulated_sequences/FaceSwap/c23/videos").glob("*.mp4"))[:3]:
        shutil.copy(fake, root / "fake" / "FaceSwap")
    rows = _rows(load_video_folder(root, split="val"))
    assert Counter((r["label"], r["manipulation"]) for r in rows) == {(0, "real"): 2, (1, "FaceSwap"): 3}
    assert {r["split"] for r in rows} == {"val"} and {r["dataset"] for r in rows} == {"mine"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="real"):
        load_video_folder(tmp_path / "empty")
