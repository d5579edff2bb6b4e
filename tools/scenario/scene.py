"""3-D entities of a synthetic scene, as ray-castable primitives.

World frame: the camera (wearer's head, 1.6 m up) is the origin, x right, y up, z ahead of the
wearer at t=0; yaw = atan2(x, z). People are ellipsoids (quadric form Q, centre c: (p−c)ᵀQ(p−c)=1)
because one closed-form ray test then covers heads, torsos and swinging limbs; vehicles are boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

HEAD_HEIGHT = 1.6  # camera height above the ground plane
GROUND_Y = -HEAD_HEIGHT

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 35, 35), "blue": (35, 70, 200), "green": (40, 150, 60), "yellow": (230, 200, 40),
    "white": (235, 235, 230), "black": (28, 28, 30), "grey": (125, 125, 130), "orange": (240, 125, 25),
    "purple": (120, 45, 150), "brown": (115, 75, 40), "pink": (230, 120, 170), "beige": (205, 185, 150),
}
SKIN = (215, 170, 135)
HAIR = (45, 30, 20)


def rot_y(deg: float) -> np.ndarray:
    """Rotation that adds `deg` to a point's yaw (yaw positive to the right, i.e. toward +x)."""
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def polar(bearing_deg: float, dist: float) -> tuple[float, float]:
    """Ground (x, z) at a yaw and horizontal distance from the wearer."""
    a = math.radians(bearing_deg)
    return (dist * math.sin(a), dist * math.cos(a))


@dataclass(frozen=True)
class Part:
    """One primitive in some frame: ellipsoid (`q` 3×3 quadric) or box (`axes` columns, `half`)."""

    kind: str  # "ell" | "box"
    centre: np.ndarray
    colour: tuple[int, int, int]
    radius: float  # bounding-sphere radius, for the angular window
    q: np.ndarray | None = None
    axes: np.ndarray | None = None
    half: np.ndarray | None = None

    def shifted(self, delta: np.ndarray) -> Part:
        """The same part with the origin moved by −delta (a walking camera at `delta`)."""
        return Part(self.kind, self.centre - delta, self.colour, self.radius, q=self.q, axes=self.axes, half=self.half)

    def rotated(self, rot: np.ndarray) -> Part:
        """The same part seen from a frame rotated by `rot` (camera yaw / wearer turning)."""
        if self.kind == "ell":
            return Part("ell", rot @ self.centre, self.colour, self.radius, q=rot @ self.q @ rot.T)
        return Part("box", rot @ self.centre, self.colour, self.radius, axes=rot @ self.axes, half=self.half)


def ellipsoid(centre, radii, axes: np.ndarray, colour) -> Part:
    """Ellipsoid with semi-axes `radii` along the columns of `axes` (orthonormal)."""
    r = np.asarray(radii, dtype=float)
    q = axes @ np.diag(1.0 / r**2) @ axes.T
    return Part("ell", np.asarray(centre, dtype=float), colour, float(r.max()), q=q)


def limb(joint: np.ndarray, direction: np.ndarray, length: float, radius: float, colour) -> Part:
    """Spheroid from `joint` along unit `direction`: a capsule-like arm or leg."""
    u = direction / np.linalg.norm(direction)
    q = np.eye(3) / radius**2 + (1.0 / (length / 2) ** 2 - 1.0 / radius**2) * np.outer(u, u)
    return Part("ell", joint + u * length / 2, colour, max(length / 2, radius), q=q)


def box(centre, half, axes: np.ndarray, colour) -> Part:
    h = np.asarray(half, dtype=float)
    return Part("box", np.asarray(centre, dtype=float), colour, float(np.linalg.norm(h)), axes=axes, half=h)


