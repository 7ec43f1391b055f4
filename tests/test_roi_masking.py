"""Facial-part ROI token masks (processing/roi_masking.py)."""

import math

import numpy as np
import pytest
import torch

from processing.roi_masking import (
    MASKING_STRATEGIES,
    PARTS,
    batch_token_masks,
    equalize_mask_counts,
    generate_token_mask,
    num_to_mask,
    part_token_sets,
)

S, P, TUB = 64, 16, 2  # 4x4 grid per temporal index
G = S // P


def make_boxes(num_frames=4, jitter=0.0, seed=0):
    """Plausible eyes / cheek_nose / lips boxes on a 64px crop, optionally jittered per frame."""
    base = np.array(
        [[8.0, 10.0, 56.0, 22.0], [14.0, 22.0, 50.0, 40.0], [20.0, 42.0, 44.0, 54.0]], dtype=np.float32
    )
    rng = np.random.default_rng(seed)
    boxes = np.repeat(base[None], num_frames, axis=0)
    if jitter:
        boxes = boxes + rng.uniform(-jitter, jitter, size=(num_frames, 1, 2)).repeat(2, axis=2)
    return boxes.astype(np.float32)


def half_up(x):
    return int(math.floor(x + 0.5))


# ------------------------------------------------------------------ part_token_sets
def test_part_token_sets_hand_case():
    boxes = np.zeros((2, 3, 4), dtype=np.float32)
    boxes[0, 0] = [0, 0, 16, 16]  # exactly patch (0, 0)
    boxes[1, 0] = [16.5, 0, 17, 1]  # inside patch (0, 1), other frame of the same tubelet
    boxes[:, 1] = [15, 15, 17, 17]  # touches 4 patches
    boxes[:, 2] = [60, 60, 100, 100]  # clipped to the crop: patch (3, 3)
    sets = part_token_sets(boxes, image_size=S, patch_size=P, tubelet_size=TUB)
    assert sets.shape == (3, G * G) and sets.dtype == bool
    assert set(np.flatnonzero(sets[0])) == {0, 1}
    assert set(np.flatnonzero(sets[1])) == {0, 1, G, G + 1}
    assert set(np.flatnonzero(sets[2])) == {G * G - 1}


def test_part_token_sets_temporal_index():
    boxes = make_boxes(4)
    boxes[2:, 2] = [0, 0, 16, 16]  # lips move in tubelet 1 only
    sets = part_token_sets(boxes, S, P, TUB)
    assert sets.shape == (3, 2 * G * G)
    np.testing.assert_array_equal(sets[0, : G * G], sets[0, G * G :])
    assert set(np.flatnonzero(sets[2])) == set(np.flatnonzero(sets[2, : G * G])) | {G * G}
    assert set(np.flatnonzero(sets[2, G * G :])) == {0}


