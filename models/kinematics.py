"""Measured motion of one entity relative to the wearer from a short history of its positions.

Why robust fits: masks break up now and then, so slopes are Theil–Sen medians over ~0.6 s, and the
ground-plane velocity is judged by where its straight path passes the wearer and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ego360.core.geometry import wrap_deg


def ramp(x: float, zero_at: float, one_at: float) -> float:
    """Linear 0→1 between `zero_at` and `one_at` (either direction), clipped."""
    if not np.isfinite(x):
        return 1.0 if (one_at > zero_at) == (x > 0) else 0.0
    return float(np.clip((x - zero_at) / (one_at - zero_at), 0.0, 1.0))


@dataclass(frozen=True)
class Kinematics:
    """Measured motion of one entity relative to the wearer (world yaw, so turning does not count)."""

    distance_m: float  # inf when the ground contact is not visible
    approach_mps: float  # positive = coming closer
    ttc_s: float | None  # time to contact when approaching, else None
    yaw_rate_dps: float  # world yaw rate (positive = moving clockwise around the wearer)
    tangential_mps: float
    growth_per_s: float  # d ln(angular height)/dt: looming without a distance
    samples: int
    speed_mps: float = 0.0  # ground speed (0 when the ground contact is unknown)
    miss_m: float = float("inf")  # closest approach of the straight-line path to the wearer
    tca_s: float | None = None  # time until that closest approach (None when moving away)
    rise_deg: float = 0.0  # how far the top edge rose in the last ~0.2 s over the earlier window (arm up)
    own_speed_mps: float = 0.0  # the entity's ground speed in the world (0 for a pole the wearer walks past)
    wearer_speed_mps: float = 0.0  # the wearer's own ground speed over the same window
    bearing_miss_m: float = float("inf")  # closest approach from the bearing rate (constant bearing = collision)
    top_m: float = float("nan")  # the top edge's height above the ground (recent median): a person is 1–2.3 m
    path_miss_m: float = float("inf")  # closest approach of a constant-velocity path fitted to bearings and ranges
    path_tca_s: float | None = None  # time until that closest approach (None when not closing)
    # The entity's world yaw relative to the wearer's direction of travel (nan when not walking): with
    # the yaw rate it tells what swings away from the path as the wearer passes it from what heads for it.
    path_bearing_deg: float = float("nan")
    # The share of the samples the path fit came from (the last `PATH_WINDOW_S`) whose top edge stood a
    # person's or a vehicle's height above its foot point: a track that held a fragment (legs only, or a
    # body whose feet were hidden) for part of that window has a path made of two different foot points,
    # whatever its recent median `top_m` says.
    whole_share: float = 0.0


@lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


BEARING_SIGMA_DEG = 1.0  # a blob centroid's bearing wobbles about a degree frame to frame
PITCH_SIGMA_DEG = 0.5  # its foot point about half a degree (quantised rows of the trigger's work image)
PATH_WINDOW_S = 1.1  # a straight relative path holds for about a second
WHOLE_TOP_M = (0.9, 2.6)  # a mask whose top stands this high above its foot point is a person or a vehicle


def path_fit(t: np.ndarray, yaw_deg: np.ndarray, dist: np.ndarray, camera_height_m: float,
             iters: int = 3) -> tuple[np.ndarray, np.ndarray] | None:
    """Constant-velocity relative path (position now, velocity) fitted to bearings and ranges, each
    weighted by its own noise.

    Why: a foot-point range is coarse (one pixel row is ~0.2 m at 4 m and grows with the square of
    the range), a bearing is fine. Fitting x(t) and z(t) separately mixes range noise into both and
    pulls a passer-by's path toward the wearer (miss distances came out ~40 % short on walking
    scenes). Here the bearing constraints (position ⟂ the bearing's normal) carry the sideways
    motion and the ranges mostly set the scale; a Huber reweighting drops a broken mask's range."""
    tr = t - t[-1]
    a = np.radians(yaw_deg)
    s, c = np.sin(a), np.cos(a)
    sig_t = np.maximum(dist, 0.5) * np.radians(BEARING_SIGMA_DEG)
    sig_r = 0.05 + dist**2 * np.radians(PITCH_SIGMA_DEG) / max(camera_height_m, 0.1)
    rows_t = np.stack([c, -s, c * tr, -s * tr], axis=1)
    rows_r = np.stack([s, c, s * tr, c * tr], axis=1)
    w_r = np.ones_like(dist)
    theta = np.zeros(4)
    for _ in range(max(1, iters)):
        a_mat = np.concatenate([rows_t / sig_t[:, None], rows_r * (w_r / sig_r)[:, None]])
        b = np.concatenate([np.zeros_like(dist), dist * w_r / sig_r])
        theta, *_ = np.linalg.lstsq(a_mat, b, rcond=None)
        res = np.abs(rows_r @ theta - dist) / sig_r
        w_r = np.where(res > 2.0, 2.0 / np.maximum(res, 1e-9), 1.0)  # Huber at 2 sigma
    if not np.all(np.isfinite(theta)):
        return None
    return theta[:2], theta[2:]


def closest_approach(p: np.ndarray, v: np.ndarray) -> tuple[float, float | None]:
    """Where (m) and when (s) a straight relative path passes the wearer; (inf, None) when not closing."""
    speed2 = float(v @ v)
    closing = -float(p @ v)
    if speed2 < 1e-6 or closing <= 0.0:
        return float("inf"), None
    return abs(float(p[0] * v[1] - p[1] * v[0])) / speed2**0.5, closing / speed2


def robust_slope(t: np.ndarray, y: np.ndarray) -> float:
    """Theil–Sen slope: the median of pairwise slopes ignores the odd frame where a mask breaks up."""
    i, j = _pairs(len(t))
    dt = t[j] - t[i]
    ok = dt > 1e-6
    if not ok.any():
        return 0.0
    return float(np.median((y[j] - y[i])[ok] / dt[ok]))


class History:
    """Short time series of one entity's position; fits slopes so single-frame mask noise cancels."""

    def __init__(self, maxlen: int = 16, camera_height_m: float = 1.6) -> None:
        self.camera_height_m = float(camera_height_m)
        self.t: list[float] = []
        self.yaw: list[float] = []  # unwrapped world yaw
        self.dist: list[float] = []
        self.height: list[float] = []
        self.top: list[float] = []
        self.wx: list[float] = []  # the wearer's position in the world frame (metres), for world velocity
        self.wz: list[float] = []
        self.maxlen = maxlen

    def push(self, t: float, world_yaw: float, distance_m: float, height_deg: float,
             top_deg: float = float("nan"), wearer_xz: tuple[float, float] = (0.0, 0.0)) -> None:
        if self.yaw:
            world_yaw = self.yaw[-1] + float(wrap_deg(world_yaw - self.yaw[-1]))
        for seq, v in ((self.t, t), (self.yaw, world_yaw), (self.dist, distance_m), (self.height, height_deg),
                       (self.top, top_deg), (self.wx, wearer_xz[0]), (self.wz, wearer_xz[1])):
            seq.append(float(v))
            del seq[: -self.maxlen]

    def kinematics(self, window_s: float = 0.6) -> Kinematics:
        """Velocity on the ground plane (Theil–Sen on x and z), then what it means for the wearer:
        approach speed, where the straight path passes (miss distance) and when (time to closest)."""
        t = np.asarray(self.t)
        sel = t >= t[-1] - window_s if t.size else t.astype(bool)
        t, yaw = t[sel], np.asarray(self.yaw)[sel]
        dist = np.minimum(np.asarray(self.dist)[sel], 20.0)
        height = np.maximum(np.asarray(self.height)[sel], 0.5)
        d_now = float(np.median(dist[-3:])) if dist.size else float("inf")
        if t.size < 3 or t[-1] - t[0] < 1e-6:
            return Kinematics(d_now, 0.0, None, 0.0, 0.0, 0.0, int(t.size))
        omega = robust_slope(t, yaw)
        growth = robust_slope(t, np.log(height))
        fin = np.isfinite(dist) & (dist < 20.0)
        if fin.sum() < 3 or not np.isfinite(d_now):
            v_t = abs(np.radians(omega)) * 20.0
            return Kinematics(d_now, 0.0, None, omega, v_t, growth, int(t.size))
        rad = np.radians(yaw[fin])
        x, z = dist[fin] * np.sin(rad), dist[fin] * np.cos(rad)
        vx, vz = robust_slope(t[fin], x), robust_slope(t[fin], z)  # relative to the wearer
        wx, wz = np.asarray(self.wx)[sel][fin], np.asarray(self.wz)[sel][fin]
        ux, uz = (robust_slope(t[fin], wx), robust_slope(t[fin], wz)) if np.ptp(wx) or np.ptp(wz) else (0.0, 0.0)
        a = np.radians(float(np.median(yaw[-3:])))
        px, pz = d_now * np.sin(a), d_now * np.cos(a)
        speed = float(np.hypot(vx, vz))
        own = float(np.hypot(vx + ux, vz + uz))  # relative velocity + the wearer's = the entity's own
        v_r = -(px * vx + pz * vz) / max(d_now, 1e-3)
        v_t = abs(px * vz - pz * vx) / max(d_now, 1e-3)
        ttc = d_now / v_r if v_r > 0.2 else None
        miss, tca = float("inf"), None
        if speed > 1e-3 and v_r > 0.0:
            tca = d_now * v_r / speed**2
            miss = abs(px * vz - pz * vx) / speed
        # Constant bearing, decreasing range: the sailor's collision rule. The bearing is measured
        # straight from the image (no foot point), so it stays steady when a mask's bottom jitters.
        b_miss = float(d_now * np.sin(np.arctan2(abs(np.radians(omega)) * d_now, v_r))) if v_r > 0.0 else float("inf")
        # The path fit may look further back than the slopes: a straight path stays straight for a
        # second, and twice the samples halve the scatter of its direction.
        ta, ya, da = np.asarray(self.t), np.asarray(self.yaw), np.asarray(self.dist)
        ok = (ta >= ta[-1] - PATH_WINDOW_S) & (da < 20.0)  # also drops inf/nan ranges
        fit = path_fit(ta[ok], ya[ok], da[ok], self.camera_height_m) if ok.sum() >= 5 else None
        p_miss, p_tca = closest_approach(*fit) if fit is not None else (float("inf"), None)
        walk = float(np.hypot(ux, uz))
        path_b = float(wrap_deg(np.degrees(a) - np.degrees(np.arctan2(ux, uz)))) if walk > 0.3 else float("nan")
        return Kinematics(d_now, v_r, ttc, omega, v_t, growth, int(t.size), own if (ux or uz) else speed, miss,
                          tca, self._rise(), own, walk, b_miss, self._top_m(), p_miss, p_tca, path_b,
                          self._whole_share(ok))

    def _top_heights(self, sel: slice | np.ndarray) -> np.ndarray:
        """Each selected sample's top edge above the ground (m), from its foot-point range; samples
        without a top edge or a range are left out."""
        top, dist = np.asarray(self.top)[sel], np.asarray(self.dist)[sel]
        ok = np.isfinite(top) & np.isfinite(dist)
        return self.camera_height_m + dist[ok] * np.tan(np.radians(top[ok]))

    def _top_m(self) -> float:
        h = self._top_heights(slice(-5, None))
        return float(np.median(h)) if h.size else float("nan")

    def _whole_share(self, sel: np.ndarray) -> float:
        """`sel`: the path fit's samples (ranges already below 20 m)."""
        h = self._top_heights(sel)
        return float(np.mean((h > WHOLE_TOP_M[0]) & (h < WHOLE_TOP_M[1]))) if h.size else 0.0

    def _rise(self) -> float:
        """Top edge now vs. the second before the last 0.2 s (medians: one bad mask does not count)."""
        t, top = np.asarray(self.t), np.asarray(self.top)
        if t.size < 8 or not np.isfinite(top).all():
            return 0.0
        before = (t <= t[-1] - 0.2) & (t >= t[-1] - 1.0)
        lo, hi = np.percentile(top[before], [20, 80]) if before.sum() >= 5 else (0.0, np.inf)
        if hi - lo > 0.8:  # it must have been standing still, whole
            return 0.0
        return float(np.median(top[-2:]) - np.median(top[before]))


def distance_class(d: float) -> str:
    """Words for distance that a listener can act on."""
    if d <= 1.0:
        return "within arm's reach"
    if d <= 2.5:
        return "close"
    if d <= 6.0:
        return "near"
    return "far"
