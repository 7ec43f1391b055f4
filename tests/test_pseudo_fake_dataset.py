"""Pseudo-fakes drawn on the fly (SBI-style) from a real-only face-clip cache built from real video."""

import json
from pathlib import Path

import cv2
import datasets
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from delocate_hf.data.degradations import DEGRADATIONS, DegradationSettings, apply_degradation, random_degradations
from delocate_hf.metrics.functional import pair_win_rate
from delocate_hf.training import finetune_classifier, pretrain_recovery, train_localization
from delocate_hf.training.common import face_clip_dataset
from delocate_hf.training.pseudo_fake_dataset import PseudoFakeClipDataset, identity_of, parse_families
from modeling import DelocateConfig

from conftest import processed_windows, save_tiny_detector

FRAMES, SIZE = 4, 64
FAMILIES = "self_blend,part_eyes,part_lips,flicker,part_swap"


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory, carphone):
    """6 real clips (three windows of two real videos: two identities), with the processor's crop landmarks."""
    rows = []
    for name, window, out in processed_windows(carphone, 3, 16, FRAMES, SIZE):
        rows.append({"faces": out["faces"][0], "landmarks": out["landmarks"][0].astype(np.float32),
                     "roi_boxes": out["roi_boxes"][0].astype(np.float32),
                     "masks": np.zeros((FRAMES, SIZE, SIZE), np.uint8), "label": 0, "manipulation": "real",
                     "video_id": f"{name}_{window:02d}", "dataset": "mini", "mask_source": "real"})
    k = rows[0]["landmarks"].shape[1]
    features = datasets.Features({
        "faces": datasets.Array4D((FRAMES, SIZE, SIZE, 3), "uint8"),
        "landmarks": datasets.Array3D((FRAMES, k, 2), "float32"),
        "roi_boxes": datasets.Array3D((FRAMES, 3, 4), "float32"),
        "masks": datasets.Array3D((FRAMES, SIZE, SIZE), "uint8"),
        "label": datasets.Value("int64"), "manipulation": datasets.Value("string"),
        "video_id": datasets.Value("string"), "dataset": datasets.Value("string"),
        "mask_source": datasets.Value("string"),
    })
    folder = tmp_path_factory.mktemp("real_cache") / "clips"
    datasets.Dataset.from_list(rows, features=features).save_to_disk(str(folder))
    return folder


