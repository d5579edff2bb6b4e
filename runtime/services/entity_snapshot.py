"""A read-only view of the entities being tracked, for the wearer's "what's around me" (and a dashboard).

The alert stage refreshes it on every frame from the entity stage's tracks and measured motion; readers on
other threads (the control API, keys, a media button) get an immutable tuple, nearest first, without
touching the stages' own state.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class EntityView:
    entity_id: int
    role: str
    kind: str
    bearing_deg: float
    clock: int
    distance_m: float  # inf when the entity's ground contact is not visible
    distance_class: str  # "within arm's reach" | "close" | "near" | "far" | "" (not measured yet)
    motion: str  # the few words the alerts use ("approaching", "moving away", …)


class EntitySnapshot:
    """Thread-safe holder of the latest frame's entity views."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: tuple[EntityView, ...] = ()
        self._video_t = 0.0

    def update(self, views: tuple[EntityView, ...], video_t: float) -> None:
        with self._lock:
            self._views, self._video_t = views, video_t

    @property
    def video_t(self) -> float:
        with self._lock:
            return self._video_t

    def nearest(self) -> tuple[EntityView, ...]:
        """Nearest first; entities without a measured distance after the measured ones, in clock order
        from ahead (so the answer is stable from one call to the next)."""
        with self._lock:
            views = self._views
        return tuple(sorted(views, key=lambda v: (math.isinf(v.distance_m), v.distance_m, abs(v.bearing_deg))))
