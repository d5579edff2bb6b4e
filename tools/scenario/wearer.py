"""The wearer's own motion: where the camera is and how it is tilted at every instant.

A walking wearer is what breaks "the world is at infinity": the ground flows past, poles and parked
cars show parallax, and the head bobs at the step frequency. Motion is given as legs (duration,
target speed, turn rate) and integrated once at a fine step with an acceleration limit, so speed and
heading are continuous (no teleporting camera) and any frame can be queried in O(log n).

World frame as in scene.py: x right, y up, z ahead of the wearer at t=0, y=0 at 1.6 m above the
ground (the ground is y = −1.6 whatever the camera height, so entity feet stay on it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ego360.tools.scenario.scene import GROUND_Y, HEAD_HEIGHT


@dataclass(frozen=True)
class WearerPose:
    """Camera pose at one instant. `x`, `z`: ground position (m, world); `heading_deg`: body yaw in the
    world (0 = world +z, positive right); `height_m`: camera above the ground; `pitch_deg`/`roll_deg`:
    head bob (pitch positive up, roll positive = right ear down); `speed`: walking speed (m/s)."""

    t: float
    x: float
    z: float
    heading_deg: float
    height_m: float
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    speed: float = 0.0

    @property
    def camera(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return np.array([self.x, GROUND_Y + self.height_m, self.z])

    @property
    def is_origin_level(self) -> bool:
        """True for the old standing camera (at the origin, 1.6 m, level): rendering then takes the
        exact pre-walking path so standing scenes stay byte-identical."""
        return (self.x == 0.0 and self.z == 0.0 and self.height_m == HEAD_HEIGHT and self.pitch_deg == 0.0
                and self.roll_deg == 0.0)


def tilt(pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Rotation from the level wearer frame into the bobbing camera frame.

    The camera pitched up by p sees a level point lower by p: the point is rotated by −p about x
    (then by the roll about z, the viewing axis)."""
    p, r = math.radians(pitch_deg), math.radians(roll_deg)
    cp, sp, cr, sr = math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])  # y' = y cos p − z sin p
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])  # right ear down: things on the right rise
    return rz @ rx


@dataclass(frozen=True)
class Leg:
    """A stretch of walking: `duration` s toward `speed` m/s while turning at `turn_dps` (right +)."""

    duration: float
    speed: float
    turn_dps: float = 0.0


class Walk:
    """Integrated wearer trajectory with head bob.

    Step frequency grows with speed (≈1.9 Hz at 1.3 m/s, a typical cadence); the head pitches and
    bounces once per step and rolls/sways once per stride (two steps), with amplitudes that fade out
    as the wearer stops, so a standing wearer is perfectly still.
    """

    def __init__(self, legs: list[Leg], *, start: tuple[float, float] = (0.0, 0.0), heading0: float = 0.0,
                 speed0: float | None = None, height: float = HEAD_HEIGHT, accel: float = 0.9,
                 bob_pitch_deg: float = 1.5, bob_roll_deg: float = 1.0, sway_m: float = 0.02,
                 bounce_m: float = 0.015, phase0: float = 0.0, dt: float = 1.0 / 240.0):
        self.legs = tuple(legs)
        self.height = float(height)
        self.bob_pitch_deg, self.bob_roll_deg = float(bob_pitch_deg), float(bob_roll_deg)
        self.sway_m, self.bounce_m = float(sway_m), float(bounce_m)
        total = sum(leg.duration for leg in self.legs)
        n = max(2, int(math.ceil(total / dt)) + 2)
        t = np.arange(n) * dt
        x, z, head, speed, phase = (np.zeros(n) for _ in range(5))
        x[0], z[0], head[0] = start[0], start[1], heading0
        v = self.legs[0].speed if speed0 is None and self.legs else float(speed0 or 0.0)
        speed[0], phase[0] = v, phase0
        ends = np.cumsum([leg.duration for leg in self.legs]) if self.legs else np.array([0.0])
        for i in range(1, n):
            k = min(int(np.searchsorted(ends, t[i - 1], side="right")), len(self.legs) - 1)
            leg = self.legs[k] if self.legs else Leg(0.0, 0.0)
            v += float(np.clip(leg.speed - v, -accel * dt, accel * dt))
            head[i] = head[i - 1] + leg.turn_dps * dt
            a = math.radians(0.5 * (head[i] + head[i - 1]))
            x[i] = x[i - 1] + v * dt * math.sin(a)
            z[i] = z[i - 1] + v * dt * math.cos(a)
            speed[i] = v
            phase[i] = phase[i - 1] + step_hz(v) * dt
        self._t, self._x, self._z, self._head, self._speed, self._phase = t, x, z, head, speed, phase

    @property
    def duration(self) -> float:
        return float(self._t[-1])

    def position(self, t: float) -> np.ndarray:
        """Body (x, z) at t without the sway: where other people aim when they head for the wearer."""
        return np.array([np.interp(t, self._t, self._x), np.interp(t, self._t, self._z)])

    def heading(self, t: float) -> float:
        return float(np.interp(t, self._t, self._head))

    def pose(self, t: float) -> WearerPose:
        v = float(np.interp(t, self._t, self._speed))
        ph = float(np.interp(t, self._t, self._phase))
        amp = min(1.0, v / 1.0)
        head = self.heading(t)
        bx, bz = self.position(t)
        sway = self.sway_m * amp * math.sin(math.pi * ph)
        a = math.radians(head)
        return WearerPose(
            t=float(t), x=float(bx + sway * math.cos(a)), z=float(bz - sway * math.sin(a)), heading_deg=head,
            height_m=self.height + self.bounce_m * amp * math.cos(2 * math.pi * ph),
            pitch_deg=self.bob_pitch_deg * amp * math.sin(2 * math.pi * ph),
            roll_deg=self.bob_roll_deg * amp * math.sin(math.pi * ph), speed=v)


def step_hz(speed: float) -> float:
    """Walking cadence (steps/s) at a speed; 0 when standing."""
    if speed < 0.05:
        return 0.0
    return min(3.0, 1.5 + 0.3 * speed)


def standing(t: float, heading_deg: float, height: float = HEAD_HEIGHT) -> WearerPose:
    """The camera of the original standing/turning scenes: at the origin, level."""
    return WearerPose(t=float(t), x=0.0, z=0.0, heading_deg=float(heading_deg), height_m=float(height))