def experiment(name: str):
    """The module of an experiment probe, `experiments/<name>.py` (run as a script there, not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dataset(folder, **kwargs):
    from delocate_hf.training.data import load_face_clips

    c = DelocateConfig.tiny()
    return PseudoFakeClipDataset(load_face_clips(folder), FRAMES, SIZE, c.image_mean, c.image_std, **kwargs)


def test_index_space_labels_and_domains(real_cache):
    ds = dataset(real_cache, families=FAMILIES)
    assert len(ds) == 12 and ds.labels.tolist() == [0] * 6 + [1] * 6
    assert ds.domains == ["real", *FAMILIES.split(",")]
    assert [int(r) for r in ds.source_row[6:]] == list(range(6))
    item = ds[7]
    assert item["labels"].item() == 1 and item["pixel_values"].shape == (FRAMES, 3, SIZE, SIZE)
    assert ds.domains[item["domain"].item()] in FAMILIES.split(",")
    assert identity_of("carphone_02") == "carphone" and identity_of("clip") == "clip"
    assert set(ds.identities) == {"carphone", "single_face"}


def test_fresh_fake_each_epoch_and_the_same_after_a_resume(real_cache):
    ds = dataset(real_cache, families="self_blend,part_eyes,part_lips", degradations=None, augment=False)
    first = ds.sample(8)
    ds.set_epoch(1)
    second = ds.sample(8)
    ds.set_epoch(0)
    again = ds.sample(8)
    assert not np.array_equal(first["faces"], second["faces"]) or first["family"] != second["family"]
    assert np.array_equal(first["faces"], again["faces"]) and np.array_equal(first["masks"], again["masks"])
    # a dataset built anew (a resumed process) with the same seed draws the same fake
    assert np.array_equal(dataset(real_cache, families="self_blend,part_eyes,part_lips", degradations=None,
                                  augment=False).sample(8)["faces"], first["faces"])


@pytest.mark.parametrize("index", range(6, 12))
def test_masks_equal_the_changed_pixels(real_cache, index):
    ds = dataset(real_cache, families=FAMILIES, degradations=None, augment=False)
    fake, real = ds.sample(index), ds.sample(int(ds.source_row[index]))
    changed = (fake["faces"] != real["faces"]).any(-1)
    assert changed.any(), fake["family"]
    assert np.array_equal(fake["masks"] > 0, changed)
    if fake["family"] == "part_swap":  # the donor is another identity
        assert ds.identities[int(ds.source_row[index])] in {"carphone", "single_face"}


def test_cycle_order_gives_every_family_per_clip(real_cache):
    ds = dataset(real_cache, families="self_blend,part_lips", family_order="cycle", degradations=None,
                 augment=False, degraded_reals=("blur", "jpeg"))
    assert len(ds) == 6 + 12 + 12
    assert ds.manipulations[6:18] == ["self_blend"] * 6 + ["part_lips"] * 6
    assert ds.manipulations[18:] == ["real+blur"] * 6 + ["real+jpeg"] * 6
    assert [ds.sample(i)["family"] for i in (6, 17)] == ["self_blend", "part_lips"]
    blurred, clean = ds.sample(18), ds.sample(0)
    assert blurred["label"] == 0 and blurred["degradations"] == {"blur": pytest.approx(1.2)}
    assert not np.array_equal(blurred["faces"], clean["faces"])


def test_evaluation_set_with_and_without_degraded_reals(real_cache):
    """evaluate's set: one fake of each family per real clip, plus degraded copies of the reals unless asked not to
    (a validation split); the fakes are the same either way."""
    from delocate_hf.training.data import load_face_clips
    from delocate_hf.training.evaluate import evaluation_dataset
    from modeling import DelocateConfig

    clips, config = load_face_clips(real_cache), DelocateConfig.tiny(num_frames=4)
    full = evaluation_dataset(clips, config, ("self_blend",), seed=3)
    plain = evaluation_dataset(clips, config, ("self_blend",), seed=3, degraded_reals=False)
    assert len(plain) == 12 and sum(m.startswith("real+") for m in full.manipulations) == 6 * 4
    assert not any(m.startswith("real+") for m in plain.manipulations)
    assert plain.manipulations == full.manipulations[:len(plain)]
    np.testing.assert_array_equal(plain.sample(8)["faces"], full.sample(8)["faces"])


def test_degradations_are_drawn_alike_for_real_and_fake(real_cache):
    ds = dataset(real_cache, families="self_blend", degradations=DegradationSettings(0.5), augment=False)
    drawn = {0: [], 1: []}
    for epoch in range(8):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            drawn[int(ds.labels[i])].append(len(ds.sample(i)["degradations"]))
    real, fake = np.mean(drawn[0]), np.mean(drawn[1])
    assert 1.4 < real < 2.6 and 1.4 < fake < 2.6  # 4 degradations at p = 0.5: 2 on average, for both classes


def test_degradation_operations_on_real_frames(real_cache):
    frames = dataset(real_cache, families="self_blend").read_clip(0)["faces"]
    for name, strength in (("blur", 1.5), ("resize", 0.4), ("noise", 5.0), ("jpeg", 30)):
        out = apply_degradation(frames, name, strength, np.random.default_rng(0))
        assert out.shape == frames.shape and out.dtype == np.uint8
        assert 0 < np.abs(out.astype(int) - frames).mean() < 20, name
    sharp = np.abs(np.diff(frames.astype(float), axis=2)).mean()
    assert np.abs(np.diff(apply_degradation(frames, "blur", 1.5).astype(float), axis=2)).mean() < sharp
    out, drawn = random_degradations(frames, np.random.default_rng(1), DegradationSettings(1.0))
    assert list(drawn) == list(DEGRADATIONS)
    with pytest.raises(ValueError, match="unknown degradation"):
        apply_degradation(frames, "sepia", 1.0)
    with pytest.raises(ValueError, match="probability"):
        DegradationSettings(1.5)


def test_low_resolution_codec_compresses_a_rescaled_clip_at_its_small_size(real_cache):
    """low_resolution_codec=1: a rescaled clip is noised and JPEG-compressed at its small size, then scaled back up
    (a small face in a compressed video): the result equals doing those steps by hand, and differs from the
    default order (compressed after scaling up), whose draws stay as they were."""
    def scale(clip, size):  # (T, h, w, 3) -> (T, size[0], size[1], 3): area down, bilinear up
        method = cv2.INTER_AREA if size[0] < clip.shape[1] else cv2.INTER_LINEAR
        return np.stack([cv2.resize(f, (size[1], size[0]), interpolation=method) for f in clip])

    frames = dataset(real_cache, families="self_blend").read_clip(0)["faces"]
    default, drawn = random_degradations(frames, np.random.default_rng(3), DegradationSettings(1.0))
    codec, drawn_codec = random_degradations(frames, np.random.default_rng(3),
                                             DegradationSettings(1.0, low_resolution_codec=1.0))
    assert "low_resolution_codec" not in drawn and drawn_codec.pop("low_resolution_codec") == 1.0
    assert list(drawn_codec) == list(DEGRADATIONS) and codec.shape == frames.shape and codec.dtype == np.uint8
    rng = np.random.default_rng(3)  # replay the draws: 4 x (apply?, strength), plus the codec draw after resize
    blur = (rng.random(), rng.uniform(0.4, 1.6))[1]
    factor = (rng.random(), rng.uniform(0.35, 0.85), rng.random())[1]
    h, w = frames.shape[1:3]
    small = scale(apply_degradation(frames, "blur", blur), (max(2, round(h * factor)), max(2, round(w * factor))))
    noise = (rng.random(), rng.uniform(1.0, 6.0))[1]
    small = apply_degradation(small, "noise", noise, rng)
    quality = (rng.random(), rng.uniform(35, 95))[1]
    by_hand = scale(apply_degradation(small, "jpeg", quality), (h, w))
    assert drawn_codec == pytest.approx({"blur": blur, "resize": factor, "noise": noise, "jpeg": quality})
    np.testing.assert_array_equal(codec, by_hand)
    assert not np.array_equal(codec, default)
    again, _ = random_degradations(frames, np.random.default_rng(3), DegradationSettings(1.0, low_resolution_codec=0.0))
    np.testing.assert_array_equal(again, default)  # 0: the default order and draws
    with pytest.raises(ValueError, match="low_resolution_codec"):
        DegradationSettings(0.5, low_resolution_codec=2.0)


def test_bad_arguments_are_named(real_cache):
    assert parse_families("all")[0] == "self_blend" and parse_families("none") == ()
    with pytest.raises(ValueError, match="unknown pseudo-fake family warp"):
        parse_families("self_blend,warp")
    with pytest.raises(ValueError, match="pseudo_fake_ratio"):
        dataset(real_cache, families="self_blend", ratio=0.0)
    with pytest.raises(ValueError, match="at least one pseudo-fake family"):
        dataset(real_cache, families="none")


def test_pair_win_rate():
    assert pair_win_rate([0.9, 0.2, 0.5], [0.1, 0.3, 0.5]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal-length"):
        pair_win_rate([0.1], [0.2, 0.3])


def common(cache, out, steps=2, *extra):
    return ["--train_data", str(cache), "--output_dir", str(out), "--model_config", "tiny",
            "--max_train_steps", str(steps), "--per_device_train_batch_size", "4", "--cpu", *extra]


def test_flags_reach_the_training_loop(real_cache, tmp_path):
    """Real-only data + --pseudo_fakes trains stages 1b and 2 (MLDG over the families), with a learning curve; a
    run resumed from its checkpoint ends with the same weights as an uninterrupted one (the same fakes drawn)."""
    stage1 = pretrain_recovery.main(common(real_cache, tmp_path / "s1", 2))
    args = finetune_classifier.build_parser().parse_args(common(real_cache, tmp_path / "x", 2, "--pseudo_fakes",
                                                                "part_eyes,part_lips", "--pseudo_fake_ratio", "0.5"))
    built = face_clip_dataset(args, DelocateConfig.tiny())
    assert isinstance(built, PseudoFakeClipDataset) and built.families == ("part_eyes", "part_lips")
    flags = ["--recovery_checkpoint", stage1["model_dir"], "--pseudo_fakes", "self_blend,part_eyes,part_lips"]
    curve = ["--eval_data", str(real_cache), "--eval_steps", "2", "--eval_pseudo_fakes", "part_cheek_nose,flicker"]
    b = finetune_classifier.main(common(real_cache, tmp_path / "s1b", 4, *flags, *curve))
    points = json.loads((tmp_path / "s1b" / "learning_curve.json").read_text())
    assert [p["step"] for p in points] == [2, 4] and {"train_auc", "held-out_auc"} <= set(points[0])
    assert (tmp_path / "s1b" / "learning_curve.png").stat().st_size > 0
    assert b["step"] == 4
    # stage 1b's curve leaves its training unchanged too (the demo sets each stage's cadence from its own steps)
    plain_b = finetune_classifier.main(common(real_cache, tmp_path / "s1bn", 4, *flags))
    weights_b, plain_weights_b = (load_file(str(Path(r["model_dir"]) / "model.safetensors")) for r in (b, plain_b))
    assert all(torch.equal(weights_b[k], plain_weights_b[k]) for k in weights_b)

    loc = common(real_cache, tmp_path / "s2", 4, *flags, "--first_order", "--checkpointing_steps", "2", *curve)
    train_localization.main(loc)
    assert "held-out_iou" in json.loads((tmp_path / "s2" / "learning_curve.json").read_text())[-1]
    full = load_file(str(tmp_path / "s2" / "final" / "model.safetensors"))
    # the learning curve (eval mode, fixed fakes) and checkpoints leave training unchanged: same weights without them
    train_localization.main(common(real_cache, tmp_path / "s2n", 4, *flags, "--first_order"))
    plain = load_file(str(tmp_path / "s2n" / "final" / "model.safetensors"))
    assert all(torch.equal(full[k], plain[k]) for k in full)
    # resume from step 2 in a fresh output folder holding only that checkpoint
    import shutil

    shutil.copytree(tmp_path / "s2" / "checkpoints" / "step_2", tmp_path / "s2r" / "checkpoints" / "step_2")
    train_localization.main(common(real_cache, tmp_path / "s2r", 4, *flags, "--first_order",
                                   "--resume_from_checkpoint", "latest"))
    resumed = load_file(str(tmp_path / "s2r" / "final" / "model.safetensors"))
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_strength_makes_blends_more_visible(real_cache):
    diffs = []
    for strength in (1.0, 3.0):
        ds = dataset(real_cache, families="self_blend", degradations=None, augment=False, strength=strength)
        fake, real = ds.sample(7), ds.sample(1)
        inside = fake["masks"] > 0
        diffs.append(np.abs(fake["faces"].astype(int) - real["faces"].astype(int)).sum(-1)[inside].mean())
    assert diffs[1] > 1.5 * diffs[0]
    drawn = dataset(real_cache, families="self_blend", strength=(1.0, 3.0))
    assert drawn.strength == (1.0, 3.0)
    with pytest.raises(ValueError, match="strength"):
        dataset(real_cache, families="self_blend", strength=(3.0, 1.0))


def test_real_clip_folder_of_photos_and_video(tmp_path):
    from delocate_hf.assets import default_video_path, face_photos
    from delocate_hf.data.demo_data import build_real_clip_folder
    from processing import read_video

    photos = face_photos()[:2]
    count = build_real_clip_folder(tmp_path, [*photos, default_video_path()], clip_frames=8, stride=8,
                                   clips_per_photo=2, max_clips_per_video=3, progress=False)
    names = sorted(p.stem for p in (tmp_path / "real").glob("*.mp4"))
    assert count == 7 and len(names) == 7
    assert {identity_of(n) for n in names} == {photos[0].stem, photos[1].stem, "single_face"}
    first, second = (read_video(tmp_path / "real" / f"{photos[0].stem}_{k:02d}.mp4", sampling="all").frames for k in (0, 1))
    assert first.shape[0] == 8 and not np.array_equal(first, second)  # two different head motions of one photo


def test_paired_fake_looks_like_its_real_clip_but_for_the_blend(real_cache):
    """pairs=True: a pseudo-fake takes its real clip's degradations, flip and colour jitter, so outside the mask the
    model sees the same pixels; without pairs the two are augmented independently."""
    kwargs = dict(families="self_blend,part_lips", degradations=DegradationSettings(0.5), augment=True)
    paired, unpaired = dataset(real_cache, pairs=True, **kwargs), dataset(real_cache, **kwargs)
    assert paired.pair_of(2) == 8 and int(paired.source_row[8]) == 2
    far_outside, independent = [], []
    for epoch in range(4):
        paired.set_epoch(epoch)
        unpaired.set_epoch(epoch)
        assert paired.sample(8)["degradations"] == paired.sample(2)["degradations"]
        fake, real = paired[8], paired[2]
        # pixels far from the mask (blur and rescaling spread the blend's edge by a few pixels, JPEG by up to one
        # 16-pixel chroma block)
        near = torch.nn.functional.max_pool2d(fake["mask_labels"][:, None], 33, 1, 16)[:, 0] > 0
        assert near.any() and (~near).any()
        far_outside.append((fake["pixel_values"] - real["pixel_values"]).abs().amax(1)[~near].max().item())
        independent.append((unpaired[8]["pixel_values"] - unpaired[2]["pixel_values"]).abs().amax(1)[~near].max().item())
    assert max(far_outside) < 0.1 < max(independent)
    with pytest.raises(ValueError, match="not a real clip"):
        paired.pair_of(7)


def test_paired_batches_hold_each_real_clip_and_its_own_fake(real_cache):
    from delocate_hf.training.data import PairedBatchSampler

    ds = dataset(real_cache, families="self_blend", pairs=True)
    sampler = PairedBatchSampler(ds, 4, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3
    for batch in batches:
        reals, fakes = batch[:2], batch[2:]
        assert ds.labels[reals].tolist() == [0, 0] and ds.labels[fakes].tolist() == [1, 1]
        assert [int(ds.source_row[f]) for f in fakes] == reals
    assert sorted(i for b in batches for i in b[:2]) == list(range(6))  # every real clip once an epoch
    assert list(sampler) == batches  # resumable: the same epoch gives the same batches
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_paired_flag_reaches_the_loader(real_cache, tmp_path):
    from delocate_hf.training.common import balanced_loader
    from delocate_hf.training.data import BalancedBatchSampler, PairedBatchSampler

    parser = train_localization.build_parser()
    for extra, sampler_type in (([], BalancedBatchSampler), (["--paired_pseudo_fakes"], PairedBatchSampler)):
        args = parser.parse_args(common(real_cache, tmp_path / "x", 2, "--pseudo_fakes", "self_blend", *extra))
        built = face_clip_dataset(args, DelocateConfig.tiny())
        assert built.pairs == bool(extra)
        assert type(balanced_loader(built, args).batch_sampler) is sampler_type


def _detail(frames: np.ndarray, where: np.ndarray) -> float:
    """Mean absolute Laplacian of the grey `frames (T, H, W, 3)` over the pixels `where (T, H, W)`."""
    grey = frames.astype(np.float32).mean(-1)
    lap = np.abs(np.stack([cv2.Laplacian(g, cv2.CV_32F) for g in grey]))
    return float(lap[where].mean())


def test_transformed_reals_give_real_faces_the_softness_of_blended_in_faces(real_cache):
    """transformed_reals=q: a real cache clip is shown, with probability q, put whole through a fresh self-blend
    source transform, so a real face is on average as soft as a self-blend's blended-in face; fakes are untouched."""
    plain = dataset(real_cache, families="self_blend", degradations=None, augment=False)
    always = dataset(real_cache, families="self_blend", degradations=None, augment=False, transformed_reals=1.0)
    half = dataset(real_cache, families="self_blend", degradations=None, augment=False, transformed_reals=0.5)
    detail = {"real": [], "transformed real": [], "blended-in face": []}
    changed = []
    for epoch in range(6):
        for d in (plain, always, half):
            d.set_epoch(epoch)
        for row in range(6):
            raw = plain.read_clip(row)["faces"]
            assert np.array_equal(plain.sample(row)["faces"], raw)
            shown = always.sample(row)["faces"]
            assert np.array_equal(always.sample(row)["faces"], shown)  # the same epoch: the same draw
            changed.append(not np.array_equal(half.sample(row)["faces"], raw))
            slot = always.pair_of(row)
            fake = always.sample(slot)
            assert np.array_equal(fake["faces"], plain.sample(slot)["faces"])  # fakes are not touched
            inside = fake["masks"] > 0
            detail["real"].append(_detail(raw, inside))
            detail["transformed real"].append(_detail(shown, inside))
            detail["blended-in face"].append(_detail(fake["faces"], inside))
    mean = {k: np.mean(v) for k, v in detail.items()}
    assert mean["blended-in face"] < 0.9 * mean["real"]  # the self-blend's inner face is softer than a real face
    assert abs(mean["transformed real"] / mean["blended-in face"] - 1) < 0.15  # transformed reals are as soft
    assert 0.2 < np.mean(changed) < 0.8  # q = 0.5: about half of the real clips
    with pytest.raises(ValueError, match="transformed_reals"):
        dataset(real_cache, families="self_blend", transformed_reals=1.5)


