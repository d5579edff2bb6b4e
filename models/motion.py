"""Ego-rotation-compensated motion foreground on a small equirect, shared by trigger, proposals and tracker.

Why a background model in *world* yaw: the wearer turning is a circular column shift of the equirect.
The shift is measured against the background itself (phase correlation on the horizon band, which is
circular in x like the panorama), so it never drifts, and only the new frame is resampled, once, so
the background does not blur from repeated sub-pixel shifts. Walking and residual misalignment are
absorbed by comparing each pixel with the min/max of its 3×3 background neighbourhood.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import replace

import cv2
import numpy as np

from ego360.core.config import TriggerConfig
from ego360.core.geometry import Mounting, level_matrix, row_pitch
from ego360.core.packets import Box, EgoMotion, FramePacket
from ego360.models.blobs import Blob, MotionFrame, _camera_distance, extract_blobs, level_blob, roll_frac
from ego360.models.depth_split import split_by_ground_contact
from ego360.models.ego_warp import step_maps_fast, world_maps_fast
from ego360.models.egomotion import EgoMotionEstimator
from ego360.models.ghosts import GhostRepair
from ego360.models.structure import static_structure

_K3 = np.ones((3, 3), np.uint8)
WALK_ENTER_MPS = 0.35  # estimated wearer speed that counts as walking (for WALK_VOTES processed frames)
WALK_EXIT_MPS = 0.15
WALK_VOTES = 3
WALK_NADIR_DEG = 55.0
STRUCTURE_BASELINE_S = 0.4  # walking: how far back a frame is compared to explain static structure
WALK_LEARN_RATE = 0.05
WALK_FG_LEARN_RATE = 0.02  # walking: near structures change with parallax, so the background learns faster
_K5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_K31 = np.ones((3, 1), np.uint8)
_KH = np.ones((1, 3), np.uint8)  # horizontal tolerance: turning shifts columns, never rows
_KREACH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 25))  # how far a body extends from its seeds


class MotionAnalyzer(GhostRepair):
    """Background model in world yaw + foreground + blobs; one result per frame index, cached.

    Several stages (trigger, entity stage, classical tracker) may ask for the same frame; the first
    call computes and updates the background, later calls get the cached result. A lock keeps the
    background update atomic if those stages run in different threads.
    """

    def __init__(self, work_width: int = 512, threshold: float = 30.0, camera_height_m: float = 1.6,
                 warmup_frames: int = 6, min_area: int = 12, static_frames: int = 10, fine_width: int = 960,
                 learn_rate: float = 0.01, tilt_deg: tuple[float, float] = (0.0, 0.0)) -> None:
        self.work_width = int(work_width)
        self.threshold = float(threshold)
        self.camera_height_m = float(camera_height_m)
        self.warmup_frames = int(warmup_frames)
        self.min_area = int(min_area)
        self.fine_width = int(fine_width)
        self.learn_rate = float(learn_rate)
        # The mount's (pitch, roll) from `ego360 calibrate`: walking frames are levelled with it (the
        # ego-motion attitude rests there); standing ones keep camera rows, so their blobs are levelled.
        self.tilt_deg = (float(tilt_deg[0]), float(tilt_deg[1]))
        self._tilt = level_matrix(*self.tilt_deg) if any(self.tilt_deg) else None
        self.ego = EgoMotionEstimator(camera_height_m, tilt_deg=self.tilt_deg)
        self.walking = False  # the wearer translates: the background is warped with each step
        self._walk_votes = 0
        self._last_t = 0.0
        self._pos = (0.0, 0.0)  # the wearer's position in the world frame, integrated while walking
        self._walk_history: deque[tuple[float, np.ndarray, tuple[float, float]]] = deque(maxlen=12)
        self._bg: np.ndarray | None = None
        self._fine_bg: np.ndarray | None = None
        self._fine_world: np.ndarray | None = None  # this frame at fine width, in world columns
        self._offset = 0.0
        self._seen = 0
        self._cache: OrderedDict[int, MotionFrame] = OrderedDict()
        self._lock = threading.Lock()
        self._window: np.ndarray | None = None
        self.static_frames = int(static_frames)
        self._still: list[tuple[Box, int]] = []
        self._repaired: list[Box] = []  # world boxes whose ghost was relearnt
        self._protect: np.ndarray | None = None  # work-size camera mask the tracker holds (next frame)

    @classmethod
    def configured(cls, trigger: TriggerConfig | None, mounting: Mounting) -> MotionAnalyzer:
        """The analysis as the session, the entity stage, the trigger and the tracker each build it when
        none is handed in: the trigger's work width, threshold and camera height; the mount's tilt."""
        t = trigger or TriggerConfig()
        return cls(t.work_width, t.fg_threshold, t.camera_height_m, tilt_deg=(mounting.pitch_deg, mounting.roll_deg))

    def reset(self) -> None:
        """Forget the scene (after a stream discontinuity): the next frame starts a fresh background."""
        with self._lock:
            self._bg = self._fine_bg = self._fine_world = None
            self._still, self._walk_votes, self.walking = [], 0, False
            self._walk_history.clear()
            self._cache.clear()
            self.ego.reset()

    def protect(self, mask: np.ndarray | None) -> None:
        """Pixels of tracked entities: the background must not learn them, or a person who stops
        (reaching, threatening, throwing) would fade into it and lose its mask."""
        self._protect = None if mask is None else mask.astype(bool)

    def work_size(self, height: int, width: int) -> tuple[int, int]:
        w = min(self.work_width, width)
        return w, max(2, w // 2)

    def analyze(self, packet: FramePacket) -> MotionFrame:
        with self._lock:
            hit = self._cache.get(packet.frame_index)
            if hit is not None:
                return hit
            mf = self._analyze(packet)
            self._cache[packet.frame_index] = mf
            while len(self._cache) > 24:  # the entity stage may lag the trigger by a full queue or two
                self._cache.popitem(last=False)
            return mf

    def _estimate_offset(self, gray: np.ndarray, far_only: bool = False) -> float:
        """World offset (px) of this frame: phase correlation of the horizon band against the background
        (walking: only the band above the horizon, where the far world does not slide with the step)."""
        h = gray.shape[0]
        y0, y1 = h // 3, (h // 2 if far_only else h - h // 3)
        bg_band = cv2.cvtColor(self._bg[y0:y1].astype(np.float32), cv2.COLOR_RGB2GRAY)
        band = gray[y0:y1].astype(np.float32)
        if self._window is None or self._window.shape != band.shape:
            wy = np.hanning(band.shape[0]).astype(np.float32)[:, None]
            self._window = np.repeat(wy, band.shape[1], axis=1)
        # ref ≈ the previous camera view; if band = roll(ref, dx) then the new world offset is k − dx.
        k = int(round(self._offset))
        (dx, _dy), _resp = cv2.phaseCorrelate(np.roll(bg_band, -k, axis=1), band, self._window)
        return float(k - dx)

    @staticmethod
    def _diff(world: np.ndarray, bg: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """Per-pixel colour distance outside the min/max of the background's neighbours (`kernel`).

        The horizontal 1×3 window is the sensitive one: turning misaligns columns only, and a 3×3
        window in a textured street swallows three quarters of a person whose colours are near it."""
        above = cv2.split(cv2.subtract(world, cv2.dilate(bg, kernel)))
        below = cv2.split(cv2.subtract(cv2.erode(bg, kernel), world))
        return cv2.max(cv2.max(cv2.max(above[0], above[1]), cv2.max(above[2], below[0])),
                       cv2.max(below[1], below[2]))

    def _analyze(self, packet: FramePacket) -> MotionFrame:
        img = packet.image
        w, h = self.work_size(img.shape[0], img.shape[1])
        # INTER_LINEAR: ~10× cheaper than INTER_AREA at 1920→512 and the threshold tolerates the aliasing.
        rgb = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) if img.shape[1] != w else img
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        ego = self.ego.update(gray, packet.frame_index, packet.video_t)
        fresh = self._bg is None or self._bg.shape[:2] != (h, w)
        if fresh:
            self._bg, self._offset, self._seen, self._protect = rgb.astype(np.float32), 0.0, 0, None
            self._repaired = []
        self._seen += 1
        world, kernel = self._align(rgb, gray, ego, fresh, packet.video_t)
        k = int(round(self._offset))
        diff = self._diff(world, self._bg, kernel)
        # Vertical opening: removes speckle but keeps legs, which are one or two work pixels wide at
        # 5 m and carry the foot point every distance is measured from.
        fg_w = cv2.morphologyEx((diff > self.threshold).view(np.uint8), cv2.MORPH_OPEN, _K31)
        fg_w = _grow(fg_w, diff > 0.5 * self.threshold, max(1, self.min_area // 2))
        fg_w = cv2.morphologyEx(fg_w, cv2.MORPH_CLOSE, _K5)
        if self.walking:  # below ~55° down is the wearer's own body and the pavement at its feet
            fg_w[int(h * (0.5 + WALK_NADIR_DEG / 180.0)):] = 0
            past = next((h for h in self._walk_history if packet.video_t - h[0] >= STRUCTURE_BASELINE_S), None)
            if past is not None:  # a long baseline: a runner's looming differs from a wall's by pixels
                step = (self._pos[0] - past[2][0], self._pos[1] - past[2][1])
                fg_w[static_structure(fg_w.astype(bool), world, past[1], step, self.camera_height_m,
                                      self.threshold)] = 0
            self._walk_history.append((packet.video_t, world, self._pos))
        else:
            self._walk_history.clear()
        warm = self._seen > self.warmup_frames
        hold = cv2.dilate(fg_w, _K5)
        protect = np.roll(self._protect, k, axis=1).view(np.uint8) if (
            self._protect is not None and self._protect.shape == hold.shape) else None
        if protect is not None:
            hold |= protect
        learn = 1 - hold
        rate = (WALK_LEARN_RATE if self.walking else self.learn_rate) if warm else 0.5
        cv2.accumulateWeighted(world, self._bg, rate, mask=learn)
        if self.walking and warm:
            # Walking, nothing in the world stays still in the image long enough to be judged still
            # (see `_absorb_static`), so the foreground is learnt too, slowly: a mover passes before
            # it fades in; a misaligned patch of street does not stay foreground for ever. What the
            # tracker holds is never learnt.
            slow = hold if protect is None else hold & (1 - protect)
            cv2.accumulateWeighted(world, self._bg, WALK_FG_LEARN_RATE, mask=slow)
        fg = np.roll(fg_w.astype(bool), -k, axis=1)
        blobs = extract_blobs(fg, self.min_area, self.camera_height_m) if warm else ()
        fine = self._update_fine(img, learn, warm)
        if not self.walking:  # walking, near structures move in world yaw: nothing is still
            self._absorb_static(world, blobs, k)
        if blobs and self._fine_bg is not None:
            blobs = tuple(self._find_feet(b, fine, h) for b in blobs)
        if self.walking:  # one mover per ground-contact distance; the nadir band hides foot points
            blobs = split_by_ground_contact(blobs, self.camera_height_m)
            cut = int(h * (0.5 + WALK_NADIR_DEG / 180.0))
            blobs = tuple(replace(b, distance_m=float("inf")) if b.box.y1 >= cut else b for b in blobs)
        elif self._tilt is not None:
            blobs = tuple(level_blob(b, self._tilt, self.camera_height_m) for b in blobs)
        return MotionFrame(
            packet.frame_index, packet.video_t, (img.shape[0], img.shape[1]), rgb, gray,
            np.roll(diff, -k, axis=1), fg, blobs, self._offset * 360.0 / w, warm, fine,
            self._offset * fine.shape[1] / w, ego, self.walking, self._pos,
        )

    def _align(self, rgb: np.ndarray, gray: np.ndarray, ego: EgoMotion, fresh: bool,
               t: float) -> tuple[np.ndarray, np.ndarray]:
        """This frame in world columns, and the background moved to match it.

        Standing or turning: a column shift measured against the background itself (drift-free).
        Walking: the frame is levelled with the estimated head bob and turned by the estimated
        heading change, and the background slides with the step (`models.ego_warp`); the 3×3
        comparison window absorbs the residual misalignment of a walking warp."""
        dt, self._last_t = t - self._last_t, t
        speed = ego.speed_mps if ego.inliers else 0.0
        self._walk_votes = min(WALK_VOTES, self._walk_votes + 1) if speed > WALK_ENTER_MPS else (
            max(0, self._walk_votes - 1) if speed < WALK_EXIT_MPS else self._walk_votes)
        was = self.walking
        self.walking = self._walk_votes >= WALK_VOTES or (was and self._walk_votes > 0)
        if fresh or not self.walking:
            if not fresh:
                self._offset = self._estimate_offset(gray)
            if was and not self.walking:
                self._fine_bg = None  # re-learnt from here: it was not warped while walking
                h = gray.shape[0]
                cut = int(h * (0.5 + WALK_NADIR_DEG / 180.0))  # never compared while walking: start afresh
                self._bg[cut:] = roll_frac(rgb, self._offset)[cut:]
            return roll_frac(rgb, self._offset), _KH
        h, w = gray.shape
        dyaw, tx, tz = self.ego.step
        predicted = self._offset + dyaw * w / 360.0
        self._offset = predicted
        measured = self._estimate_offset(gray, far_only=True)  # drift-free against the background
        if abs(measured - predicted) < 3.0:
            self._offset = measured
        yaw = np.radians(self._offset * 360.0 / w)  # the wearer's ahead in world yaw
        dx, dz = tx * np.cos(yaw) + tz * np.sin(yaw), -tx * np.sin(yaw) + tz * np.cos(yaw)
        self._pos = (self._pos[0] + float(dx), self._pos[1] + float(dz))
        if 0.0 < dt < 1.0 and (dx or dz):
            sx, sy = step_maps_fast(w, h, float(dx), float(dz), self.camera_height_m)
            self._bg = cv2.remap(self._bg, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        self._fine_bg = None  # masks are cut at work size while walking
        mx, my = world_maps_fast(w, h, self._offset, ego.pitch_deg, ego.roll_deg)
        return cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP).astype(np.float32), _K3

    def _find_feet(self, blob: Blob, fine: np.ndarray, h: int) -> Blob:
        """Extend a blob's bottom down its own columns on the fine image, where thin legs over a
        road of similar colour still differ from the background. The foot point is what every
        distance (and so every approach speed) comes from, and at work size legs blend away."""
        if blob.bottom_pitch_deg > -1.0:
            return blob
        hf, wf = fine.shape[:2]
        s = wf / blob.mask.shape[1]
        b = blob.box
        yb = int(round(b.y1 * s))
        ext = int(max(6, 0.6 * (b.y1 - b.y0) * s))
        y0, y1 = max(0, yb - 2), min(hf, yb + ext)
        if y1 - y0 < 3:
            return blob
        cols = np.arange(int(np.floor(b.x0 * s)), int(np.ceil(b.x1 * s))) % wf
        kf = int(round(self._offset * s))
        crop = fine[y0:y1][:, cols].astype(np.float32)
        bg = self._fine_bg[y0:y1][:, (cols + kf) % wf]
        above = cv2.subtract(crop, cv2.dilate(bg, _KH))
        below = cv2.subtract(cv2.erode(bg, _KH), crop)
        hit = (np.maximum(above, below).max(axis=2) > 0.6 * self.threshold).sum(axis=1) >= 2
        miss = np.nonzero(~hit[:-1] & ~hit[1:])[0]  # two empty rows in a row end the legs
        last = (miss[0] if miss.size else hit.size) - 1
        if not hit[: last + 1].any():
            return blob
        last = int(np.nonzero(hit[: last + 1])[0][-1])
        y_end = y0 + last + 1  # fine row just below the feet
        if y_end <= yb:
            return blob
        bottom = float(row_pitch(y_end - 1, hf) - 90.0 / hf)
        return replace(blob, bottom_pitch_deg=bottom, distance_m=_camera_distance(bottom, self.camera_height_m))

    def _update_fine(self, img: np.ndarray, learn: np.ndarray, warm: bool) -> np.ndarray:
        """A second background at up to `fine_width` so masks can be cut at (near) full resolution.

        Integer-pixel world shift only (sub-pixel accuracy is not worth a float resample of a large
        frame here); the min/max comparison in `refine` absorbs the half pixel."""
        wf = min(self.fine_width, img.shape[1])
        hf = max(2, wf // 2)
        fine = cv2.resize(img, (wf, hf), interpolation=cv2.INTER_AREA) if img.shape[1] != wf else img
        self._fine_world = None
        if self.walking:
            return fine
        fresh = self._fine_bg is None or self._fine_bg.shape[:2] != (hf, wf) or self._seen <= 1
        if warm and not fresh and self._seen % 2:
            return fine  # once warm, learning every other frame at twice the rate is the same background
        kf = int(round(self._offset * wf / learn.shape[1]))
        world = self._fine_world = np.roll(fine, kf, axis=1)
        if fresh:
            self._fine_bg = world.astype(np.float32)
            return fine
        mask = cv2.resize(learn, (wf, hf), interpolation=cv2.INTER_NEAREST)
        cv2.accumulateWeighted(world, self._fine_bg, 2 * self.learn_rate if warm else 0.5, mask=mask)
        return fine

    def refine(self, mf: MotionFrame, work_mask: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Full-resolution mask of one entity: its coarse (work-size) mask re-cut against the fine
        background inside its box, so colours near the background and thin limbs are kept right.
        The threshold is lower than the detection one: the coarse mask already says a mover is here."""
        from ego360.models.refine import refine_mask

        return refine_mask(mf, self._fine_bg, work_mask, 0.6 * self.threshold if threshold is None else threshold)


def _grow(strong: np.ndarray, weak: np.ndarray, min_seed: int) -> np.ndarray:
    """Hysteresis: weak-difference pixels join the foreground when connected to at least
    `min_seed` strong ones and within a body's reach of them (a shirt close to the wall's colour is
    still part of the mover); weak pixels elsewhere (compression, texture edges) stay background,
    and a few strong pixels on an edge cannot grow into a mover."""
    if not strong.any():
        return strong
    cand = (weak.view(np.uint8) & cv2.dilate(strong, _KREACH)) | strong
    n, labels = cv2.connectedComponents(cand, connectivity=8)
    seeds = np.bincount(labels[strong.astype(bool)], minlength=n)
    keep = (seeds >= min_seed).astype(np.uint8)
    keep[0] = 0
    return keep[labels]
