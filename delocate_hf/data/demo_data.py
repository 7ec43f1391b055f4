"""The demo's data set: real talking-head videos cut into short clips (and real face photos turned into short clips
with a gentle random head motion), each paired with a pseudo-fake of a chosen family, written in the
`load_video_folder` layout (`real/`, `fake/<family>/`, `masks/<family>/`) so training reads it through the same
loaders, cache and masks as a user's own data.
"""

import zlib
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from processing import get_landmarker, track_faces

from .fixtures import read_clip, write_video
from .pseudo_fakes import make_pseudo_fake


def _windows(frames: np.ndarray, length: int, stride: int) -> list[np.ndarray]:
    starts = range(0, max(1, len(frames) - length + 1), stride)
    return [frames[s: s + length] for s in starts if len(frames[s: s + length]) == length]


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def photo_clip(path: str | Path, frames: int, seed: int) -> np.ndarray:
    """A still face photo as a `(frames, H, W, 3)` clip with a smooth random similarity motion (a few % of shift
    and scale, a few degrees of roll), so that it behaves like a short talking-head shot."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    image = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
    h, w = image.shape[:2]
    rng = np.random.default_rng([seed, zlib.crc32(Path(path).name.encode())])
    start, end = rng.uniform(-1, 1, size=(2, 4)) * np.array([0.03 * w, 0.03 * h, 0.03, 3.0])
    out = []
    for t in np.linspace(0, 1, frames):
        dx, dy, ds, angle = start + (end - start) * (3 * t**2 - 2 * t**3)  # ease in/out
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1 + ds)
        matrix[:, 2] += (dx, dy)
        out.append(cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def real_clips(sources: Sequence[str | Path], clip_frames: int = 16, stride: int = 8, max_width: int = 320,
               seed: int = 0, clips_per_photo: int = 1, max_clips_per_video: int | None = None):
    """Yields `(name, clip)`: `clip_frames`-frame windows every `stride` frames of each video (at most
    `max_clips_per_video`, spread over the video), and `clips_per_photo` moving clips (different motions) of each face
    photo. Names are `<stem>_<k>`, so :func:`delocate_hf.training.pseudo_fake_dataset.identity_of` recovers `<stem>`."""
    for source in sources:
        if Path(source).suffix.lower() in IMAGE_SUFFIXES:
            for k in range(clips_per_photo):
                yield f"{Path(source).stem}_{k:02d}", photo_clip(source, clip_frames, seed + k)
            continue
        windows = _windows(read_clip(source, max_width=max_width), clip_frames, stride)
        if max_clips_per_video is not None and len(windows) > max_clips_per_video:
            windows = [windows[i] for i in np.linspace(0, len(windows) - 1, max_clips_per_video).round().astype(int)]
        for k, clip in enumerate(windows):
            yield f"{Path(source).stem}_{k:02d}", clip


def build_real_clip_folder(root: str | Path, sources: Sequence[str | Path], progress: bool = True, **kwargs) -> int:
    """Writes the real clips of :func:`real_clips` as `root/real/<name>.mp4` (the `load_video_folder` layout, no
    fakes: pseudo-fakes are drawn on the fly in training). Returns the number of clips."""
    count = 0
    for name, clip in tqdm(real_clips(sources, **kwargs), desc=f"real clips -> {Path(root).name}", disable=not progress):
        write_video(Path(root) / "real" / f"{name}.mp4", clip)
        count += 1
    return count


def build_pseudo_fake_folder(
    root: str | Path,
    sources: Sequence[str | Path],
    families: Sequence[str],
    clip_frames: int = 16,
    stride: int = 8,
    max_width: int = 320,
    seed: int = 0,
    progress: bool = True,
    fakes_per_clip: int = 1,
) -> dict:
    """Writes `root/real/<video>_<k>.mp4`, `root/fake/<family>/<video>_<k>.mp4` and the exact binary mask videos
    `root/masks/<family>/<video>_<k>.mp4` (white = tampered). `sources` are videos (cut into `clip_frames`-frame
    windows every `stride` frames) or face photos (one moving clip each). The n-th clip gets `fakes_per_clip` fakes,
    of the families `families[(n + j) % len(families)]`: with `fakes_per_clip == len(families)` every real clip has
    a fake of every family, so identity is no shortcut for telling real from fake. Returns counts per family."""
    root = Path(root)
    landmarker = get_landmarker("mediapipe")
    counts: dict[str, int] = {"real": 0}
    jobs = []
    for source in sources:
        if Path(source).suffix.lower() in IMAGE_SUFFIXES:
            jobs.append((Path(source).stem, 0, photo_clip(source, clip_frames, seed)))
            continue
        frames = read_clip(source, max_width=max_width)
        for k, clip in enumerate(_windows(frames, clip_frames, stride)):
            jobs.append((Path(source).stem, k, clip))
    for number, (stem, k, clip) in enumerate(tqdm(jobs, desc=f"pseudo-fakes -> {root.name}", disable=not progress)):
        name = f"{stem}_{k:02d}"
        write_video(root / "real" / f"{name}.mp4", clip)
        counts["real"] += 1
        track = track_faces(clip, landmarker, source=name)
        for j in range(fakes_per_clip):
            family = families[(number + j) % len(families)]
            rng = np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(family.encode())])
            fake = make_pseudo_fake(clip, track.landmarks, track.backend, family, rng)
            write_video(root / "fake" / family / f"{name}.mp4", fake.frames)
            write_video(root / "masks" / family / f"{name}.mp4", fake.masks.astype(np.uint8) * 255, crf=0)
            counts[family] = counts.get(family, 0) + 1
    landmarker.close()
    return counts
