"""VLM grounding (the paper's VLM+SAM2 baseline): perpetrator / victim boxes that seed the tracker.

Qwen2.5-VL answers boxes in absolute pixels of the image *after* its processor resized it (smart
resize to multiples of 28), Qwen3-VL in 0–1000 relative units. We map both back to the view we
rendered, then to equirect pixels; anything malformed or outside every view is dropped and counted,
because a wrong seed box would make the tracker follow the wrong person for the whole event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ego360.core.packets import Box
from ego360.models.vlm.parse import ParseError, extract_json

LABELS = {"perpetrator": "perpetrator", "victim": "victim", "target": "target", "attacker": "perpetrator",
          "thief": "perpetrator", "aggressor": "perpetrator"}


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56,
                 max_pixels: int = 14 * 14 * 4 * 1280) -> tuple[int, int]:
    """Qwen2-VL's resize rule (sides multiples of `factor`, area within bounds): (h, w)."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def box_units(box_format: str, model_name: str) -> str:
    """"pixels" (Qwen2.5-VL) or "rel1000" (Qwen3-VL); "auto" decides by the model's name."""
    if box_format != "auto":
        return box_format
    return "rel1000" if "qwen3" in model_name.lower().replace("-", "").replace("_", "") else "pixels"


@dataclass(frozen=True)
class ViewBox:
    """A proposal in the pixels of the view we rendered and sent."""

    view: int
    label: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class GroundedBox:
    label: str
    view: int
    view_box: ViewBox
    box: Box  # equirect pixels (x1 may exceed W across the seam)


@dataclass(frozen=True)
class GroundingResult:
    boxes: tuple[GroundedBox, ...]
    dropped: int  # malformed, unknown label, or outside every view


def _items(data: Any) -> list:
    if isinstance(data, dict):
        for key in ("boxes", "objects", "results"):
            if isinstance(data.get(key), list):
                return data[key]
        return [data]
    return data if isinstance(data, list) else []


def _to_view(item: Any, sent: list[tuple[int, int]], model: list[tuple[int, int]], units: str) -> ViewBox | None:
    """One JSON item → a box in sent-view pixels, or None when it cannot be trusted."""
    if not isinstance(item, dict):
        return None
    label = LABELS.get(str(item.get("label", "")).strip().lower())
    raw = item.get("bbox_2d", item.get("bbox"))
    view = item.get("view", 0)
    if label is None or not isinstance(raw, list | tuple) or len(raw) != 4 or not isinstance(view, int):
        return None
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in raw) or not 0 <= view < len(sent):
        return None
    x0, y0, x1, y1 = (float(v) for v in raw)
    sw, sh = sent[view]
    if units == "rel1000":
        sx, sy = sw / 1000.0, sh / 1000.0
    else:
        mw, mh = model[view] if view < len(model) else sent[view]
        sx, sy = sw / mw, sh / mh
    x0, x1, y0, y1 = x0 * sx, x1 * sx, y0 * sy, y1 * sy
    if x1 <= x0 or y1 <= y0:
        return None
    cx0, cy0, cx1, cy1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(sw)), min(y1, float(sh))
    # Outside the view (or mostly so): the model is pointing at something we did not show it.
    if cx1 <= cx0 or cy1 <= cy0 or (cx1 - cx0) * (cy1 - cy0) < 0.5 * (x1 - x0) * (y1 - y0):
        return None
    return ViewBox(view, label, cx0, cy0, cx1, cy1)


def parse_boxes(text: str, sent_sizes: list[tuple[int, int]], model_sizes: list[tuple[int, int]],
                units: str) -> tuple[list[ViewBox], int]:
    """The model's `bbox_2d` answer → boxes in sent-view pixels, and how many proposals were dropped."""
    try:
        items = _items(extract_json(text))
    except ParseError:
        return [], 1
    boxes = [_to_view(it, sent_sizes, model_sizes, units) for it in items]
    good = [b for b in boxes if b is not None]
    return good, len(boxes) - len(good)


def _pixel_to_yawpitch(view: Any, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    for name in ("pixel_to_yawpitch", "view_to_yawpitch"):
        if hasattr(view, name):
            return getattr(view, name)(u, v)
    pin = next((p for p in vars(view).values() if hasattr(p, "pixel_to_yawpitch")), None)
    if pin is None:
        raise TypeError(f"{type(view).__name__} has no pixel → (yaw, pitch) map")
    return pin.pixel_to_yawpitch(u, v)


def view_box_to_equirect(view: Any, box: ViewBox, equirect_size: tuple[int, int], out_scale: float = 1.0) -> Box:
    """Trace the box outline through the view's inverse map; the equirect box is its (seam-aware) hull.

    `out_scale` = rendered view size / sent image size, for views downscaled before sending.
    """
    H, W = equirect_size
    t = np.linspace(0.0, 1.0, 17)
    x0, y0, x1, y1 = (c * out_scale for c in (box.x0, box.y0, box.x1, box.y1))
    us = np.concatenate([x0 + t * (x1 - x0), np.full_like(t, x1), x0 + t * (x1 - x0), np.full_like(t, x0)])
    vs = np.concatenate([np.full_like(t, y0), y0 + t * (y1 - y0), np.full_like(t, y1), y0 + t * (y1 - y0)])
    yaw, pitch = _pixel_to_yawpitch(view, us, vs)
    yaw, pitch = np.asarray(yaw, float), np.asarray(pitch, float)
    ref = yaw[0]
    rel = (yaw - ref + 180.0) % 360.0 - 180.0  # unwrap around the first corner
    xs = ((ref + rel) / 360.0 + 0.5) * W
    ys = (0.5 - pitch / 180.0) * H
    bx0 = float(xs.min()) % W
    return Box(bx0, float(max(ys.min(), 0.0)), bx0 + float(xs.max() - xs.min()), float(min(ys.max(), H)))


def ground(text: str, views: list[Any], sent_sizes: list[tuple[int, int]], model_sizes: list[tuple[int, int]],
           units: str, equirect_size: tuple[int, int], view_sizes: list[tuple[int, int]] | None = None
           ) -> GroundingResult:
    """Model answer → equirect boxes for the tracker, with the dropped proposals counted."""
    found, dropped = parse_boxes(text, sent_sizes, model_sizes, units)
    out = []
    for vb in found:
        scale = 1.0 if view_sizes is None else view_sizes[vb.view][0] / sent_sizes[vb.view][0]
        out.append(GroundedBox(vb.label, vb.view, vb, view_box_to_equirect(views[vb.view], vb, equirect_size, scale)))
    return GroundingResult(tuple(out), dropped)
