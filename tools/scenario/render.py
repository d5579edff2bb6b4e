"""Ray-cast equirect renderer: exact per-entity masks with occlusion, over a rotating background.

Each equirect pixel is a ray from the camera; only rays inside an entity's angular bounding window
(and, within it, each part's own window) are intersected, so cost scales with what is on screen,
not with the panorama size. A z-buffer across entities gives occlusion, and the id buffer is the
ground-truth mask by construction — no segmentation heuristics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ego360.core.geometry import equirect_rays
from ego360.tools.scenario.background import check_size, rotate_background
from ego360.tools.scenario.gt import (
    EntityFrameGT,
    GroundTruth,
    GTEntity,
    GTEvent,
    WearerPoseGT,
    direction_of,
    encode_rle_columns,
    wrap_deg,
)
from ego360.tools.scenario.raycast import angular_window, circular_span, intersect, normals
from ego360.tools.scenario.scene import HEAD_HEIGHT, Entity, Part, rot_y
from ego360.tools.scenario.wearer import Walk, WearerPose, standing, tilt
from ego360.tools.scenario.world import Ground, Structure, backdrop

LIGHT = np.array([-0.35, 0.8, 0.5]) / np.linalg.norm([-0.35, 0.8, 0.5])


@dataclass(frozen=True)
class EventSpec:
    """An event in seconds; frames are derived from the scene's fps."""

    cls: str
    t_start: float
    t_end: float
    perpetrator: int
    victim: str | int = "wearer"
    t_contact: float | None = None  # when the perpetrator (or its object) reaches the victim, if it does