def test_token_order_matches_videomae_patch_embedding():
    from transformers import VideoMAEConfig, VideoMAEModel

    torch.manual_seed(0)
    cfg = VideoMAEConfig(
        image_size=S, patch_size=P, num_frames=4, tubelet_size=TUB, hidden_size=32,
        num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
    )
    model = VideoMAEModel(cfg).eval()
    n = (4 // TUB) * G * G
    boxes = np.zeros((4, 3, 4), dtype=np.float32)
    # a box per frame, not aligned to the grid, moving inside each tubelet
    boxes[:, 0] = [[3, 5, 21, 9], [40, 18, 47, 30], [17, 33, 19, 35], [50, 50, 64, 64]]
    boxes[:, 1] = [0, 0, 64, 64]
    boxes[:, 2] = [0, 0, 64, 64]
    base = torch.randn(1, 4, 3, S, S)
    changed = base.clone()
    for f in range(4):
        x0, y0, x1, y1 = boxes[f, 0].astype(int)
        changed[0, f, :, y0:y1, x0:x1] += 5.0
    with torch.no_grad():
        e0 = model.embeddings.patch_embeddings(base)
        e1 = model.embeddings.patch_embeddings(changed)
    assert e0.shape[1] == n
    touched = (e0 - e1).abs().amax(dim=-1)[0] > 1e-4
    expected = part_token_sets(boxes, S, P, TUB)[0]
    np.testing.assert_array_equal(touched.numpy(), expected)
    assert 2 < expected.sum() < n  # the check is not trivial


# ------------------------------------------------------------------ generate_token_mask
@pytest.mark.parametrize("seed", range(5))
def test_roi_count_and_confinement(seed):
    boxes = make_boxes(4, jitter=3.0, seed=seed)
    sets = part_token_sets(boxes, S, P, TUB)
    mask, part = generate_token_mask(boxes, "roi", 0.75, S, P, TUB, rng=seed)
    assert mask.dtype == bool and mask.shape == (2 * G * G,)
    assert 0 <= part < 3
    assert mask.sum() == half_up(0.75 * sets[part].sum())
    assert not (mask & ~sets[part]).any()


def test_roi_picks_every_part():
    boxes = make_boxes(4)
    parts = {generate_token_mask(boxes, "roi", rng=s)[1] for s in range(40)}
    assert parts == {0, 1, 2}


@pytest.mark.parametrize("name", ["eyes", "cheek_nose", "lips"])
def test_fixed_part(name):
    boxes = make_boxes(4, jitter=2.0)
    sets = part_token_sets(boxes, S, P, TUB)
    k = PARTS.index(name)
    for seed in range(5):
        mask, part = generate_token_mask(boxes, name, image_size=S, patch_size=P, tubelet_size=TUB, rng=seed)
        assert part == k
        assert mask.sum() == half_up(0.75 * sets[k].sum())
        assert not (mask & ~sets[k]).any()


def test_mae_count():
    boxes = make_boxes(4)
    n = 2 * G * G
    for seed in range(5):
        mask, part = generate_token_mask(boxes, "mae", image_size=S, patch_size=P, tubelet_size=TUB, rng=seed)
        assert part == -1 and mask.sum() == half_up(0.75 * n)


def test_tube_same_spatial_pattern():
    boxes = make_boxes(8)
    mask, part = generate_token_mask(boxes, "tube", image_size=S, patch_size=P, tubelet_size=TUB, rng=1)
    per_t = mask.reshape(4, G * G)
    assert part == -1
    assert (per_t == per_t[0]).all()
    assert per_t[0].sum() == half_up(0.9 * G * G)  # default tube ratio 0.9
    m2, _ = generate_token_mask(boxes, "tube", ratio=0.5, image_size=S, patch_size=P, tubelet_size=TUB, rng=1)
    assert m2.reshape(4, G * G)[0].sum() == half_up(0.5 * G * G)


def test_no_roi_count_and_not_confined():
    boxes = np.zeros((4, 3, 4), dtype=np.float32)
    boxes[:, 0] = [0, 0, 32, 16]  # 2 patches per temporal index -> 4 tokens per part
    boxes[:, 1] = [32, 0, 64, 16]
    boxes[:, 2] = [0, 48, 32, 64]
    sets = part_token_sets(boxes, S, P, TUB)
    assert (sets.sum(axis=1) == 4).all()
    union = sets.any(axis=0)
    not_in_a_part, inside_fraction = 0, []
    for seed in range(40):
        mask, part = generate_token_mask(boxes, "no_roi", image_size=S, patch_size=P, tubelet_size=TUB, rng=seed)
        assert part == -1
        assert mask.sum() == half_up(0.75 * 4)
        not_in_a_part += int(all((mask & ~s).any() for s in sets))
        inside_fraction.append((mask & union).sum() / mask.sum())
    # a part-confined mask would give 0 and 1.0; uniform positions give ~all and ~12/32
    assert not_in_a_part >= 35
    assert abs(np.mean(inside_fraction) - union.mean()) < 0.15
    roi = [generate_token_mask(boxes, "roi", image_size=S, patch_size=P, tubelet_size=TUB, rng=s)[0] for s in range(40)]
    assert all(not all((m & ~s).any() for s in sets) for m in roi)


def test_default_ratio_and_rounding():
    assert num_to_mask(6, 0.75) == 5  # 4.5 rounds half up
    assert num_to_mask(1, 0.3) == 1  # never an empty mask
    assert num_to_mask(0, 0.75) == 0


def test_determinism():
    boxes = make_boxes(4, jitter=2.0)
    for strategy in MASKING_STRATEGIES:
        a = generate_token_mask(boxes, strategy, image_size=S, patch_size=P, tubelet_size=TUB, rng=123)
        b = generate_token_mask(
            boxes, strategy, image_size=S, patch_size=P, tubelet_size=TUB, rng=np.random.default_rng(123)
        )
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategy": "random"}, "valid strategies: roi, eyes"),
        ({"ratio": 0.0}, "ratio"),
        ({"ratio": 1.0}, "ratio"),
        ({"ratio": -0.2}, "ratio"),
        ({"ratio": "high"}, "ratio"),
        ({"roi_boxes": np.zeros((4, 2, 4))}, "shape"),
        ({"roi_boxes": np.zeros((4, 3))}, "shape"),
        ({"roi_boxes": make_boxes(3)}, "divisible"),
        ({"roi_boxes": np.full((4, 3, 4), np.nan)}, "NaN"),
        ({"image_size": 60}, "divisible"),
    ],
)
def test_bad_args(kwargs, match):
    args = {"roi_boxes": make_boxes(4), "image_size": S, "patch_size": P, "tubelet_size": TUB}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        generate_token_mask(**args)


