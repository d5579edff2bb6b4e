"""The weight-free captioner: words from what was measured, never from a model.

Appearance comes from the entity's own mask pixels (dominant colours of its upper and lower half),
motion and distance from the entity stage's measurements, bearing from our geometry. It is the
default, the fallback when a VLM is late or wrong, and the first alert's text.
"""

from __future__ import annotations

import cv2
import numpy as np

from ego360.core.geometry import clock_hour
from ego360.core.packets import Caption, CaptionRequest

# Hue ranges (OpenCV hue 0..180) → words; achromatic colours are decided by saturation/value first.
_HUES = ((0, 8, "red"), (8, 20, "orange"), (20, 33, "yellow"), (33, 85, "green"), (85, 100, "teal"),
         (100, 130, "blue"), (130, 150, "purple"), (150, 170, "pink"), (170, 181, "red"))


def _names(rgb: np.ndarray) -> np.ndarray:
    """Colour words for N×3 RGB uint8 pixels, vectorised (one cvtColor for all)."""
    hsv = cv2.cvtColor(np.asarray(rgb, np.uint8).reshape(-1, 1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(int)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    out = np.empty(len(hsv), dtype=object)
    for lo, hi, name in _HUES:
        out[(h >= lo) & (h < hi)] = name
    out[(h >= 8) & (h < 20) & (v < 150)] = "brown"
    out[s < 45] = "grey"
    out[(s < 45) & (v > 190)] = "white"
    out[v < 50] = "black"
    return out


def colour_name(rgb: np.ndarray) -> str:
    """Name of one RGB colour (uint8 triple)."""
    return str(_names(np.asarray(rgb).reshape(1, 3))[0])


def dominant_colour(pixels: np.ndarray) -> str | None:
    """Most frequent colour word among N×3 RGB pixels (robust to shading, unlike a mean colour)."""
    if len(pixels) < 4:
        return None
    step = max(1, len(pixels) // 4000)
    values, counts = np.unique(_names(pixels[::step]).astype(str), return_counts=True)
    return str(values[int(np.argmax(counts))])


def describe_appearance(image: np.ndarray, mask: np.ndarray, kind: str) -> str:
    """'person, red top, blue lower half' from the mask's pixels, upper vs lower half by rows."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return kind
    mid = (ys.min() + ys.max()) / 2.0
    upper = dominant_colour(image[ys[ys <= mid], xs[ys <= mid]])
    lower = dominant_colour(image[ys[ys > mid], xs[ys > mid]])
    if kind == "person" and upper and lower:
        return f"person in {upper} top and {lower} trousers" if upper != lower else f"person dressed in {upper}"
    colour = upper or lower
    return f"{colour} {kind}" if colour else kind


def where_words(bearing_deg: float) -> str:
    """Wearer-centred side first: what a blind pedestrian needs before anything else."""
    b = abs(bearing_deg)
    if b >= 120:
        return "Behind you"
    if b <= 30:
        return "Ahead"
    return "On your right" if bearing_deg > 0 else "On your left"


def speech_line(kind: str, bearing_deg: float, motion: str, distance: str = "") -> str:
    """'Behind you, 5 o'clock: person approaching fast.' — short, place first."""
    hour = clock_hour(bearing_deg)
    what = f"{kind} {motion}".strip() if motion else kind
    if distance == "within arm's reach" and "reach" not in what and "close" not in what:
        what = f"{what}, very close"
    return f"{where_words(bearing_deg)}, {hour} o'clock: {what}."


class TemplateCaptioner:
    """Captioner interface implementation needing no weights."""

    name = "template"
    is_vlm = False  # measured words only: never blocks, runs on the alert thread

    def caption(self, request: CaptionRequest) -> Caption:
        kind = request.kind if request.kind != "unknown" else "someone"
        appearance = request.appearance_hint or kind
        motion = request.motion_hint or "moving"
        where = f"at {request.clock} o'clock"
        if request.distance_hint:
            where += f", {request.distance_hint}"
        victim = "you" if request.role == "perpetrator" else ""
        interaction = f"{kind} {motion} toward {victim}".strip() if victim and "approach" in motion else ""
        return Caption(
            entity_id=request.entity_id, frame_index=request.frame_index, role=request.role,
            appearance=appearance, motion=f"{motion} {where}", speech=speech_line(kind, request.bearing_deg, motion,
                                                                                   request.distance_hint),
            source="template", interaction=interaction,
        )
