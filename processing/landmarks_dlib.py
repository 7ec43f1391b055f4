"""The dlib landmark backend, `Dlib68Landmarker` ("dlib68": HOG frontal face detector + the 68-point shape
predictor, the paper's setup; part of `processing.landmarks`, which re-exports the public names; import them from
there). Each face gives `points` `(68, 2)` float32 pixel (x, y) in iBUG order. Needs `pip install delocate-hf[dlib]`;
`find_dlib_predictor` locates `shape_predictor_68_face_landmarks.dat` (argument, `$DELOCATE_DLIB_PREDICTOR`, or the
`face_recognition_models` package).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np

from .landmarks_base import FaceLandmarks, LandmarkBackend, _check_frame

__all__ = ["DLIB_INSTALL_HINT", "Dlib68Landmarker", "find_dlib_predictor"]

DLIB_INSTALL_HINT = "pip install delocate-hf[dlib]"


def find_dlib_predictor(predictor_path: str | os.PathLike | None = None) -> Path:
    """Path of `shape_predictor_68_face_landmarks.dat`: argument, `$DELOCATE_DLIB_PREDICTOR`, or the
    `face_recognition_models` package (located without importing it)."""
    candidates = []
    if predictor_path is not None:
        candidates.append(("predictor_path argument", Path(predictor_path)))
    env = os.environ.get("DELOCATE_DLIB_PREDICTOR")
    if env:
        candidates.append(("$DELOCATE_DLIB_PREDICTOR", Path(env)))
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        pkg = Path(list(spec.submodule_search_locations)[0])
        candidates.append(("face_recognition_models", pkg / "models" / "shape_predictor_68_face_landmarks.dat"))
    for source, path in candidates:
        if path.is_file():
            return path
        if source != "face_recognition_models":
            raise FileNotFoundError(f"dlib 68-point predictor from {source} not found: '{path}'")
    raise ImportError(
        "dlib 68-point shape predictor not found (set DELOCATE_DLIB_PREDICTOR or "
        f"{DLIB_INSTALL_HINT}, which installs face_recognition_models)"
    )


@functools.lru_cache(maxsize=2)
def _load_dlib_models(predictor_path: str):
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path)


class Dlib68Landmarker(LandmarkBackend):
    """dlib HOG frontal face detector + 68-point shape predictor.

    `upsample`: detector upsampling (finds smaller faces, ~4x slower per step); "auto" = 1 when the short side of
    the frame is below `auto_upsample_below` pixels, else 0.
    """

    name = "dlib68"
    num_points = 68

    def __init__(
        self,
        predictor_path: str | os.PathLike | None = None,
        upsample: int | str = "auto",
        auto_upsample_below: int = 300,
        score_threshold: float = 0.0,
    ):
        try:
            import dlib  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"dlib is needed for landmark_backend='dlib68': {DLIB_INSTALL_HINT}") from exc
        self.predictor_path = find_dlib_predictor(predictor_path)
        self.detector, self.predictor = _load_dlib_models(str(self.predictor_path))
        self.upsample = upsample
        self.auto_upsample_below = int(auto_upsample_below)
        self.score_threshold = float(score_threshold)

    def detect(self, frame: np.ndarray) -> list[FaceLandmarks]:
        frame = _check_frame(frame)
        up = self.upsample
        if up == "auto":
            up = 1 if min(frame.shape[:2]) < self.auto_upsample_below else 0
        rects, scores, _ = self.detector.run(frame, int(up), self.score_threshold)
        faces = []
        for rect, score in zip(rects, scores):
            shape = self.predictor(frame, rect)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            box = np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], dtype=np.float32)
            faces.append(FaceLandmarks(points=pts, box=box, score=float(score), source="dlib"))
        return faces
