"""The "why" view of a detection: one face, its ROI-masked version, the recovery model's reconstruction and the
recovery error, built from what `detect_video(..., explain=True)` already computed (`DetectionResult.evidence`:
the face crops of the most suspicious clip), so nothing is decoded or tracked again.

    result = detect_video(video, model, processor, explain=True)
    explanation = explain(result, model, processor)      # an `Explanation`
    explanation.save("why.png")                           # `delocate detect VIDEO --explain why.png`

The pipeline gives the same with `detector(video, explain=True)["explanation"]` (`Explanation.to_dict()`), and the
Space shows its panels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DISPLAY_MIN = 256  # panels are upscaled by an integer factor to at least this many pixels


def display_size(crop_size: int, minimum: int = DISPLAY_MIN) -> int:
    """Side of a displayed panel: the crop upscaled by an integer factor to at least `minimum` pixels."""
    return int(crop_size) * max(1, math.ceil(minimum / int(crop_size)))


@dataclass
class Explanation:
    """The recovery view of the most suspicious analysed frame (the highest-scoring frame of the highest-scoring clip).

    Attributes:
        frame_index: frame in the original video; clip_index: its clip (0-based); frame_score: its P(fake).
        masked_part: the facial part whose tokens were hidden (`processor.parts` name, e.g. "cheek_nose"; "facial"
            for strategies without a part).
        face: `(S, S, 3)` uint8 RGB, the aligned face crop the detector saw.
        token_mask: `(S / patch, S / patch)` bool, the hidden patches of this frame.
        patch_size: side of a patch in crop pixels.
        reconstruction: `(S, S, 3)` uint8, the recovery model's output (None: the detector has no recovery model).
        error: `(S, S)` float32 in [0, 1], mean absolute recovery error over RGB (None without recovery).
        hidden_error: mean of `error` over the hidden patches (None without recovery).
    """

    frame_index: int
    clip_index: int
    frame_score: float
    masked_part: str
    face: np.ndarray
    token_mask: np.ndarray
    patch_size: int
    reconstruction: np.ndarray | None = None
    error: np.ndarray | None = None
    hidden_error: float | None = None

    @property
    def part_label(self) -> str:
        return self.masked_part.replace("_", " & ")

    def info(self) -> dict:
        """JSON-ready summary (frame, clip (1-based), masked part, token counts, recovery error)."""
        out = {"frame": self.frame_index, "clip": self.clip_index + 1, "masked_part": self.part_label,
               "masked_tokens_in_frame": int(self.token_mask.sum()), "tokens_per_frame": int(self.token_mask.size)}
        if self.hidden_error is not None:
            out["recovery_error_hidden"] = round(self.hidden_error, 4)
        return out

    def panels(self, minimum: int = DISPLAY_MIN) -> dict[str, np.ndarray]:
        """Display images `(D, D, 3)` uint8, D = `display_size(S)`: "face", "masked" and, with recovery,
        "reconstruction" and "error" (JET heat map of `error`)."""
        import cv2

        from processing.visualize import draw_token_mask

        crop = self.face.shape[0]
        size = display_size(crop, minimum)

        def up(image):
            return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=cv2.INTER_CUBIC)

        face = up(self.face)
        out = {"face": face, "masked": draw_token_mask(face, self.token_mask, self.patch_size * (size // crop))}
        if self.reconstruction is not None:
            out["reconstruction"] = up(self.reconstruction)
            heat = (np.clip(self.error * 4.0, 0.0, 1.0) * 255).astype(np.uint8)  # 0.25 mean error = full scale
            out["error"] = up(cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB))
        return out

    def summary(self) -> str:
        """A short Markdown explanation of the panels."""
        head = (f"Frame {self.frame_index} (clip {self.clip_index + 1}, frame score {self.frame_score:.2f}). "
                f"Delocate hides the **{self.part_label}** region (hatched: {int(self.token_mask.sum())} of "
                f"{self.token_mask.size} patches of this frame) and asks a recovery model trained on *real* faces to "
                "redraw it from the rest of the face and the neighbouring frames.")
        if self.hidden_error is None:
            return head + (" This detector was saved without its recovery autoencoder, so the reconstruction is "
                           "unavailable; the localisation heat-map in the overlay video shows where the model sees "
                           "manipulation.")
        return head + (f" Mean recovery error on the hidden patches: **{self.hidden_error:.3f}** (0–1 scale). Real "
                       "faces are recovered consistently; a forged region tends to be redrawn differently from what "
                       "the video shows, and the detector's recovery branch scores that inconsistency.")

    def to_dict(self) -> dict:
        """`info()` plus the images (`face`, `masked`, `reconstruction`, `error` at crop size; None without
        recovery) and the summary text: the pipeline's `"explanation"`."""
        from processing.visualize import draw_token_mask

        masked = draw_token_mask(self.face, self.token_mask, self.patch_size)
        return {**self.info(), "face": self.face, "masked": masked, "reconstruction": self.reconstruction,
                "error": self.error, "summary": self.summary()}

    def save(self, png, minimum: int = DISPLAY_MIN) -> Path:
        """One PNG: the panels side by side with captions (face | ROI-masked | reconstruction | recovery error)."""
        import cv2

        captions = {"face": "face crop", "masked": f"hidden: {self.part_label}", "reconstruction": "recovered",
                    "error": "recovery error"}
        panels = self.panels(minimum)
        size, gap, header = next(iter(panels.values())).shape[0], 6, 56
        sheet = np.full((header + size + gap, len(panels) * (size + gap) + gap, 3), 24, dtype=np.uint8)
        title = f"frame {self.frame_index} (clip {self.clip_index + 1}), frame score {self.frame_score:.2f}"
        if self.hidden_error is not None:
            title += f", recovery error on hidden patches {self.hidden_error:.3f}"
        cv2.putText(sheet, title, (gap + 2, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1, cv2.LINE_AA)
        for k, (key, image) in enumerate(panels.items()):
            x = gap + k * (size + gap)
            cv2.putText(sheet, captions[key], (x + 2, header - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (200, 200, 200), 1,
                        cv2.LINE_AA)
            sheet[header:header + size, x:x + size] = image
        png = Path(png)
        png.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write explanation '{png}'")
        return png


def _faces_from_pixels(pixel_values: np.ndarray, processor) -> np.ndarray:
    """Undo the processor's rescale / normalisation: `(T, 3, S, S)` float -> `(T, S, S, 3)` uint8 face crops."""
    faces = np.asarray(pixel_values, dtype=np.float32).transpose(0, 2, 3, 1)
    if getattr(processor, "do_normalize", True):
        faces = faces * np.asarray(processor.image_std, np.float32) + np.asarray(processor.image_mean, np.float32)
    if getattr(processor, "do_rescale", True):
        faces = faces / float(processor.rescale_factor)
    return np.clip(np.round(faces), 0, 255).astype(np.uint8)


def explain(result, model, processor, seed: int = 0) -> Explanation:
    """The recovery view of `result` (a `DetectionResult` from `detect_video(..., explain=True)`).

    Hides one facial part of the most suspicious clip's face crops with the processor's token masker
    (`processor.generate_mask`, `seed`) and, when the detector includes the recovery autoencoder
    (`model.recovery`), runs it once on that clip. `ValueError` when the result kept no face crops.
    """
    import torch

    evidence = getattr(result, "evidence", None)
    if evidence is None:
        raise ValueError("the detection result holds no face crops: run detect_video(..., explain=True)")
    t = int(np.argmax(evidence.frame_scores))
    faces = _faces_from_pixels(evidence.pixel_values, processor)
    crop, patch, tubelet = faces.shape[1], int(processor.patch_size), int(processor.tubelet_size)
    masks, parts = processor.generate_mask(evidence.roi_boxes[None], seed=seed, return_parts=True)
    grid = np.asarray(masks[0], dtype=bool).reshape(-1, crop // patch, crop // patch)[t // tubelet]
    names = tuple(getattr(processor, "parts", ()))
    part = names[int(parts[0])] if 0 <= int(parts[0]) < len(names) else "facial"
    explanation = Explanation(frame_index=int(evidence.frame_indices[t]), clip_index=int(evidence.clip_index),
                              frame_score=float(evidence.frame_scores[t]), masked_part=part, face=faces[t],
                              token_mask=grid, patch_size=patch)
    recovery = getattr(model, "recovery", None)
    if recovery is None:
        return explanation
    parameter = next(recovery.parameters())
    with torch.inference_mode():
        out = recovery(pixel_values=torch.as_tensor(evidence.pixel_values)[None].to(parameter.device, parameter.dtype),
                       bool_masked_pos=torch.as_tensor(np.asarray(masks, dtype=bool)).to(parameter.device))
    rec = out.reconstruction[0, t].permute(1, 2, 0).float().cpu().numpy()  # (S, S, 3) in [0, 1]
    error = np.abs(faces[t].astype(np.float32) / 255.0 - rec).mean(axis=-1).astype(np.float32)
    hidden = np.kron(grid, np.ones((patch, patch), dtype=bool))[:crop, :crop]
    explanation.reconstruction = np.clip(np.round(rec * 255.0), 0, 255).astype(np.uint8)
    explanation.error = error
    explanation.hidden_error = float(error[hidden].mean()) if hidden.any() else 0.0
    return explanation


__all__ = ["DISPLAY_MIN", "Explanation", "display_size", "explain"]
