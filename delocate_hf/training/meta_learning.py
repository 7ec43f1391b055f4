"""MLDG meta-learning for the localization stage (paper §3.2, Eq. 6; Li et al., AAAI 2018).

Each step splits the manipulation domains present in the batch into meta-train and meta-test, takes one inner
gradient step on meta-train, `theta' = theta - alpha * grad L_train(theta)`, and optimises
`L_train(theta) + L_test(theta')`, with `L_test(theta')` computed by `torch.func.functional_call`.

* second order (`first_order=False`): the inner gradient keeps its graph, so d L_test(theta') / d theta includes the
  Hessian-vector term (exact MLDG; about 2x the memory of a plain step);
* first order (`first_order=True`): the inner gradient is detached, so d L_test(theta') / d theta = grad L_test at
  theta' (cheaper, the usual approximation).
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call


@dataclass
class MetaSplit:
    """Indices into a batch: `train` and `test` each hold real and fake samples."""

    train: np.ndarray
    test: np.ndarray
    train_domains: tuple[str, ...]
    test_domains: tuple[str, ...]


def split_meta_domains(
    manipulations: list[str], labels: list[int] | np.ndarray, rng: np.random.Generator, test_fraction: float = 0.3,
    partners: np.ndarray | None = None,
) -> MetaSplit:
    """Split one batch into meta-train / meta-test.

    Fake samples are split by manipulation domain (about `test_fraction` of the domains go to meta-test, at least
    one on each side); with a single fake domain the fake samples themselves are split 7:3 (paper §4.2). Real
    samples are split `1 - test_fraction : test_fraction` so both sides are binary tasks. `partners` (batch position
    of each fake's own real clip, -1 for none; paired batches) keeps a real clip on its fake's side.
    """
    labels = np.asarray(labels)
    manipulations = np.asarray(manipulations)
    fake = np.flatnonzero(labels == 1)
    real = np.flatnonzero(labels == 0)
    if len(fake) < 2 or len(real) < 2:
        raise ValueError(f"a meta-learning batch needs at least 2 real and 2 fake samples, got {len(real)} and {len(fake)}")
    domains = sorted(set(manipulations[fake].tolist()))
    if len(domains) >= 2:
        order = rng.permutation(len(domains))
        num_test = min(max(1, int(round(test_fraction * len(domains)))), len(domains) - 1)
        test_domains = tuple(sorted(domains[i] for i in order[:num_test]))
        train_domains = tuple(d for d in domains if d not in test_domains)
        fake_test = fake[np.isin(manipulations[fake], test_domains)]
        fake_train = fake[~np.isin(manipulations[fake], test_domains)]
    else:
        shuffled = rng.permutation(fake)
        num_test = min(max(1, int(round(test_fraction * len(fake)))), len(fake) - 1)
        fake_test, fake_train = shuffled[:num_test], shuffled[num_test:]
        train_domains = test_domains = tuple(domains)
    shuffled = rng.permutation(real)
    num_test = min(max(1, int(round(test_fraction * len(real)))), len(real) - 1)
    real_train, real_test = shuffled[num_test:], shuffled[:num_test]
    if partners is not None:
        partners = np.asarray(partners)
        with_test = partners[fake_test][partners[fake_test] >= 0]
        with_train = partners[fake_train][partners[fake_train] >= 0]
        free = np.setdiff1d(real, np.concatenate([with_test, with_train]))
        free = rng.permutation(free)
        cut = max(0, int(round(test_fraction * len(real))) - len(with_test))
        real_test = np.concatenate([with_test, free[:cut]]).astype(np.int64)
        real_train = np.concatenate([with_train, free[cut:]]).astype(np.int64)
    return MetaSplit(
        train=np.sort(np.concatenate([real_train, fake_train])),
        test=np.sort(np.concatenate([real_test, fake_test])),
        train_domains=train_domains,
        test_domains=test_domains,
    )


@dataclass
class MLDGLosses:
    loss: torch.Tensor  # L_train(theta) + L_test(theta'), to backpropagate
    train_loss: torch.Tensor
    test_loss: torch.Tensor


def mldg_step(
    model: torch.nn.Module,
    train_inputs: dict,
    test_inputs: dict,
    inner_lr: float,
    first_order: bool = False,
    test_weight: float = 1.0,
) -> MLDGLosses:
    """Computes the MLDG objective for one step; the caller runs `backward()` (or `accelerator.backward`) on `.loss`.

    `model` returns an output with `.loss` when called with `**inputs` (e.g. `DelocateForForgeryLocalization` with
    `labels`, `mask_labels`, `recovered_pixel_values`). Parameters with `requires_grad=False` stay fixed.
    """
    module = getattr(model, "module", model)  # unwrap DDP for the functional call
    names, params = zip(*[(n, p) for n, p in module.named_parameters() if p.requires_grad])
    train_loss = model(**train_inputs).loss
    grads = torch.autograd.grad(train_loss, params, create_graph=not first_order, retain_graph=True, allow_unused=True)
    adapted = {}
    for name, param, grad in zip(names, params, grads):
        if grad is None:
            adapted[name] = param
        else:
            adapted[name] = param - inner_lr * (grad.detach() if first_order else grad)
    state = {**dict(module.named_buffers()), **adapted}
    test_loss = functional_call(module, state, args=(), kwargs=test_inputs, strict=False).loss
    return MLDGLosses(loss=train_loss + test_weight * test_loss, train_loss=train_loss.detach(), test_loss=test_loss.detach())


def select(inputs: dict, indices: np.ndarray) -> dict:
    """Rows `indices` of every tensor in `inputs` (other values pass through)."""
    index = torch.as_tensor(indices, dtype=torch.long)
    return {k: (v[index.to(v.device)] if torch.is_tensor(v) else v) for k, v in inputs.items()}
