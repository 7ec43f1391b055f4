"""Tensor helpers of the Delocate models: VideoMAE's token layout (patchify / unpatchify), the input and mask checks,
the fast sin-cos position table, and the detector's choice of localized frames. Imports only torch, numpy and transformers
(remote code, saved beside checkpoints with `modeling_delocate.py`)."""

import contextlib

import numpy as np
import torch
from transformers.models.videomae import modeling_videomae

from .configuration_delocate import DelocateConfig


def sinusoid_encoding_table(n_position: int, d_hid: int) -> torch.Tensor:
    """VideoMAE's fixed sin-cos position table `(1, n_position, d_hid)`, equal to transformers'
    `get_sinusoid_encoding_table` value for value (same float64 operations) but vectorised over positions: the
    original's Python loop took 1.4 s of the 1.5 s it takes to load a VideoMAE-B-size detector."""
    denominators = np.array([np.power(10000, 2 * (hid_j // 2) / d_hid) for hid_j in range(d_hid)])  # (d_hid,)
    table = np.arange(n_position, dtype=np.float64)[:, None] / denominators[None, :]  # (n_position, d_hid)
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.FloatTensor(table).unsqueeze(0)


@contextlib.contextmanager
def fast_videomae_position_tables():
    """While constructing transformers' `VideoMAEModel`, build its position table with `sinusoid_encoding_table`."""
    original = modeling_videomae.get_sinusoid_encoding_table
    modeling_videomae.get_sinusoid_encoding_table = sinusoid_encoding_table
    try:
        yield
    finally:
        modeling_videomae.get_sinusoid_encoding_table = original


def check_video_input(pixel_values: torch.Tensor, config: DelocateConfig) -> None:
    """Raises ValueError unless `pixel_values` is `(batch, num_frames, channels, image_size, image_size)`."""
    expected = (config.num_frames, config.num_channels, config.image_size, config.image_size)
    if pixel_values.ndim != 5 or tuple(pixel_values.shape[1:]) != expected:
        raise ValueError(
            f"pixel_values must have shape (batch, {', '.join(map(str, expected))}) = (batch, frames, channels, "
            f"height, width); got {tuple(pixel_values.shape)}"
        )



def check_frames_input(pixel_values: torch.Tensor, config: DelocateConfig) -> bool:
    """The localizer's input check: `pixel_values` is video `(batch, frames, channels, H, W)` or frames
    `(N, channels, H, W)` whose size the encoder's strides divide; returns whether it is video. Raises ValueError."""
    if pixel_values.ndim not in (4, 5) or pixel_values.shape[-3] != config.num_channels:
        raise ValueError(
            f"pixel_values must be (batch, frames, {config.num_channels}, H, W) or (N, {config.num_channels}, H, W); "
            f"got {tuple(pixel_values.shape)}"
        )
    if pixel_values.shape[-1] % 2 ** (len(config.loc_encoder_channels) - 1) or pixel_values.shape[-2] % 4:
        raise ValueError(f"face size {tuple(pixel_values.shape[-2:])} must be divisible by the encoder stride")
    return pixel_values.ndim == 5


def check_bool_masked_pos(bool_masked_pos: torch.Tensor | None, batch_size: int, seq_length: int) -> torch.Tensor:
    """Validates `(batch, num_tokens)` recovery masks: the same masked count in every sample, at least one visible
    and one masked token. Returns the mask as bool; raises ValueError."""
    if bool_masked_pos is None:
        raise ValueError(
            "DelocateForMaskedRecovery needs bool_masked_pos (batch, num_tokens); get one from "
            "DelocateFaceProcessor(..., return_bool_masked_pos=True) or processing.roi_masking"
        )
    expected = (batch_size, seq_length)
    if tuple(bool_masked_pos.shape) != expected:
        raise ValueError(f"bool_masked_pos must have shape {expected}, got {tuple(bool_masked_pos.shape)}")
    bool_masked_pos = bool_masked_pos.bool()
    counts = bool_masked_pos.sum(dim=1)
    if bool((counts != counts[0]).any()):
        raise ValueError(
            "bool_masked_pos must mask the same number of tokens in every sample (VideoMAE drops masked tokens "
            f"and stacks the rest); got masked counts {counts.tolist()}. Equalise them with "
            "processing.roi_masking.equalize_mask_counts"
        )
    if int(counts[0]) in (0, seq_length):
        raise ValueError(f"bool_masked_pos must mask some but not all {seq_length} tokens, got {int(counts[0])}")
    return bool_masked_pos

def unnormalize(pixel_values: torch.Tensor, config: DelocateConfig) -> torch.Tensor:
    """Processor-normalised `(batch, frames, C, H, W)` -> pixel space in [0, 1]."""
    mean = torch.as_tensor(config.image_mean, device=pixel_values.device, dtype=pixel_values.dtype)
    std = torch.as_tensor(config.image_std, device=pixel_values.device, dtype=pixel_values.dtype)
    return pixel_values * std[:, None, None] + mean[:, None, None]


def patchify(frames: torch.Tensor, tubelet_size: int, patch_size: int) -> torch.Tensor:
    """`(batch, T, C, H, W)` -> `(batch, num_tokens, tubelet * patch * patch, C)` in VideoMAE's token order."""
    batch, time, channels, height, width = frames.shape
    frames = frames.view(
        batch, time // tubelet_size, tubelet_size, channels,
        height // patch_size, patch_size, width // patch_size, patch_size,
    )
    frames = frames.permute(0, 1, 4, 6, 2, 5, 7, 3).contiguous()
    num_tokens = (time // tubelet_size) * (height // patch_size) * (width // patch_size)
    return frames.view(batch, num_tokens, tubelet_size * patch_size * patch_size, channels)


def unpatchify(patches: torch.Tensor, time: int, height: int, width: int, tubelet_size: int, patch_size: int) -> torch.Tensor:
    """Inverse of `patchify`: `(batch, num_tokens, tubelet * patch * patch, C)` -> `(batch, T, C, H, W)`."""
    batch, _, _, channels = patches.shape
    patches = patches.view(
        batch, time // tubelet_size, height // patch_size, width // patch_size,
        tubelet_size, patch_size, patch_size, channels,
    )
    patches = patches.permute(0, 1, 4, 7, 2, 5, 3, 6).contiguous()
    return patches.view(batch, time, channels, height, width)


def flatten_frames(tensor: torch.Tensor | None, video: bool) -> torch.Tensor | None:
    """`(batch, frames, ...)` -> `(batch * frames, ...)` when `video`, else unchanged."""
    return tensor.flatten(0, 1) if (tensor is not None and video) else tensor


def localized_frame_indices(frames: int, count: int | None, device=None) -> torch.Tensor:
    """Indices `(k,)` of the `count` evenly spaced frames (segment centres) of a `frames`-frame clip that the
    detector localizes; every frame when `count` is None or >= `frames`."""
    if count is None or count >= frames:
        return torch.arange(frames, device=device)
    return ((torch.arange(count, device=device) * 2 + 1) * frames) // (2 * count)