def test_zero_token_part_raises():
    boxes = make_boxes(4)
    boxes[:, 2] = [70, 70, 90, 90]  # lips outside the crop
    for strategy in ("roi", "lips", "no_roi"):
        with pytest.raises(ValueError, match="lips"):
            generate_token_mask(boxes, strategy, image_size=S, patch_size=P, tubelet_size=TUB, rng=0)
    generate_token_mask(boxes, "eyes", image_size=S, patch_size=P, tubelet_size=TUB, rng=0)  # fine
    generate_token_mask(boxes, "mae", image_size=S, patch_size=P, tubelet_size=TUB, rng=0)  # fine


# ------------------------------------------------------------------ equalize_mask_counts
def test_equalize_numpy_and_torch():
    rng = np.random.default_rng(0)
    boxes = [make_boxes(4, jitter=4.0, seed=s) for s in range(6)]
    out = [generate_token_mask(b, "roi", image_size=S, patch_size=P, tubelet_size=TUB, rng=rng) for b in boxes]
    masks = np.stack([m for m, _ in out])
    assert len(set(masks.sum(axis=1))) > 1  # the test is meaningful
    eq = equalize_mask_counts(masks, rng=1)
    assert isinstance(eq, np.ndarray)
    assert len(set(eq.sum(axis=1))) == 1 and eq.sum(axis=1)[0] == masks.sum(axis=1).min()
    assert not (eq & ~masks).any()  # only un-masking
    for (m, part), b, e in zip(out, boxes, eq):
        assert not (e & ~part_token_sets(b, S, P, TUB)[part]).any()

    teq = equalize_mask_counts(torch.from_numpy(masks), rng=1)
    assert isinstance(teq, torch.Tensor) and teq.dtype == torch.bool
    np.testing.assert_array_equal(teq.numpy(), eq)


def test_equalize_rejects_empty_row():
    masks = np.zeros((2, 8), dtype=bool)
    masks[0, :3] = True
    with pytest.raises(ValueError, match="no masked token"):
        equalize_mask_counts(masks)
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        equalize_mask_counts(np.zeros(8, dtype=bool))


# ------------------------------------------------------------------ the one batch masker
def make_batch(batch=4, frames=4):
    """`roi_boxes (B, T, 3, 4)` of `batch` differently jittered clips."""
    return np.stack([make_boxes(frames, jitter=4.0, seed=i) for i in range(batch)])


def test_batch_masks_equal_counts_inside_each_clips_part():
    boxes = make_batch()
    masks, parts = batch_token_masks(boxes, "roi", image_size=S, patch_size=P, tubelet_size=TUB, rng=0)
    assert masks.dtype == bool and masks.shape == (4, 2 * G * G)
    assert len(set(masks.sum(axis=1).tolist())) == 1 and masks.sum(axis=1)[0] > 0
    assert parts.dtype == np.int64 and parts.shape == (4,)
    for clip_boxes, mask, part in zip(boxes, masks, parts.tolist()):
        assert not (mask & ~part_token_sets(clip_boxes, S, P, TUB)[part]).any()


