"""Training data: face-clip caches -> normalised tensors, balanced real/fake batches, per-step ROI masks.

A face-clip cache is a `datasets.Dataset` (see `delocate_hf.data.preprocess`) with per video `faces` uint8
`(T, S, S, 3)`, `roi_boxes` `(T, 3, 4)`, `masks` uint8 `(T, S, S)` (0..255), `label`, `manipulation`, `video_id`.
"""

from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler

from processing.roi_masking import batch_token_masks as token_masks
from processing.video_io import sample_frame_indices


def load_face_clips(paths: str | Path | Sequence[str | Path]) -> datasets.Dataset:
    """Loads and concatenates face-clip caches: `preprocess_dataset` cache folders, or any `save_to_disk` folder
    with the face-clip columns."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise ValueError("no face-clip cache given")
    parts = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"face-clip cache '{path}' does not exist")
        if (path / "state.json").exists():  # a plain `Dataset.save_to_disk` folder
            parts.append(datasets.load_from_disk(str(path)))
        else:
            from delocate_hf.data.preprocess import load_preprocessed

            parts.append(load_preprocessed(path).dataset)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def temporal_indices(available: int, wanted: int) -> np.ndarray:
    """`wanted` frame indices of `available` cached frames, chosen as inference chooses frames of a video
    (`processing.video_io.sample_frame_indices`, the centres of `wanted` equal segments), so the model is trained on
    the temporal sampling it is run on."""
    if available < wanted:
        raise ValueError(f"the cache holds {available} frames per clip, the model needs {wanted}")
    return sample_frame_indices(available, wanted, "uniform")


def similarity_warp(video: torch.Tensor, boxes: torch.Tensor, masks: torch.Tensor, angle: float, scale: float,
                    shift: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rotates a clip by `angle` (radians) and scales it by `scale` about the crop centre, then shifts it by `shift`
    (x, y in normalised units, 2 = the crop size): `video` `(T, C, S, S)` and `masks` `(T, S, S)` (bilinear, reflected
    borders) and `boxes` `(T, R, 4)` pixel (x0, y0, x1, y1) (the box around the warped corners,
    clipped to the crop). Returns the three warped."""
    size = video.shape[-1]
    cos, sin = float(np.cos(angle)), float(np.sin(angle))
    forward = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float32) * float(scale)  # input -> output
    offset = torch.tensor(shift, dtype=torch.float32)
    inverse = torch.linalg.inv(forward)
    theta = torch.cat([inverse, (-inverse @ offset)[:, None]], dim=1)  # output -> input, for affine_grid
    grid = F.affine_grid(theta.expand(len(video), 2, 3), list(video.shape), align_corners=False)
    video = F.grid_sample(video, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # reflected like the frames: a blend reflected into the border is changed pixels too
    masks = F.grid_sample(masks[:, None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)[:, 0]
    corners = boxes[..., [[0, 1], [2, 1], [0, 3], [2, 3]]]  # (T, R, 4 corners, 2)
    normalised = corners / size * 2.0 - 1.0
    moved = (normalised @ forward.T + offset + 1.0) / 2.0 * size
    boxes = torch.cat([moved.amin(dim=-2), moved.amax(dim=-2)], dim=-1).clamp(0, size)
    return video, boxes, masks


class FaceClipDataset(Dataset):
    """Torch view of a face-clip cache, resized to the model's clip shape.

    Each item: `pixel_values` float `(T, 3, S, S)` normalised with the model's mean/std, `roi_boxes` `(T, 3, 4)` in
    model pixels, `mask_labels` float `(T, S, S)` in [0, 1] (all -1 when the clip has no ground-truth mask,
    `mask_source == "none"`), `labels` long, `domain` long (index into `domains`),
    and `index` (the row) when `with_index`.

    `augment`: clip-consistent flip and colour jitter; with `geometric_augment` p > 0, also (with probability p per
    clip) one random similarity warp of the whole clip, mask and ROI boxes (rotation +-10 degrees, scale 0.9-1.1,
    shift +-5 % of the crop; reflected borders), so that the model never sees a training face twice at the same
    pixels. Real and fake of a pair share it (same `augment_key`).
    """

    def __init__(self, clips: datasets.Dataset, num_frames: int, image_size: int, image_mean, image_std,
                 domains: Sequence[str] | None = None, with_index: bool = False, augment: bool = False,
                 seed: int = 0, geometric_augment: float = 0.0):
        if not 0.0 <= geometric_augment <= 1.0:
            raise ValueError(f"geometric_augment must be a probability in [0, 1], got {geometric_augment}")
        # uint8 stays uint8 (the numpy/torch formats would widen it to int64)
        self.clips = clips.with_format("torch", columns=["faces", "masks"], dtype=torch.uint8, output_all_columns=True)
        self.has_mask = np.asarray(clips["mask_source"] if "mask_source" in clips.column_names
                                   else ["given"] * len(clips)) != "none"
        self.num_frames = num_frames
        self.image_size = image_size
        self.mean = torch.tensor(image_mean, dtype=torch.float32)[:, None, None]
        self.std = torch.tensor(image_std, dtype=torch.float32)[:, None, None]
        self.labels = np.asarray(clips["label"], dtype=np.int64)
        self.manipulations = list(clips["manipulation"])
        self.domains = list(domains) if domains is not None else sorted(set(self.manipulations))
        self.with_index = with_index
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.geometric_augment = float(geometric_augment)
        self.contrast_pivot: float | None = None  # None: each clip's mean (see `_augment`)

    def set_epoch(self, epoch: int) -> None:
        """Augmentations are drawn from `(seed, epoch, index)`: reproducible, and the same after a resume."""
        self.epoch = epoch

    def _augment(self, video: torch.Tensor, boxes: torch.Tensor, masks: torch.Tensor, index: int):
        """Clip-consistent horizontal flip, brightness / contrast / saturation jitter and (`geometric_augment`) a
        similarity warp (real and fake alike). `video` `(T, 3, S, S)` in [0, 1], `boxes` `(T, 3, 4)`, `masks`
        `(T, S, S)`."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if rng.random() < 0.5:
            video, masks = video.flip(-1), masks.flip(-1)
            size = video.shape[-1]
            boxes = torch.stack([size - boxes[..., 2], boxes[..., 1], size - boxes[..., 0], boxes[..., 3]], dim=-1)
        brightness, contrast, saturation = rng.uniform(0.85, 1.15, size=3)
        gray = video.mean(dim=1, keepdim=True)
        video = gray + (video - gray) * saturation
        # contrast pivots on the clip's own mean, or on a fixed grey (`contrast_pivot`, pairs: a fake's mean differs
        # from its real clip's, which would shift every pixel of the fake by a little)
        pivot = video.mean() if self.contrast_pivot is None else self.contrast_pivot
        video = (video - pivot) * contrast + pivot * brightness
        if self.geometric_augment and rng.random() < self.geometric_augment:  # drawn last: streams unchanged at 0
            angle, scale = np.deg2rad(rng.uniform(-10.0, 10.0)), rng.uniform(0.9, 1.1)
            shift = rng.uniform(-0.05, 0.05, size=2) * 2.0  # in normalised [-1, 1] units
            video, boxes, masks = similarity_warp(video, boxes, masks, angle, scale, shift)
        return video.clamp(0, 1), boxes, masks

    def __len__(self) -> int:
        return len(self.clips)

    def read_clip(self, row_index: int) -> dict:
        """The `num_frames` frames of cache row `row_index`, as stored: `faces` uint8 `(T, S0, S0, 3)`, `roi_boxes`
        float32 `(T, 3, 4)`, `masks` uint8 `(T, S0, S0)` (0..255) and the cache `row`."""
        row = self.clips[int(row_index)]
        keep = temporal_indices(row["faces"].shape[0], self.num_frames)
        return {
            "faces": row["faces"][torch.from_numpy(keep)].numpy(),
            "roi_boxes": np.asarray(row["roi_boxes"], dtype=np.float32)[keep],
            "masks": row["masks"][torch.from_numpy(keep)].numpy(),
            "keep": keep,
            "row": row,
        }

    def to_model_inputs(self, faces: np.ndarray, boxes: np.ndarray, masks: np.ndarray | None, label: int,
                        manipulation: str, index: int, augment_key: int | None = None) -> dict:
        """One training item from uint8 `faces (T, S0, S0, 3)`, `boxes (T, 3, 4)` and uint8 `masks (T, S0, S0)` in
        0..255 (`None`: no ground truth, all -1): augmentation (drawn from `(seed, epoch, augment_key)`, default
        `index`), resize to the model's size, normalisation."""
        video = torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2).float() / 255.0  # (T, 3, S0, S0)
        boxes = torch.as_tensor(boxes, dtype=torch.float32)
        known = masks is not None
        masks = torch.from_numpy(np.ascontiguousarray(masks)).float() / 255.0 if known else torch.zeros(video[:, 0].shape)
        if self.augment:
            video, boxes, masks = self._augment(video, boxes, masks, int(index if augment_key is None else augment_key))
        if not known:
            masks = torch.full_like(masks, -1.0)  # no ground truth: left out of the localization loss
        source = video.shape[-1]
        if source != self.image_size:
            video = F.interpolate(video, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False)
            masks = F.interpolate(masks[:, None], size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)[:, 0]
            boxes = boxes * (self.image_size / source)
        extra = {"index": torch.tensor(int(index))} if self.with_index else {}
        return {
            **extra,
            "pixel_values": (video - self.mean) / self.std,
            "roi_boxes": boxes,
            "mask_labels": masks,
            "labels": torch.tensor(int(label)),
            "domain": torch.tensor(self.domains.index(manipulation) if manipulation in self.domains else -1),
        }

    def __getitem__(self, index: int) -> dict:
        clip = self.read_clip(int(index))
        masks = clip["masks"] if self.has_mask[int(index)] else None
        return self.to_model_inputs(clip["faces"], clip["roi_boxes"], masks, int(self.labels[int(index)]),
                                    self.manipulations[int(index)], int(index))


class BalancedBatchSampler(Sampler[list[int]]):
    """Batches with equal numbers of real and fake clips (paper §3.2), reshuffled per epoch from `(seed, epoch)`.

    An epoch has `len(larger class) // (batch_size // 2)` batches; the smaller class is resampled as needed, so
    resuming at `(epoch, batch)` reproduces the same order (call `set_epoch`).
    """

    def __init__(self, labels: Sequence[int], batch_size: int, seed: int = 0):
        if batch_size < 2 or batch_size % 2:
            raise ValueError(f"balanced batches need an even batch_size >= 2, got {batch_size}")
        labels = np.asarray(labels)
        self.real = np.flatnonzero(labels == 0)
        self.fake = np.flatnonzero(labels == 1)
        if len(self.real) == 0 or len(self.fake) == 0:
            raise ValueError(f"balanced batches need real and fake clips, got {len(self.real)} real and {len(self.fake)} fake")
        self.half = batch_size // 2
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, max(len(self.real), len(self.fake)) // self.half)

    def _stream(self, indices: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        repeats = -(-count // len(indices))
        return np.concatenate([rng.permutation(indices) for _ in range(repeats)])[:count]

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        count = len(self) * self.half
        real, fake = self._stream(self.real, count, rng), self._stream(self.fake, count, rng)
        for batch in range(len(self)):
            part = slice(batch * self.half, (batch + 1) * self.half)
            yield [int(i) for i in rng.permutation(np.concatenate([real[part], fake[part]]))]


class PairedBatchSampler(BalancedBatchSampler):
    """Balanced batches in which each real clip comes with its *own* fresh pseudo-fake (SBI's batches).

    For a :class:`~delocate_hf.training.pseudo_fake_dataset.PseudoFakeClipDataset` built with `pairs=True` (the fake
    then carries its real clip's degradations and augmentation): half of a batch are real cache rows, the other half
    their pseudo-fake slots (`dataset.pair_of`), so the only difference the model can learn from within a pair is the
    blend. A real row without a slot (a cache with fakes of its own, fewer slots than real rows) is paired with a
    fake of the cache instead. Resumable like :class:`BalancedBatchSampler` (`set_epoch`).
    """

    def __init__(self, dataset, batch_size: int, seed: int = 0):
        super().__init__(dataset.labels, batch_size, seed=seed)
        self.real = np.asarray(dataset.real_rows)
        slots = np.arange(dataset.num_rows, dataset.num_rows + dataset.pseudo_count)
        first = {}
        for slot in slots:
            first.setdefault(int(dataset.source_row[slot]), int(slot))
        self.pair = first  # real row -> its first pseudo-fake slot
        labels = np.asarray(dataset.labels)
        self.cache_fakes = np.flatnonzero(labels[: dataset.num_rows] == 1)
        if len(self.cache_fakes) == 0 and any(int(r) not in first for r in self.real):
            raise ValueError("paired batches need a pseudo-fake slot for every real clip of a cache without fakes")

    def __len__(self) -> int:
        return max(1, len(self.real) // self.half)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        count = len(self) * self.half
        real = self._stream(self.real, count, rng)
        others = self._stream(self.cache_fakes, count, rng) if len(self.cache_fakes) else None
        for batch in range(len(self)):
            chosen = real[batch * self.half:(batch + 1) * self.half]
            fakes = [self.pair.get(int(r), int(others[batch * self.half + k]) if others is not None else -1)
                     for k, r in enumerate(chosen)]
            yield [int(i) for i in chosen] + [int(i) for i in fakes]


class EpochSampler(Sampler[int]):
    """Random permutation per epoch from `(seed, epoch)`: resumable at any position."""

    def __init__(self, size: int, seed: int = 0):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.size).tolist())


def collate(features: list[dict]) -> dict:
    return {key: torch.stack([f[key] for f in features]) for key in features[0]}


def batch_token_masks(roi_boxes: torch.Tensor, strategy: str, ratio: float | None, image_size: int, patch_size: int,
                      tubelet_size: int, seed: int, step: int) -> torch.Tensor:
    """`bool_masked_pos (B, N)` for `roi_boxes (B, T, 3, 4)`, drawn from `(seed, step)` so a resumed run gets the same
    masks: the processor's token masker (`processing.roi_masking.batch_token_masks`, counts equalised across the
    batch) with the generator `numpy.random.default_rng([seed, step])`, on the boxes' device."""
    masks, _ = token_masks(roi_boxes, strategy, ratio, image_size, patch_size, tubelet_size,
                           rng=np.random.default_rng([seed, step]))
    return torch.from_numpy(masks).to(roi_boxes.device)
