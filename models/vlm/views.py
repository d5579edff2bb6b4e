"""Pictures for the VLM: follow-views with the entity in a red box, and one wide view in role colours.

A caption is only instance-aligned if the model knows *which* pixels we mean; the red box around
the entity's own mask (the paper's "entity inside the red bounding box") is that pointer.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ego360.core.packets import Box, Track
from ego360.models.vlm.prompt import ROLE_COLOURS

RED = (255, 0, 0)


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of a bool mask in pixels, x1/y1 exclusive; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def draw_box(img: np.ndarray, box: tuple[float, float, float, float], colour=RED, pad: int = 3) -> np.ndarray:
    """A copy of `img` with a rectangle around `box` (padded so the outline does not hide the entity)."""
    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]
    thick = max(2, round(min(h, w) / 150))
    x0, y0 = max(0, int(box[0]) - pad), max(0, int(box[1]) - pad)
    x1, y1 = min(w - 1, int(np.ceil(box[2])) + pad - 1), min(h - 1, int(np.ceil(box[3])) + pad - 1)
    cv2.rectangle(out, (x0, y0), (x1, y1), tuple(int(c) for c in colour), thick)
    return out


def highlight(view: np.ndarray, view_mask: np.ndarray) -> np.ndarray:
    """Follow-view frame with the entity in a red box; unchanged when the mask left the view."""
    box = mask_bbox(view_mask)
    return view if box is None else draw_box(view, box, RED)


def render_mask(view: Any, mask: np.ndarray) -> np.ndarray:
    """An equirect bool mask seen through a perspective view (rendered like an image, thresholded)."""
    if hasattr(view, "mask_from_equirect"):
        return np.asarray(view.mask_from_equirect(np.asarray(mask, bool)), bool)
    m = np.repeat((np.asarray(mask, bool).astype(np.uint8) * 255)[..., None], 3, axis=2)
    return np.asarray(view.render(m))[..., 0] > 127


def follow_view(view: Any, equirect: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One follow-view frame: `view` (a ego360.core.projection.PerspectiveView) aimed at the entity."""
    return highlight(np.asarray(view.render(equirect)), render_mask(view, mask))


def _box_parts(box: Box, width: int) -> list[tuple[float, float, float, float]]:
    """A seam-wrapping equirect box (x1 > W) drawn as its two halves."""
    if box.x1 <= width:
        return [(box.x0, box.y0, box.x1, box.y1)]
    return [(box.x0, box.y0, width, box.y1), (0.0, box.y0, box.x1 - width, box.y1)]


def context_view(equirect: np.ndarray, tracks: list[Track], max_width: int = 768) -> np.ndarray:
    """The whole panorama, rolled so the involved entities sit mid-picture, boxes in role colours."""
    h, w = equirect.shape[:2]
    live = [t for t in tracks if t.box.x1 > t.box.x0]
    shift = 0
    if live:
        # Centre on the circular mean bearing so a group straddling the seam stays in one piece.
        ang = np.radians([((t.box.x0 + t.box.x1) / 2 / w) * 360.0 for t in live])
        mean = np.degrees(np.arctan2(np.sin(ang).mean(), np.cos(ang).mean())) % 360.0
        shift = int(round(w / 2 - mean / 360.0 * w))
    img = np.roll(equirect, shift, axis=1)
    scale = min(1.0, max_width / w)
    if scale < 1.0:
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    for t in live:
        moved = Box((t.box.x0 + shift) % w, t.box.y0, (t.box.x0 + shift) % w + (t.box.x1 - t.box.x0), t.box.y1)
        for part in _box_parts(moved, w):
            img = draw_box(img, tuple(v * scale for v in part), ROLE_COLOURS.get(t.role, RED), pad=2)
    return img


def limit_pixels(img: np.ndarray, max_pixels: int, factor: int = 28) -> np.ndarray:
    """Resize to at most `max_pixels`, sides multiples of `factor` (Qwen's smart_resize grid).

    Sending images already on the model's grid makes the server's own resize an identity, so boxes
    it answers in "absolute pixels" are pixels of the picture we sent.
    """
    from ego360.models.vlm.grounding import smart_resize

    h, w = img.shape[:2]
    nh, nw = smart_resize(h, w, factor=factor, min_pixels=factor * factor, max_pixels=max_pixels)
    if (nh, nw) == (h, w):
        return img
    interp = cv2.INTER_AREA if nh * nw < h * w else cv2.INTER_LINEAR
    return cv2.resize(img, (nw, nh), interpolation=interp)
