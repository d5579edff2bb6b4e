"""Wearer-relative bearings: angle wrapping, clock hours, VIEW360 directions and the camera mount.

Conventions (shared by the whole runtime): yaw 0 = the wearer's straight ahead, positive to the
right; pitch positive up; a camera mounted with yaw offset Y sees the wearer's ahead at camera yaw
Y, so wearer yaw = camera yaw − Y. Only numpy is imported so every stage can use this cheaply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np


def _out(x: np.ndarray) -> Any:
    """Scalars in → Python floats out, arrays in → arrays out."""
    return float(x) if np.ndim(x) == 0 else x


def wrap_deg(a: Any) -> Any:
    """Angle(s) in degrees wrapped to (-180, 180]; 180 stays 180 so 'straight behind' has one name.

    A Python number takes a pure-Python path (same arithmetic, same result): trackers call this per
    candidate and per frame, where numpy's per-call overhead dominated."""
    if type(a) is float or type(a) is int:
        s = (a + 180.0) % 360.0 - 180.0
        return s + 360.0 if s <= -180.0 else s
    r = np.mod(np.asarray(a, dtype=np.float64) + 180.0, 360.0) - 180.0
    r = np.where(r <= -180.0, r + 360.0, r)
    return _out(r)


def clock_hour(yaw_deg: float) -> int:
    """Clock hour 1..12 of a wearer-relative yaw: round(yaw/30) mod 12, with 0 → 12.

    The yaw is first wrapped to (-180, 180] and then rounded half away from zero, so the rounding
    is mirror-symmetric: 15° → 1 and −15° → 11 (both move away from 12), 165° → 6, −165° → 6.
    Python's round() (half to even) would send 15° → 12 but 45° → 2, which a listener cannot learn.
    """
    q = wrap_deg(float(yaw_deg)) / 30.0
    n = int(math.floor(abs(q) + 0.5))
    hour = (n if q >= 0 else -n) % 12
    return 12 if hour == 0 else hour


def view360_direction(bearing_deg: float) -> str:
    """VIEW360's three direction classes: 'c' on the midline (|b| ≤ 30° or ≥ 150°), else 'l' / 'r'."""
    b = wrap_deg(float(bearing_deg))
    if abs(b) <= 30.0 or abs(b) >= 150.0:
        return "c"
    return "l" if b < 0 else "r"


def yawpitch_to_dir(yaw_deg: Any, pitch_deg: Any) -> np.ndarray:
    """Unit vectors (..., 3): x right, y up, z ahead (the axes of py360convert)."""
    yaw = np.radians(np.asarray(yaw_deg, dtype=np.float64))
    pitch = np.radians(np.asarray(pitch_deg, dtype=np.float64))
    c = np.cos(pitch)
    return np.stack([c * np.sin(yaw), np.sin(pitch), c * np.cos(yaw)], axis=-1)


