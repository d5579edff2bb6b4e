"""Ghost handling for the motion background: what the background wrongly learnt, unlearnt.

A mover present when the background was first learnt leaves a ghost (its old outline) when it
steps aside; a person who stands still slowly fades into the background. These methods of
`MotionAnalyzer` (a mixin, so the analyser's module stays readable) find and repair both.
"""

from __future__ import annotations

import cv2
import numpy as np

from ego360.core.packets import Box
from ego360.models.blobs import Blob, _box_iou

_K3 = np.ones((3, 3), np.uint8)
_GHOST_REACH = 8  # work pixels a ghost may lie beside its body


class GhostRepair:
    """Mixin for `MotionAnalyzer`: uses its `_bg`, `_fine_bg`, `_fine_world`, `_still`, `_repaired`,
    `_protect`, `threshold`, `static_frames` and `camera_height_m`."""

    _bg: np.ndarray
    _fine_bg: np.ndarray | None
    _fine_world: np.ndarray | None
    _still: list[tuple[Box, int]]
    _repaired: list[Box]
    _protect: np.ndarray | None
    threshold: float
    static_frames: int
    camera_height_m: float

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
        # Every shift at once (rows −1…1, columns −r…r): one gather of the core pixels from a strided
        # view instead of 3·(2r+1) copies; on a walk that has just stopped, the many still rims made the
        # per-shift loop a fifth of the trigger's time.
        windows = np.lib.stride_tricks.sliding_window_view(bg[r - 1 : hh - r + 1], (hh - 2 * r, ww - 2 * r),
                                                           axis=(0, 1))
        ys, xs = np.nonzero(core)
        shifted = windows[:, :, :, ys, xs]  # (3 rows, 2r+1 columns, channel, pixel)
        err = np.median(np.abs(shifted - fr.T[None, None]).max(axis=2), axis=2)
        iy, ix = np.unravel_index(int(np.argmin(err)), err.shape)  # first minimum: dy, then dx ascending
        dy, dx, best = int(iy) - 1, int(ix) - r, float(err[iy, ix])
        if dx == 0 or best > 0.5 * float(err[1, r]):
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
