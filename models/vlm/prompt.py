"""The one prompt builder both VLM backends share, so a server and a local model see the same words.

Directions are deliberately withheld from the model: it sees crops whose left/right mean nothing to
the wearer, so it is told to describe, not to locate; our clock bearing is added by the parser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ego360.core.packets import CaptionRequest

ROLE_COLOURS: dict[str, tuple[int, int, int]] = {
    "perpetrator": (255, 0, 0),
    "victim": (0, 120, 255),
    "target": (0, 200, 0),
    "related": (255, 200, 0),
    "none": (200, 200, 200),
}
ROLE_COLOUR_NAMES = {"perpetrator": "red", "victim": "blue", "target": "green", "related": "yellow", "none": "grey"}

CAPTION_KEYS = ("role", "appearance", "motion", "interaction", "speech")

SYSTEM_PROMPT = (
    "You describe people and objects around a blind person who wears a 360-degree camera. "
    "The blind person is 'you'. Answer with one JSON object only, no prose, no code fences. "
    "Never say where something is (no left, right, ahead, behind, clock hours): the direction is added later."
)

CAPTION_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": ["perpetrator", "victim", "target", "related", "none"]},
        "appearance": {"type": "string"},
        "motion": {"type": "string"},
        "interaction": {"type": "string"},
        "speech": {"type": "string"},
    },
    "required": list(CAPTION_KEYS),
    "additionalProperties": False,
}

GROUNDING_SCHEMA: dict = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["perpetrator", "victim", "target"]},
            "bbox_2d": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
        },
        "required": ["label", "bbox_2d"],
    },
}


@dataclass(frozen=True)
class Prompt:
    """Text plus images in the order they are shown; backends turn this into their own message format."""

    system: str
    parts: tuple[str | np.ndarray, ...]  # str = text part, ndarray = RGB image part

    @property
    def images(self) -> list[np.ndarray]:
        return [p for p in self.parts if isinstance(p, np.ndarray)]


def select_frames(views: tuple[np.ndarray, ...], max_frames: int) -> list[np.ndarray]:
    """Evenly spaced frames, always keeping the newest: the latest pose matters most for an alert."""
    if max_frames <= 0 or not views:
        return []
    if len(views) <= max_frames:
        return list(views)
    if max_frames == 1:
        return [views[-1]]
    idx = np.linspace(0, len(views) - 1, max_frames).round().astype(int)
    return [views[i] for i in sorted(set(idx.tolist()))]


def _hints(request: CaptionRequest) -> str:
    measured = [
        f"kind: {request.kind}" if request.kind and request.kind != "unknown" else "",
        f"distance: {request.distance_hint}" if request.distance_hint else "",
        f"measured motion: {request.motion_hint}" if request.motion_hint else "",
        f"measured colours: {request.appearance_hint}" if request.appearance_hint else "",
    ]
    return "; ".join(m for m in measured if m)


def build_caption_prompt(request: CaptionRequest, max_frames: int) -> Prompt:
    """Follow-view frames of one entity (red box), then the wide view (role colours), then the question."""
    has_context = request.context is not None and max_frames >= 2
    frames = select_frames(request.views, max_frames - 1 if has_context else max_frames)
    parts: list[str | np.ndarray] = []
    if frames:
        parts.append(f"{len(frames)} frame(s), oldest first, following one entity:")
        parts.extend(frames)
    if has_context:
        legend = ", ".join(f"{ROLE_COLOUR_NAMES[r]} = {r}" for r in ("perpetrator", "victim", "target", "related"))
        parts.append(f"Wide view of the scene; boxes coloured by role ({legend}):")
        parts.append(request.context)
    hints = _hints(request)
    parts.append(
        f"Describe the entity inside the red bounding box. Our tracker thinks its role is '{request.role}'"
        + (f" ({hints})" if hints else "")
        + ". Reply with JSON: {\"role\": one of perpetrator/victim/target/related/none, "
        "\"appearance\": a few words on looks and clothing, \"motion\": what it is doing, "
        "\"interaction\": what it does to whom (the wearer is 'you'), "
        "\"speech\": at most 12 words to warn the wearer, no direction words}."
    )
    return Prompt(system=SYSTEM_PROMPT, parts=tuple(parts))


def build_repair_prompt(bad_text: str) -> str:
    """The one repair turn: show the model its own reply and ask for the schema again."""
    snippet = bad_text.strip()[:800]
    return (
        "Your reply was not valid JSON with the keys role, appearance, motion, interaction, speech. "
        f"Your reply was:\n{snippet}\nAnswer again with only that JSON object."
    )


def build_grounding_prompt(n_views: int, box_units: str) -> str:
    """Ask for perpetrator and victim/target boxes; `box_units` tells the model which coordinates to use."""
    return (
        f"These are {n_views} views around a suspicious event. Find the perpetrator and the victim or target. "
        f"Answer with a JSON list, one item per entity found: "
        f'[{{"view": view number starting at 0, "label": "perpetrator"|"victim"|"target", '
        f'"bbox_2d": [x1, y1, x2, y2]}}] with boxes in {box_units}. An empty list if nobody is involved.'
    )
