"""The demo's data set: real talking-head videos cut into short clips, each paired with a pseudo-fake of a chosen
family, written in the `load_video_folder` layout (`real/`, `fake/<family>/`, `masks/<family>/`) so training reads it
through the same loaders, cache and masks as a user's own data.
"""

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from processing import get_landmarker, track_faces

from .fixtures import read_clip, write_video
from .pseudo_fakes import make_pseudo_fake


def _windows(frames: np.ndarray, length: int, stride: int) -> list[np.ndarray]:
    starts = range(0, max(1, len(frames) - length + 1), stride)
    return [frames[s: s + length] for s in starts if len(frames[s: s + length]) == length]


def build_pseudo_fake_folder(
    root: str | Path,
    sources: Sequence[str | Path],
    families: Sequence[str],
    clip_frames: int = 16,
    stride: int = 8,
    max_width: int = 320,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Writes `root/real/<video>_<k>.mp4`, `root/fake/<family>/<video>_<k>.mp4` and the exact binary mask videos
    `root/masks/<family>/<video>_<k>.mp4` (white = tampered). Clip `k` of every source gets the family
    `families[k % len(families)]`. Returns counts per family."""
    root = Path(root)
    landmarker = get_landmarker("mediapipe")
    counts: dict[str, int] = {"real": 0}
    jobs = []
    for source in sources:
        frames = read_clip(source, max_width=max_width)
        for k, clip in enumerate(_windows(frames, clip_frames, stride)):
            jobs.append((Path(source).stem, k, clip))
    for stem, k, clip in tqdm(jobs, desc=f"pseudo-fakes -> {root.name}", disable=not progress):
        name = f"{stem}_{k:02d}"
        family = families[k % len(families)]
        write_video(root / "real" / f"{name}.mp4", clip)
        track = track_faces(clip, landmarker, source=name)
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(family.encode())])
        fake = make_pseudo_fake(clip, track.landmarks, track.backend, family, rng)
        write_video(root / "fake" / family / f"{name}.mp4", fake.frames)
        write_video(root / "masks" / family / f"{name}.mp4", fake.masks.astype(np.uint8) * 255, crf=0)
        counts["real"] += 1
        counts[family] = counts.get(family, 0) + 1
    landmarker.close()
    return counts