@dataclass(frozen=True)
class Path2D:
    """Piecewise-linear ground path (t, x, z); holds its ends outside the key times."""

    t: tuple[float, ...]
    x: tuple[float, ...]
    z: tuple[float, ...]

    @classmethod
    def of(cls, keys: list[tuple[float, float, float]]) -> Path2D:
        keys = sorted(keys)
        return cls(tuple(k[0] for k in keys), tuple(k[1] for k in keys), tuple(k[2] for k in keys))

    def pos(self, t: float) -> np.ndarray:
        return np.array([np.interp(t, self.t, self.x), np.interp(t, self.t, self.z)])

    def velocity(self, t: float) -> np.ndarray:
        i = int(np.searchsorted(self.t, t, side="right")) - 1
        if i < 0 or i >= len(self.t) - 1:
            return np.zeros(2)
        dt = self.t[i + 1] - self.t[i]
        return np.array([self.x[i + 1] - self.x[i], self.z[i + 1] - self.z[i]]) / max(dt, 1e-9)

    def distance(self, t: float) -> float:
        """Arc length walked by time t (drives the gait phase, so feet do not slide)."""
        seg = np.hypot(np.diff(self.x), np.diff(self.z))
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        return float(np.interp(t, self.t, cum))

    def heading(self, t: float, default: float) -> float:
        """Yaw of motion at t, else of the nearest moving segment before it, else `default`."""
        i = min(max(int(np.searchsorted(self.t, t, side="right")) - 1, 0), len(self.t) - 2)
        for j in range(i, -1, -1):
            dx, dz = self.x[j + 1] - self.x[j], self.z[j + 1] - self.z[j]
            if math.hypot(dx, dz) > 1e-6:
                return math.degrees(math.atan2(dx, dz))
        return default


@dataclass(frozen=True)
class Action:
    """An arm gesture on one side between t0 and t1: reach | raise | throw."""

    kind: str
    t0: float
    t1: float
    side: int = 1  # +1 right arm, -1 left arm
    ramp: float = 0.3


class Entity:
    """Base: something with an id, a role, words about it, and primitives at time t."""

    id: int
    kind: str
    role: str
    appearance: str
    motion: str

    def parts(self, t: float) -> list[Part]:
        raise NotImplementedError

    def centre(self, t: float) -> np.ndarray | None:
        """3-D centre (world) or None when the entity does not exist at t."""
        raise NotImplementedError


