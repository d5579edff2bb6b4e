"""The scenario library: one short clip per VIEW360+ class plus normal scenes, for a standing wearer
(defined here) and for a walking wearer / table camera in a world with depth (walking.py).

Every event starts after ≥1.5 s of normal scene (a trigger needs a baseline) and its onset is the
moment the anomalous motion starts. Bearings differ per class (front, behind, left, right) and the
seed jitters them by a few degrees and picks clothing colours, so tests see variety but stay exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ego360.core.errors import UserError
from ego360.tools.scenario.render import EventSpec, Scene
from ego360.tools.scenario.scene import COLOURS, Action, Entity, Path2D, Person, Thrown, Vehicle, polar
from ego360.tools.scenario.walking import (
    WALK_DURATION_S,
    Setup,
    clear_paths,
    table_people,
    walk_collide,
    walk_crowd,
    walk_past_poles,
    walk_steal,
    walk_street,
    walk_threaten,
    walk_throw,
    walk_traffic,
)

ONSET_S = 2.0
DEFAULT_DURATION_S = 8.0


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    cls: str
    description: str


@dataclass(frozen=True)
class _Spec:
    cls: str
    description: str
    build: Callable[[np.random.Generator], tuple[list[Entity], list[EventSpec]] | Setup]
    ego_yaw_rate_dps: float = 0.0
    duration_s: float = DEFAULT_DURATION_S
    noise: float = 0.0  # defaults for the camera effects; the walking world has a real sensor's
    light_drift: float = 0.0


def _colours(rng: np.random.Generator, n: int = 2) -> list[str]:
    names = list(COLOURS)
    return [names[i] for i in rng.choice(len(names), size=n, replace=False)]


def _person(rng: np.random.Generator, pid: int, keys, **kw) -> Person:
    top, bottom = _colours(rng)
    return Person(pid, Path2D.of([(t, *polar(b, r)) for t, b, r in keys]), top=top, bottom=bottom, **kw)


def _passerby(rng: np.random.Generator, pid: int, b0: float, b1: float, dist: float) -> Person:
    return _person(rng, pid, [(0.0, b0, dist), (DEFAULT_DURATION_S * 1.5, b1, dist)])


def _jitter(rng: np.random.Generator, bearing: float, amount: float = 8.0) -> float:
    return bearing + float(rng.uniform(-amount, amount))


def _stealing(rng):
    b = _jitter(rng, 165.0)
    perp = _person(rng, 1, [(0.0, b + 40, 7.0), (ONSET_S, b + 12, 6.5), (4.2, b, 0.55), (5.3, b, 0.55),
                            (7.3, b - 30, 6.5)], role="perpetrator",
                   motion="approaches you from behind and reaches toward you",
                   actions=(Action("reach", 4.2, 5.2, side=1),), face=(0.0, 0.0))
    return [perp, _passerby(rng, 2, -70, 10, 9.0)], [EventSpec("Stealing", ONSET_S, 6.8, 1)]


def _teasing(rng):
    b = _jitter(rng, -100.0)
    keys = [(0.0, b + 10, 5.5), (ONSET_S, b, 5.0), (3.0, b, 1.5)]
    keys += [(3.0 + 3.0 * k / 20, b - 200.0 * k / 20, 1.5) for k in range(1, 21)]
    keys.append((7.0, b - 200, 5.0))
    perp = _person(rng, 1, keys, role="perpetrator", motion="circles closely around you")
    return [perp, _passerby(rng, 2, 20, 80, 10.0)], [EventSpec("Teasing", ONSET_S, 6.8, 1)]


def _glancing(rng):
    b = math.radians(_jitter(rng, 60.0))
    start = np.array([7.0 * math.sin(b), 7.0 * math.cos(b)])
    gamma = math.asin(0.6 / 7.0)
    inward = -start / 7.0
    best = None
    for g in (gamma, -gamma):  # pass on the wearer's right (closest point has x > 0)
        c, s = math.cos(g), math.sin(g)
        u = np.array([c * inward[0] + s * inward[1], -s * inward[0] + c * inward[1]])
        closest = start + u * 7.0 * math.cos(gamma)
        if best is None or closest[0] > best[1][0]:
            best = (u, closest)
    u, _ = best
    end = start + u * 14.0 * math.cos(gamma)
    pre = np.array(polar(math.degrees(b) + 12, 9.0))
    speed = 2.5
    t_end = ONSET_S + 14.0 * math.cos(gamma) / speed
    top, bottom = _colours(rng)
    perp = Person(1, Path2D.of([(0.0, *pre), (ONSET_S, *start), (t_end, *end)]), top=top, bottom=bottom,
                  role="perpetrator", motion="walks fast past you, brushing close")
    t_close = ONSET_S + 7.0 * math.cos(gamma) / speed
    return [perp, _passerby(rng, 2, -120, -60, 10.0)], [EventSpec("Glancing", ONSET_S, t_close + 1.2, 1)]


def _collide(rng):
    b = _jitter(rng, 0.0)
    perp = _person(rng, 1, [(0.0, b + 20, 9.0), (ONSET_S, b, 8.0), (ONSET_S + 7.65 / 3.5, b, 0.35),
                            (4.7, b, 0.35), (5.5, b, 1.2)], role="perpetrator",
                   motion="runs straight at you and bumps into you", face=(0.0, 0.0))
    return [perp, _passerby(rng, 2, 120, 170, 9.0)], [EventSpec("Collide", ONSET_S, 5.5, 1)]


def _threaten(rng):
    b = _jitter(rng, -70.0)
    perp = _person(rng, 1, [(0.0, b - 30, 8.0), (ONSET_S, b, 6.5), (4.0, b, 1.0)], role="perpetrator",
                   motion="comes up to you and raises a fist", actions=(Action("raise", 4.0, 6.2, side=1),),
                   face=(0.0, 0.0))
    return [perp, _passerby(rng, 2, 40, 100, 10.0)], [EventSpec("Threaten", ONSET_S, 6.2, 1)]


def _throw(rng):
    b = _jitter(rng, -130.0)
    thrower = _person(rng, 1, [(0.0, b + 3, 5.4), (1.2, b, 5.0), (3.5, b, 5.0), (6.5, b, 9.0)], role="perpetrator",
                      motion="throws an object at you", actions=(Action("throw", ONSET_S, 2.8, side=1, ramp=0.2),),
                      face=(0.0, 0.0))
    aim = np.array(polar(b, 0.35))
    ball = Thrown(2, thrower, side=1, t_grab=ONSET_S, t_release=2.8, target=(aim[0], -0.15, aim[1]),
                  colour=_colours(rng, 1)[0])
    return [thrower, ball, _passerby(rng, 3, 30, 90, 11.0)], [EventSpec("Throw", ONSET_S, 4.5, 1)]


def _traffic(rng):
    turn = _jitter(rng, 45.0) - 45.0
    lane, near, v = 6.0, 2.3, 8.0  # the car's side passes ~1.4 m from the wearer
    keys = [(0.0, lane, 22.0), (ONSET_S, lane, 6.0), (ONSET_S + 6.0 / v, near, 0.0), (ONSET_S + 12.0 / v, near, -6.0),
            (ONSET_S + 20.0 / v, lane, -14.0), (ONSET_S + 46.0 / v, lane, -40.0)]
    c, s = math.cos(math.radians(turn)), math.sin(math.radians(turn))
    keys = [(t, c * x + s * z, -s * x + c * z) for t, x, z in keys]
    car = Vehicle(1, Path2D.of(keys), colour=_colours(rng, 1)[0], role="perpetrator",
                  motion="swerves and passes very close to you")
    return [car, _passerby(rng, 2, -100, -40, 9.0)], [EventSpec("Traffic", ONSET_S, ONSET_S + 16.0 / v, 1)]


def _stealing_other(rng):
    b = _jitter(rng, 40.0, 5.0)
    vx, vz = polar(b, 3.0)
    victim_heading = b + 90.0
    back = np.array(polar(victim_heading + 180.0, 0.55))
    victim = _person(rng, 2, [(0.0, b, 3.0), (1.0, b, 3.0)], role="victim", motion="stands still")
    victim.heading0 = victim_heading
    top, bottom = _colours(rng)
    perp = Person(1, Path2D.of([(0.0, *polar(b + 55, 8.0)), (ONSET_S, *polar(b + 40, 6.0)),
                                (4.0, vx + back[0], vz + back[1]), (5.2, vx + back[0], vz + back[1]),
                                (7.2, *polar(b + 70, 8.0))]),
                  top=top, bottom=bottom, role="perpetrator", face=(vx, vz),
                  motion="sneaks up behind another person and reaches into their bag",
                  actions=(Action("reach", 4.0, 5.0, side=1),))
    return [perp, victim], [EventSpec("Stealing", ONSET_S, 6.5, 1, victim=2)]


def _normal_passersby(rng):
    people = [_passerby(rng, 1, -150, -80, 8.0), _passerby(rng, 2, 20, -30, 11.0), _passerby(rng, 3, 100, 150, 6.5),
              _passerby(rng, 4, 60, 10, 12.0)]
    return people, []


def _normal_turning(rng):
    return [_passerby(rng, 1, -40, 20, 10.0), _passerby(rng, 2, 150, 100, 12.0), _passerby(rng, 3, 70, 120, 9.0)], []


SCENARIOS: dict[str, _Spec] = {
    "stealing": _Spec("Stealing", "approaches from behind, reaches at the wearer (~0.5 m), leaves", _stealing),
    "teasing": _Spec("Teasing", "circles the wearer at ~1.5 m through the back seam", _teasing),
    "glancing": _Spec("Glancing", "walks fast past the wearer's right side, ~0.6 m away", _glancing),
    "collide": _Spec("Collide", "runs head-on at the wearer to contact", _collide),
    "threaten": _Spec("Threaten", "comes to ~1 m on the left, stops, raises an arm", _threaten),
    "throw": _Spec("Throw", "a person ~5 m behind-left throws a ball at the wearer", _throw),
    "traffic": _Spec("Traffic", "a car swerves and passes ~1.4 m on the right", _traffic),
    "stealing_other": _Spec("Stealing", "sneaks up on another standing person and reaches at them", _stealing_other),
    "normal_passersby": _Spec("Normal", "people walking at 6-12 m, no event", _normal_passersby),
    "normal_turning": _Spec("Normal", "wearer turns at 25 deg/s among distant passers-by, no event", _normal_turning,
                            ego_yaw_rate_dps=25.0),
}


def _walking(cls: str, description: str, build) -> _Spec:
    return _Spec(cls, description, build, duration_s=WALK_DURATION_S, noise=0.012, light_drift=0.05)


SCENARIOS.update({
    "walk_street": _walking("Normal", "wearer walks a street (stops, turns); passers-by at 2-3 m both ways, "
                            "overtaking, one crossing far ahead; poles, parked cars, facades", walk_street),
    "walk_crowd": _walking("Normal", "wearer walks among 8-11 people at 1.5-3 m, both directions", walk_crowd),
    "walk_past_poles": _walking("Normal", "wearer walks past poles, bins and parked cars 0.8-1.5 m beside the path",
                                walk_past_poles),
    "walk_collide": _walking("Collide", "a runner from the front right on a collision course with the walking "
                             "wearer", walk_collide),
    "walk_traffic": _walking("Traffic", "a car or bicycle crosses the walking wearer's path 3.5-5 m ahead",
                             walk_traffic),
    "walk_throw": _walking("Throw", "someone 5-7 m ahead to one side throws a ball at the walking wearer",
                           walk_throw),
    "walk_steal": _walking("Stealing", "someone catches up from behind and reaches at the walking wearer's bag",
                           walk_steal),
    "walk_threaten": _walking("Threaten", "someone steps into the walking wearer's path, stops ~1.2 m ahead, "
                              "raises a fist", walk_threaten),
    "table_people": _walking("Normal", "static camera on a table (0.8 m high); people walk past at 3-5 m",
                             table_people),
})


def list_scenarios() -> list[ScenarioInfo]:
    return [ScenarioInfo(name, s.cls, s.description) for name, s in SCENARIOS.items()]


def build_scene(name: str, *, seed: int = 0, width: int = 1920, height: int = 960, fps: float = 30.0,
                duration_s: float | None = None, ego_yaw_rate_dps: float | None = None, yaw_offset_deg: float = 0.0,
                noise: float | None = None, flicker: float = 0.0, background: str | None = None,
                light_drift: float | None = None, mount_pitch_deg: float = 0.0,
                mount_roll_deg: float = 0.0) -> Scene:
    """A renderable library scenario. Timings are in seconds, so any fps works; a duration shorter
    than the event truncates it (end clipped, or event dropped when it would start after the end).
    `background`: None (panorama if present else procedural), "procedural", or an image path.
    `noise` / `light_drift` / `duration_s`: None takes the scenario's own (walking scenes have sensor
    noise and a slow lighting drift; the original standing ones have neither). `mount_pitch_deg` /
    `mount_roll_deg`: a camera mounted tilted (recorded in gt.json; 0 renders exactly as before)."""
    from dataclasses import replace

    from ego360.tools.scenario.background import check_size, load_background

    spec = SCENARIOS.get(name)
    if spec is None:
        raise UserError(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}")
    check_size(width, height)
    if fps <= 0 or (duration_s is not None and duration_s <= 0):
        raise UserError(f"fps {fps} / duration {duration_s}: both must be positive")
    built = spec.build(np.random.default_rng([seed, 2024]))
    setup = built if isinstance(built, Setup) else Setup(*built)
    ground = None if setup.ground is None else replace(setup.ground, seed=seed % 8)  # a few textures, cached
    duration = spec.duration_s if duration_s is None else float(duration_s)
    structures = clear_paths(setup, max(duration, spec.duration_s)) if setup.structures else []
    rate = spec.ego_yaw_rate_dps if ego_yaw_rate_dps is None else float(ego_yaw_rate_dps)
    return Scene(name, spec.cls, setup.entities, setup.events, width=width, height=height, fps=fps,
                 num_frames=max(1, int(round(duration * fps))), seed=seed, ego_yaw_rate_dps=rate,
                 yaw_offset_deg=yaw_offset_deg, noise=spec.noise if noise is None else float(noise), flicker=flicker,
                 background=load_background(background, width, height), wearer=setup.wearer, ground=ground,
                 structures=structures, camera_height=setup.camera_height,
                 light_drift=spec.light_drift if light_drift is None else float(light_drift),
                 mount_pitch_deg=mount_pitch_deg, mount_roll_deg=mount_roll_deg)