def test_transformed_reals_and_low_resolution_codec_flags_reach_the_dataset(real_cache, tmp_path):
    for script in (finetune_classifier, train_localization):
        args = script.build_parser().parse_args(common(real_cache, tmp_path / "x", 2, "--pseudo_fakes", "self_blend",
                                                       "--transformed_reals", "0.3", "--low_resolution_codec", "0.6"))
        built = face_clip_dataset(args, DelocateConfig.tiny())
        assert built.transformed_reals == pytest.approx(0.3)
        assert built.degradation_settings.low_resolution_codec == pytest.approx(0.6)


def test_paired_fake_of_a_transformed_real_is_blended_into_the_transformed_clip(real_cache):
    """pairs + transformed_reals: the fake is made from its real clip *as shown* (transformed), so outside the mask
    the pair is pixel-identical; unpaired fakes stay blends of the untouched clip."""
    kwargs = dict(families="self_blend,part_lips", degradations=None, augment=False, transformed_reals=1.0)
    paired, unpaired = dataset(real_cache, pairs=True, **kwargs), dataset(real_cache, **kwargs)
    for epoch in range(3):
        paired.set_epoch(epoch)
        unpaired.set_epoch(epoch)
        for row in range(3):
            shown, raw = paired.sample(row)["faces"], paired.read_clip(row)["faces"]
            assert not np.array_equal(shown, raw)  # q = 1: every real clip is transformed
            fake = paired.sample(paired.pair_of(row))
            inside = fake["masks"] > 0
            assert inside.any() and (~inside).any()
            assert np.array_equal(fake["faces"][~inside], shown[~inside])  # outside the mask: the shown real clip
            assert (fake["faces"] != shown).any(-1)[inside].all()  # the mask is exactly the changed pixels
            alone = unpaired.sample(unpaired.pair_of(row))
            assert np.array_equal(alone["faces"][alone["masks"] == 0], raw[alone["masks"] == 0])


