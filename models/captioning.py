"""The captioner interface shared by the template captioner and the VLM backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from runtime.packets import Caption, Role


@dataclass(frozen=True, eq=False)
class CaptionRequest:
    """Everything a captioner may use about one tracked entity; bearings are ours, never the model's."""

    entity_id: int
    frame_index: int
    role: Role
    kind: str
    bearing_deg: float  # wearer-relative, (-180, 180]
    clock: int
    distance_hint: str  # e.g. "within arm's reach", "about 3 m", "" when unknown
    motion_hint: str  # measured: "approaching fast", "circling", ...
    appearance_hint: str  # measured: "red top, blue trousers"
    views: tuple[np.ndarray, ...] = field(default=(), repr=False)  # follow-view crops, entity boxed in red
    context: np.ndarray | None = field(default=None, repr=False)  # wide view, all entities in role colours
    template: Caption | None = None  # the measured caption, kept when a VLM fails


class Captioner(Protocol):
    def caption(self, request: CaptionRequest) -> Caption:
        """Return a caption for one entity (may block: the runner calls it off the frame loop)."""
