"""The interfaces the stages rely on: trackers and captioners, whatever backend implements them.

Why in the core layer: the entity and alert stages (runtime) and every backend (models) meet here,
so neither imports the other's concrete classes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ego360.core.packets import Caption, CaptionRequest, FramePacket, Role, Track


class Tracker(Protocol):
    """Frame-by-frame multi-object tracker (no whole-video state).

    Masks in and out are equirect bool arrays (H×W) so trackers that work in follow-views or cube
    faces hide their own geometry; ids are assigned by the caller (the entity stage) and stay stable.
    A tracker gets the camera mounting (and, for the classical one, the shared motion analysis)
    through its constructor, from `ego360.models.registry.create_tracker`.
    """

    def add(self, frame: FramePacket, entity_id: int, mask: np.ndarray, role: Role, kind: str = "unknown") -> None:
        """Start (or re-seed) `entity_id` on `frame` from an equirect bool mask."""

    def track(self, frame: FramePacket) -> list[Track]:
        """Advance every object to `frame`; one Track per live object (empty mask when lost)."""

    def remove(self, entity_id: int) -> None:
        """Forget an object and free its memory."""

    def entity_ids(self) -> list[int]:
        """Ids currently tracked."""

    def occupancy(self, height: int, width: int) -> np.ndarray:
        """Union of the current masks of every tracked object, as a bool (height, width) equirect
        mask: the entity stage uses it so a proposal over something already tracked is not started
        as a second entity."""


class Captioner(Protocol):
    """Writes one entity's caption. `is_vlm` says whether it may block on a model (then the alert
    stage runs it off the frame loop, behind a deadline, with the measured template caption first)."""

    is_vlm: bool

    def caption(self, request: CaptionRequest) -> Caption:
        """Return a caption for one entity (a VLM may block: the runner calls it off the frame loop)."""