def dir_to_yawpitch(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) in degrees of direction vectors (..., 3); need not be unit length."""
    d = np.asarray(d, dtype=np.float64)
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.degrees(np.arctan2(x, z)), np.degrees(np.arctan2(y, np.hypot(x, z)))


DEFAULT_CAMERA_HEIGHT_M = 1.6  # a head- or shoulder-worn camera on an adult


def level_matrix(pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Rotation taking camera-frame vectors to the levelled frame (R_pitch · R_roll), for a camera
    tilted up by `pitch_deg` and rolled right-side-down by `roll_deg` (see `Mounting`); levelled
    directions are `d @ level_matrix(...).T`, and camera directions back are `level @ level_matrix(...)`."""
    p, r = math.radians(pitch_deg), math.radians(roll_deg)
    rp = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rr = np.array([[math.cos(r), math.sin(r), 0], [-math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rp @ rr


@dataclass(frozen=True)
class Mounting:
    """How the 360° camera sits on the wearer.

    - `yaw_offset_deg`: the camera yaw at which the wearer's straight ahead appears
      (wearer yaw = camera yaw − offset).
    - `pitch_deg`: tilt of the camera's front axis, positive = tilted **up**, about the camera's own
      right axis. A mount pitched down by 10° has `pitch_deg=-10`: what it sees straight ahead
      (camera pitch 0) is really 10° below the horizon, and a point level with the wearer appears
      at camera pitch +10.
    - `roll_deg`: rotation about the camera's own front axis, positive = right side **down**
      (clockwise seen from behind). With roll +10 a level point at camera yaw +90 appears at
      camera pitch +10.

    Levelling applies roll, then pitch (camera frame → level frame), then subtracts the yaw offset.
    """

    yaw_offset_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    height_m: float = DEFAULT_CAMERA_HEIGHT_M  # camera above the ground: turns a foot point's pitch into a distance

    @property
    def is_level(self) -> bool:
        return self.pitch_deg == 0.0 and self.roll_deg == 0.0

    def _level_matrix(self) -> np.ndarray:
        return level_matrix(self.pitch_deg, self.roll_deg)

    def wearer_yaw(self, camera_yaw_deg: Any) -> Any:
        """Yaw-only conversion (ignores pitch/roll): camera yaw − offset, wrapped."""
        return wrap_deg(np.asarray(camera_yaw_deg, dtype=np.float64) - self.yaw_offset_deg)

    def camera_to_wearer(self, yaw_deg: Any, pitch_deg: Any) -> tuple[Any, Any]:
        """Camera (yaw, pitch) in degrees → wearer-relative (yaw, pitch); vectorised."""
        yaw = np.asarray(yaw_deg, dtype=np.float64)
        pitch = np.asarray(pitch_deg, dtype=np.float64)
        if not self.is_level:
            d = yawpitch_to_dir(yaw, pitch) @ self._level_matrix().T
            yaw, pitch = dir_to_yawpitch(d)
        return self.wearer_yaw(yaw), _out(np.asarray(pitch, dtype=np.float64))

    def wearer_to_camera(self, yaw_deg: Any, pitch_deg: Any) -> tuple[Any, Any]:
        """The inverse of `camera_to_wearer`: where a wearer-relative direction appears in the camera."""
        yaw = wrap_deg(np.asarray(yaw_deg, dtype=np.float64) + self.yaw_offset_deg)
        pitch = np.asarray(pitch_deg, dtype=np.float64)
        if self.is_level:
            return yaw, _out(pitch)
        d = yawpitch_to_dir(yaw, pitch) @ self._level_matrix()
        cyaw, cpitch = dir_to_yawpitch(d)
        return wrap_deg(cyaw), _out(cpitch)


# ---------------------------------------------------------------- equirect pixels ↔ angles ↔ rays

def yawpitch_to_equirect_px(yaw: Any, pitch: Any, W: int, H: int) -> tuple[Any, Any]:
    """(yaw, pitch) in degrees → continuous equirect (x, y); x is wrapped into [0, W)."""
    yaw = np.asarray(yaw, dtype=np.float64)
    pitch = np.asarray(pitch, dtype=np.float64)
    x = np.mod(yaw / 360.0 + 0.5, 1.0) * W
    y = (0.5 - pitch / 180.0) * H
    return _scalar(x), _scalar(y)


def equirect_px_to_yawpitch(x: Any, y: Any, W: int, H: int) -> tuple[Any, Any]:
    """Continuous equirect (x, y) → (yaw in (-180, 180], pitch) in degrees; pass i + 0.5 for pixel centres."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return wrap_deg((x / W - 0.5) * 360.0), _scalar((0.5 - y / H) * 180.0)


def _scalar(a: np.ndarray) -> Any:
    return float(a) if np.ndim(a) == 0 else a


def col_yaw(x: np.ndarray | float, w: int) -> np.ndarray | float:
    """Camera yaw (deg) of column centre(s) x on a w-wide equirect."""
    return (np.asarray(x, dtype=np.float64) + 0.5) / w * 360.0 - 180.0


def row_pitch(y: np.ndarray | float, h: int) -> np.ndarray | float:
    """Pitch (deg) of row centre(s) y on an h-high equirect."""
    return 90.0 - (np.asarray(y, dtype=np.float64) + 0.5) / h * 180.0


@lru_cache(maxsize=4)
def equirect_rays(width: int, height: int) -> np.ndarray:
    """Unit ray per pixel centre (camera frame), float32 H×W×3."""
    yaw = np.radians(((np.arange(width) + 0.5) / width - 0.5) * 360.0)
    pitch = np.radians((0.5 - (np.arange(height) + 0.5) / height) * 180.0)
    cp = np.cos(pitch)[:, None]
    rays = np.stack([cp * np.sin(yaw)[None, :], np.broadcast_to(np.sin(pitch)[:, None], (height, width)),
                     cp * np.cos(yaw)[None, :]], axis=-1)
    rays = rays.astype(np.float32)
    rays.setflags(write=False)
    return rays
