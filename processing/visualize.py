"""Drawing helpers: facial-part ROI boxes, token masks, side-by-side PNG figures (OpenCV only, no GUI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .face_parts import PARTS

# RGB colours of the parts: eyes, cheek_nose, lips.
PART_COLORS = ((66, 135, 245), (60, 200, 90), (235, 64, 52))


def _as_rgb_uint8(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    if frame.dtype != np.uint8:
        frame = np.clip(frame * (255.0 if frame.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


def draw_roi_boxes(frame: np.ndarray, roi_boxes: np.ndarray, labels=PARTS, thickness: int | None = None) -> np.ndarray:
    """Draw the three part boxes `(3, 4)` (x0, y0, x1, y1) with labels on a copy of `frame` `(H, W, 3)`; RGB uint8."""
    import cv2

    out = _as_rgb_uint8(frame).copy()
    h, w = out.shape[:2]
    thickness = thickness or max(1, round(min(h, w) / 150))
    font_scale = max(0.3, min(h, w) / 600)
    for i, box in enumerate(np.asarray(roi_boxes, dtype=np.float32)):
        color = PART_COLORS[i % len(PART_COLORS)]
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), color, thickness, lineType=cv2.LINE_AA)
        label = labels[i] if i < len(labels) else str(i)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = y0 - 2 if y0 - th - 2 >= 0 else min(y1 + th + 2, h - 1)
        cv2.rectangle(out, (x0, ty - th - 1), (x0 + tw + 2, ty + 1), color, -1)
        cv2.putText(out, label, (x0 + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def draw_token_mask(frame: np.ndarray, mask_grid: np.ndarray, patch_size: int = 16, darken: float = 0.55) -> np.ndarray:
    """Darken and hatch the masked patches of `frame` `(H, W, 3)`; `mask_grid` `(G, G)` bool, True = masked."""
    import cv2

    out = _as_rgb_uint8(frame).copy()
    grid = np.asarray(mask_grid, dtype=bool)
    for row, col in zip(*np.nonzero(grid)):
        y0, x0 = int(row * patch_size), int(col * patch_size)
        y1, x1 = min(y0 + patch_size, out.shape[0]), min(x0 + patch_size, out.shape[1])
        if y0 >= y1 or x0 >= x1:
            continue
        patch = np.ascontiguousarray((out[y0:y1, x0:x1].astype(np.float32) * (1 - darken)).astype(np.uint8))
        ph, pw = patch.shape[:2]
        for k in range(-ph, pw, max(4, patch_size // 3)):  # diagonal hatching, clipped to the patch
            cv2.line(patch, (k, ph - 1), (k + ph, -1), (200, 200, 200), 1)
        cv2.rectangle(patch, (0, 0), (pw - 1, ph - 1), (255, 255, 255), 1)
        out[y0:y1, x0:x1] = patch
    return out


def save_roi_figure(path, crop: np.ndarray, boxes: np.ndarray, token_mask_grid: np.ndarray | None = None,
                    patch_size: int | None = None, scale: int = 2) -> Path:
    """Write a side-by-side PNG: the crop with ROI boxes | the crop with masked tokens (if given).

    `crop` `(S, S, 3)` uint8 RGB, `boxes` `(3, 4)`, `token_mask_grid` `(G, G)` bool. Returns the path.
    """
    import cv2

    crop = _as_rgb_uint8(crop)
    panels = [draw_roi_boxes(crop, boxes)]
    if token_mask_grid is not None:
        grid = np.asarray(token_mask_grid, dtype=bool)
        ps = patch_size or crop.shape[0] // grid.shape[0]
        panels.append(draw_token_mask(draw_roi_boxes(crop, boxes), grid, ps))
    gap = np.full((crop.shape[0], 4, 3), 255, dtype=np.uint8)
    figure = panels[0] if len(panels) == 1 else np.concatenate([panels[0], gap, panels[1]], axis=1)
    if scale and scale != 1:
        figure = cv2.resize(figure, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(figure, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write figure '{path}'")
    return path
