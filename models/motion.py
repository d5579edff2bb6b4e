"""Ego-rotation-compensated motion foreground on a small equirect, shared by trigger, proposals and tracker.

Why a background model in *world* yaw: the wearer turning is a circular column shift of the equirect.
The shift is measured against the background itself (phase correlation on the horizon band, which is
circular in x like the panorama), so it never drifts, and only the new frame is resampled, once, so
the background does not blur from repeated sub-pixel shifts. Walking and residual misalignment are
absorbed by comparing each pixel with the min/max of its 3×3 background neighbourhood.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

import cv2
import numpy as np

from ego360.core.geometry import row_pitch
from ego360.core.packets import Box, FramePacket
from ego360.models.blobs import Blob, MotionFrame, _box_iou, _camera_distance, extract_blobs, roll_frac

_K3 = np.ones((3, 3), np.uint8)
_K5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_K31 = np.ones((3, 1), np.uint8)
_KH = np.ones((1, 3), np.uint8)  # horizontal tolerance: turning shifts columns, never rows
_GHOST_REACH = 8  # work pixels a ghost may lie beside its body
_KREACH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 25))  # how far a body extends from its seeds


class MotionAnalyzer:
    """Background model in world yaw + foreground + blobs; one result per frame index, cached.

    Several stages (trigger, entity stage, classical tracker) may ask for the same frame; the first
    call computes and updates the background, later calls get the cached result. A lock keeps the
    background update atomic if those stages run in different threads.
    """

    def __init__(self, work_width: int = 512, threshold: float = 30.0, camera_height_m: float = 1.6,
                 warmup_frames: int = 6, min_area: int = 12, static_frames: int = 10, fine_width: int = 960,
                 learn_rate: float = 0.01) -> None:
        self.work_width = int(work_width)
        self.threshold = float(threshold)
        self.camera_height_m = float(camera_height_m)
        self.warmup_frames = int(warmup_frames)
        self.min_area = int(min_area)
        self.fine_width = int(fine_width)
        self.learn_rate = float(learn_rate)
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

    def _estimate_offset(self, gray: np.ndarray) -> float:
        """World offset (px) of this frame: phase correlation of the horizon band against the background."""
        h = gray.shape[0]
        y0, y1 = h // 3, h - h // 3
        bg_band = cv2.cvtColor(self._bg[y0:y1].astype(np.float32), cv2.COLOR_RGB2GRAY)
        band = gray[y0:y1].astype(np.float32)
        if self._window is None or self._window.shape != band.shape:
            wy = np.hanning(band.shape[0]).astype(np.float32)[:, None]
            self._window = np.repeat(wy, band.shape[1], axis=1)
        # ref ≈ the previous camera view; if band = roll(ref, dx) then the new world offset is k − dx.
        k = int(round(self._offset))
        (dx, _dy), _resp = cv2.phaseCorrelate(np.roll(bg_band, -k, axis=1), band, self._window)
        return float(k - dx)

    def _absorb_static(self, world: np.ndarray, blobs: tuple[Blob, ...], k: int) -> None:
        """A blob whose box has not moved for `static_frames` is a ghost (something that left the
        background) or a long-still object: fold it into the background so it stops alarming.
        Judged per blob, not per pixel: the inside of a plain-coloured mover does not change either.
        A person standing a few metres away is kept far longer unless it is a ghost: they may be
        about to act (throw, reach), and once absorbed, a gesture is all that is left.
        Tracked entities (protected) are never folded in."""
        w = world.shape[1]
        still: list[tuple[Box, int]] = []
        for blob in blobs:
            b = blob.box
            wb = Box((b.x0 + k) % w, b.y0, (b.x0 + k) % w + (b.x1 - b.x0), b.y1)
            count = 1 + max((c for prev, c in self._still if _box_iou(prev, wb) > 0.8), default=0)
            still.append((wb, count))
            if count >= 3 and not any(_box_iou(wb, r) > 0.2 for r in self._repaired):
                self._repair_ghost(world, blob, k, wb)
            held = self._protect is not None and (self._protect & blob.mask).sum() > 0.3 * blob.area
            if count <= self.static_frames or held:
                continue
            person = blob.distance_m < 7.0 and blob.height_deg > 8.0
            if person and count <= 4 * self.static_frames and not self._is_ghost(world, blob, k):
                continue
            mask_w = np.roll(blob.mask, k, axis=1).view(np.uint8)
            cv2.accumulateWeighted(world, self._bg, 0.3, mask=mask_w)
            self._absorb_fine(mask_w)
        self._still = still

    def _is_ghost(self, world: np.ndarray, blob: Blob, k: int) -> bool:
        """A ghost's outline is an edge of the background, not of the frame: compare gradient
        strength along the blob's contour in both."""
        mask_w = np.roll(blob.mask, k, axis=1).view(np.uint8)
        contour = (mask_w ^ cv2.erode(mask_w, _K3)).astype(bool)
        if contour.sum() < 8:
            return False

        def edge(img: np.ndarray) -> float:
            g = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2GRAY)
            mag = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
            return float(mag[contour].mean())

        return edge(self._bg) > 1.2 * edge(world)

    def _repair_ghost(self, world: np.ndarray, blob: Blob, k: int, wb: Box) -> None:
        """Relearn the part of a still blob that is a ghost joined to a real body (someone who stood
        there in the first frames, then stepped aside: the background keeps their old outline).

        Such a background holds a displaced copy of the body: find the shift that best maps the frame
        inside the blob onto the background. Where it explains the frame far better than no shift,
        the body is the part of the blob whose shifted copy is also in the blob, the rest is ghost."""
        h, w = blob.mask.shape
        b, r = blob.box, _GHOST_REACH
        cols = np.arange(int(b.x0) + k - r, int(np.ceil(b.x1)) + k + r) % w
        y0, y1 = int(b.y0) - r, int(np.ceil(b.y1)) + r
        if y0 < 0 or y1 > h:
            return
        mask = np.roll(blob.mask, k, axis=1)[y0:y1][:, cols]
        frame, bg = world[y0:y1][:, cols], self._bg[y0:y1][:, cols]
        hh, ww = mask.shape
        core = mask[r : hh - r, r : ww - r]
        fr = frame[r : hh - r, r : ww - r][core]
        err = {}
        for dy in (-1, 0, 1):
            for dx in range(-r, r + 1):
                sb = bg[r + dy : hh - r + dy, r + dx : ww - r + dx][core]
                err[(dx, dy)] = float(np.median(np.abs(fr - sb).max(axis=1)))
        (dx, dy), best = min(err.items(), key=lambda kv: kv[1])
        if dx == 0 or best > 0.5 * err[(0, 0)]:
            return
        moved = mask[r + dy : hh - r + dy, r + dx : ww - r + dx]
        # ... and only where the background there holds the body's content seen in the frame at −shift.
        back = frame[r - dy : hh - r - dy, r - dx : ww - r - dx]
        held = np.abs(bg[r : hh - r, r : ww - r] - back).max(axis=2) < 1.5 * self.threshold
        ghost = core & ~moved & held & mask[r - dy : hh - r - dy, r - dx : ww - r - dx]
        if not ghost.any():
            return
        self._repaired.append(wb)  # once: after it, a body's own parts look like displaced copies
        full = np.zeros((h, w), np.uint8)
        full[y0 + r : y1 - r, cols[r : ww - r]] = ghost
        cv2.accumulateWeighted(world, self._bg, 1.0, mask=full)
        self._absorb_fine(full, 1.0)
        self._clear_copy(world, blob, k, dx, dy)

    def _clear_copy(self, world: np.ndarray, blob: Blob, k: int, dx: int, dy: int) -> None:
        """The rest of the copy lies under the body now (a torso over its own old image is invisible):
        where the background in a person-sized box deviates from what its surroundings predict,
        replace it by that prediction (inpainting), so the body stands out again."""
        if not np.isfinite(blob.distance_m):
            return
        h, w = blob.mask.shape
        b = blob.box
        top_pitch = float(np.degrees(np.arctan((1.8 - self.camera_height_m) / blob.distance_m)))
        y0 = max(2, int((0.5 - top_pitch / 180.0) * h))
        y1 = min(h - 2, int(np.ceil(b.y1)) + 1)
        if y1 - y0 < 4:
            return
        m = abs(dx) + 1
        cols = np.arange(int(b.x0) + k - m - 2, int(np.ceil(b.x1)) + k + m + 2) % w
        bg = self._bg[y0 - 1 : y1 + 1][:, cols]
        hole = np.zeros(bg.shape[:2], np.uint8)
        hole[1:-1, 2:-2] = 1
        bg8 = np.clip(bg, 0, 255).astype(np.uint8)
        pred = cv2.inpaint(bg8, hole, 3, cv2.INPAINT_TELEA).astype(np.float32)
        odd = (np.abs(bg - pred).max(axis=2) > self.threshold) & (hole > 0)
        # ... and holds the body as the frame shows it, displaced: the copy, not street texture.
        back = world[y0 - 1 - dy : y1 + 1 - dy][:, (cols - dx) % w]
        odd &= np.abs(bg - back).max(axis=2) < 0.5 * self.threshold
        if not odd.any():
            return
        full = np.zeros((h, w), np.uint8)
        full[y0 - 1 : y1 + 1, cols] = odd
        fill = self._bg.copy()
        fill[y0 - 1 : y1 + 1, cols] = pred
        cv2.accumulateWeighted(fill, self._bg, 1.0, mask=full)
        if self._fine_bg is not None:  # refined masks are cut against the fine one: clear it there too
            hf, wf = self._fine_bg.shape[:2]
            up = cv2.resize(self._bg, (wf, hf), interpolation=cv2.INTER_LINEAR)
            cv2.accumulateWeighted(up, self._fine_bg, 1.0, mask=cv2.resize(
                full, (wf, hf), interpolation=cv2.INTER_NEAREST))

    def _absorb_fine(self, mask_w: np.ndarray, rate: float = 0.3) -> None:
        """The fine background forgets what the coarse one absorbed (else refined masks keep ghosts)."""
        if self._fine_bg is None:
            return
        hf, wf = self._fine_bg.shape[:2]
        mask = cv2.resize(mask_w, (wf, hf), interpolation=cv2.INTER_NEAREST)
        fine_world = self._fine_world  # None on frames the fine background skips
        if fine_world is not None and fine_world.shape[:2] == (hf, wf):
            cv2.accumulateWeighted(fine_world, self._fine_bg, rate, mask=mask)

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
        fresh = self._bg is None or self._bg.shape[:2] != (h, w)
        if fresh:
            self._bg, self._offset, self._seen, self._protect = rgb.astype(np.float32), 0.0, 0, None
            self._repaired = []
        else:
            self._offset = self._estimate_offset(gray)
        self._seen += 1
        k = int(round(self._offset))
        world = roll_frac(rgb, self._offset)
        diff = self._diff(world, self._bg, _KH)
        # Vertical opening: removes speckle but keeps legs, which are one or two work pixels wide at
        # 5 m and carry the foot point every distance is measured from.
        fg_w = cv2.morphologyEx((diff > self.threshold).view(np.uint8), cv2.MORPH_OPEN, _K31)
        fg_w = _grow(fg_w, diff > 0.5 * self.threshold, max(1, self.min_area // 2))
        fg_w = cv2.morphologyEx(fg_w, cv2.MORPH_CLOSE, _K5)
        warm = self._seen > self.warmup_frames
        hold = cv2.dilate(fg_w, _K5)
        if self._protect is not None and self._protect.shape == hold.shape:
            hold |= np.roll(self._protect, k, axis=1).view(np.uint8)
        learn = 1 - hold
        cv2.accumulateWeighted(world, self._bg, self.learn_rate if warm else 0.5, mask=learn)
        fg = np.roll(fg_w.astype(bool), -k, axis=1)
        blobs = extract_blobs(fg, self.min_area, self.camera_height_m) if warm else ()
        fine = self._update_fine(img, learn, warm)
        self._absorb_static(world, blobs, k)
        if blobs and self._fine_bg is not None:
            blobs = tuple(self._find_feet(b, fine, h) for b in blobs)
        return MotionFrame(
            packet.frame_index, packet.video_t, (img.shape[0], img.shape[1]), rgb, gray,
            np.roll(diff, -k, axis=1), fg, blobs, self._offset * 360.0 / w, warm, fine,
            self._offset * fine.shape[1] / w,
        )

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


def _grad(img: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2GRAY)
    return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


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
