"""Typed, frozen values that travel between stages.

Frozen dataclasses (not dicts) so a misspelt field fails at construction, and so results can be
shared between threads without copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Role = Literal["perpetrator", "victim", "target", "related", "none"]
ROLES: tuple[str, ...] = ("perpetrator", "victim", "target", "related", "none")


@dataclass(frozen=True, eq=False)
class FramePacket:
    """One equirect frame: RGB uint8 H×W×3 (W = 2H), with its three clocks."""

    frame_index: int
    video_t: float  # seconds into the clip (or since the live stream started)
    capture_ns: int  # time.monotonic_ns() when the frame was read
    image: np.ndarray = field(repr=False)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in equirect pixels (x0, y0 inclusive; x1, y1 exclusive). x1 may exceed W
    when the box wraps the ±180° seam."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class TriggerResult:
    """Per-frame anomaly score in [0, 1] and where it comes from."""

    frame_index: int
    score: float
    bearing_deg: float | None  # wearer-relative yaw of the strongest cue, None when quiet
    cue: str  # "none" | "approach" | "close" | "crossing" | ...
    state: str  # "idle" | "onset" | "ongoing" | "offset"
    event_id: int | None = None


@dataclass(frozen=True, eq=False)
class Track:
    """One tracked entity on one frame; mask in equirect pixels (bool H×W)."""

    entity_id: int
    frame_index: int
    role: Role
    mask: np.ndarray = field(repr=False)
    box: Box
    bearing_deg: float  # wearer-relative, (-180, 180]
    pitch_deg: float
    score: float = 1.0
    kind: str = "unknown"


@dataclass(frozen=True)
class Caption:
    """Instance-aligned caption: every claim belongs to one tracked entity."""

    entity_id: int
    frame_index: int
    role: Role
    appearance: str
    motion: str
    speech: str
    source: str = "template"  # "template" | "vlm"
    interaction: str = ""


@dataclass(frozen=True)
class Alert:
    """A decided alert; `capture_ns` is the capture time of the frame that decided it."""

    frame_index: int
    video_t: float
    capture_ns: int
    entity_id: int
    role: Role
    bearing_deg: float
    clock: int
    priority: int
    text: str


@dataclass(frozen=True)
class SourceInfo:
    """What a source really delivers (live cameras report the negotiated size and fps)."""

    name: str
    width: int
    height: int
    fps: float
    num_frames: int | None  # None for live / unknown
    live: bool