def test_global_edits_probe_scores_edited_reals_and_fakes_alike(real_cache, tmp_path):
    """experiments/probe_global_edits.py on a tiny detector: every edit applied to the real clips and to their fakes,
    probabilities in [0, 1], the real clips listed by score, and the picture written; its edits keep the clip's
    shape, and a neutral grade changes nothing."""
    probe = experiment("probe_global_edits")
    clip = dataset(real_cache, families="self_blend").read_clip(0)["faces"]
    assert np.array_equal(probe.grade(clip), clip)
    assert not np.array_equal(probe.grade(clip, shift=(20, 0, -20)), clip)
    low = probe.compressed_at_low_resolution(clip, 0.4, 40)
    assert low.shape == clip.shape and low.dtype == np.uint8 and not np.array_equal(low, clip)
    picture = tmp_path / "top.png"
    result = probe.main(["--model", str(save_tiny_detector(tmp_path / "det")), "--data", str(real_cache),
                         "--top", "3", "--picture", str(picture)])
    assert set(result["auc (both edited)"]) == {"as it is", *probe.EDITS}
    for kind in ("real", "fake"):
        assert all(0.0 <= result["mean_score"][f"{kind}, {name}"] <= 1.0 for name in ["as it is", *probe.EDITS])
    top = [r["score"] for r in result["highest-scoring real clips"]]
    assert len(top) == 3 and top == sorted(top, reverse=True)
    assert cv2.imread(str(picture)).shape == (SIZE, 3 * SIZE, 3)


