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
    # Damage at the source (a stream joined mid-way, lost packets, a stalled camera): `discontinuity` marks
    # the first frame after skipped frames or a timestamp gap, `gap_s` the video seconds missing (inf when
    # unknown); `damaged` frames were decoded from damaged references and must never produce an alert.
    discontinuity: bool = False
    damaged: bool = False
    gap_s: float = 0.0

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
class EgoMotion:
    """The wearer's own motion at one frame, estimated from the image (see `ego360.models.egomotion`).

    Velocities are in the wearer's level frame at this frame (x right, z ahead, m/s); the heading is
    integrated since the start (positive = turned right); pitch/roll are the camera's attitude
    against the level ground plane (head bob, sway), in the `Mounting` sense."""

    frame_index: int
    video_t: float
    heading_deg: float
    yaw_rate_dps: float
    pitch_deg: float
    roll_deg: float
    vx_mps: float
    vz_mps: float
    inliers: int  # feature tracks that agreed with the fit (0: no estimate, everything else is zero)

    @property
    def speed_mps(self) -> float:
        return float((self.vx_mps**2 + self.vz_mps**2) ** 0.5)


@dataclass(frozen=True)
class EntityMotion:
    """Measured (never guessed) motion of one entity relative to the wearer, for captions and alerts."""

    entity_id: int
    distance_m: float  # inf when the entity's ground contact is not visible
    distance_class: str  # "within arm's reach" | "close" | "near" | "far"
    approach_mps: float  # positive = coming closer
    angular_growth_per_s: float  # d ln(angular height)/dt
    ttc_s: float | None  # time to contact when approaching
    yaw_rate_dps: float  # around the wearer, turning compensated
    approaching: bool
    leaving: bool
    circling: bool
    crossing: bool
    own_speed_mps: float = 0.0  # its ground speed in the world (relative velocity + the wearer's own)
    wearer_speed_mps: float = 0.0  # the wearer's own speed over the same window (0 standing)


@dataclass(frozen=True, eq=False)
class EntityUpdate:
    """The entity stage's result for one frame: every live track and its measured motion."""

    frame_index: int
    tracks: tuple[Track, ...]
    new_entities: tuple[int, ...]
    lost_entities: tuple[int, ...]
    motion: tuple[EntityMotion, ...]
    event_id: int | None = None

    def motion_of(self, entity_id: int) -> EntityMotion | None:
        return next((m for m in self.motion if m.entity_id == entity_id), None)


@dataclass(frozen=True, eq=False)
class Work:
    """What travels between stages for one frame; each stage adds its part with dataclasses.replace."""

    packet: FramePacket
    trigger: TriggerResult
    entities: EntityUpdate | None = None
    captions: tuple[Caption, ...] = ()
    alerts: tuple[Alert, ...] = ()


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


@dataclass(frozen=True)
class Seed:
    """A VLM grounding box in equirect pixels (x1 may exceed W across the seam) with the VLM's role."""

    role: str
    box: Box
    frame_index: int


@dataclass(frozen=True)
class SourceInfo:
    """What a source really delivers (live cameras report the negotiated size and fps)."""

    name: str
    width: int
    height: int
    fps: float
    num_frames: int | None  # None for live / unknown
    live: bool
    # Frames arrive at the camera's pace (live, or a replay paced to its fps): their capture times are real, so
    # an alert's age says whether it would still help. An unpaced replay's frames wait in full queues instead.
    paced: bool = False


@dataclass(frozen=True, eq=False)
class Detection:
    """One trained-detector hit on one frame, in equirect pixels and wearer bearings.

    Found on a cube face (or follow view) and mapped back through the face geometry; duplicates
    across face edges and the ±180° seam are already merged. `distance_m` comes from the foot point
    and the camera height (inf when the foot is not below the horizon) — the mask's lowest row when a
    person mask is there, else the detector's foot point."""

    frame_index: int
    kind: str  # "person" | "vehicle" | "bicycle" | "animal" | "object"
    label: str  # the detector's own class name
    score: float
    box: Box  # x1 may exceed W across the seam
    bearing_deg: float  # wearer-relative yaw of the box centre, (-180, 180]
    pitch_deg: float
    foot_pitch_deg: float  # levelled pitch of the ground contact
    distance_m: float
    faces: str = ""  # the cube faces it was seen on, e.g. "F" or "FR"
    mask: np.ndarray | None = field(default=None, repr=False)  # bool H×W equirect (a person's, from the segmenter)
