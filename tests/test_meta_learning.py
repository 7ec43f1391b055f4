"""MLDG step on the tiny localization model: both losses, gradients that differ from plain training."""

import numpy as np
import pytest
import torch

from delocate_hf.training.meta_learning import mldg_step, select, split_meta_domains
from modeling import DelocateConfig, DelocateForForgeryLocalization


def test_split_by_domain_keeps_domains_apart():
    manipulations = ["real", "real", "real", "real", "Deepfakes", "Deepfakes", "FaceSwap", "Face2Face", "NeuralTextures"]
    labels = [0, 0, 0, 0, 1, 1, 1, 1, 1]
    split = split_meta_domains(manipulations, labels, np.random.default_rng(0))
    assert set(split.train_domains).isdisjoint(split.test_domains)
    assert len(split.test_domains) >= 1 and len(split.train_domains) >= 1
    for side, domains in ((split.train, split.train_domains), (split.test, split.test_domains)):
        fakes = [manipulations[i] for i in side if labels[i] == 1]
        reals = [i for i in side if labels[i] == 0]
        assert fakes and reals and set(fakes) <= set(domains)
    assert sorted(np.concatenate([split.train, split.test]).tolist()) == list(range(len(labels)))


def test_single_domain_is_split_seven_to_three():
    manipulations = ["real"] * 10 + ["Deepfakes"] * 10
    split = split_meta_domains(manipulations, [0] * 10 + [1] * 10, np.random.default_rng(1))
    fake_test = [i for i in split.test if i >= 10]
    assert len(fake_test) == 3 and len([i for i in split.train if i >= 10]) == 7
    with pytest.raises(ValueError, match="at least 2 real and 2 fake"):
        split_meta_domains(["real", "Deepfakes"], [0, 1], np.random.default_rng(0))


@pytest.mark.parametrize("manipulations", [["self_blend"] * 5, ["self_blend", "part_eyes", "part_lips", "part_eyes", "self_blend"]])
def test_paired_batch_keeps_each_pair_on_one_side(manipulations):
    """Paired batches (reals 0-4, their own fakes 5-9): a fake and its real clip land on the same side."""
    labels = [0] * 5 + [1] * 5
    partners = np.array([-1] * 5 + [0, 1, 2, 3, 4])
    for seed in range(5):
        split = split_meta_domains(["real"] * 5 + manipulations, labels, np.random.default_rng(seed), partners=partners)
        for side in (split.train, split.test):
            assert {int(i) - 5 for i in side if i >= 5} == {int(i) for i in side if i < 5}
            assert any(labels[i] == 0 for i in side) and any(labels[i] == 1 for i in side)
        assert sorted(np.concatenate([split.train, split.test]).tolist()) == list(range(10))


@pytest.fixture(scope="module")
def batch():
    config = DelocateConfig.tiny()
    generator = torch.Generator().manual_seed(0)
    size = (4, config.num_frames, 3, config.image_size, config.image_size)
    pixel_values = torch.randn(size, generator=generator)
    masks = torch.zeros(4, config.num_frames, config.image_size, config.image_size)
    masks[2:, :, 16:40, 20:44] = 1
    return config, {
        "pixel_values": pixel_values,
        "labels": torch.tensor([0, 0, 1, 1]),
        "mask_labels": masks,
        "recovered_pixel_values": torch.rand(size, generator=generator),
    }


def gradients(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("first_order", [False, True])
def test_mldg_gradient_differs_from_plain_training(batch, first_order):
    config, inputs = batch
    torch.manual_seed(0)
    model = DelocateForForgeryLocalization(config).eval()  # eval: BatchNorm statistics fixed, so runs compare
    train, test = select(inputs, np.array([0, 2])), select(inputs, np.array([1, 3]))

    losses = mldg_step(model, train, test, inner_lr=0.1, first_order=first_order)
    assert losses.train_loss > 0 and losses.test_loss > 0
    torch.testing.assert_close(losses.loss.detach(), losses.train_loss + losses.test_loss)
    losses.loss.backward()
    meta_grad = gradients(model)

    model.zero_grad()
    (model(**train).loss + model(**test).loss).backward()  # plain joint training on the same samples
    plain_grad = gradients(model)
    assert meta_grad.shape == plain_grad.shape
    assert not torch.allclose(meta_grad, plain_grad, atol=1e-6)
    # the meta-test loss really is evaluated at the adapted parameters theta'
    with torch.no_grad():
        assert not torch.isclose(losses.test_loss, model(**test).loss)


def test_second_order_differs_from_first_order(batch):
    config, inputs = batch
    train, test = select(inputs, np.array([0, 2])), select(inputs, np.array([1, 3]))
    grads = []
    for first_order in (False, True):
        torch.manual_seed(0)
        model = DelocateForForgeryLocalization(config).eval()
        mldg_step(model, train, test, inner_lr=0.5, first_order=first_order).loss.backward()
        grads.append(gradients(model))
    assert not torch.allclose(grads[0], grads[1], atol=1e-7)