def test_blur_offset_probe_scores_clean_and_blurred_reals_and_fakes(real_cache, tmp_path):
    """experiments/probe_blur_offset.py on a tiny stage-2 localizer: one mean score per real / blurred real and per
    family with its post- and pre-blurred fakes, probabilities in [0, 1], four AUCs per family in [0, 100]; blur
    changes the localizer's input (the blurred reals' mean differs from the clean reals')."""
    from modeling import DelocateForForgeryLocalization

    probe = experiment("probe_blur_offset")
    torch.manual_seed(0)
    DelocateForForgeryLocalization(DelocateConfig.tiny()).save_pretrained(tmp_path / "loc")
    families = ["self_blend", "part_eyes"]
    result = probe.main(["--localizer", str(tmp_path / "loc"), "--data", str(real_cache),
                         "--families", ",".join(families), "--sigma", "3"])
    expected = {"real", "real+blur", *families, *(f"{f}+{k}" for f in families for k in ("postblur", "preblur"))}
    assert set(result["mean_score"]) == expected
    assert all(0.0 <= v <= 1.0 for v in result["mean_score"].values())
    assert result["mean_score"]["real"] != result["mean_score"]["real+blur"]
    for family in families:
        assert set(result[family]) == {"clean vs real", "clean vs blurred real", "postblur vs blurred real",
                                       "preblur vs blurred real"}
        assert all(0.0 <= v <= 100.0 for v in result[family].values())


