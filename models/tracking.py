"""The tracker interface shared by the classical tracker and the SAM2 backends.

Masks in and out are equirect bool arrays (H×W) so trackers that work in follow-views or cube faces
hide their own geometry; ids are assigned by the caller (the entity stage) and stay stable.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from runtime.packets import FramePacket, Role, Track


class Tracker(Protocol):
    """Frame-by-frame multi-object tracker (no whole-video state)."""

    def add(self, frame: FramePacket, entity_id: int, mask: np.ndarray, role: Role, kind: str = "unknown") -> None:
        """Start (or re-seed) `entity_id` on `frame` from an equirect bool mask."""

    def track(self, frame: FramePacket) -> list[Track]:
        """Advance every object to `frame`; one Track per live object (empty mask when lost)."""

    def remove(self, entity_id: int) -> None:
        """Forget an object and free its memory."""

    def entity_ids(self) -> list[int]:
        """Ids currently tracked."""