def test_batch_masks_deterministic_and_feed_videomae():
    from transformers import VideoMAEConfig, VideoMAEForPreTraining

    boxes = make_batch()
    a = batch_token_masks(boxes, "roi", image_size=S, patch_size=P, tubelet_size=TUB, rng=np.random.default_rng(7))
    b = batch_token_masks(torch.from_numpy(boxes), "roi", image_size=S, patch_size=P, tubelet_size=TUB,
                          rng=np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])  # numpy or torch boxes, same generator
    cfg = VideoMAEConfig(
        image_size=S, patch_size=P, num_frames=4, tubelet_size=TUB, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, decoder_hidden_size=32, decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2, decoder_intermediate_size=64,
    )
    model = VideoMAEForPreTraining(cfg).eval()
    with torch.no_grad():
        out = model(pixel_values=torch.randn(4, 4, 3, S, S), bool_masked_pos=torch.from_numpy(a[0]))
    assert torch.isfinite(out.loss)


@pytest.mark.parametrize("strategy", ["mae", "tube", "no_roi", "lips"])
def test_batch_masks_strategies(strategy):
    masks, parts = batch_token_masks(make_batch(), strategy, image_size=S, patch_size=P, tubelet_size=TUB, rng=0)
    counts = masks.sum(axis=1)
    assert (counts == counts[0]).all() and counts[0] > 0
    assert (parts == (PARTS.index(strategy) if strategy in PARTS else -1)).all()


def test_batch_masks_bad_input():
    with pytest.raises(ValueError, match="valid strategies"):
        batch_token_masks(make_batch(), "bogus", image_size=S, patch_size=P, tubelet_size=TUB)
    with pytest.raises(ValueError, match=r"\(B, T, 3, 4\)"):
        batch_token_masks(np.zeros((0, 4, 3, 4)), image_size=S, patch_size=P, tubelet_size=TUB)
    with pytest.raises(ValueError, match="roi_boxes"):
        batch_token_masks(np.zeros((2, 4, 2, 4)), image_size=S, patch_size=P, tubelet_size=TUB)


@pytest.mark.parametrize("strategy", ["roi", "tube", "no_roi"])
def test_processor_and_training_use_the_one_masker(strategy):
    """`DelocateFaceProcessor.generate_mask` and `training.data.batch_token_masks` (stages 1 and 2) give the very
    masks of `roi_masking.batch_token_masks` for the same boxes, settings and generator."""
    from delocate_hf.training.data import batch_token_masks as training_masks
    from processing import DelocateFaceProcessor

    boxes = make_batch()
    expected, parts = batch_token_masks(boxes, strategy, 0.6, S, P, TUB, rng=np.random.default_rng([3, 5]))
    processor = DelocateFaceProcessor(size=S, num_frames=4, patch_size=P, tubelet_size=TUB, mask_strategy=strategy,
                                      mask_ratio=0.6)
    by_processor, by_processor_parts = processor.generate_mask(boxes, rng=np.random.default_rng([3, 5]),
                                                               return_parts=True)
    by_training = training_masks(torch.from_numpy(boxes), strategy, 0.6, S, P, TUB, seed=3, step=5)
    assert by_training.dtype == torch.bool and by_training.device == torch.device("cpu")
    assert np.array_equal(by_processor, expected) and np.array_equal(by_processor_parts, parts)
    assert np.array_equal(by_training.numpy(), expected)
    other = training_masks(torch.from_numpy(boxes), strategy, 0.6, S, P, TUB, seed=3, step=6)
    assert not torch.equal(other, by_training)  # a new step draws new masks


def test_whole_crop_part_keeps_a_visible_token():
    boxes = np.zeros((2, 3, 4), dtype=np.float32)
    boxes[:] = [0, 0, S, S]
    mask, part = generate_token_mask(boxes, "eyes", ratio=0.99, image_size=S, patch_size=P, tubelet_size=TUB, rng=0)
    assert part == 0 and mask.sum() == G * G - 1


def test_the_model_config_knows_the_same_strategies():
    """The config (shipped alone as remote code, it imports only transformers) keeps its own copy of the list."""
    from modeling import MASK_STRATEGIES

    assert MASK_STRATEGIES == MASKING_STRATEGIES
