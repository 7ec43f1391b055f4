"""The processor owns preprocessing: the cache records its processor, every stage saves that processor (in the
model's shape) beside its model and checkpoints, the detector and its export ship it, and stage 1's token masking is
what stage 2 masks the recovery model's inputs with (issue 14, item 2)."""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from delocate_hf.data.preprocess import crop_settings, load_cache_processor, preprocess_dataset
from delocate_hf.data.video_folder import load_video_folder
from delocate_hf.training import assemble, finetune_classifier, pretrain_recovery, train_localization
from delocate_hf.training.processors import cache_processor, detector_processor
from processing import DelocateFaceProcessor

FRAMES, SIZE = 4, 64
SINGLE_FACE = Path(__file__).resolve().parents[1] / "delocate_hf" / "assets" / "single_face.mp4"  # shipped clip
CROP_SCALE = 1.6  # not the default 1.3


def _dlib_available() -> bool:
    if importlib.util.find_spec("dlib") is None:
        return False
    from processing.landmarks import find_dlib_predictor

    try:
        find_dlib_predictor()
    except (FileNotFoundError, OSError):
        return False
    return True


BACKEND = "dlib68" if _dlib_available() else "mediapipe"  # the other backend than the default where there is one
CACHE_PROCESSOR = dict(num_frames=FRAMES, size=SIZE, crop_scale=CROP_SCALE, landmark_backend=BACKEND, max_gap=None)


def saved(folder) -> dict:
    settings = json.loads((Path(folder) / "preprocessor_config.json").read_text())
    settings.pop("auto_map", None)
    return settings


@pytest.fixture(scope="module")
def cache(tmp_path_factory, carphone):
    """A face-clip cache of two real videos and the same two as 'fakes', cropped with non-default settings."""
    root = tmp_path_factory.mktemp("videos")
    for sub in ("real", "fake/Tamper"):
        (root / sub).mkdir(parents=True)
        shutil.copy(carphone, root / sub / "carphone.mp4")
        shutil.copy(SINGLE_FACE, root / sub / "single_face.mp4")
    records = load_video_folder(root, split="train")
    folder = tmp_path_factory.mktemp("cache") / "clips"
    result = preprocess_dataset(records, DelocateFaceProcessor(**CACHE_PROCESSOR), num_proc=1, cache_dir=folder,
                                progress=False)
    assert len(result.errors) == 0, result.errors.to_list()
    assert sorted(result.dataset["label"]) == [0, 0, 1, 1]
    return folder


def common(cache, out, steps=1, *extra):
    return ["--train_data", str(cache), "--output_dir", str(out), "--model_config", "tiny",
            "--per_device_train_batch_size", "2", "--max_train_steps", str(steps), "--seed", "0", *extra]


def spy_masks(monkeypatch) -> list:
    """Records the (strategy, ratio) stage 2 masks the recovery model's inputs with, then masks as before."""
    calls, real = [], train_localization.batch_token_masks

    def recording(roi_boxes, strategy, ratio, *args, **kwargs):
        calls.append((strategy, ratio))
        return real(roi_boxes, strategy, ratio, *args, **kwargs)

    monkeypatch.setattr(train_localization, "batch_token_masks", recording)
    return calls


@pytest.fixture(scope="module")
def stages(cache, tmp_path_factory):
    """Stage 1 with `--mask_strategy tube` (and a checkpoint), 1b, 2 and the assembled detector."""
    out = tmp_path_factory.mktemp("stages")
    recovery = pretrain_recovery.main(common(cache, out / "stage1", 1, "--mask_strategy", "tube",
                                             "--checkpointing_steps", "1", "--learning_rate", "1e-3"))
    classifier = finetune_classifier.main(common(cache, out / "stage1b", 1,
                                                 "--recovery_checkpoint", recovery["model_dir"]))
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls = spy_masks(monkeypatch)
        localizer = train_localization.main(common(cache, out / "stage2", 1, "--recovery_checkpoint",
                                                   recovery["model_dir"], "--learning_rate", "0.01",
                                                   "--meta_learning", "none"))
    detector = assemble.assemble(classifier["model_dir"], localizer["model_dir"], out / "detector",
                                 recovery_dir=recovery["model_dir"])
    return {"stage1": Path(recovery["model_dir"]), "stage1b": Path(classifier["model_dir"]),
            "stage2": Path(localizer["model_dir"]), "detector": Path(detector), "stage2_masks": calls, "out": out}


def test_manifest_records_the_processors_saved_settings(cache, tmp_path):
    manifest = json.loads((cache / "manifest.json").read_text())
    processor = DelocateFaceProcessor(**CACHE_PROCESSOR)
    processor.save_pretrained(tmp_path)
    assert manifest["preprocessor_config"] == saved(tmp_path)
    loaded = load_cache_processor(cache)
    assert (loaded.crop_scale, loaded.landmark_backend, loaded.size, loaded.num_frames) == (CROP_SCALE, BACKEND,
                                                                                             SIZE, FRAMES)
    assert loaded.to_dict() == DelocateFaceProcessor(**CACHE_PROCESSOR).to_dict()


