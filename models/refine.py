"""Cut one entity's mask at (near) full resolution inside its box.

Why: the motion foreground is computed on a small equirect (cheap enough for every frame) and its
masks, upsampled, lose limbs and edges. Inside one box a second, finer background comparison costs
little, and the coarse mask only has to say *where* to look, not the exact outline.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ego360.models.blobs import mask_geometry

_K3 = np.ones((3, 3), np.uint8)
_KH = np.ones((1, 3), np.uint8)  # turning misaligns columns only
_K5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def _crop_cols(img: np.ndarray, cols: np.ndarray, rows: slice) -> np.ndarray:
    """Rows × (possibly wrapping) columns; a plain view when the columns do not wrap (the usual case)."""
    c0 = int(cols[0])
    if c0 + len(cols) <= img.shape[1] and int(cols[-1]) == c0 + len(cols) - 1:
        return img[rows, c0 : c0 + len(cols)]
    return img[rows][:, cols]


def _fill_holes(m: np.ndarray) -> np.ndarray:
    """Enclosed holes of a silhouette (a shirt the colour of the wall behind) are the entity too."""
    pad = np.pad(m.view(np.uint8), 1)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    return m | (flood[1:-1, 1:-1] == 0)


def _diff(crop: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Colour distance outside the row neighbours' min/max, in saturating uint8 (4× cheaper than
    float on the big boxes of people close by; the threshold is far above the rounding)."""
    bg8 = cv2.convertScaleAbs(bg)
    d = cv2.max(cv2.subtract(crop, cv2.dilate(bg8, _KH)), cv2.subtract(cv2.erode(bg8, _KH), crop))
    return d.max(axis=2)


def refine_mask(mf: Any, fine_bg: np.ndarray | None, work_mask: np.ndarray, threshold: float) -> np.ndarray:
    """Full-resolution bool mask; falls back to the upsampled coarse mask when the cut fails."""
    H, W = mf.full_shape
    fine = mf.fine
    geo = mask_geometry(work_mask) if work_mask.any() else None
    if geo is None:
        return np.zeros((H, W), bool)
    if fine is None or fine_bg is None or fine_bg.shape[:2] != fine.shape[:2]:
        return _upsample_into(work_mask, (H, W))
    hw, ww = work_mask.shape
    hf, wf = fine.shape[:2]
    s = wf / ww
    box = geo[0]
    m = max(3, int(round(2 * s)))
    fx0, fx1 = int(np.floor(box.x0 * s)) - m, int(np.ceil(box.x1 * s)) + m
    fy0, fy1 = max(0, int(np.floor(box.y0 * s)) - m), min(hf, int(np.ceil(box.y1 * s)) + m)
    cols = np.arange(fx0, fx1) % wf
    rows = slice(fy0, fy1)
    crop = _crop_cols(fine, cols, rows)
    # Integer world shift: the horizontal min/max in `_diff` absorbs the half pixel.
    bg = _crop_cols(fine_bg, (cols + int(round(mf.fine_offset))) % wf, rows)
    cut = _diff(crop, bg) > threshold
    # Where the coarse mask says the entity is (grown by a couple of work pixels).
    wcols = np.arange(int(np.floor(box.x0)) - 3, int(np.ceil(box.x1)) + 3) % ww
    wy0, wy1 = max(0, int(box.y0) - 3), min(hw, int(np.ceil(box.y1)) + 3)
    wcrop = work_mask[wy0:wy1][:, wcols].view(np.uint8)
    prior = cv2.resize(wcrop, (int(round(len(wcols) * s)), int(round((wy1 - wy0) * s))),
                       interpolation=cv2.INTER_NEAREST)
    px0, py0 = fx0 - int(round((int(np.floor(box.x0)) - 3) * s)), fy0 - int(round(wy0 * s))
    prior = _place(prior, px0, py0, crop.shape[:2])
    near = cv2.dilate(prior, _K5, iterations=max(1, int(round(s))))
    cut = cut.view(np.uint8) & near
    cut = cv2.morphologyEx(cut, cv2.MORPH_CLOSE, _K5)
    cut = cv2.morphologyEx(cut, cv2.MORPH_OPEN, _K3)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cut, connectivity=8)
    if n > 1:
        hit = np.bincount(labels[prior.astype(bool)], minlength=n)
        keep = np.nonzero((hit[1:] > 0) & (stats[1:, cv2.CC_STAT_AREA] >= 4))[0] + 1
        cut = np.isin(labels, keep)
    else:
        cut = cut.astype(bool)
    if cut.sum() < 0.3 * max(1, prior.sum()):
        cut = prior.astype(bool)
    cut = _fill_holes(cut)
    return _to_full(cut, fx0, fy0, (hf, wf), (H, W))


def _place(img: np.ndarray, x0: int, y0: int, shape: tuple[int, int]) -> np.ndarray:
    """`img` pasted at (x0, y0) relative to a canvas of `shape` (clipped)."""
    out = np.zeros(shape, np.uint8)
    h, w = shape
    ys, xs = max(0, -y0), max(0, -x0)
    ye, xe = min(img.shape[0], h - y0), min(img.shape[1], w - x0)
    if ye > ys and xe > xs:
        out[y0 + ys : y0 + ye, x0 + xs : x0 + xe] = img[ys:ye, xs:xe]
    return out


def _to_full(cut: np.ndarray, fx0: int, fy0: int, fine_shape: tuple[int, int], full: tuple[int, int]) -> np.ndarray:
    """Crop mask at fine pixels (columns may wrap) → full-resolution equirect bool mask."""
    H, W = full
    hf, wf = fine_shape
    sx, sy = W / wf, H / hf
    if sx != 1.0 or sy != 1.0:
        size = (int(round(cut.shape[1] * sx)), int(round(cut.shape[0] * sy)))
        up = cv2.resize(cut.view(np.uint8) * np.uint8(255), size, interpolation=cv2.INTER_LINEAR) > 127
    else:
        up = cut
    X0, Y0 = int(round(fx0 * sx)), int(round(fy0 * sy))
    out = np.zeros((H, W), bool)
    rows = slice(Y0, min(H, Y0 + up.shape[0]))
    up = up[: rows.stop - Y0]
    X0 %= W
    if X0 + up.shape[1] <= W:
        out[rows, X0 : X0 + up.shape[1]] = up
    else:
        out[rows, np.arange(X0, X0 + up.shape[1]) % W] = up
    return out


def _upsample_into(mask: np.ndarray, full: tuple[int, int]) -> np.ndarray:
    H, W = full
    if mask.shape == (H, W):
        return mask.astype(bool)
    return cv2.resize(mask.view(np.uint8) * np.uint8(255), (W, H), interpolation=cv2.INTER_LINEAR) > 127
