"""Detections meet entities: the detected kind of a mover, and the still person a perpetrator acts on.

Why here: motion finds movers, the detector says what they are and finds people motion cannot see (a
victim who stands still is learnt into the background). The entity stage asks two questions: "what is
this proposal?" (`detected_kind`) and "is the perpetrator going for a person standing there?"
(`VictimFinder`); both work in wearer bearings and ground metres, not pixels.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from ego360.core.geometry import wrap_deg
from ego360.core.packets import Box, Detection, Track
from ego360.models.detectors.segmenter import box_mask


def _yaw_span(box: Box, W: int) -> tuple[float, float]:
    """(centre yaw, half width) in degrees of an equirect box (camera frame)."""
    return float(wrap_deg(((box.x0 + box.x1) / 2) / W * 360.0 - 180.0)), (box.x1 - box.x0) / W * 180.0


def box_overlap(a: Box, b: Box, W: int) -> float:
    """Intersection of two seam-aware equirect boxes as a fraction of `a`'s area."""
    ca, ha = _yaw_span(a, W)
    cb, hb = _yaw_span(b, W)
    d = abs(float(wrap_deg(ca - cb)))
    iw = max(0.0, min(ha + hb - d, 2 * min(ha, hb)))
    ih = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    area = 2 * ha * (a.y1 - a.y0)
    return iw * ih / area if area > 0 else 0.0


def detected_kind(box: Box, detections: tuple[Detection, ...], width: int, min_overlap: float = 0.3
                  ) -> tuple[str, float] | None:
    """(kind, score) of the detection covering most of a mover's box, when one covers `min_overlap` of it."""
    best = max(detections, key=lambda d: box_overlap(box, d.box, width), default=None)
    if best is None or box_overlap(box, best.box, width) < min_overlap:
        return None
    return best.kind, best.score


def ground_xz(bearing_deg: float, distance_m: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    return distance_m * math.sin(b), distance_m * math.cos(b)


@dataclass
class _Still:
    det: Detection
    first_t: float
    last_t: float
    seen: int


class VictimFinder:
    """Remembers people the detector keeps seeing at one place, and follows the perpetrator's ground
    path; `find` names the still person the perpetrator is next to, or heading for within `horizon_s`.

    Still: seen on two or more detector runs, at least `min_still_s` apart, within `tol_deg` of bearing,
    not covered by a tracked entity, with a foot point on the ground within `max_m`, and seen again since
    the perpetrator is followed (a perpetrator who stood still before the event is not its own victim).
    Kept `keep_s` after the last sighting (the perpetrator standing in front of them hides them).
    """

    def __init__(self, reach_m: float = 1.5, horizon_s: float = 4.0, keep_s: float = 4.0, tol_deg: float = 3.0,
                 min_still_s: float = 0.5, max_m: float = 10.0):
        self.reach_m, self.horizon_s, self.keep_s = reach_m, horizon_s, keep_s
        self.tol_deg, self.min_still_s, self.max_m = tol_deg, min_still_s, max_m
        self._still: list[_Still] = []
        self._path: deque[tuple[float, float, float]] = deque(maxlen=30)
        self._since: float | None = None  # when the perpetrator was first followed

    def observe(self, t: float, detections: tuple[Detection, ...], tracked: list[Track]) -> None:
        """A detector result (seen at video time t) with the tracked movers of the current frame; a
        detection that holds a good part of a mover (its mask or its box) is that mover, not a still person."""
        for d in detections:
            if d.kind != "person" or not (np.isfinite(d.distance_m) and d.distance_m <= self.max_m):
                continue
            if tracked:
                h, w = tracked[0].mask.shape
                m = d.mask if d.mask is not None and d.mask.any() else box_mask(d.box, h, w)
                if any(int((m & tr.mask).sum()) > 0.3 * max(1, int(m.sum())) or box_overlap(tr.box, d.box, w) > 0.3
                       for tr in tracked):
                    continue
            hit = next((s for s in self._still if abs(float(wrap_deg(s.det.bearing_deg - d.bearing_deg))) < self.tol_deg
                        and abs(s.det.distance_m - d.distance_m) < max(1.0, 0.3 * d.distance_m)), None)
            if hit is None:
                self._still.append(_Still(d, t, t, 1))
            else:
                hit.det = d if d.mask is not None or hit.det.mask is None else hit.det
                hit.last_t, hit.seen = t, hit.seen + 1
        self._still = [s for s in self._still if t - s.last_t <= self.keep_s]

    def same_person(self, old: Detection, detections: tuple[Detection, ...]) -> Detection | None:
        """The detection of `old`'s person in a newer result: same place (bearing, distance), best score."""
        near = [d for d in detections if d.kind == "person" and abs(float(wrap_deg(d.bearing_deg - old.bearing_deg)))
                < self.tol_deg + 1.0 and abs(d.distance_m - old.distance_m) < max(1.0, 0.3 * old.distance_m)]
        return max(near, key=lambda d: d.score, default=None)

    def forget_covered(self, boxes: list[Box], width: int, min_overlap: float = 0.5) -> None:
        """Drop still people a tracked mover now covers: a perpetrator who stood still before the event
        was remembered as a still person, and must not become its own victim."""
        self._still = [s for s in self._still if all(box_overlap(s.det.box, b, width) < min_overlap for b in boxes)]

    def still_people(self, t: float) -> list[Detection]:
        return [s.det for s in self._still if s.seen >= 2 and s.last_t - s.first_t >= self.min_still_s - 1e-6
                and t - s.last_t <= self.keep_s and (self._since is None or s.last_t >= self._since)]

    def perpetrator_at(self, t: float, bearing_deg: float, distance_m: float) -> None:
        self._since = t if self._since is None else self._since
        if np.isfinite(distance_m):
            self._path.append((t, *ground_xz(bearing_deg, distance_m)))

    def _closest_approach(self, x: float, z: float) -> float:
        """Smallest ground distance between the perpetrator's straight-line path (fitted over its last
        second) and (x, z) within the horizon; its current distance when it does not move."""
        t_now, px, pz = self._path[-1]
        recent = [p for p in self._path if t_now - p[0] <= 1.0]
        now = math.hypot(px - x, pz - z)
        if len(recent) < 3 or recent[-1][0] - recent[0][0] < 0.3:
            return now
        ts = np.array([p[0] for p in recent]) - t_now
        vx, vz = np.polyfit(ts, [p[1] for p in recent], 1)[0], np.polyfit(ts, [p[2] for p in recent], 1)[0]
        v2 = vx * vx + vz * vz
        if v2 < 1e-6:
            return now
        s = min(self.horizon_s, max(0.0, ((x - px) * vx + (z - pz) * vz) / v2))
        return math.hypot(px + vx * s - x, pz + vz * s - z)

    def find(self, t: float) -> Detection | None:
        """The still person nearest the perpetrator's path, when within reach of it (now or soon)."""
        if not self._path or t - self._path[-1][0] > 0.5:
            return None
        best, best_d = None, self.reach_m
        for d in self.still_people(t):
            gap = self._closest_approach(*ground_xz(d.bearing_deg, d.distance_m))
            if gap < best_d:
                best, best_d = d, gap
        return best

    def reset(self) -> None:
        self._path.clear()
        self._since = None
