"""Pseudo-fakes drawn on the fly (SBI-style): a training set for data sets with real videos only.

Self-Blended Images (Shiohara & Yamasaki, CVPR 2022) train a detector on real faces only: every sample is a *fresh*
blend of a face with a transformed copy of itself, so the model cannot memorise fakes and wins only by finding
blending traces. `PseudoFakeClipDataset` does this with the pseudo-fake families of
:mod:`delocate_hf.data.pseudo_fakes` on a face-clip cache (`preprocess_dataset`):

- indices `[0, len(cache))` are the cache's own clips (its real clips, and its real fakes if it has any);
- indices `[len(cache), len(cache) + pseudo_count)` are pseudo-fake *slots*: slot `j` blends real clip
  `j % num_real` with a family and parameters drawn from `(seed, epoch, index)`, so each epoch sees a new fake of
  each clip, and a resumed run (`--resume_from_checkpoint`) sees exactly the fakes it would have seen. The mask is
  the fake's exact changed-pixel mask, in crop coordinates;
- the landmarks come from the cache (crop pixels, written by the processor): no landmark detector runs here;
- every clip, real or fake, then gets the same random global degradations
  (:mod:`delocate_hf.data.degradations`: blur, rescaling, noise, JPEG) and the same flip / colour jitter, so no
  global property tells fakes from reals;
- with `transformed_reals=q`, a real cache clip is shown, with probability `q`, put whole through a fresh draw of
  the self-blend source transform (`source_transformed_clip`: colour, blur / sharpen, down-scaling), before the
  degradations. A self-blend's inner face is such a transformed copy, on average blurrier than an untouched face;
  without this, "a softer face" alone tells fakes from reals in training, and a globally blurred real clip scores
  as fake. With it, only the inconsistency of the blended region with its surroundings does;
- with `pairs=True` (SBI's batches: each real face beside its own self-blend) a pseudo-fake slot draws its
  degradations and augmentation from its *source row* instead of its own index, so the fake and its real clip
  differ only by the blend (with `transformed_reals`, the fake is blended into its real clip as that clip is shown,
  transformed or not); :class:`delocate_hf.training.data.PairedBatchSampler` puts both in the same batch. A
  detector that follows the scene (person, lighting, sharpness) then scores the two alike and gains nothing.

With `family_order="cycle"` (evaluation) slot `j` uses `families[j // num_real]`: one fake of every family per real
clip, the same at every read when `epoch` is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import numpy as np

from delocate_hf.data.degradations import DEGRADATIONS, DegradationSettings, apply_degradation, random_degradations
from delocate_hf.data.pseudo_fakes import FAMILIES, KNOWN_FAMILIES, make_pseudo_fake, source_transformed_clip

from .data import FaceClipDataset

__all__ = ["PseudoFakeClipDataset", "parse_families", "EVAL_DEGRADATION_STRENGTHS"]

# One mid-range strength per degradation for the "degraded real clips" check of the evaluation.
EVAL_DEGRADATION_STRENGTHS = {"blur": 1.2, "resize": 0.5, "noise": 4.0, "jpeg": 50}


def parse_families(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """'self_blend,part_eyes' | a sequence | 'all' | None / 'none' -> a tuple of known family names.

    "all" is :data:`FAMILIES` (the six evaluation families); the training family "local_blend" is named explicitly."""
    if spec is None:
        return ()
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s and s.strip()]
    if names in (["none"], []):
        return ()
    if names == ["all"]:
        return FAMILIES
    unknown = [n for n in names if n not in KNOWN_FAMILIES]
    if unknown:
        raise ValueError(f"unknown pseudo-fake famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                         f"choose from {', '.join(KNOWN_FAMILIES)}")
    return tuple(dict.fromkeys(names))


def _strength_range(spec: float | Sequence[float], what: str) -> tuple[float, float]:
    """A strength value or `(low, high)` range -> `(low, high)` within (0, 10]; else a ValueError naming `what`."""
    low, high = (float(spec), float(spec)) if np.isscalar(spec) else map(float, spec)
    if not 0.0 < low <= high <= 10.0:
        raise ValueError(f"{what} must be a value or range within (0, 10], got {spec}")
    return low, high


class PseudoFakeClipDataset(FaceClipDataset):
    """A face-clip cache plus pseudo-fakes drawn on the fly from its real clips (see the module docstring).

    Args:
        clips: a face-clip cache (`load_face_clips`); needs a `landmarks` column `(T, K, 2)` in crop pixels.
        families: pseudo-fake families (:data:`delocate_hf.data.pseudo_fakes.FAMILIES`); "part_swap" takes its
            donor from a real clip of another identity (`identity` column if the cache has one, else `video_id`).
        pseudo_count: number of pseudo-fake slots; default: one per real clip when the cache has no fakes, else
            enough that `ratio` of the fakes are pseudo-fakes.
        ratio: wanted fraction of pseudo-fakes among all fakes when the cache has its own fakes (0 < ratio <= 1).
        degradations: global degradations of every clip (`None`: none).
        family_order: "random" (training) or "cycle" (evaluation, see module docstring).
        strength: scale of the self-blend transforms (`make_pseudo_fake(strength=...)`), or a range `(low, high)`
            drawn per fake: 1 is SBI-like; larger values give more visible blends.
        degraded_reals: evaluation only: also add, for each real clip, a copy with each of these degradations at
            :data:`EVAL_DEGRADATION_STRENGTHS` (label 0, manipulation `real+<name>`).
        pairs: a pseudo-fake gets exactly the degradations, flip and colour jitter of its source real clip at the
            same epoch (the jitter's contrast then pivots on a fixed grey, so the pair is pixel-identical outside the
            mask) (see the module docstring; :meth:`pair_of` gives the slot of a real row).
        transformed_reals: probability that a real cache clip is shown whole through the self-blend source
            transform, at a strength drawn from `strength` (see the module docstring; 0: never).
        geometric_augment: probability of a random similarity warp per clip (:class:`FaceClipDataset`).
        family_strength: `{family: (low, high)}`, a strength range of its own for a family (e.g. the small regions
            of "local_blend" need a stronger mismatch to be learnt); the others draw from `strength`.
        Other arguments as :class:`FaceClipDataset`.

    `labels`, `manipulations` and `domains` cover the whole index space (domains: the cache's manipulations, then
    the pseudo-fake families). `source_row[i]` is the cache row a sample is made from (itself for cache rows).
    """

    def __init__(self, clips: datasets.Dataset, num_frames: int, image_size: int, image_mean, image_std,
                 families: Sequence[str], pseudo_count: int | None = None, ratio: float = 0.5,
                 degradations: DegradationSettings | None = DegradationSettings(), family_order: str = "random",
                 degraded_reals: Sequence[str] = (), augment: bool = True, seed: int = 0, with_index: bool = False,
                 domains: Sequence[str] | None = None, strength: float | tuple[float, float] = 1.0,
                 pairs: bool = False, transformed_reals: float = 0.0, geometric_augment: float = 0.0,
                 family_strength: dict[str, tuple[float, float]] | None = None):
        families = parse_families(families)
        if not 0.0 <= transformed_reals <= 1.0:
            raise ValueError(f"transformed_reals must be a probability in [0, 1], got {transformed_reals}")
        if not families:
            raise ValueError("PseudoFakeClipDataset needs at least one pseudo-fake family")
        if family_order not in ("random", "cycle"):
            raise ValueError(f"family_order must be 'random' or 'cycle', got {family_order!r}")
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"pseudo_fake_ratio must be in (0, 1], got {ratio}")
        if "landmarks" not in clips.column_names:
            raise ValueError("the face-clip cache has no 'landmarks' column: rebuild it with preprocess_dataset")
        self.strength = _strength_range(strength, "pseudo-fake strength")
        self.family_strength = {}
        for name, spec in (family_strength or {}).items():
            if name not in families:
                raise ValueError(f"family_strength names {name!r}, which is not among the families {families}")
            self.family_strength[name] = _strength_range(spec, f"strength of {name!r}")
        unknown = [d for d in degraded_reals if d not in DEGRADATIONS]
        if unknown:
            raise ValueError(f"unknown degradation(s) {unknown}; choose from {DEGRADATIONS}")
        base_manipulations = sorted(set(clips["manipulation"]))
        super().__init__(clips, num_frames, image_size, image_mean, image_std,
                         domains=domains if domains is not None else [*base_manipulations, *families],
                         with_index=with_index, augment=augment, seed=seed, geometric_augment=geometric_augment)
        self.families, self.family_order, self.degradation_settings = families, family_order, degradations
        if pairs:  # the colour jitter's contrast pivots on a fixed grey, so a pair differs by the blend alone
            self.contrast_pivot = 0.5
        self.num_rows = len(clips)
        cache_labels = self.labels
        self.real_rows = np.flatnonzero(cache_labels == 0)
        if len(self.real_rows) == 0:
            raise ValueError("pseudo-fakes are made from real clips, and the face-clip cache has none")
        num_fakes = int((cache_labels == 1).sum())
        if pseudo_count is None:
            if family_order == "cycle":
                pseudo_count = len(self.real_rows) * len(families)
            elif num_fakes == 0 or ratio >= 1.0:
                pseudo_count = len(self.real_rows)
            else:
                pseudo_count = max(1, round(num_fakes * ratio / (1.0 - ratio)))
        self.pseudo_count = int(pseudo_count)
        self.degraded_reals = tuple(degraded_reals)
        pseudo_rows = self.real_rows[np.arange(self.pseudo_count) % len(self.real_rows)]
        degraded_rows = np.tile(self.real_rows, len(self.degraded_reals))
        self.source_row = np.concatenate([np.arange(self.num_rows), pseudo_rows, degraded_rows]).astype(np.int64)
        self.labels = np.concatenate([cache_labels, np.ones(self.pseudo_count, np.int64),
                                      np.zeros(len(degraded_rows), np.int64)])
        pseudo_names = [self._slot_family(j) if family_order == "cycle" else "pseudo_fake" for j in range(self.pseudo_count)]
        self.manipulations = [*self.manipulations, *pseudo_names,
                              *[f"real+{d}" for d in self.degraded_reals for _ in self.real_rows]]
        self.has_mask = np.concatenate([self.has_mask, np.ones(self.pseudo_count + len(degraded_rows), bool)])
        identities = (clips["identity"] if "identity" in clips.column_names
                      else [identity_of(v) for v in clips["video_id"]])
        self.identities = np.asarray(identities, dtype=object)
        self.backend = "auto"  # from the number of landmarks (468 / 478: MediaPipe, 68: dlib)
        self.pairs = bool(pairs)
        self.transformed_reals = float(transformed_reals)

    def is_pseudo_fake(self, index: int) -> bool:
        return self.num_rows <= int(index) < self.num_rows + self.pseudo_count

    def pair_of(self, row: int) -> int:
        """The pseudo-fake slot made from real cache row `row` (the first one, if several slots share it)."""
        position = np.flatnonzero(self.real_rows == int(row))
        if not len(position):
            raise ValueError(f"row {row} is not a real clip of the cache")
        if int(position[0]) >= self.pseudo_count:
            raise ValueError(f"real row {row} has no pseudo-fake slot ({self.pseudo_count} slots)")
        return self.num_rows + int(position[0])

    def view_key(self, index: int) -> int:
        """The index that seeds the degradations and augmentation of sample `index`: its source row for a paired
        pseudo-fake (so it looks exactly like its real clip but for the blend), else `index` itself."""
        index = int(index)
        return int(self.source_row[index]) if self.pairs and self.is_pseudo_fake(index) else index

    def _slot_family(self, slot: int) -> str:
        return self.families[(slot // len(self.real_rows)) % len(self.families)]

    def __len__(self) -> int:
        return len(self.labels)

    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index), stream])

    def _donor(self, row_index: int, rng: np.random.Generator) -> dict | None:
        others = self.real_rows[self.identities[self.real_rows] != self.identities[row_index]]
        return self.read_clip(int(rng.choice(others))) if len(others) else None

    def make_fake(self, clip: dict, index: int) -> tuple[np.ndarray, np.ndarray, str, dict]:
        """The pseudo-fake of slot `index` from `clip` (a `read_clip` dict): `(faces, masks 0/255, family, params)`."""
        rng = self._rng(index, 1)
        slot = index - self.num_rows
        family = self._slot_family(slot) if self.family_order == "cycle" else str(rng.choice(self.families))
        landmarks = np.asarray(clip["row"]["landmarks"], dtype=np.float32)[clip["keep"]]
        donor_frames = donor_landmarks = None
        if family == "part_swap":
            donor = self._donor(int(self.source_row[index]), rng)
            if donor is None:  # a single identity: no donor, fall back to a self-blend of the same part
                family = "self_blend"
            else:
                donor_frames = donor["faces"]
                donor_landmarks = np.asarray(donor["row"]["landmarks"], dtype=np.float32)[donor["keep"]]
        low, high = self.family_strength.get(family, self.strength)
        strength = low if low == high else float(self._rng(index, 3).uniform(low, high))
        fake = make_pseudo_fake(clip["faces"], landmarks, self.backend, family, rng, donor_frames, donor_landmarks,
                                strength=strength)
        return fake.frames, fake.masks * np.uint8(255), family, fake.params

    def shown_real_faces(self, faces: np.ndarray, row: int) -> np.ndarray:
        """The faces `(T, H, W, 3)` uint8 of real cache row `row` as a real training sample shows them: put whole
        through the self-blend source transform with probability `transformed_reals` (a draw of `(seed, epoch,
        row)`), else unchanged. With `pairs`, a pseudo-fake of `row` is blended into these same faces."""
        if self.transformed_reals <= 0 or int(self.labels[row]) != 0:
            return faces
        rng = self._rng(row, 4)
        if rng.random() >= self.transformed_reals:
            return faces
        # strength drawn from [low, high] even when low == high (one draw either way keeps the stream as it was)
        return source_transformed_clip(faces, rng, float(rng.uniform(*self.strength)))[0]

    def sample(self, index: int) -> dict:
        """Pixels of sample `index` before tensor conversion: `faces`, `roi_boxes`, `masks` (uint8 0..255 or None),
        `label`, `manipulation`, `family`, `degradations` (what was applied)."""
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        row = int(self.source_row[index])
        clip = self.read_clip(row)
        faces, masks, family = clip["faces"], clip["masks"] if self.has_mask[row] else None, None
        label, manipulation = int(self.labels[index]), self.manipulations[index]
        if self.is_pseudo_fake(index):
            if self.pairs:  # blended into its real clip as that clip is shown: the pair differs only by the blend
                clip = {**clip, "faces": self.shown_real_faces(faces, row)}
            faces, masks, family, _ = self.make_fake(clip, index)
            manipulation = family
        elif index < self.num_rows:
            faces = self.shown_real_faces(faces, index)
        applied: dict = {}
        if index >= self.num_rows + self.pseudo_count:  # evaluation: a real clip with one fixed degradation
            name = manipulation.split("+", 1)[1]
            faces = apply_degradation(faces, name, EVAL_DEGRADATION_STRENGTHS[name], self._rng(index, 2))
            applied[name] = float(EVAL_DEGRADATION_STRENGTHS[name])
        elif self.degradation_settings is not None:
            faces, applied = random_degradations(faces, self._rng(self.view_key(index), 2), self.degradation_settings)
        return {"faces": faces, "roi_boxes": clip["roi_boxes"], "masks": masks, "label": label,
                "manipulation": manipulation, "family": family, "degradations": applied}

    def __getitem__(self, index: int) -> dict:
        s = self.sample(index)
        return self.to_model_inputs(s["faces"], s["roi_boxes"], s["masks"], s["label"], s["manipulation"], int(index),
                                    augment_key=self.view_key(index))


def identity_of(video_id: str) -> str:
    """The identity key of a clip id: `name_03` (window 3 of `name`, as `build_real_clip_folder` names them) ->
    `name`; other ids are their own identity."""
    stem, _, tail = str(video_id).rpartition("_")
    return stem if stem and tail.isdigit() else str(video_id)
