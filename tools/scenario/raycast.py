"""Ray–primitive geometry of the scenario renderer: angular windows, ray hits, surface normals, and
the seam-aware column span of a mask.

Kept apart from `Scene` (which decides what to draw where) so each stays small; all functions work
in the camera frame (camera at the origin, unit rays).
"""

from __future__ import annotations

import math

import numpy as np

from ego360.tools.scenario.scene import Part


def angular_window(centre: np.ndarray, radius: float) -> tuple[float, float, float, float, bool]:
    """(yaw, half-width, pitch_lo, pitch_hi, full_yaw) in degrees bounding a sphere seen from the origin."""
    dist = float(np.linalg.norm(centre))
    yaw = math.degrees(math.atan2(centre[0], centre[2]))
    if dist <= radius * 1.001:
        return yaw, 180.0, -90.0, 90.0, True
    alpha = math.degrees(math.asin(radius / dist))
    pitch = math.degrees(math.asin(centre[1] / dist))
    lo, hi = pitch - alpha, pitch + alpha
    if hi >= 89.0 or lo <= -89.0:
        return yaw, 180.0, max(lo, -90.0), min(hi, 90.0), True
    half = math.degrees(math.asin(min(1.0, math.sin(math.radians(alpha)) / math.cos(math.radians(pitch)))))
    return yaw, half, lo, hi, False


def intersect(part: Part, d: np.ndarray) -> np.ndarray:
    """Distance along each unit ray d (N×3) to the part's front surface; inf on a miss."""
    if part.kind == "ell":
        w = -part.centre
        qw = part.q @ w
        c = float(w @ qw) - 1.0
        if c <= 0.0:  # camera inside the part: skip it rather than render its inside
            return np.full(d.shape[0], np.inf, dtype=np.float32)
        a = np.einsum("ij,ij->i", d @ part.q.astype(np.float32), d)
        b = d @ (2.0 * qw).astype(np.float32)
        disc = b * b - (4.0 * c) * a
        root = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
        return np.where((disc >= 0) & (root > 0), root, np.float32(np.inf))
    o = -(part.axes.T @ part.centre)
    dl = d @ part.axes.astype(np.float32)
    if np.all(np.abs(o) < part.half):
        return np.full(d.shape[0], np.inf, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-part.half - o) / dl
        t2 = (part.half - o) / dl
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    tmin = np.fmax(np.fmax(lo[:, 0], lo[:, 1]), lo[:, 2])  # = nanmax over the 3 slabs, without the reduce
    tmax = np.fmin(np.fmin(hi[:, 0], hi[:, 1]), hi[:, 2])
    return np.where((tmax >= tmin) & (tmin > 0), tmin, np.float32(np.inf)).astype(np.float32)


def normals(part: Part, p: np.ndarray, d: np.ndarray) -> np.ndarray:
    if part.kind == "ell":
        n = (p - part.centre) @ part.q
    else:
        local = (p - part.centre) @ part.axes
        axis = np.argmax(np.abs(local) / part.half, axis=1)
        sign = np.sign(local[np.arange(len(local)), axis])
        n = part.axes.T[axis] * sign[:, None]
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)


def circular_span(occupied: np.ndarray) -> tuple[int, int]:
    """Shortest [x0, x1) covering all True columns on a circle of len(occupied); x0 in [0, W)."""
    W = len(occupied)
    idx = np.flatnonzero(occupied)
    if len(idx) == 0:
        return (0, 0)
    gaps = np.diff(np.concatenate([idx, [idx[0] + W]]))
    k = int(np.argmax(gaps))  # the largest empty stretch starts after idx[k]
    if gaps[k] <= 1:
        return (0, W)
    x0 = int(idx[(k + 1) % len(idx)])
    x1 = int(idx[k]) + 1
    if x1 <= x0:
        x1 += W
    return (x0, x1)