def test_geometric_augment_warps_a_pair_alike_and_its_flag_reaches_the_dataset(real_cache, tmp_path):
    """geometric_augment=1: every clip is warped by a similarity drawn from (seed, epoch, index): real and fake of a
    pair alike (they still differ only near the warped mask), the ROI boxes move with the face, a new warp at another
    epoch and the same after a resume; at 0 nothing is drawn (items bit-identical to the default). Without pairs the
    contrast keeps pivoting on each clip's own mean. The flag of
    stages 1b and 2 reaches the dataset."""
    from delocate_hf.training.data import similarity_warp

    kwargs = dict(families="self_blend", degradations=None, augment=True, pairs=True)
    plain, warped, zero = dataset(real_cache, **kwargs), dataset(real_cache, geometric_augment=1.0, **kwargs), \
        dataset(real_cache, geometric_augment=0.0, **kwargs)
    for ds in (plain, warped, zero):
        ds.set_epoch(3)
    for row in range(3):
        assert torch.equal(zero[row]["pixel_values"], plain[row]["pixel_values"])
        real, fake = warped[row], warped[warped.pair_of(row)]
        assert not torch.allclose(real["pixel_values"], plain[row]["pixel_values"], atol=0.05)
        assert not torch.allclose(real["roi_boxes"], plain[row]["roi_boxes"], atol=0.5)
        near = torch.nn.functional.max_pool2d(fake["mask_labels"][:, None], 5, 1, 2)[:, 0] > 0
        assert near.any() and (~near).any()
        # the same pixels outside the mask (pairs: the colour jitter's contrast pivots on a fixed grey, not on each
        # clip's own mean, which the blend moves)
        assert (fake["pixel_values"] - real["pixel_values"]).abs().amax(1)[~near].max() < 1e-5
        assert (fake["pixel_values"] - real["pixel_values"]).abs().amax(1)[fake["mask_labels"] > 0.5].mean() > 0.02
    again = dataset(real_cache, geometric_augment=1.0, **kwargs)
    again.set_epoch(3)
    assert torch.equal(again[1]["pixel_values"], warped[1]["pixel_values"])
    again.set_epoch(4)
    assert not torch.equal(again[1]["pixel_values"], warped[1]["pixel_values"])
    # the warp itself: identity is exact; a shift of 0.25 (normalised units) moves pixels and boxes by 1/8 of the crop
    video, boxes, masks = torch.rand(2, 3, 32, 32), torch.tensor([[[4.0, 6.0, 20.0, 24.0]]] * 2), torch.rand(2, 32, 32)
    same = similarity_warp(video, boxes, masks, 0.0, 1.0, np.zeros(2))
    assert torch.allclose(same[0], video, atol=1e-5) and torch.allclose(same[1], boxes) and torch.allclose(same[2], masks, atol=1e-5)
    moved = similarity_warp(video, boxes, masks, 0.0, 1.0, np.array([0.25, 0.0]))
    assert torch.allclose(moved[1], boxes + torch.tensor([4.0, 0.0, 4.0, 0.0]))
    assert torch.allclose(moved[0][..., 4:], video[..., :-4], atol=1e-5)
    assert dataset(real_cache, families="self_blend").contrast_pivot is None and warped.contrast_pivot == 0.5
    with pytest.raises(ValueError, match="geometric_augment"):
        dataset(real_cache, families="self_blend", geometric_augment=1.5)
    for script in (finetune_classifier, train_localization):
        args = script.build_parser().parse_args(common(real_cache, tmp_path / "x", 2, "--pseudo_fakes", "self_blend",
                                                       "--geometric_augment", "0.4"))
        assert face_clip_dataset(args, DelocateConfig.tiny()).geometric_augment == pytest.approx(0.4)


def test_a_family_strength_of_its_own_reaches_its_fakes_only(real_cache, tmp_path):
    """family_strength={"local_blend": (3, 4)}: local blends draw their strength from 3-4, self-blends still from the
    dataset's range; a family that is not trained on is named in the error; `--family_strength` reaches the dataset."""
    ds = dataset(real_cache, families="self_blend,local_blend", strength=(1.0, 1.5),
                 family_strength={"local_blend": (3.0, 4.0)}, degradations=None)
    drawn = {"self_blend": [], "local_blend": []}
    for epoch in range(6):
        ds.set_epoch(epoch)
        for index in range(6, 12):
            _, _, family, params = ds.make_fake(ds.read_clip(int(ds.source_row[index])), index)
            drawn[family].append(params["strength"])
    assert drawn["self_blend"] and drawn["local_blend"]
    assert all(1.0 <= s <= 1.5 for s in drawn["self_blend"]) and all(3.0 <= s <= 4.0 for s in drawn["local_blend"])
    with pytest.raises(ValueError, match="part_lips"):
        dataset(real_cache, families="self_blend", family_strength={"part_lips": (2.0, 3.0)})
    args = train_localization.build_parser().parse_args(common(
        real_cache, tmp_path / "x", 2, "--pseudo_fakes", "self_blend,local_blend", "--family_strength", "local_blend=2,4"))
    assert face_clip_dataset(args, DelocateConfig.tiny()).family_strength == {"local_blend": (2.0, 4.0)}


