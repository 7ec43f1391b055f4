"""`delocate detect --save-masks OUT.npz`: a detection's masks written to an `.npz` file and read back.

Two layouts (`save_masks(path, result, layout=...)`, `--mask-layout crop|frame`):

- `"crop"` (the default): what detection holds, whatever the frame size (128 masks of the shipped model: ~8 MB
  before compression, for a 640x360 or a 4K video alike). Keys: `layout` ("crop"), `frame_size` `(2,)` (H, W),
  `crop_size` `()`, `frame_indices` `(N,)` int64, `crop_masks` `(N, s, s)` float32 in [0, 1] (the localizer's own
  resolution `s`), `face_affines` `(N, 2, 3)` float64 (frame pixels -> crop pixels); with several faces also
  `trackK_frame_indices`, `trackK_crop_masks`, `trackK_face_affines` for each face K. The top-level masks are
  those of the highest-scoring face. `load_masks(path)` pastes them back into frame coordinates on demand.
- `"frame"`: masks in frame coordinates, `masks` `(N, H, W)` float32 in [0, 1] and `frame_indices` (with several
  faces also `trackK_masks`, `trackK_frame_indices`): N * H * W * 4 bytes before compression (4K: 33 MB a frame),
  written one frame at a time. `np.load(path)["masks"]` reads it; so does `load_masks`.

```python
from delocate_hf.inference import load_masks
masks, frame_indices = load_masks("masks.npz")          # the highest-scoring face (track=K: face K)
masks.shape                                             # (N, H, W): masks[i] is frame frame_indices[i], (H, W)
full = np.asarray(masks)                                # every mask pasted: float32 (N, H, W)
```
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from processing.errors import DelocateInputError

from .assemble import FrameMasks

LAYOUTS = ("crop", "frame")
DEFAULT_LAYOUT = "crop"


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise DelocateInputError(f"mask layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return layout


def _as_frame_masks(masks) -> FrameMasks:
    if isinstance(masks, FrameMasks):
        return masks
    raise TypeError(f"expected the FrameMasks of a detection result, got {type(masks).__name__}")


def _crop_entries(prefix: str, masks: FrameMasks) -> dict:
    return {f"{prefix}frame_indices": masks.frame_indices, f"{prefix}crop_masks": masks.crop_masks,
            f"{prefix}face_affines": masks.face_affines}


def _frame_entries(prefix: str, masks: FrameMasks) -> dict:
    return {f"{prefix}masks": masks, f"{prefix}frame_indices": masks.frame_indices}


def save_masks(path, result, layout: str = DEFAULT_LAYOUT) -> Path:
    """Write the masks of `result` (a `DetectionResult`) to the `.npz` file `path` in `layout` "crop" (the
    localizer's masks and their transforms; size independent of the frame size) or "frame" (`(N, H, W)` float32
    in frame coordinates, pasted and written one frame at a time). Returns the path."""
    check_layout(layout)
    best = _as_frame_masks(result.masks)
    several = len(result.tracks) > 1
    entries = _crop_entries if layout == "crop" else _frame_entries
    arrays: dict = {}
    if layout == "crop":
        arrays.update(layout=np.array("crop"), frame_size=np.asarray(best.frame_size, dtype=np.int64),
                      crop_size=np.asarray(best.crop_size, dtype=np.int64))
    arrays.update(entries("", best))
    if several:
        for track in result.tracks:
            arrays.update(entries(f"track{track.track_id}_", _as_frame_masks(track.masks)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_npz(path, arrays)
    return path


def _write_npz(path: Path, arrays: dict) -> None:
    """`np.savez_compressed` with `FrameMasks` entries written frame by frame (no `(N, H, W)` array in memory)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
                if isinstance(value, FrameMasks):
                    header = {"descr": np.lib.format.dtype_to_descr(value.dtype), "fortran_order": False,
                              "shape": value.shape}
                    np.lib.format.write_array_header_1_0(out, header)
                    for i in range(len(value)):
                        out.write(np.ascontiguousarray(value.frame(i), dtype=value.dtype).tobytes())
                else:
                    np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)


def load_masks(path, track: int | None = None) -> tuple[FrameMasks | np.ndarray, np.ndarray]:
    """`(masks, frame_indices)` of a `--save-masks` file: the highest-scoring face's, or face `track`'s.

    `masks` reads as `(N, H, W)` float32 in frame coordinates: a `FrameMasks` for the "crop" layout (`masks[i]`
    pastes mask i, `np.asarray(masks)` all of them: exactly the masks detection returned), the stored array for the
    "frame" layout."""
    path = Path(path)
    if not path.is_file():
        raise DelocateInputError(f"cannot read masks '{path}': file does not exist")
    prefix = "" if track is None else f"track{int(track)}_"
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files)
        crop = "layout" in names and str(data["layout"]) == "crop"
        key = f"{prefix}crop_masks" if crop else f"{prefix}masks"
        if key not in names:
            faces = sorted(n.split("_")[0] for n in names if n.startswith("track") and n.endswith("frame_indices"))
            what = f"face {track}" if track is not None else "masks"
            raise DelocateInputError(f"cannot read masks '{path}': no {what} in it"
                                     + (f" (faces: {', '.join(faces)})" if faces else ""))
        indices = data[f"{prefix}frame_indices"].astype(np.int64)
        if not crop:
            return data[key], indices
        masks = FrameMasks(data[key], data[f"{prefix}face_affines"], tuple(int(v) for v in data["frame_size"]),
                           int(data["crop_size"]), indices)
    return masks, indices


__all__ = ["DEFAULT_LAYOUT", "LAYOUTS", "check_layout", "load_masks", "save_masks"]
