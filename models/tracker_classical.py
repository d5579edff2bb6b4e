"""The weight-free mask tracker: optical flow carries each mask, the motion foreground re-segments it.

Everything runs on the small work-size equirect. Flow is computed on a copy padded by wrapping the
panorama's columns, so an entity crossing the ±180° seam (or circling the wearer) is one object to the
flow and keeps its id; cube-face seams do not exist here at all. Re-segmentation snaps the warped mask
to the moving pixels it overlaps, which stops flow drift; when nothing moves (an entity standing
still) the warped mask is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ego360.core.geometry import Mounting, wrap_deg
from ego360.core.packets import Box, FramePacket, Role, Track
from ego360.models.blobs import MotionFrame, mask_geometry, to_work
from ego360.models.motion import MotionAnalyzer

_PAD = 32


@dataclass
class _Obj:
    role: Role
    kind: str
    mask: np.ndarray = field(repr=False)  # work-size bool
    added_frame: int
    full_seed: np.ndarray | None = field(default=None, repr=False)  # exact mask on the frame it was added
    unsupported: int = 0  # consecutive frames without foreground support
    last: tuple[Box, float, float] | None = None  # the last non-empty mask's (work box, yaw, pitch)


def _mounting_from(cfg: Any) -> Mounting:
    b = getattr(cfg, "bearings", None)
    return Mounting(float(getattr(b, "yaw_offset_deg", 0.0)), float(getattr(b, "pitch_deg", 0.0)),
                    float(getattr(b, "roll_deg", 0.0)))


MAX_JUMP_DEG = 45.0  # bearing change of one entity between processed frames that no real mover makes


def _jumps(before: np.ndarray, after: np.ndarray) -> bool:
    """True when `after`'s centre lies more than `MAX_JUMP_DEG` of yaw from `before`'s (an entity
    within arm's reach can sweep ~25° per processed frame; ids that jumped further had swapped bodies)."""
    a, b = mask_geometry(before), mask_geometry(after)
    return a is not None and b is not None and abs(float(wrap_deg(b[1] - a[1]))) > MAX_JUMP_DEG


class ClassicalTracker:
    """`ego360.core.interfaces.Tracker` with DIS optical flow + foreground re-segmentation (OpenCV only)."""

    name = "classical"

    def __init__(self, cfg: Any = None, mounting: Mounting | None = None, motion: MotionAnalyzer | None = None):
        self.mounting = mounting or _mounting_from(cfg)
        self.motion = motion or MotionAnalyzer.configured(getattr(cfg, "trigger", None), self.mounting)
        self._objs: dict[int, _Obj] = {}
        self._prev: MotionFrame | None = None
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    # -- Tracker interface ---------------------------------------------------------------------
    def add(self, frame: FramePacket, entity_id: int, mask: np.ndarray, role: Role, kind: str = "unknown") -> None:
        mf = self.motion.analyze(frame)
        work = to_work(mask, mf.gray.shape)
        self._objs[entity_id] = _Obj(role, kind, work, frame.frame_index, mask.astype(bool))
        if self._prev is None or self._prev.frame_index < frame.frame_index:
            self._prev = mf

    def remove(self, entity_id: int) -> None:
        self._objs.pop(entity_id, None)

    def entity_ids(self) -> list[int]:
        return sorted(self._objs)

    def occupancy(self, height: int, width: int) -> np.ndarray:
        held = np.zeros(self._prev.gray.shape if self._prev is not None else (height, width), bool)
        for o in self._objs.values():
            if o.mask.shape == held.shape:
                held |= o.mask
        return held if held.shape == (height, width) else to_work(held, (height, width))

    def track(self, frame: FramePacket) -> list[Track]:
        mf = self.motion.analyze(frame)
        moving = [i for i, o in self._objs.items() if o.added_frame != frame.frame_index]
        if moving and self._prev is not None and self._prev.frame_index != frame.frame_index:
            flow = self._flow(self._prev.gray, mf.gray)
            warped = {i: self._warp(self._objs[i].mask, flow) for i in moving}
            for i, m in self._resegment(warped, mf).items():
                self._objs[i].mask = m
                self._objs[i].full_seed = None
        self._prev = mf
        tracks = [self._to_track(i, o, mf) for i, o in sorted(self._objs.items())]
        held = np.zeros(mf.gray.shape, bool)
        for o in self._objs.values():
            held |= o.mask
        # feedback through the shared motion service (named in both constructors): the background
        # must not learn what the tracker holds
        self.motion.protect(cv2.dilate(held.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool))
        return tracks

    # -- internals -----------------------------------------------------------------------------
    def _flow(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        """Backward flow (cur → prev) on seam-padded images, cropped back to the panorama."""
        pad = lambda g: np.concatenate([g[:, -_PAD:], g, g[:, :_PAD]], axis=1)  # noqa: E731
        flow = self._dis.calc(pad(cur), pad(prev), None)
        return flow[:, _PAD:-_PAD]

    def _warp(self, mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        if getattr(self, "_grid", None) is None or self._grid[0].shape != (h, w):
            self._grid = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        gx, gy = self._grid
        mx = np.mod(gx + flow[..., 0], w).astype(np.float32)
        my = gy + flow[..., 1]
        out = cv2.remap(mask.view(np.uint8) * np.uint8(255), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        return out > 127

    def _resegment(self, warped: dict[int, np.ndarray], mf: MotionFrame) -> dict[int, np.ndarray]:
        """Give each foreground blob to the warped mask it overlaps most; split shared blobs by nearness."""
        owners: dict[int, list[np.ndarray]] = {i: [] for i in warped}
        for blob in mf.blobs:
            hits = {i: int(np.count_nonzero(blob.mask & m)) for i, m in warped.items()}
            hits = {i: n for i, n in hits.items() if n > 0 and (n >= 0.15 * blob.area or n >= 0.3 * warped[i].sum())}
            if len(hits) == 1:
                owners[next(iter(hits))].append(blob.mask)
            elif len(hits) > 1:
                dist = {i: cv2.distanceTransform((~warped[i]).view(np.uint8), cv2.DIST_L2, 3) for i in hits}
                ids = list(dist)
                nearest = np.argmin(np.stack([dist[i] for i in ids]), axis=0)
                for k, i in enumerate(ids):
                    owners[i].append(blob.mask & (nearest == k))
        self._reacquire(warped, owners, mf)
        out = {}
        for i, m in warped.items():
            support = np.logical_or.reduce(owners[i]) if owners[i] else None
            obj = self._objs[i]
            if support is None or support.sum() < 0.3 * max(1, m.sum()):
                # Nothing (or little) moves here: standing still or occluded; keep the flow's mask.
                obj.unsupported += 1
                out[i] = m if support is None or _jumps(m, m | support) else (m | support)
            elif _jumps(m, support):
                # The blob it overlaps is mostly elsewhere (a passer-by or a parallax rim merged with
                # it): taking it would move this entity's bearing by more than anything near can turn.
                obj.unsupported += 1
                out[i] = m
            else:
                obj.unsupported = 0
                out[i] = support
        return out

    def _reacquire(self, warped: dict[int, np.ndarray], owners: dict[int, list[np.ndarray]], mf: MotionFrame) -> None:
        """An object with no moving support (it passed behind something, or stopped there) takes an
        unclaimed mover of comparable size close by: a person who reappears from behind another one
        is the same person, not a new street-life blob, and its old mask would stay stuck."""
        claimed = np.zeros(mf.gray.shape, bool)
        for parts in owners.values():
            for p in parts:
                claimed |= p
        w = mf.gray.shape[1]
        for i, m in warped.items():
            if owners[i] or not m.any():
                continue
            geo = mask_geometry(m)
            if geo is None:
                continue
            yaw, area = geo[1], int(m.sum())
            free = [b for b in mf.blobs if (b.mask & claimed).sum() < 0.2 * b.area and b.area >= 0.3 * area]
            gate = max(15.0, 60.0 * (geo[0].x1 - geo[0].x0) / w)  # 15° or a sixth of its own width in yaw
            near = [b for b in free if abs(float(wrap_deg(b.yaw_deg - yaw))) < gate]
            if near:
                best = min(near, key=lambda b: abs(float(wrap_deg(b.yaw_deg - yaw))))
                owners[i].append(best.mask)
                claimed |= best.mask

    def _to_track(self, eid: int, obj: _Obj, mf: MotionFrame) -> Track:
        full_shape = mf.full_shape
        if obj.full_seed is not None and obj.full_seed.shape == full_shape:
            full = obj.full_seed
        else:
            full = self.motion.refine(mf, obj.mask)
        geo = mask_geometry(obj.mask)
        if geo is None and obj.last is None:
            return Track(eid, mf.frame_index, obj.role, full, Box(0, 0, 0, 0), 0.0, 0.0, score=0.0, kind=obj.kind)
        if geo is None:  # lost this frame: where it was last seen (score 0), not a jump to straight ahead
            box, yaw, pitch = obj.last
        else:
            obj.last = geo
            box, yaw, pitch = geo
        sx, sy = full_shape[1] / obj.mask.shape[1], full_shape[0] / obj.mask.shape[0]
        fbox = Box(box.x0 * sx, box.y0 * sy, box.x1 * sx, box.y1 * sy)
        score = 0.0 if geo is None else 1.0 if obj.unsupported == 0 else max(0.2, 1.0 - 0.05 * obj.unsupported)
        return Track(eid, mf.frame_index, obj.role, full, fbox, float(self.mounting.wearer_yaw(yaw)), pitch,
                     score=score, kind=obj.kind)
