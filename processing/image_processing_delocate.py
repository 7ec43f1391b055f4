"""Image processor for Delocate: video in, aligned face clip + facial-part ROI boxes (+ ROI token mask) out.

Pipeline per video: decode and sample `num_frames` frames (PyAV) -> track one face (MediaPipe FaceMesh or dlib 68;
`preprocess_tracks`: every face, each as its own track)
-> square crop `crop_scale x` the landmark box, resized to `size` -> ROI boxes of eyes / cheek_nose / lips in crop
pixels -> ImageNet-normalised `pixel_values`. Optionally a facial-part token mask for VideoMAE pre-training
(`processing.roi_masking`).

Never imports torchvision; numpy/OpenCV only.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers.image_processing_base import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.processing_utils import ImagesKwargs

from .alignment import align_faces
from .alignment import paste_back as _paste_back
from .errors import DelocateInputError
from .face_parts import PARTS, part_boxes
from .face_tracks import track_all_faces
from .landmarks import DEFAULT_MAX_GAP, LandmarkBackend, get_landmarker, track_faces
from .video_io import read_video, sample_indices


class DelocateImageProcessorKwargs(ImagesKwargs, total=False):
    """Settings of `DelocateFaceProcessor` that may be overridden per call or in `from_pretrained`."""

    num_frames: int
    sampling: str
    stride: int | None
    crop_scale: float
    landmark_backend: str
    max_gap: int | None
    max_num_faces: int
    smooth_window: int
    allow_single_frame: bool
    mask_strategy: str
    mask_ratio: float
    patch_size: int
    tubelet_size: int


@dataclass
class TrackFeatures:
    """`DelocateFaceProcessor.preprocess_tracks` of one video: `features` (one `BatchFeature` per face track,
    largest first) and `short_tracks` (`(found, frames)` of the faces found in too few frames to analyse)."""

    features: list
    short_tracks: list = field(default_factory=list)


def _take(frames: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """`frames[indices]`, without the copy when `indices` takes every frame in order (a read-only view then): a clip
    of 8 4K frames is 200 MB."""
    if len(indices) == len(frames) and np.array_equal(indices, np.arange(len(frames))):
        view = frames.view()
        view.flags.writeable = False
        return view
    return frames[indices]


class DelocateFaceProcessor(BaseImageProcessor):
    r"""Turns videos (paths or decoded frames) into aligned face clips for the Delocate models.

    Args:
        size (`int`, defaults to 224): side of the square face crop.
        num_frames (`int`, defaults to 16): frames sampled per video.
        sampling (`str`, defaults to `"uniform"`): `"uniform"` (segment centres), `"stride"` or `"all"`.
        stride (`int`, *optional*): step of `"stride"` sampling (default 2).
        crop_scale (`float`, defaults to 1.3): crop side = `crop_scale * max(w, h)` of the landmark box.
        landmark_backend (`str`, defaults to `"mediapipe"`): `"mediapipe"` (468 points) or `"dlib68"` (68 points).
        max_gap (`int`, defaults to 4): longest run of sampled frames without the face that is interpolated.
        max_num_faces (`int`, defaults to 5): faces the landmarker looks for (the largest is followed).
        smooth_window (`int`, defaults to 1): moving-average window over crop boxes (1 = no smoothing).
        allow_single_frame (`bool`, defaults to `False`): accept still images / 1-frame videos (frame repeated).
        image_mean, image_std: normalisation (ImageNet defaults, the recovery model un-normalises with them).
        mask_strategy (`str`, defaults to `"roi"`), mask_ratio (`float`, defaults to 0.75), patch_size (`int`,
            defaults to 16), tubelet_size (`int`, defaults to 2): token masking, see `processing.roi_masking`.
    """

    model_input_names = ["pixel_values"]
    valid_kwargs = DelocateImageProcessorKwargs
    parts = PARTS

    def __init__(
        self,
        size: int | dict = 224,
        num_frames: int = 16,
        sampling: str = "uniform",
        stride: int | None = None,
        crop_scale: float = 1.3,
        landmark_backend: str = "mediapipe",
        max_gap: int | None = DEFAULT_MAX_GAP,
        max_num_faces: int = 5,
        smooth_window: int = 1,
        allow_single_frame: bool = False,
        image_mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        image_std: Sequence[float] = IMAGENET_DEFAULT_STD,
        do_rescale: bool = True,
        rescale_factor: float = 1 / 255,
        do_normalize: bool = True,
        mask_strategy: str = "roi",
        mask_ratio: float = 0.75,
        patch_size: int = 16,
        tubelet_size: int = 2,
        **kwargs,
    ):
        for key in ("image_processor_type", "processor_class"):
            kwargs.pop(key, None)
        super().__init__(**kwargs)
        if isinstance(size, dict):
            size = size.get("height") or size.get("shortest_edge") or size.get("width")
        self.size = int(size)
        self.num_frames = int(num_frames)
        self.sampling = str(sampling)
        self.stride = None if stride is None else int(stride)
        self.crop_scale = float(crop_scale)
        self.landmark_backend = str(landmark_backend)
        self.max_gap = None if max_gap is None else int(max_gap)
        self.max_num_faces = int(max_num_faces)
        self.smooth_window = int(smooth_window)
        self.allow_single_frame = bool(allow_single_frame)
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]
        self.do_rescale = bool(do_rescale)
        self.rescale_factor = float(rescale_factor)
        self.do_normalize = bool(do_normalize)
        self.mask_strategy = str(mask_strategy)
        self.mask_ratio = float(mask_ratio)
        self.patch_size = int(patch_size)
        self.tubelet_size = int(tubelet_size)
        self._backends: dict[tuple, LandmarkBackend] = {}
        self._validate()

    def _validate(self) -> None:
        if self.size % self.patch_size:
            raise ValueError(f"size ({self.size}) must be a multiple of patch_size ({self.patch_size})")
        if self.sampling not in ("uniform", "all", "stride"):
            raise ValueError(f"sampling must be 'uniform', 'all' or 'stride', got {self.sampling!r}")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """All public settings (None values kept, cached landmark backends left out) + `image_processor_type`."""
        output = copy.deepcopy({k: v for k, v in self.__dict__.items() if not k.startswith("_")})
        output["image_processor_type"] = type(self).__name__
        return output

    def __getstate__(self):  # picklable for DataLoader workers / datasets.map: landmark backends are rebuilt lazily
        state = self.__dict__.copy()
        state["_backends"] = {}
        return state

    def __deepcopy__(self, memo):
        clone = type(self).from_dict(self.to_dict())
        memo[id(self)] = clone
        return clone

    # ------------------------------------------------------------------ helpers
    def get_landmarker(self, name: str | None = None) -> LandmarkBackend:
        """The (cached) landmark backend of this processor."""
        name = name or self.landmark_backend
        key = (name, self.max_num_faces)
        if key not in self._backends:
            kwargs = {"max_num_faces": self.max_num_faces} if name in ("mediapipe", "mp", "facemesh") else {}
            self._backends[key] = get_landmarker(name, **kwargs)
        return self._backends[key]

    def _load_frames(self, video, settings: dict) -> tuple[np.ndarray, np.ndarray, str]:
        """One video -> frames `(T, H, W, 3)` uint8, frame indices `(T,)`, a name for messages."""
        if isinstance(video, (str, os.PathLike)):
            clip = read_video(
                video,
                num_frames=settings["num_frames"],
                sampling=settings["sampling"],
                stride=settings["stride"],
                allow_single_frame=settings["allow_single_frame"],
            )
            return clip.frames, clip.frame_indices, str(video)
        if hasattr(video, "detach") and hasattr(video, "cpu"):  # torch tensor
            video = video.detach().cpu().numpy()
        if isinstance(video, (list, tuple)):
            video = np.stack([np.asarray(f) for f in video])
        arr = np.asarray(video)
        name = f"array of shape {tuple(arr.shape)}"
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4:
            raise DelocateInputError(f"cannot use {name}: expected frames (T, H, W, 3)")
        if arr.shape[-1] != 3 and arr.shape[1] == 3:
            arr = arr.transpose(0, 2, 3, 1)
        if arr.shape[-1] != 3:
            raise DelocateInputError(f"cannot use {name}: expected RGB frames (T, H, W, 3)")
        if arr.dtype != np.uint8:
            scale = 255.0 if arr.dtype.kind == "f" and arr.max() <= 1.0 else 1.0
            arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
        total = arr.shape[0]
        if total == 1 and settings["sampling"] != "all":
            if not settings["allow_single_frame"]:
                from .errors import VideoTooShortError

                raise VideoTooShortError(
                    f"video {name} has 1 frame, {settings['num_frames']} needed; pass allow_single_frame=True"
                )
            idx = np.zeros(settings["num_frames"], dtype=np.int64)
        else:
            try:
                idx = sample_indices(total, settings["num_frames"], settings["sampling"], settings["stride"])
            except ValueError as exc:
                from .errors import VideoTooShortError

                raise VideoTooShortError(f"video {name} {exc}") from None
        return _take(arr, idx), idx, name

    def _settings(self, kwargs: dict) -> dict:
        return {k: kwargs.get(k, getattr(self, k)) for k in self.valid_kwargs.__annotations__ if hasattr(self, k)}

    def process_video(self, video, **kwargs) -> dict[str, np.ndarray]:
        """Run the pipeline on one video, following its largest face; numpy outputs without the batch axis (see
        `preprocess`)."""
        settings = self._settings(kwargs)
        frames, indices, name = self._load_frames(video, settings)
        backend = self.get_landmarker(settings["landmark_backend"])
        track = track_faces(frames, backend, max_gap=settings["max_gap"], source=name)
        return self._track_features(frames, indices, track, backend, settings)

    def _track_features(self, frames, indices, track, backend, settings) -> dict[str, np.ndarray]:
        """The outputs of one followed face (see `preprocess`); padded frames of a track use their `frame_source`."""
        size = int(settings["size"])
        source = track.frame_source
        shown = frames if source is None else _take(frames, np.asarray(source))
        aligned = align_faces(
            shown,
            track.landmarks,
            size=size,
            scale=settings["crop_scale"],
            backend_name=backend.name,
            smooth_window=settings["smooth_window"],
        )
        boxes = part_boxes(aligned.landmarks, backend.name, size)
        pixels = aligned.crops.astype(np.float32)
        if settings["do_rescale"]:
            pixels *= settings["rescale_factor"]
        if settings["do_normalize"]:
            pixels = (pixels - np.asarray(settings["image_mean"], np.float32)) / np.asarray(
                settings["image_std"], np.float32
            )
        return {
            "pixel_values": pixels.transpose(0, 3, 1, 2),  # (frames, 3, S, S)
            "roi_boxes": boxes,  # (frames, 3, 4)
            "face_affines": aligned.face_affines,  # (frames, 2, 3)
            "frame_indices": indices.astype(np.int64),  # (frames,)
            "landmarks": aligned.landmarks,  # (frames, K, 2)
            "frame_sizes": np.asarray(frames.shape[1:3], dtype=np.int64),  # (2,)
            "faces": aligned.crops,  # (frames, S, S, 3)
            "face_detected": track.detected,  # (frames,)
            "num_faces": track.num_faces,  # (frames,)
            "padded": track.padded,  # (frames,)
        }

    def preprocess_tracks(self, video, return_tensors: str | None = "pt", return_faces: bool = False,
                          **kwargs) -> TrackFeatures:
        """Every face of one video (a path or frames `(T, H, W, 3)` uint8 RGB), each followed as its own track
        (`processing.face_tracks.track_all_faces`: identities across frames; a face found in at least half of the
        frames is kept, and the frames of a long run without it repeat its nearest frame with the face).

        Returns `TrackFeatures`: `features`, one `BatchFeature` per track (largest face first), each holding what
        `preprocess(..., return_num_faces=True)` holds for a batch of one plus `padded` `(1, frames)` bool (True:
        the frame repeats its nearest frame with this face) and `face_boxes` `(1, frames, 4)` float32 landmark
        boxes in frame pixels; and `short_tracks`, `(found, frames)` of each face found too rarely to analyse.
        Raises `NoFaceDetectedError` when no face is found in at least half of the frames."""
        unknown = set(kwargs) - set(self.valid_kwargs.__annotations__)
        if unknown:
            raise TypeError(f"unexpected arguments for {type(self).__name__}: {sorted(unknown)}")
        settings = self._settings(kwargs)
        frames, indices, name = self._load_frames(video, settings)
        backend = self.get_landmarker(settings["landmark_backend"])
        found = track_all_faces(frames, backend, max_gap=settings["max_gap"], source=name)
        keys = ["pixel_values", "roi_boxes", "face_affines", "frame_indices", "landmarks", "frame_sizes",
                "num_faces", "face_detected", "padded"] + (["faces"] if return_faces else [])
        features = []
        for track in found.tracks:
            sample = self._track_features(frames, indices, track, backend, settings)
            data = {k: sample[k][None] for k in keys}
            data["face_boxes"] = track.boxes[None]
            features.append(BatchFeature(data=data, tensor_type=return_tensors))
        return TrackFeatures(features=features, short_tracks=list(found.short))

    # ------------------------------------------------------------------ main entry
    def __call__(self, videos, **kwargs) -> BatchFeature:
        return self.preprocess(videos, **kwargs)

    def preprocess(
        self,
        videos,
        return_tensors: str | None = "pt",
        return_bool_masked_pos: bool = False,
        return_faces: bool = False,
        return_num_faces: bool = False,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        **kwargs,
    ) -> BatchFeature:
        """Preprocess one video or a batch.

        Args:
            videos: a path, a decoded clip `(T, H, W, 3)` uint8 RGB (or a list of `(H, W, 3)` frames), or a list of
                those.
            return_tensors: "pt", "np" or None.
            return_bool_masked_pos: add a facial-part token mask (`mask_strategy`, `mask_ratio`); all samples of
                the batch get the same number of masked tokens.
            return_faces: add the uint8 face crops.
            return_num_faces: add `num_faces`, the number of faces the landmarker found in each frame (the largest
                one is followed), and `face_detected`, whether the followed face was found in the frame (False: its
                position was interpolated from the neighbouring frames).
            seed / rng: randomness of the token mask.
            kwargs: per-call overrides of the settings (e.g. `num_frames=8`, `landmark_backend="dlib68"`).

        Returns:
            `BatchFeature` with
            - `pixel_values` `(batch, frames, 3, size, size)` float32, ImageNet-normalised,
            - `roi_boxes` `(batch, frames, 3, 4)` float32 x0, y0, x1, y1 crop pixels, parts `eyes, cheek_nose, lips`,
            - `face_affines` `(batch, frames, 2, 3)` float32, original frame coords -> crop coords,
            - `frame_indices` `(batch, frames)` int64, `landmarks` `(batch, frames, K, 2)` float32 crop pixels,
            - `frame_sizes` `(batch, 2)` int64 (H, W) of the original frames,
            - `faces` `(batch, frames, size, size, 3)` uint8 when `return_faces`,
            - `num_faces` `(batch, frames)` int64 and `face_detected` `(batch, frames)` bool when `return_num_faces`,
            - `bool_masked_pos` `(batch, num_tokens)` bool and `masked_part` `(batch,)` int64 (index into `parts`)
              when `return_bool_masked_pos`.
        """
        unknown = set(kwargs) - set(self.valid_kwargs.__annotations__)
        if unknown:
            raise TypeError(f"unexpected arguments for {type(self).__name__}: {sorted(unknown)}")
        batch = self._as_batch(videos)
        samples = [self.process_video(v, **kwargs) for v in batch]
        lengths = {s["pixel_values"].shape[0] for s in samples}
        if len(lengths) > 1:
            raise DelocateInputError(
                f"videos of one batch must give the same number of frames, got {sorted(lengths)}; "
                "use sampling='uniform' or 'stride' with num_frames"
            )
        keys = ["pixel_values", "roi_boxes", "face_affines", "frame_indices", "landmarks", "frame_sizes"]
        if return_faces:
            keys.append("faces")
        if return_num_faces:
            keys += ["num_faces", "face_detected"]
        data = {k: np.stack([s[k] for s in samples]) for k in keys}
        if return_bool_masked_pos:
            data["bool_masked_pos"], data["masked_part"] = self.generate_mask(
                data["roi_boxes"], seed=seed, rng=rng, return_parts=True, **kwargs
            )
        return BatchFeature(data=data, tensor_type=return_tensors)

    @staticmethod
    def _as_batch(videos) -> list:
        if isinstance(videos, (str, os.PathLike)):
            return [videos]
        if hasattr(videos, "detach") and hasattr(videos, "cpu"):
            videos = videos.detach().cpu().numpy()
        if isinstance(videos, np.ndarray):
            return list(videos) if videos.ndim == 5 else [videos]
        if isinstance(videos, (list, tuple)):
            if not videos:
                raise DelocateInputError("cannot process an empty list of videos")
            first = videos[0]
            if hasattr(first, "detach") and hasattr(first, "cpu"):
                first = first.detach().cpu().numpy()
            if isinstance(first, np.ndarray) and first.ndim == 3:  # a list of frames = one video
                return [videos]
            return list(videos)
        raise DelocateInputError(f"cannot process input of type {type(videos).__name__}: expected paths or frames")

    def generate_mask(
        self,
        roi_boxes,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        return_parts: bool = False,
        **kwargs,
    ):
        """Token masks `(batch, num_tokens)` bool for ROI boxes `(batch, frames, 3, 4)`, every sample with the same
        number of masked tokens, from the one token masker `roi_masking.batch_token_masks` (training masks with it
        too). With `return_parts`, also the masked part index per sample `(batch,)` int64 (index into `parts`, -1
        for strategies without a part)."""
        from .roi_masking import batch_token_masks

        masks, parts = batch_token_masks(
            roi_boxes,
            strategy=kwargs.get("mask_strategy", self.mask_strategy),
            ratio=kwargs.get("mask_ratio", self.mask_ratio),
            image_size=int(kwargs.get("size", self.size)),
            patch_size=int(kwargs.get("patch_size", self.patch_size)),
            tubelet_size=int(kwargs.get("tubelet_size", self.tubelet_size)),
            rng=rng if rng is not None else np.random.default_rng(seed),
        )
        return (masks, parts) if return_parts else masks

    def paste_back(self, masks, face_affines, frame_size) -> np.ndarray:
        """Warp crop-space maps `(..., S, S)` back to frame space `(..., H, W)` float32 (zeros outside the crop).

        `face_affines` `(..., 2, 3)` as returned in the batch (frame coords -> crop coords); `frame_size` (H, W).
        """
        to_np = lambda x: x.detach().cpu().float().numpy() if hasattr(x, "detach") else np.asarray(x)  # noqa: E731
        masks, affines = to_np(masks).astype(np.float32), to_np(face_affines)
        frame_size = tuple(int(v) for v in np.asarray(to_np(frame_size)).reshape(-1)[:2])
        lead = masks.shape[:-2]
        flat = _paste_back(masks.reshape(-1, *masks.shape[-2:]), affines.reshape(-1, 2, 3), frame_size)
        return flat.reshape(*lead, *frame_size)


DelocateFaceProcessor.register_for_auto_class("AutoImageProcessor")

__all__ = ["DelocateFaceProcessor", "DelocateImageProcessorKwargs", "TrackFeatures"]
