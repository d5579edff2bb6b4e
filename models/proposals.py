"""Entity proposals at event onset: one mask per mover involved, with a role.

Roles follow VIEW360+: the mover that caused the cue is the perpetrator; the victim/target is the
wearer unless the perpetrator is acting on another mover right next to it (that one is the
"victim"); other nearby movers are "related". Far movers are left out: they are street life.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ego360.core.geometry import Mounting, wrap_deg
from ego360.core.packets import Box
from ego360.models.blobs import Blob, MotionFrame, mask_geometry, to_full


@dataclass(frozen=True, eq=False)
class Proposal:
    mask: np.ndarray = field(repr=False)  # full-resolution equirect bool
    work_mask: np.ndarray = field(repr=False)
    box: Box  # full-resolution pixels, x1 may exceed W
    bearing_deg: float  # wearer-relative
    pitch_deg: float
    width_deg: float
    height_deg: float
    distance_m: float
    role: str
    kind: str = "unknown"


def kind_of(blob: Blob) -> str:
    """person / vehicle / object from the measured size at the estimated distance (or, without a
    ground contact, from the angular shape alone): what the speech line names."""
    d = blob.distance_m
    if np.isfinite(d):
        h = d * (np.tan(np.radians(blob.top_pitch_deg)) - np.tan(np.radians(blob.bottom_pitch_deg)))
        w = 2.0 * d * np.tan(np.radians(min(blob.width_deg, 170.0) / 2.0))
        if w > 1.6 and w > 0.9 * h:
            return "vehicle"
        if h < 0.7 and w < 0.7:
            return "object"
        return "person"
    if blob.height_deg < 4.0 and blob.width_deg < 4.0:
        return "object"
    return "person" if blob.height_deg > 1.5 * blob.width_deg else "unknown"


def _gap_deg(a: Blob, b: Blob) -> float:
    """Angular gap between two blobs' yaw extents (0 when they overlap)."""
    centre = abs(float(wrap_deg(a.yaw_deg - b.yaw_deg)))
    return max(0.0, centre - (a.width_deg + b.width_deg) / 2.0)


def _pick_perpetrator(blobs: tuple[Blob, ...], mounting: Mounting, bearing_deg: float | None) -> Blob:
    if bearing_deg is None:
        return max(blobs, key=lambda b: b.area)
    return min(blobs, key=lambda b: abs(float(wrap_deg(mounting.wearer_yaw(b.yaw_deg) - bearing_deg))))


def roles_for(blobs: tuple[Blob, ...], mounting: Mounting, bearing_deg: float | None,
              max_entities: int = 4, related_within_m: float = 6.0) -> list[tuple[Blob, str]]:
    """Assign roles to the blobs of the onset frame; perpetrator first."""
    if not blobs:
        return []
    perp = _pick_perpetrator(blobs, mounting, bearing_deg)
    out: list[tuple[Blob, str]] = [(perp, "perpetrator")]
    others = sorted((b for b in blobs if b is not perp), key=lambda b: _gap_deg(perp, b))
    for b in others:
        if len(out) >= max_entities:
            break
        same_depth = np.isfinite(b.distance_m) and abs(b.distance_m - perp.distance_m) < 1.5
        if len(out) == 1 and _gap_deg(perp, b) < 6.0 and same_depth:
            out.append((b, "victim"))
        elif b.distance_m <= related_within_m:
            out.append((b, "related"))
    return out


def propose(mf: MotionFrame, mounting: Mounting, bearing_deg: float | None, max_entities: int = 4,
            refine: Callable[[MotionFrame, np.ndarray], np.ndarray] | None = None) -> list[Proposal]:
    """Full-resolution masks and geometry for the movers of this frame, with roles."""
    h, w = mf.full_shape
    out = []
    for blob, role in roles_for(mf.blobs, mounting, bearing_deg, max_entities):
        full = refine(mf, blob.mask) if refine is not None else to_full(blob.mask, (h, w))
        geo = mask_geometry(full) if full.any() else None
        if geo is None:
            continue
        box, yaw, pitch = geo
        out.append(Proposal(full, blob.mask, box, float(mounting.wearer_yaw(yaw)), pitch, blob.width_deg,
                            blob.height_deg, blob.distance_m, role, kind_of(blob)))
    return out
