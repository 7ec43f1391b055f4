"""Model tests that need real video: masked patches are predictable only from real image structure, so the
recovery model's learning signal is checked on real frames (carphone). Everything else runs on random tensors
(test_modeling.py)."""

import av
import numpy as np
import pytest
import torch

from modeling import DelocateForMaskedRecovery

from test_modeling import config, overfit, random_mask  # noqa: F401  (config: the tiny-config fixture)


@pytest.fixture(scope="module")
def carphone_clip(carphone, config):
    """Real frames: the first `num_frames` of carphone, resized to the tiny image size and normalised.
    Shape (2, T, 3, S, S); the second clip starts 40 frames later."""
    frames = []
    with av.open(str(carphone)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= 40 + config.num_frames:
                break
            frames.append(frame.to_ndarray(format="rgb24", width=config.image_size, height=config.image_size))
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0  # (T, 3, S, S)
    mean = torch.tensor(config.image_mean)[:, None, None]
    std = torch.tensor(config.image_std)[:, None, None]
    video = (video - mean) / std
    return torch.stack([video[: config.num_frames], video[40 : 40 + config.num_frames]])


def test_recovery_learns_to_recover_real_faces(config, carphone_clip):
    """Real video (image structure is what makes masked patches predictable): the recovery loss drops."""
    torch.manual_seed(0)
    recovery = DelocateForMaskedRecovery(config).train()
    mask = random_mask(config, 2)
    losses = overfit(recovery, lambda: recovery(carphone_clip, bool_masked_pos=mask).loss, lr=5e-3)
    assert losses[-1] < 0.8 * losses[0], losses
