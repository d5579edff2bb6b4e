"""The ego360 `Tracker` on top of a SAM2 stream tracker, working in follow-views.

Why follow-views: SAM2 sees a square pinhole image, not a 360° panorama; a perspective view centred
on the object keeps it undistorted and away from cube seams and the ±180° wrap, so a track survives
crossing them. Each entity gets its own view and its own stream (its memory is in that view's
pixels); the view is re-centred only when the object drifts more than `recentre_deg` from the centre,
so consecutive frames mostly share one view geometry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ego360.core.packets import Box, FramePacket, Role, Track


class StreamTracker(Protocol):
    """What every SAM2 backend (torch, onnx, trt) offers: see `SAM2StreamTracker`."""

    def add_object(self, frame_idx: int, image: np.ndarray, obj_id: int, *, mask: np.ndarray) -> Any: ...

    def track(self, image: np.ndarray, frame_idx: int | None = None) -> dict[int, Any]: ...

    def remove_object(self, obj_id: int) -> None: ...


@dataclass
class _Entity:
    stream: StreamTracker
    view: Any  # ego360.core.projection.PerspectiveView
    role: Role
    kind: str
    last_mask: np.ndarray | None = None  # equirect bool, for `occupancy`


def angular_distance_deg(yaw1: float, pitch1: float, yaw2: float, pitch2: float) -> float:
    """Great-circle distance between two directions."""
    y1, p1, y2, p2 = (math.radians(v) for v in (yaw1, pitch1, yaw2, pitch2))
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(y1 - y2)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


class FollowViewTracker:
    """`ego360.core.interfaces.Tracker` for SAM2 backends; `make_stream()` returns a fresh stream tracker."""

    def __init__(
        self,
        make_stream: Callable[[], StreamTracker],
        view_size: int = 512,
        fov_deg: float = 90.0,
        recentre_deg: float | None = None,
        yaw_offset_deg: float = 0.0,
    ) -> None:
        self._make_stream = make_stream
        self.view_size = int(view_size)
        self.fov_deg = float(fov_deg)
        self.recentre_deg = fov_deg / 6.0 if recentre_deg is None else float(recentre_deg)
        self.yaw_offset_deg = float(yaw_offset_deg)
        self._entities: dict[int, _Entity] = {}

    def entity_ids(self) -> list[int]:
        return list(self._entities)

    def add(self, frame: FramePacket, entity_id: int, mask: np.ndarray, role: Role, kind: str = "unknown") -> None:
        """Seed (or re-seed) an entity; a new entity gets a view centred on its mask."""
        from ego360.core.projection import mask_centroid_yawpitch

        mask = np.asarray(mask, dtype=bool)
        if mask.shape != frame.image.shape[:2]:
            raise ValueError(f"mask {mask.shape} does not match the frame {frame.image.shape[:2]}")
        ent = self._entities.get(entity_id)
        if ent is None:
            centre = mask_centroid_yawpitch(mask)
            if centre is None:
                raise ValueError(f"entity {entity_id}: empty seed mask")
            ent = _Entity(self._make_stream(), self._view(*centre, frame), role, kind)
            self._entities[entity_id] = ent
        ent.role, ent.kind, ent.last_mask = role, kind, mask
        view_mask = ent.view.mask_from_equirect(mask)
        ent.stream.add_object(frame.frame_index, ent.view.render(frame.image), entity_id, mask=view_mask)

    def track(self, frame: FramePacket) -> list[Track]:
        """One Track per entity on `frame`, masks back in equirect pixels.

        All views go through the image encoder in one batch (`track_streams`), and all masks come back
        from the device in one copy (`fetch_all`), so the cost per extra entity is its decoder steps."""
        from ego360.models.sam2.streaming import fetch_all, track_streams

        items = list(self._entities.items())
        views = [ent.view.render(frame.image) for _, ent in items]
        results = track_streams([ent.stream for _, ent in items], views, frame.frame_index)
        fetch_all(results)
        return [self._track_one(frame, eid, ent, res[eid]) for (eid, ent), res in zip(items, results, strict=True)]

    def occupancy(self, height: int, width: int) -> np.ndarray:
        """Union of the entities' latest equirect masks, resized to (height, width)."""
        import cv2

        held = np.zeros((height, width), bool)
        for ent in self._entities.values():
            if ent.last_mask is not None and ent.last_mask.any():
                m = ent.last_mask.astype(np.uint8)
                if m.shape != (height, width):
                    m = cv2.resize(m, (width, height), interpolation=cv2.INTER_NEAREST)
                held |= m.astype(bool)
        return held

    def remove(self, entity_id: int) -> None:
        ent = self._entities.pop(entity_id, None)
        if ent is not None:
            ent.stream.remove_object(entity_id)

    def _track_one(self, frame: FramePacket, entity_id: int, ent: _Entity, out: Any) -> Track:
        from ego360.core.geometry import wrap_deg
        from ego360.core.projection import mask_box_wrapped, mask_centroid_yawpitch

        eq_mask = ent.last_mask = ent.view.mask_to_equirect(out.mask)
        centre = mask_centroid_yawpitch(eq_mask)
        yaw, pitch = centre if centre is not None else (ent.view.yaw_deg, ent.view.pitch_deg)
        drift = angular_distance_deg(yaw, pitch, ent.view.yaw_deg, ent.view.pitch_deg)
        if centre is not None and drift > self.recentre_deg:
            ent.view = self._view(yaw, pitch, frame)
        box = mask_box_wrapped(eq_mask) or Box(0.0, 0.0, 0.0, 0.0)
        return Track(
            entity_id=entity_id, frame_index=frame.frame_index, role=ent.role, mask=eq_mask, box=box,
            bearing_deg=float(wrap_deg(yaw - self.yaw_offset_deg)), pitch_deg=float(pitch),
            score=_mask_score(out.logits, out.mask), kind=ent.kind,
        )

    def _view(self, yaw: float, pitch: float, frame: FramePacket) -> Any:
        from ego360.core.projection import PerspectiveView

        pitch = max(-90.0, min(90.0, pitch))
        return PerspectiveView(yaw, pitch, self.fov_deg, out_size=(self.view_size, self.view_size),
                               equirect_size=(frame.height, frame.width))


def _mask_score(logits: np.ndarray, mask: np.ndarray) -> float:
    """Mean foreground probability inside the mask (0 when the object is lost)."""
    if not mask.any():
        return 0.0
    return float(np.mean(1.0 / (1.0 + np.exp(-np.clip(logits[mask], -30, 30)))))
