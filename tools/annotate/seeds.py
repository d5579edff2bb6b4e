"""A person's prompt (boxes, positive and negative points on one frame) → an equirect bool mask.

Why not the box itself: a tracker seeded with a rectangle tracks the background corners too, and the
ground truth is a silhouette. The moving pixels inside the box (the ego-compensated motion foreground,
re-cut at full resolution) are the entity when it moves; GrabCut inside the box cuts a still one. The
crop is rolled so a box across the ±180° seam is one piece.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ego360.models.blobs import to_work

FG_MIN_COVER = 0.2  # moving pixels must fill this much of the box to be trusted as the entity
MIN_CUT = 0.15  # a cut smaller than this fraction of its box is a failed cut
POINT_BOX_FRAC = 0.04  # points without a box: a box this fraction of the width around them
_K3 = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class FramePrompt:
    """One entity's prompts on one video frame, in equirect pixels (box x1 may exceed W at the seam)."""

    boxes: tuple[tuple[float, float, float, float], ...] = ()
    pos: tuple[tuple[float, float], ...] = ()
    neg: tuple[tuple[float, float], ...] = ()


def box_mask(shape: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """Bool mask of an equirect box; columns past W wrap to the left edge."""
    h, w = shape
    out = np.zeros((h, w), bool)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    y0, y1 = max(0, y0), min(h, max(y1, y0 + 1))
    cols = np.arange(x0, max(x1, x0 + 1)) % w
    out[y0:y1, cols] = True
    return out


def prompt_region(shape: tuple[int, int], fp: FramePrompt) -> np.ndarray:
    """Where the entity may be: its boxes, else a box around its positive points."""
    h, w = shape
    region = np.zeros((h, w), bool)
    for b in fp.boxes:
        region |= box_mask(shape, b)
    if not fp.boxes and fp.pos:
        r = POINT_BOX_FRAC * w
        for x, y in fp.pos:
            region |= box_mask(shape, (x - r, y - 2 * r, x + r, y + 2 * r))
    return region


def _roll_for(region: np.ndarray) -> int:
    """Column shift that puts the region away from the seam (its widest empty gap at the edges)."""
    cols = np.flatnonzero(region.any(axis=0))
    w = region.shape[1]
    if cols.size == 0:
        return 0
    gaps = np.diff(np.concatenate([cols, [cols[0] + w]]))
    i = int(np.argmax(gaps))  # the empty run after cols[i] is the widest: start the crop after it
    start = int(cols[(i + 1) % cols.size])
    return -start + 8 if cols.size < w else 0


def _grabcut(image: np.ndarray, region: np.ndarray, hint: np.ndarray | None, fp: FramePrompt) -> np.ndarray:
    """GrabCut inside the region (rolled off the seam), seeded by motion hints and the points."""
    h, w = region.shape
    shift = _roll_for(region)
    img, reg = np.roll(image, shift, axis=1), np.roll(region, shift, axis=1)
    ys, xs = np.nonzero(reg)
    pad = max(12, int(0.6 * max(np.ptp(ys), np.ptp(xs))))  # GrabCut learns the background from this ring
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + 1 + pad)
    crop = np.ascontiguousarray(img[y0:y1, x0:x1])
    gc = np.where(reg[y0:y1, x0:x1], cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    if hint is not None:
        hh = np.roll(hint, shift, axis=1)[y0:y1, x0:x1] & reg[y0:y1, x0:x1]
        gc[hh] = cv2.GC_FGD
    for pts, label in ((fp.pos, cv2.GC_FGD), (fp.neg, cv2.GC_BGD)):
        for x, y in pts:
            cx, cy = int((x + shift) % w) - x0, int(y) - y0
            if 0 <= cx < gc.shape[1] and 0 <= cy < gc.shape[0]:
                cv2.circle(gc, (cx, cy), 2, int(label), -1)
    # Small entities (a few hundred pixels) are cut upsampled: the smoothness term needs room.
    scale = max(1.0, min(4.0, 160.0 / max(1, np.ptp(ys) + 1)))
    if scale > 1.0:
        size = (round(crop.shape[1] * scale), round(crop.shape[0] * scale))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
        gc_s = cv2.resize(gc, size, interpolation=cv2.INTER_NEAREST)
    else:
        gc_s = gc
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(crop, gc_s, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return region
    fg = ((gc_s == cv2.GC_FGD) | (gc_s == cv2.GC_PR_FGD)).view(np.uint8)
    if scale > 1.0:
        fg = cv2.resize(fg * np.uint8(255), (gc.shape[1], gc.shape[0]), interpolation=cv2.INTER_AREA) > 127
    cut = np.zeros((h, w), bool)
    cut[y0:y1, x0:x1] = fg.astype(bool)
    return np.roll(cut, -shift, axis=1) & region


def ring_cut(image: np.ndarray, box: tuple[float, float, float, float], threshold: int = 28, ring: int = 5
             ) -> np.ndarray:
    """Pixels of the box unlike every pixel of the same row just left and right of it.

    A street's background changes slowly along a row while an upright entity spans rows, so the box's
    own row neighbours are a background model that needs no motion (an entity standing still); it
    is GrabCut's sure foreground."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    y0, y1 = max(0, y0), min(h, y1)
    out = np.zeros((h, w), bool)
    if y1 <= y0 or x1 <= x0 or x1 - x0 >= w - 2 * ring:
        return out
    inner_cols = np.arange(x0, x1) % w
    side = np.concatenate([np.arange(x0 - ring, x0), np.arange(x1, x1 + ring)]) % w
    rows = image[y0:y1].astype(np.int16)
    inner, bg = rows[:, inner_cols], rows[:, side]
    dist = np.full(inner.shape[:2], 255, np.int16)
    for k in range(bg.shape[1]):  # min over the ring of the max channel difference, row by row
        dist = np.minimum(dist, np.abs(inner - bg[:, k:k + 1]).max(axis=2))
    fg = cv2.morphologyEx((dist > threshold).view(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 3), np.uint8))
    out[y0:y1, inner_cols] = fg.astype(bool)
    return out


def _keep_prompted(mask: np.ndarray, fp: FramePrompt) -> np.ndarray:
    """Connected parts that hold a positive point (else the largest ones), minus parts on negative points."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    h, w = mask.shape

    def at(pts):
        return {int(labels[min(h - 1, int(y)), int(x) % w]) for x, y in pts} - {0}

    neg = at(fp.neg)
    pos = at(fp.pos) - neg
    if pos:
        keep = pos
    else:
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = {i + 1 for i, a in enumerate(areas) if a >= 0.25 * areas.max()} - neg
    return np.isin(labels, list(keep)) if keep else np.zeros_like(mask)


def seed_mask(image: np.ndarray, fp: FramePrompt, motion: Any = None, mf: Any = None) -> np.ndarray:
    """The entity's mask on this frame. `motion`/`mf`: the pass's MotionAnalyzer and its analysis of
    this frame; their moving pixels are preferred when they fill the box, else they seed GrabCut."""
    region = prompt_region(image.shape[:2], fp)
    if not region.any():
        return region
    moving = None
    if motion is not None and mf is not None and mf.warm:
        work = mf.fg & to_work(region, mf.fg.shape)
        if work.any():
            moving = motion.refine(mf, work) & region
            moving = cv2.morphologyEx(moving.view(np.uint8), cv2.MORPH_OPEN, _K3).astype(bool)
    if moving is not None and moving.sum() >= FG_MIN_COVER * region.sum():
        out = moving
    else:
        hint = np.zeros(region.shape, bool) if moving is None else moving.copy()
        for b in fp.boxes:
            hint |= ring_cut(image, b)
        out = _grabcut(image, region, hint & region, fp)
    out = _keep_prompted(out, fp)
    # A cut that kept almost nothing failed (a box filled by one colour, a car seen from inside its
    # box); the box itself is the better seed then.
    return out if out.sum() >= MIN_CUT * region.sum() else region