def test_localizer_probe_runs_its_recipe_flags_and_saves_the_model(real_cache, tmp_path):
    """experiments/probe_localizer.py (the experiments' probe) on the real cache: the new families and flags run, the log
    holds its arguments and one evaluation row per `--eval_every` with AUCs in [0, 1], and the saved localizer loads
    back with the probe's config."""
    from modeling import DelocateForForgeryLocalization

    probe_localizer = experiment("probe_localizer")
    log, saved = tmp_path / "probe.jsonl", tmp_path / "model"
    probe_localizer.main(["--train", str(real_cache), "--heldout", str(real_cache), "--image_size", "32",
                          "--steps", "4", "--batch", "4", "--frames", "1", "--eval_every", "2", "--eval_clips", "3",
                          "--families", "self_blend,local_blend", "--family_strength", "local_blend=2,3",
                          "--pairs", "--transformed_reals", "0.5", "--geometric_augment", "0.5", "--bf16",
                          "--train_people", "1",
                          "--config", json.dumps({"num_frames": FRAMES, "tubelet_size": 2}),
                          "--save", str(saved), "--log", str(log)])
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows[0]["args"]["families"] == "self_blend,local_blend" and [r["step"] for r in rows[1:]] == [2, 4]
    for row in rows[1:]:
        assert all(0.0 <= row[k] <= 1.0 for k in ("auc", "train_auc", "self_blend", "part_lips", "iou"))
    model = DelocateForForgeryLocalization.from_pretrained(saved)
    assert model.config.num_frames == FRAMES and model.config.image_size == 32


def test_localizer_probe_trains_on_fewer_people_when_asked(real_cache):
    """`probe_localizer.py --train_people K` keeps every clip of K people (a seeded choice) and no other; 0 keeps all;
    more people than the cache holds is an error naming the flag. A person is a clip id without its window and crop
    numbers (the face library's `<person>_<crop>.jpg` crops)."""
    from delocate_hf.training.data import load_face_clips

    probe = experiment("probe_localizer")
    assert probe.person_of("tabler_ui_12_jpg_0_1_03") == "tabler_ui_12_jpg_0" and probe.person_of("carphone_02") == "carphone"
    clips = load_face_clips(real_cache)
    people = {probe.person_of(v) for v in clips["video_id"]}
    assert len(people) == 2 and probe.keep_people(clips, 0, seed=0) is clips
    chosen = set()
    for seed in range(8):
        kept = probe.keep_people(clips, 1, seed=seed)
        ids = {probe.person_of(v) for v in kept["video_id"]}
        assert len(ids) == 1 and len(kept) == sum(probe.person_of(v) in ids for v in clips["video_id"])
        chosen |= ids
    assert chosen == people  # the seed chooses, not the order of the cache
    with pytest.raises(ValueError, match="--train_people 3: the training cache holds 2 people"):
        probe.keep_people(clips, 3, seed=0)


def test_mask_fusion_probe_matches_the_evaluation_and_orders_its_mask_scores(real_cache, tmp_path):
    """experiments/probe_mask_fusion.py on a tiny detector: its held-out `classifier` AUC is the evaluation's
    localization AUC on the same cache and seed (the same fixed fakes), every family and degraded-real row is there,
    and a mask score over a smaller top fraction of the pixels is never lower (the top 1 % mean >= the top 20 %)."""
    from delocate_hf.training.evaluate import evaluate
    from modeling import DelocateForDeepfakeDetection

    probe = experiment("probe_mask_fusion")
    detector = save_tiny_detector(tmp_path / "det")
    result = probe.main(["--detector", str(detector), "--validation", str(real_cache), "--heldout", str(real_cache),
                         "--seed", "3"])
    table = evaluate(detector, [real_cache], tmp_path / "eval", pseudo_fakes=probe.TRAIN_FAMILIES + probe.HELDOUT_FAMILIES,
                     seed=3 + 1234)
    assert result["heldout"]["all"]["classifier"] == round(100 * table["all"]["localization"]["auc"], 1)
    families = set(probe.TRAIN_FAMILIES + probe.HELDOUT_FAMILIES)
    assert families | {"all"} <= set(result["heldout"]) and sum(g.startswith("vs real+") for g in result["heldout"]) == 4
    assert result["chosen_on_validation"] in result["validation"]
    model = DelocateForDeepfakeDetection.from_pretrained(detector).eval()
    scores = probe.score_clips(model, str(real_cache), probe.TRAIN_FAMILIES, 0, degraded=False)
    assert len(scores["label"]) == 12 and scores["label"].sum() == 6
    assert (scores["mask@0.01"] >= scores["mask@0.2"] - 1e-6).all() and (scores["mask@0.2"] > 0).all()
    assert not np.allclose(scores["mask@0.01"], scores["classifier"])