@dataclass
class Person(Entity):
    id: int
    path: Path2D
    top: str = "red"
    bottom: str = "blue"
    role: str = "none"
    motion: str = "walks past at a distance"
    actions: tuple[Action, ...] = ()
    face: tuple[float, float] | None = None  # look at this ground point while standing still
    face_from: float = -1e9  # ... only from this time on
    heading0: float = 180.0
    kind: str = field(default="person", init=False)

    @property
    def appearance(self) -> str:
        return f"person in a {self.top} shirt and {self.bottom} trousers"

    def facing(self, t: float) -> float:
        speed = float(np.linalg.norm(self.path.velocity(t)))
        if self.face is not None and t >= self.face_from and speed < 0.2:
            p = self.path.pos(t)
            return math.degrees(math.atan2(self.face[0] - p[0], self.face[1] - p[1]))
        return self.path.heading(t, self.heading0)

    def centre(self, t: float) -> np.ndarray:
        p = self.path.pos(t)
        return np.array([p[0], GROUND_Y + 0.9, p[1]])

    def _gait(self, t: float) -> tuple[float, float]:
        speed = float(np.linalg.norm(self.path.velocity(t)))
        amp = min(45.0, 18.0 * speed)  # degrees; running swings wider
        return amp * math.sin(2 * math.pi * self.path.distance(t) / 1.4), amp

    def _arm_angle(self, t: float, side: int, swing: float) -> float:
        """Degrees from hanging (0) toward forward (90) and up (180)."""
        angle = -side * swing * 0.8
        for a in self.actions:
            if a.side != side or not (a.t0 - a.ramp <= t <= a.t1 + a.ramp):
                continue
            w = min(1.0, (t - a.t0 + a.ramp) / a.ramp, (a.t1 + a.ramp - t) / a.ramp)
            if a.kind == "reach":
                target = 65.0
            elif a.kind == "raise":
                target = 165.0
            else:  # throw: wind up behind the head, snap forward at t1 (release)
                target = 200.0 if t < a.t1 - 0.15 else 200.0 - 130.0 * min(1.0, (t - a.t1 + 0.15) / 0.15)
            angle = (1 - w) * angle + w * target
        return angle

    def _body(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.path.pos(t)
        return rot_y(self.facing(t)), np.array([p[0], GROUND_Y, p[1]])

    def hand(self, t: float, side: int) -> np.ndarray:
        rot, origin = self._body(t)
        swing, _ = self._gait(t)
        joint, u = self._arm(side, self._arm_angle(t, side, swing))
        return origin + rot @ (joint + u * 0.62)

    @staticmethod
    def _arm(side: int, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
        a = math.radians(angle_deg)
        return np.array([side * 0.24, 1.45, 0.0]), np.array([side * 0.12, -math.cos(a), math.sin(a)])

    def parts(self, t: float) -> list[Part]:
        rot, origin = self._body(t)
        top, bottom = COLOURS[self.top], COLOURS[self.bottom]
        swing, _ = self._gait(t)
        eye = np.eye(3)
        local = [
            ellipsoid([0, 1.62, 0.0], [0.095, 0.12, 0.105], eye, SKIN),
            ellipsoid([0, 1.68, -0.02], [0.1, 0.085, 0.1], eye, HAIR),
            ellipsoid([0, 1.2, 0], [0.2, 0.3, 0.12], eye, top),
            ellipsoid([0, 0.92, 0], [0.17, 0.12, 0.11], eye, bottom),
        ]
        for side in (-1, 1):
            leg_a = math.radians(side * swing)
            local.append(limb(np.array([side * 0.09, 0.92, 0.0]), np.array([0.0, -math.cos(leg_a), math.sin(leg_a)]),
                              0.9, 0.075, bottom))
            joint, u = self._arm(side, self._arm_angle(t, side, swing))
            u = u / np.linalg.norm(u)
            local.append(limb(joint, u, 0.56, 0.055, top))
            local.append(ellipsoid(joint + u * 0.62, [0.05, 0.05, 0.05], eye, SKIN))
        return [_place(part, rot, origin) for part in local]


def _place(part: Part, rot: np.ndarray, origin: np.ndarray) -> Part:
    moved = part.rotated(rot)
    return Part(moved.kind, moved.centre + origin, moved.colour, moved.radius, q=moved.q, axes=moved.axes,
                half=moved.half)


@dataclass
class Vehicle(Entity):
    id: int
    path: Path2D
    colour: str = "white"
    role: str = "none"
    motion: str = "drives past"
    kind: str = field(default="vehicle", init=False)

    @property
    def appearance(self) -> str:
        return f"{self.colour} car"

    def centre(self, t: float) -> np.ndarray:
        p = self.path.pos(t)
        return np.array([p[0], GROUND_Y + 0.8, p[1]])

    def parts(self, t: float) -> list[Part]:
        p = self.path.pos(t)
        rot = rot_y(self.path.heading(t, 0.0))
        origin = np.array([p[0], GROUND_Y, p[1]])
        eye = np.eye(3)
        local = [
            box([0, 0.75, 0], [0.9, 0.45, 2.2], eye, COLOURS[self.colour]),
            box([0, 1.45, -0.2], [0.8, 0.26, 1.1], eye, (45, 55, 70)),
        ]
        local += [ellipsoid([sx * 0.85, 0.33, sz * 1.35], [0.12, 0.33, 0.33], eye, (20, 20, 20))
                  for sx in (-1, 1) for sz in (-1, 1)]
        return [_place(part, rot, origin) for part in local]


@dataclass
class Bicycle(Entity):
    """A cyclist: two wheels, a frame and a pedalling rider (crank turns with distance ridden)."""

    id: int
    path: Path2D
    colour: str = "red"
    top: str = "blue"
    role: str = "none"
    motion: str = "rides past"
    kind: str = field(default="vehicle", init=False)

    @property
    def appearance(self) -> str:
        return f"person in a {self.top} shirt on a {self.colour} bicycle"

    def centre(self, t: float) -> np.ndarray:
        p = self.path.pos(t)
        return np.array([p[0], GROUND_Y + 0.9, p[1]])

    def parts(self, t: float) -> list[Part]:
        p = self.path.pos(t)
        rot = rot_y(self.path.heading(t, 0.0))
        origin = np.array([p[0], GROUND_Y, p[1]])
        eye, dark, top = np.eye(3), (25, 25, 25), COLOURS[self.top]
        crank = 2 * math.pi * self.path.distance(t) / 2.1  # ~2.1 m per pedal turn
        local = [ellipsoid([0, 0.34, sz], [0.025, 0.34, 0.34], eye, dark) for sz in (-0.52, 0.52)]
        local += [box([0, 0.58, 0.0], [0.025, 0.03, 0.45], eye, COLOURS[self.colour]),
                  box([0, 0.98, 0.48], [0.24, 0.02, 0.02], eye, dark),
                  ellipsoid([0, 1.25, 0.08], [0.19, 0.3, 0.12], eye, top),
                  ellipsoid([0, 1.68, 0.16], [0.095, 0.12, 0.105], eye, SKIN)]
        for side in (-1, 1):
            a = crank + (0 if side > 0 else math.pi)
            pedal = np.array([side * 0.1, 0.34 + 0.17 * math.cos(a), 0.17 * math.sin(a)])
            hip = np.array([side * 0.1, 0.95, -0.12])
            local.append(limb(hip, pedal - hip, float(np.linalg.norm(pedal - hip)), 0.07, (40, 40, 60)))
            shoulder = np.array([side * 0.2, 1.45, 0.1])
            grip = np.array([side * 0.22, 0.98, 0.48])
            local.append(limb(shoulder, grip - shoulder, float(np.linalg.norm(grip - shoulder)), 0.05, top))
        return [_place(part, rot, origin) for part in local]


@dataclass
class Thrown(Entity):
    """A small ball: held in the thrower's hand from `t_grab`, released at `t_release`, flies to
    `target` in `flight_s`, then drops to the ground and rests there."""

    id: int
    thrower: Person
    side: int
    t_grab: float
    t_release: float
    target: tuple[float, float, float]
    flight_s: float = 0.6
    colour: str = "yellow"
    role: str = "related"
    motion: str = "flies toward you"
    rest: tuple[float, float] | None = None  # ground (x, z) where it ends up; None: beyond target from the origin
    kind: str = field(default="object", init=False)

    @property
    def appearance(self) -> str:
        return f"small {self.colour} ball"

    def centre(self, t: float) -> np.ndarray | None:
        if t < self.t_grab:
            return None
        if t <= self.t_release:
            return self.thrower.hand(t, self.side)
        start = self.thrower.hand(self.t_release, self.side)
        end = np.asarray(self.target, dtype=float)
        s = (t - self.t_release) / self.flight_s
        if s <= 1.0:
            return start + s * (end - start) + np.array([0.0, 0.6 * s * (1 - s), 0.0])
        fall = min(1.0, (s - 1.0) * self.flight_s / 0.35)
        rest = (end[0] * 1.3, end[2] * 1.3) if self.rest is None else self.rest
        ground = np.array([rest[0], GROUND_Y + 0.07, rest[1]])
        return end + fall * (ground - end)

    def parts(self, t: float) -> list[Part]:
        c = self.centre(t)
        if c is None:
            return []
        return [ellipsoid(c, [0.07, 0.07, 0.07], np.eye(3), COLOURS[self.colour])]
