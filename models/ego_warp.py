"""Warps that keep the motion background aligned with the world while the wearer walks.

Why two warps: the background is kept in a *world* frame (level, columns in world yaw), so the
wearer turning only shifts columns. A walking wearer also tilts with every step (head bob) and
translates: each frame is first levelled into the world frame (`world_maps`), and the background is
moved with the step (`step_maps`): what it holds below the horizon is the ground, at a distance
the camera height fixes, so it slides towards and under the wearer; the far panorama does not move.
Near structures above the ground (poles, parked cars) are not on either model: they leave a rim of
difference, and the trigger judges them by their world velocity (zero) instead.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ego360.core.geometry import equirect_rays, level_matrix

GROUND_BELOW_DEG = 1.0  # rays lower than this are ground in the step warp (beyond ~90 m: no motion)


def _to_px(d: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Direction vectors → continuous equirect pixel coordinates for cv2.remap (centres at integers)."""
    yaw = np.arctan2(d[..., 0], d[..., 2])
    pitch = np.arctan2(d[..., 1], np.hypot(d[..., 0], d[..., 2]))
    x = (yaw / (2 * np.pi) + 0.5) * w - 0.5
    y = (0.5 - pitch / np.pi) * h - 0.5
    return np.mod(x, w).astype(np.float32), y.astype(np.float32)


def _rot_yaw(deg: float) -> np.ndarray:
    """Rotation raising every yaw by `deg` (x right, y up, z ahead)."""
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def world_maps(w: int, h: int, offset_px: float, pitch_deg: float, roll_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """remap maps: world-frame pixel → camera pixel, for a camera whose columns sit `offset_px` left
    of the world's (world yaw = camera yaw + offset) and whose attitude is (pitch, roll)."""
    rays = equirect_rays(w, h).astype(np.float64)  # world-frame rays at pixel centres
    cam_level = rays @ _rot_yaw(-offset_px * 360.0 / w).T  # world yaw → level camera yaw
    cam = cam_level @ level_matrix(pitch_deg, roll_deg)
    return _to_px(cam, w, h)


@lru_cache(maxsize=2)
def _ground(w: int, h: int, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    rays = equirect_rays(w, h).astype(np.float64)
    ground = rays[..., 1] < -math.sin(math.radians(GROUND_BELOW_DEG))
    pts = rays[ground] * (height_m / -rays[ground][:, 1])[:, None]
    return ground, pts


def step_maps(w: int, h: int, dx_m: float, dz_m: float, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """remap maps: new world-frame pixel → where the same static thing was before the wearer stepped
    by (dx, dz) metres in the world frame (x towards world yaw 90°, z towards world yaw 0°)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ground, pts = _ground(w, h, float(height_m))
    old = pts + np.array([dx_m, 0.0, dz_m])
    gx, gy = _to_px(old, w, h)
    xs[ground], ys[ground] = gx, gy
    return xs, ys


# ---------------------------------------------------------------- per-frame maps, linearised
# The exact maps cost tens of milliseconds per frame (trigonometry over every pixel); attitude and
# step change little between frames (a few degrees, a few centimetres), so each map is the identity
# plus a per-pixel Jacobian times the parameter, the Jacobians computed once from the exact maps.

def _delta(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], w: int) -> np.ndarray:
    dx = np.mod(a[0] - b[0] + w / 2.0, w) - w / 2.0
    return np.stack([dx, a[1] - b[1]]).astype(np.float32)


@lru_cache(maxsize=4)
def _attitude_jacobians(w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base = world_maps(w, h, 0.0, 0.0, 0.0)
    step = 0.5
    jp = _delta(world_maps(w, h, 0.0, step, 0.0), base, w) / step
    jr = _delta(world_maps(w, h, 0.0, 0.0, step), base, w) / step
    return np.stack(base).astype(np.float32), jp, jr


@lru_cache(maxsize=4)
def _step_jacobians(w: int, h: int, height_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    base = step_maps(w, h, 0.0, 0.0, height_m)
    step = 0.01
    jx = _delta(step_maps(w, h, step, 0.0, height_m), base, w) / step
    jz = _delta(step_maps(w, h, 0.0, step, height_m), base, w) / step
    ground, _pts = _ground(w, h, float(height_m))
    return np.stack(base).astype(np.float32), jx, jz, ground


def world_maps_fast(w: int, h: int, offset_px: float, pitch_deg: float,
                    roll_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """`world_maps`, linearised in pitch and roll (exact in the yaw offset): the attitude's effect
    depends on the camera column, so its Jacobians are turned with the offset."""
    base, jp, jr = _attitude_jacobians(w, h)
    k = int(round(offset_px))
    att = np.roll(jp * np.float32(pitch_deg) + jr * np.float32(roll_deg), k, axis=2)
    return np.mod(base[0] - np.float32(offset_px) + att[0], w), base[1] + att[1]


def step_maps_fast(w: int, h: int, dx_m: float, dz_m: float, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """`step_maps`, linearised in the step (a few centimetres a frame)."""
    base, jx, jz, _ground_mask = _step_jacobians(w, h, float(height_m))
    m = base + jx * np.float32(dx_m) + jz * np.float32(dz_m)
    return np.mod(m[0], w), m[1]