def test_cache_of_an_older_version_still_gives_its_processor(cache, tmp_path):
    """Manifests written before `preprocessor_config` hold the cache-key settings: every crop setting is there."""
    manifest = json.loads((cache / "manifest.json").read_text())
    del manifest["preprocessor_config"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_cache_processor(tmp_path)
    assert crop_settings(loaded) == crop_settings(DelocateFaceProcessor(**CACHE_PROCESSOR))
    assert load_cache_processor(tmp_path / "no_cache_here") is None


def test_differently_cropped_caches_are_refused(cache, tmp_path):
    manifest = json.loads((cache / "manifest.json").read_text())
    for name, settings in (("bigger", {"size": 2 * SIZE, "num_frames": 2 * FRAMES}), ("other", {"crop_scale": 1.3})):
        (tmp_path / name).mkdir()
        changed = {**manifest, "preprocessor_config": {**manifest["preprocessor_config"], **settings}}
        (tmp_path / name / "manifest.json").write_text(json.dumps(changed))
    assert cache_processor([cache, tmp_path / "bigger"]).crop_scale == CROP_SCALE  # other shape, same crops: fine
    with pytest.raises(ValueError, match="crop_scale 1.6 vs 1.3"):
        cache_processor([cache, tmp_path / "other"])


def test_every_stage_saves_the_caches_processor_in_the_models_shape(stages, cache):
    expected = {**saved_cache_processor(cache), "mask_strategy": "tube", "mask_ratio": 0.9}
    folders = [stages["stage1"], stages["stage1"].parent / "checkpoints" / "step_1", stages["stage1b"],
               stages["stage2"], stages["detector"]]
    for folder in folders:
        assert saved(folder) == expected, folder


def saved_cache_processor(cache) -> dict:
    settings = json.loads((cache / "manifest.json").read_text())["preprocessor_config"]
    assert (settings["size"], settings["num_frames"]) == (SIZE, FRAMES)  # the tiny model's shape
    return settings


def test_detector_processor_reproduces_the_caches_crops(stages, cache):
    from delocate_hf.data.preprocess import load_preprocessed

    processor = DelocateFaceProcessor.from_pretrained(stages["detector"])
    assert (processor.crop_scale, processor.landmark_backend) == (CROP_SCALE, BACKEND)
    default = DelocateFaceProcessor(num_frames=FRAMES, size=SIZE)
    for row in load_preprocessed(cache).dataset.with_format("numpy"):
        faces = processor.process_video(row["video_path"])["faces"]
        np.testing.assert_array_equal(faces, row["faces"])
        other = default.process_video(row["video_path"])["faces"]
        assert np.abs(other.astype(int) - row["faces"].astype(int)).mean() > 5  # the default crops differently


def test_stage1_mask_strategy_is_what_stage2_masks_with(stages):
    assert stages["stage2_masks"] and set(stages["stage2_masks"]) == {("tube", 0.9)}
    for name in ("stage1", "stage2", "detector"):
        config = json.loads((stages[name] / "config.json").read_text())
        assert (config["mask_strategy"], config["mask_ratio"]) == ("tube", 0.9), name


def test_recovery_folder_of_an_older_version_masks_with_its_config(stages, cache, tmp_path, monkeypatch):
    """A stage-1 folder without preprocessor_config.json (older versions): stage 2 masks with its config's
    strategy, and saves the caches' processor with it."""
    old = tmp_path / "old_stage1"
    shutil.copytree(stages["stage1"], old)
    (old / "preprocessor_config.json").unlink()
    config = json.loads((old / "config.json").read_text())
    (old / "config.json").write_text(json.dumps({**config, "mask_strategy": "lips", "mask_ratio": 0.5}))
    calls = spy_masks(monkeypatch)
    result = train_localization.main(common(cache, tmp_path / "stage2", 1, "--recovery_checkpoint", str(old),
                                            "--meta_learning", "none", "--learning_rate", "0.01"))
    assert calls and set(calls) == {("lips", 0.5)}
    assert saved(result["model_dir"]) == {**saved_cache_processor(cache), "mask_strategy": "lips", "mask_ratio": 0.5}


def test_assembling_stages_of_different_caches_is_refused(stages, tmp_path):
    other = tmp_path / "classifier"
    shutil.copytree(stages["stage1b"], other)
    DelocateFaceProcessor.from_pretrained(other, landmark_backend="mediapipe" if BACKEND != "mediapipe"
                                          else "dlib68").save_pretrained(other)
    from modeling import DelocateConfig

    with pytest.raises(ValueError, match="landmark_backend"):
        detector_processor(DelocateConfig.tiny(), stages["stage2"], other)


def test_export_ships_the_trained_processor(stages, tmp_path):
    from delocate_hf.hub.export import export_model_folder

    folder = export_model_folder(stages["detector"], tmp_path / "export")
    assert saved(folder) == saved(stages["detector"])
    assert DelocateFaceProcessor.from_pretrained(folder).crop_scale == CROP_SCALE


def test_a_larger_cache_gives_a_processor_in_the_models_shape():
    """The demo caches at 2x the model size (and a cache may hold more frames, or all of them): the saved processor
    keeps the cache's cropping and takes the model's size, frames and normalisation, sampling as training does."""
    from delocate_hf.training.processors import model_processor
    from modeling import DelocateConfig

    config = DelocateConfig.tiny(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25])
    cache = DelocateFaceProcessor(size=2 * SIZE, num_frames=4 * FRAMES, sampling="all", **{
        k: v for k, v in CACHE_PROCESSOR.items() if k not in ("size", "num_frames")})
    processor = model_processor(config, cache, "lips", 0.6)
    assert (processor.size, processor.num_frames, processor.sampling) == (SIZE, FRAMES, "uniform")
    assert (processor.image_mean, processor.image_std) == ([0.5] * 3, [0.25] * 3)
    assert (processor.mask_strategy, processor.mask_ratio) == ("lips", 0.6)
    kept = {k: v for k, v in crop_settings(cache).items() if k not in ("size", "num_frames", "sampling")}
    assert {k: crop_settings(processor)[k] for k in kept} == kept
    assert model_processor(config).to_dict() == DelocateFaceProcessor(  # no cache: the processor defaults
        size=SIZE, num_frames=FRAMES, image_mean=[0.5] * 3, image_std=[0.25] * 3).to_dict()