class Scene:
    """A renderable scenario: entities, events and camera settings. Frames are random-access and
    deterministic (per-frame RNG is seeded by (seed, frame)), so a test can render frame 120 alone."""

    def __init__(self, name: str, cls: str, entities: list[Entity], events: list[EventSpec], *, width: int,
                 height: int, fps: float, num_frames: int, seed: int = 0, ego_yaw_rate_dps: float = 0.0,
                 yaw_offset_deg: float = 0.0, noise: float = 0.0, flicker: float = 0.0,
                 background: np.ndarray | None = None, wearer: Walk | None = None, ground: Ground | None = None,
                 structures: list[Structure] | tuple[Structure, ...] = (), camera_height: float = HEAD_HEIGHT,
                 light_drift: float = 0.0, mount_pitch_deg: float = 0.0, mount_roll_deg: float = 0.0):
        check_size(width, height)
        self.name, self.cls, self.entities, self.events = name, cls, list(entities), list(events)
        self.width, self.height, self.fps, self.num_frames = int(width), int(height), float(fps), int(num_frames)
        self.seed, self.ego_yaw_rate_dps = int(seed), float(ego_yaw_rate_dps)
        self.yaw_offset_deg = float(yaw_offset_deg)
        self.noise, self.flicker = float(noise), float(flicker)
        if background is None:
            background = np.full((self.height, self.width, 3), 110, np.uint8)
        self.background = background
        self.wearer, self.ground, self.structures = wearer, ground, tuple(structures)
        self.camera_height = float(wearer.height if wearer is not None else camera_height)
        self.light_drift = float(light_drift)
        # A camera mounted tilted (Mounting conventions: pitch + up, roll + right side down), on top of
        # any head bob; 0/0 renders exactly as before.
        self.mount_pitch_deg, self.mount_roll_deg = float(mount_pitch_deg), float(mount_roll_deg)
        self._rays = equirect_rays(self.width, self.height)
        self._noise_bank: list[np.ndarray] | None = None

    # -- geometry -------------------------------------------------------------------------------
    def pose(self, frame: int) -> WearerPose:
        """Camera pose at a frame: the walk's (plus any extra turning rate), else the standing camera."""
        t = frame / self.fps
        turned = self.ego_yaw_rate_dps * frame / self.fps  # same expression as before walking existed
        if self.wearer is None:
            return standing(t, turned, self.camera_height)
        p = self.wearer.pose(t)
        if self.ego_yaw_rate_dps:
            p = WearerPose(p.t, p.x, p.z, p.heading_deg + turned, p.height_m, p.pitch_deg,
                           p.roll_deg, p.speed)
        return p

    @property
    def has_depth(self) -> bool:
        """A scene with a walking wearer, a ground plane or a non-standard camera height: its gt.json
        carries the camera height and a per-frame pose (older standing scenes stay as they were)."""
        return self.wearer is not None or self.ground is not None or self.camera_height != HEAD_HEIGHT

    def pose_gt(self, frame: int) -> WearerPoseGT | None:
        """The frame's pose record for gt.json (None for the original standing scenes)."""
        if not self.has_depth:
            return None
        p = self.pose(frame)
        return WearerPoseGT(p.x, p.z, p.heading_deg, p.height_m, p.pitch_deg, p.roll_deg, p.speed)

    def wearer_yaw(self, frame: int) -> float:
        """Wearer's heading in the world (deg) at a frame; the world turns the other way on screen."""
        return self.pose(frame).heading_deg

    def geometry(self, frame: int) -> dict[int, tuple[float, float, float]]:
        """id -> (bearing_deg, pitch_deg, distance_m) for entities that exist; no rendering. Wearer
        coordinates: from the camera centre, yaw relative to the body heading, level (head bob is
        not removed from the image but is not part of the bearing; gt.json records it per frame)."""
        pose = self.pose(frame)
        rot = rot_y(-pose.heading_deg)
        cam = pose.camera
        out = {}
        for ent in self.entities:
            c = ent.centre(frame / self.fps)
            if c is None:
                continue
            w = rot @ (c - cam)
            horiz = math.hypot(w[0], w[2])
            out[ent.id] = (wrap_deg(math.degrees(math.atan2(w[0], w[2]))), math.degrees(math.atan2(w[1], horiz)), horiz)
        return out

    def frame_of(self, t: float) -> int:
        return int(math.ceil(t * self.fps - 1e-6))

    def gt_header(self) -> GroundTruth:
        """Everything in gt.json except the per-frame records (frames=())."""
        events = []
        for spec in self.events:
            start = self.frame_of(spec.t_start)
            if start >= self.num_frames:
                continue
            end = min(int(math.floor(spec.t_end * self.fps + 1e-6)), self.num_frames - 1)
            bearing = self.geometry(start)[spec.perpetrator][0]
            contact = None if spec.t_contact is None else self.frame_of(spec.t_contact)
            events.append(GTEvent(len(events), spec.cls, start, end, spec.perpetrator, spec.victim,
                                  direction_of(bearing),
                                  contact if contact is not None and contact < self.num_frames else None))
        entities = tuple(GTEntity(e.id, e.kind, e.role, e.appearance, e.motion) for e in self.entities)
        return GroundTruth(scenario=self.name, cls=self.cls, fps=self.fps, width=self.width, height=self.height,
                           num_frames=self.num_frames, seed=self.seed, yaw_offset_deg=self.yaw_offset_deg,
                           ego_yaw_rate_dps=self.ego_yaw_rate_dps, events=tuple(events), entities=entities,
                           camera_height_m=self.camera_height if self.has_depth else None,
                           mount_pitch_deg=self.mount_pitch_deg, mount_roll_deg=self.mount_roll_deg)

    # -- rendering ------------------------------------------------------------------------------
    def render_frame(self, frame: int) -> tuple[np.ndarray, list[EntityFrameGT]]:
        """RGB uint8 H×W×3 and the visible entities' ground truth (occlusion applied)."""
        img, _, records = self.render_layers(frame)
        return img, records

    def render_layers(self, frame: int) -> tuple[np.ndarray, np.ndarray, list[EntityFrameGT]]:
        """`render_frame` plus the id buffer (entity id, −(k+1) for structure k, 0 for the backdrop)."""
        if not 0 <= frame < self.num_frames:
            raise IndexError(f"frame {frame} outside 0..{self.num_frames - 1}")
        pose = self.pose(frame)
        wearer = pose.heading_deg
        origin = None
        mounted = bool(self.mount_pitch_deg or self.mount_roll_deg)
        if pose.is_origin_level and self.ground is None and not mounted:  # the original standing camera, byte for byte
            img = rotate_background(self.background, (wearer - self.yaw_offset_deg) / 360.0 * self.width)
            cam = rot_y(self.yaw_offset_deg - wearer)
        else:
            origin = pose.camera
            cam = rot_y(self.yaw_offset_deg - wearer)
            if pose.pitch_deg or pose.roll_deg:
                cam = rot_y(self.yaw_offset_deg) @ tilt(pose.pitch_deg, pose.roll_deg) @ rot_y(-wearer)
            if mounted:  # the mount tilts about the camera's own axes, after its yaw offset
                cam = tilt(self.mount_pitch_deg, self.mount_roll_deg) @ cam
            img = backdrop(self.background, self.ground, self._rays, cam, origin,
                           abs(pose.pitch_deg) + abs(pose.roll_deg) + abs(self.mount_pitch_deg)
                           + abs(self.mount_roll_deg))
        depth = np.full((self.height, self.width), np.inf, dtype=np.float32)
        ids = np.zeros((self.height, self.width), dtype=np.int32)
        light = cam @ LIGHT
        for k, st in enumerate(self.structures):
            self._draw(-(k + 1), [_to_camera(p, cam, origin) for p in st.parts], light, img, depth, ids)
        windows = {}
        for ent in self.entities:
            parts = [_to_camera(p, cam, origin) for p in ent.parts(frame / self.fps)]
            if parts:
                windows[ent.id] = self._draw(ent.id, parts, light, img, depth, ids)
        img = self._camera_effects(img, frame)
        geo = self.geometry(frame)
        records = []
        for eid, pieces in windows.items():
            rec = self._record(eid, pieces, ids, geo[eid])
            if rec is not None:
                records.append(rec)
        return img, ids, records

    def _pieces(self, parts: list[Part]) -> list[tuple[slice, slice, list[tuple[slice, slice] | None]]]:
        """The entity's window as ≤2 seam-free pieces (rows, cols) with each part's sub-block in each
        piece (None when the part misses it). Contiguous pieces keep every array access a view."""
        W, H = self.width, self.height
        wins = [angular_window(p.centre, p.radius) for p in parts]
        ref = wins[0][0]
        spans = []
        for yaw, half, lo, hi, full in wins:
            mid = ref + wrap_deg(yaw - ref)
            x0 = math.floor(((mid - half) / 360.0 + 0.5) * W) - 1
            x1 = math.ceil(((mid + half) / 360.0 + 0.5) * W) + 1
            y0 = max(0, math.floor((0.5 - hi / 180.0) * H) - 1)
            y1 = min(H, math.ceil((0.5 - lo / 180.0) * H) + 1)
            spans.append((x0, x1, y0, y1) if not (full or x1 - x0 >= W) else (0, W, y0, y1))
        ex0, ex1 = min(s[0] for s in spans), max(s[1] for s in spans)
        ey0, ey1 = min(s[2] for s in spans), max(s[3] for s in spans)
        if ex1 - ex0 >= W:
            cuts = [(0, W)]
        else:
            a = ex0 % W
            cuts = [(a, a + ex1 - ex0)] if a + ex1 - ex0 <= W else [(a, W), (0, a + ex1 - ex0 - W)]
        pieces = []
        for c0, c1 in cuts:
            subs: list[tuple[slice, slice] | None] = []
            for x0, x1, y0, y1 in spans:
                lo_hi = [(max(x0 + k * W, c0), min(x1 + k * W, c1)) for k in (-1, 0, 1)]
                lo_hi = [(lo, hi) for lo, hi in lo_hi if lo < hi]
                if not lo_hi or y0 >= y1:
                    subs.append(None)
                    continue
                lo, hi = min(v[0] for v in lo_hi), max(v[1] for v in lo_hi)
                subs.append((slice(y0 - ey0, y1 - ey0), slice(lo - c0, hi - c0)))
            pieces.append((slice(ey0, ey1), slice(c0, c1), subs))
        return pieces

    def _draw(self, eid: int, parts: list[Part], light: np.ndarray, img: np.ndarray, depth: np.ndarray,
              ids: np.ndarray) -> list[tuple[slice, slice]]:
        pieces = self._pieces(parts)
        for rows, cols, subs in pieces:
            rays = self._rays[rows, cols]
            best = np.full(rays.shape[:2], np.inf, dtype=np.float32)
            which = np.full(rays.shape[:2], -1, dtype=np.int16)
            for k, (part, sub) in enumerate(zip(parts, subs, strict=True)):
                if sub is None:
                    continue
                block = rays[sub]
                t = intersect(part, block.reshape(-1, 3)).reshape(block.shape[:2])
                closer = t < best[sub]
                np.copyto(best[sub], t, where=closer)
                np.copyto(which[sub], k, where=closer)
            zb = depth[rows, cols]
            win = best < zb
            if win.any():
                self._shade(parts, which[win], best[win], rays[win], light, img[rows, cols], win)
                zb[win] = best[win]
                ids[rows, cols][win] = eid
        return [(rows, cols) for rows, cols, _ in pieces]

    @staticmethod
    def _shade(parts: list[Part], which: np.ndarray, t: np.ndarray, d: np.ndarray, light: np.ndarray,
               out: np.ndarray, win: np.ndarray) -> None:
        """Flat colour per part × Lambert, written into `out[win]` (a view into the frame).
        Ellipsoid normals are computed for all hits at once (gathering each hit's quadric)."""
        centres = np.stack([p.centre for p in parts]).astype(np.float32)
        colours = np.array([p.colour for p in parts], dtype=np.float32)
        p = d * t[:, None]
        if all(part.kind == "box" for part in parts):  # street furniture: one gather, no per-part passes
            axes = np.stack([part.axes for part in parts]).astype(np.float32)
            half = np.stack([part.half for part in parts]).astype(np.float32)
            local = np.einsum("nij,ni->nj", axes[which], p - centres[which])
            axis = np.argmax(np.abs(local) / half[which], axis=1)
            sign = np.sign(local[np.arange(len(local)), axis])
            n = axes[which, :, axis] * sign[:, None]
            lam = 0.4 + 0.6 * np.clip(n @ light.astype(np.float32), 0.0, 1.0)
            out[win] = np.clip(colours[which] * lam[:, None], 0, 255).astype(np.uint8)
            return
        q = np.stack([p.q if p.kind == "ell" else np.zeros((3, 3)) for p in parts]).astype(np.float32)
        n = np.einsum("nij,nj->ni", q[which], p - centres[which])
        for k, part in enumerate(parts):
            if part.kind != "ell":
                sel = which == k
                if sel.any():
                    n[sel] = normals(part, p[sel], d[sel])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        lam = 0.4 + 0.6 * np.clip(n @ light.astype(np.float32), 0.0, 1.0)
        out[win] = np.clip(colours[which] * lam[:, None], 0, 255).astype(np.uint8)

    def _record(self, eid: int, pieces: list[tuple[slice, slice]], ids: np.ndarray,
                geo: tuple[float, float, float]) -> EntityFrameGT | None:
        wins = [(rows, cols, ids[rows, cols] == eid) for rows, cols in pieces]
        occ = np.zeros(self.width, dtype=bool)
        rows_hit = np.zeros(self.height, dtype=bool)
        for rows, cols, win in wins:
            occ[cols] |= win.any(axis=0)
            rows_hit[rows] |= win.any(axis=1)
        used = np.flatnonzero(occ)
        if len(used) == 0:
            return None
        c0, c1 = int(used[0]), int(used[-1]) + 1
        band = np.zeros((self.height, c1 - c0), dtype=bool)
        for rows, cols, win in wins:
            lo, hi = max(cols.start, c0), min(cols.stop, c1)
            if lo < hi:
                band[rows, lo - c0:hi - c0] = win[:, lo - cols.start:hi - cols.start]
        x0, x1 = circular_span(occ)
        r = np.flatnonzero(rows_hit)
        return EntityFrameGT(eid, encode_rle_columns(band, c0, self.width), (x0, int(r[0]), x1, int(r[-1]) + 1),
                             geo[0], geo[1], geo[2], int(band.sum()))

    def _camera_effects(self, img: np.ndarray, frame: int) -> np.ndarray:
        """Per-frame brightness flicker and sensor noise (saturating uint8 maths, cheap at 1920×960).
        Noise comes from a small bank of precomputed fields so each frame costs two adds, not 5M
        fresh Gaussian draws."""
        if self.noise <= 0 and self.flicker <= 0 and self.light_drift <= 0:
            return img
        import cv2

        rng = np.random.default_rng([self.seed, frame, 7])
        gain = 1.0 + self.flicker * float(rng.uniform(-1.0, 1.0))
        if self.light_drift > 0:  # slow global drift (clouds, auto-exposure): a 9 s cycle, phase by seed
            gain += self.light_drift * math.sin(2 * math.pi * frame / self.fps / 9.0 + self.seed)
        if self.flicker > 0 or self.light_drift > 0:
            img = cv2.convertScaleAbs(img, alpha=gain)
        if self.noise > 0:
            if self._noise_bank is None:
                bank_rng = np.random.default_rng([self.seed, 11])
                fields = [np.clip(bank_rng.normal(0, self.noise * 255.0, img.shape), -255, 255) for _ in range(6)]
                self._noise_bank = [(np.maximum(f, 0).astype(np.uint8), np.maximum(-f, 0).astype(np.uint8))
                                    for f in fields]
            pos, neg = self._noise_bank[int(rng.integers(len(self._noise_bank)))]
            img = cv2.subtract(cv2.add(img, pos), neg)
        return img


def _to_camera(part: Part, cam: np.ndarray, origin: np.ndarray | None) -> Part:
    """World part → camera frame (translate to the camera centre, then rotate)."""
    return part.rotated(cam) if origin is None else part.shifted(origin).rotated(cam)