def test_demo_choices_on_validation_people_reach_the_detector_and_its_evaluation(real_cache, tmp_path):
    """`make demo` / `make default-model`'s stages 7-8 on a tiny detector and real clips: the mask-score weight is
    the one `choose_mask_weight` picks from the validation scores (only 0 when it is the only candidate), the fusion
    weight and calibration follow on that stage-2 score, all land in config.json, and the held-out AUC is recorded."""
    from delocate_hf.demo import choose_on_validation, evaluate_heldout
    from delocate_hf.training.calibrate import choose_mask_threshold, choose_mask_weight, choose_test_time_flip

    detector = save_tiny_detector(tmp_path / "det")
    only = choose_on_validation(detector, str(real_cache), tmp_path / "only", seed=1)
    assert only["mask_score_weight"] == 0.0 and list(only["validation_auc_by_mask_weight"]) == [0.0]
    weights = (0.0, 0.25, 0.5, 0.75, 1.0)
    chosen = choose_on_validation(detector, str(real_cache), tmp_path / "run", seed=1, mask_score_weights=weights)
    records = json.loads((tmp_path / "run" / "validation" / "scores.json").read_text())
    assert len(records) == 12 and all("mask" in r for r in records)
    assert chosen["mask_score_weight"] == choose_mask_weight(records, weights)[0]
    config = DelocateConfig.from_pretrained(detector)
    assert config.mask_score_weight == chosen["mask_score_weight"] and config.fusion_weight == chosen["fusion_weight"]
    assert config.calibration["n"] == 12
    assert config.mask_threshold == chosen["mask_threshold"] == choose_mask_threshold(records)[0]
    table = evaluate_heldout(detector, str(real_cache), tmp_path / "run", seed=1)
    heldout = json.loads((tmp_path / "run" / "eval" / "scores.json").read_text())
    at_chosen = [r["iou_at"][f"{config.mask_threshold:g}"] for r in heldout if "iou_at" in r]
    assert table["all"]["localization_masks"]["iou"] == pytest.approx(np.mean(at_chosen), abs=1e-5)
    assert DelocateConfig.from_pretrained(detector).calibration["test_auc"] == pytest.approx(table["all"]["fused"]["auc"], abs=1e-6)
    assert (tmp_path / "run" / "eval" / "metrics.md").exists() and "real+blur" in " ".join(table)
    assert chosen["test_time_flip"] is False and config.test_time_flip is False  # one candidate: no mirrored pass
    both = choose_on_validation(detector, str(real_cache), tmp_path / "both", seed=1, mask_score_weights=weights,
                                test_time_flip_choices=(False, True))
    mirrored = json.loads((tmp_path / "both" / "validation_test_time_flip" / "scores.json").read_text())
    plain = json.loads((tmp_path / "both" / "validation" / "scores.json").read_text())
    assert [r["label"] for r in mirrored] == [r["label"] for r in plain]
    assert any(abs(a["localization"] - b["localization"]) > 1e-6 for a, b in zip(mirrored, plain))
    assert both["test_time_flip"] == choose_test_time_flip(plain, mirrored, weights)[0]
    assert DelocateConfig.from_pretrained(detector).test_time_flip == both["test_time_flip"]
    assert both["mask_score_weight"] == choose_mask_weight(mirrored if both["test_time_flip"] else plain, weights)[0]


def test_self_reference_probe_scores_each_clip_against_fresh_blends_of_itself(real_cache, tmp_path):
    """experiments/probe_self_reference.py on a tiny detector: one record per real clip and per fake of each family,
    `relative` = own clip logit - mean logit of its K self-blends, the references really are blends (their logits
    differ from the clip's own), and the AUCs cover every family."""
    probe = experiment("probe_self_reference")
    families = "self_blend,part_lips"
    result = probe.main(["--model", str(save_tiny_detector(tmp_path / "det")), "--data", str(real_cache),
                         "--families", families, "--references", "2"])
    records = result["records"]
    reals = [r for r in records if r["label"] == 0]
    assert len(reals) == 6 and len(records) == 6 * 3
    assert sorted({r["family"] for r in records}) == ["part_lips", "real", "self_blend"]
    for r in records:
        assert r["relative"] == pytest.approx(r["score"] - r["reference"])
    assert any(abs(r["relative"]) > 1e-6 for r in records)  # a blended clip does not score exactly as the clip
    for key in ("score", "reference", "relative"):
        assert set(result[key]) == {"all", "self_blend", "part_lips"}
        assert all(0.0 <= v <= 100.0 for v in result[key].values())


def test_mask_threshold_probe_matches_the_evaluation_and_binarises_by_each_rule(real_cache, tmp_path):
    """experiments/probe_mask_threshold.py: its held-out IoU at the default threshold (abs@0.5) is the evaluation's
    mask IoU on the same cache and seed (the same fixed fakes), every family is there, the validation choice is one of
    its rules; and on hand-made masks each rule binarises as it says (a faint mask matching the truth is found by a
    low absolute cut or a relative one, missed at 0.5)."""
    import torch

    from delocate_hf.training.evaluate import evaluate

    probe = experiment("probe_mask_threshold")
    detector = save_tiny_detector(tmp_path / "det")
    result = probe.main(["--detector", str(detector), "--validation", str(real_cache), "--heldout", str(real_cache),
                         "--seed", "3"])
    table = evaluate(detector, [real_cache], tmp_path / "eval", pseudo_fakes=probe.TRAIN_FAMILIES + probe.HELDOUT_FAMILIES,
                     seed=3 + 1234)
    assert result["heldout"]["all"]["abs@0.5"] == round(100 * table["all"]["localization_masks"]["iou"], 1)
    assert set(probe.TRAIN_FAMILIES + probe.HELDOUT_FAMILIES) | {"all"} == set(result["heldout"])
    assert result["chosen_on_validation"] in probe.rule_names()

    truth = torch.zeros(2, 2, 8, 8)
    truth[:, :, 2:6, 2:6] = 1.0
    faint = 0.4 * truth  # clip 0: right place, low confidence; clip 1: the truth's complement, confident
    faint[1] = 0.9 * (1 - truth[1])
    ious = probe.clip_ious(faint, truth)
    assert ious["abs@0.3"][0] == 1.0 and ious["abs@0.5"][0] == 0.0 and ious["rel@0.9"][0] == 1.0
    assert ious["abs@0.5"][1] == 0.0 and ious["rel@0.5"][1] == 0.0
