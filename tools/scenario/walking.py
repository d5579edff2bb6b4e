"""Scenarios with a walking wearer (and a table-height static camera) in a world with depth.

Each builder takes the seed's RNG and returns a `Setup`: entities and events as before plus the
wearer's walk, the static street furniture and the ground. Paths of people who interact with the
wearer are computed from the walk itself (where the wearer WILL be), so a collision course really
converges and a thief really ends up behind the moving wearer. Everything is randomised by seed
(speeds, sides, distances, colours, furniture), so held-out seeds give genuinely different clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ego360.tools.scenario.render import EventSpec
from ego360.tools.scenario.scene import (
    COLOURS,
    HEAD_HEIGHT,
    Action,
    Bicycle,
    Entity,
    Path2D,
    Person,
    Thrown,
    Vehicle,
)
from ego360.tools.scenario.wearer import Leg, Walk
from ego360.tools.scenario.world import Ground, Structure, bench, bin_, clearance, parked_car, pole, wall

WALK_DURATION_S = 12.0
ONSET_S = 3.0  # walking baseline before any event: ego-motion must be learnt before it is discounted
_LONG = 40.0  # paths run past the clip's end
WALL_COLOURS = ((170, 150, 130), (140, 140, 150), (200, 190, 170), (120, 100, 90), (180, 120, 100))


@dataclass
class Setup:
    entities: list[Entity]
    events: list[EventSpec]
    wearer: Walk | None = None
    structures: list[Structure] = field(default_factory=list)
    ground: Ground | None = None
    camera_height: float = HEAD_HEIGHT


def clear_paths(setup: Setup, duration_s: float) -> list[Structure]:
    """The setup's structures minus any that a walker, rider, car or the wearer would pass through
    during the clip (people must not walk out of facades or through parked cars)."""
    t = np.arange(0.0, duration_s + 0.05, 0.1)
    tracks: list[tuple[np.ndarray, float]] = []
    if setup.wearer is not None:
        tracks.append((np.array([setup.wearer.position(x) for x in t]), 0.45))
    for ent in setup.entities:
        if ent.kind not in ("person", "vehicle"):
            continue
        pts = [c for c in (ent.centre(x) for x in t) if c is not None]
        if pts:
            room = 0.45 if ent.kind == "person" else 1.3 if isinstance(ent, Vehicle) else 0.6
            tracks.append((np.array(pts)[:, [0, 2]], room))
    return [st for st in setup.structures if all(clearance(st, pts) > room for pts, room in tracks)]


def _colours(rng: np.random.Generator, n: int = 2) -> list[str]:
    names = list(COLOURS)
    return [names[i] for i in rng.choice(len(names), size=n, replace=False)]


def _walker(rng: np.random.Generator, pid: int, keys: list[tuple[float, float, float]], **kw) -> Person:
    top, bottom = _colours(rng)
    return Person(pid, Path2D.of(keys), top=top, bottom=bottom, **kw)


def _straight(rng, pid: int, x0: float, z0: float, heading: float, speed: float, t0: float = 0.0, **kw) -> Person:
    """Someone walking a straight line through world (x0, z0) at time t0."""
    a = math.radians(heading)
    dx, dz = math.sin(a) * speed, math.cos(a) * speed
    keys = [(-_LONG, x0 - dx * (t0 + _LONG), z0 - dz * (t0 + _LONG)), (_LONG, x0 + dx * (_LONG - t0),
                                                                      z0 + dz * (_LONG - t0))]
    return _walker(rng, pid, keys, **kw)


def _wander(rng: np.random.Generator, v: float, turn_dps: float = 4.0, stop: bool = False) -> list[Leg]:
    """Legs of 1.5-3 s at v ± 0.15 m/s, each turning gently one way and then back (heading stays
    near the street's line), with optionally one 0.8-1.5 s stop: a pedestrian's walk, not a dolly's."""
    legs: list[Leg] = []
    total = 0.0
    stop_at = float(rng.uniform(4.0, 8.0)) if stop else math.inf
    while total < WALK_DURATION_S + 2.0:
        dur = float(rng.uniform(1.5, 3.0))
        speed = float(np.clip(v + rng.uniform(-0.15, 0.15), 0.8, 1.8))
        turn = float(rng.uniform(-turn_dps, turn_dps))
        legs += [Leg(dur / 2, speed, turn), Leg(dur / 2, speed, -turn)]
        total += dur
        if total >= stop_at:
            legs.append(Leg(float(rng.uniform(0.8, 1.5)), 0.0))
            stop_at = math.inf
    return legs + [Leg(_LONG, v)]


def _walk(rng: np.random.Generator, legs: list[Leg] | None = None, speed: float | None = None) -> Walk:
    v = float(rng.uniform(1.1, 1.5)) if speed is None else speed
    legs = legs or [Leg(WALK_DURATION_S + 2.0, v)]
    return Walk(legs, speed0=legs[0].speed, bob_pitch_deg=float(rng.uniform(1.0, 2.0)),
                bob_roll_deg=float(rng.uniform(0.7, 1.5)), sway_m=float(rng.uniform(0.01, 0.03)),
                phase0=float(rng.uniform(0, 1)))


def _beside(walk: Walk, t: float, right: float, ahead: float) -> tuple[float, float]:
    """World (x, z) at `right`/`ahead` metres from the wearer's body at time t, in the wearer's frame."""
    p, a = walk.position(t), math.radians(walk.heading(t))
    return (float(p[0] + right * math.cos(a) + ahead * math.sin(a)),
            float(p[1] - right * math.sin(a) + ahead * math.cos(a)))


def road_side(rng: np.random.Generator) -> float:
    """+1: road on the wearer's right (as in the panorama), −1 (3 seeds in 10): a mirrored street.
    Drawn from a spawned stream, so every other draw of the seed is what it was before mirroring."""
    return 1.0 if rng.spawn(1)[0].uniform() < 0.7 else -1.0


def _world(rng: np.random.Generator, side: float, *, near: bool = False) -> tuple[list[Structure], Ground]:
    """Facades on the far side from the road, poles along the kerb, a few parked cars, a bench and a bin."""
    out: list[Structure] = []
    z = -12.0
    while z < 45.0:
        length = float(rng.uniform(4.0, 7.0))
        if rng.uniform() > 0.15:
            colour = WALL_COLOURS[int(rng.integers(len(WALL_COLOURS)))]
            out.append(wall(-side * float(4.6 + rng.uniform(-0.3, 0.3)), z + length / 2, length, colour=colour))
        z += length + float(rng.uniform(0.0, 1.5))
    z = float(rng.uniform(2.0, 6.0))
    while z < 45.0:
        out.append(pole(side * float(3.2 + rng.uniform(-0.1, 0.1)), z))
        z += float(rng.uniform(6.0, 11.0))
    for z in rng.uniform(-5.0, 40.0, size=int(rng.integers(2, 4))):
        out.append(parked_car(side * 4.8, float(z), colour=_colours(rng, 1)[0]))
    if not near:
        out.append(bench(-side * 3.9, float(rng.uniform(6.0, 14.0)), heading=0.0))
        out.append(bin_(-side * 3.8, float(rng.uniform(16.0, 24.0)), colour=_colours(rng, 1)[0]))
    return out, Ground(road_side=int(side))


def _passersby(rng: np.random.Generator, walk: Walk, first_id: int, count: int, lateral=(2.0, 3.0)) -> list[Person]:
    """People on the pavement at `lateral` m beside the wearer's line: oncoming, and overtaking from behind."""
    people = []
    for k in range(count):
        side = -1.0 if k % 2 == 0 else 1.0
        x = side * float(rng.uniform(*lateral))
        if k % 3 == 2:  # overtakes: starts behind, walks faster in the same direction
            people.append(_straight(rng, first_id + k, x, float(rng.uniform(-9.0, -5.0)), float(rng.uniform(-1.5, 1.5)),
                                    float(rng.uniform(1.8, 2.2))))
        else:  # oncoming: meets the wearer somewhere in the clip
            t_meet = float(rng.uniform(2.0, WALK_DURATION_S - 1.0))
            speed = float(rng.uniform(1.1, 1.6))
            zm = float(walk.position(t_meet)[1])
            people.append(_straight(rng, first_id + k, x, zm + speed * t_meet, 180.0 + float(rng.uniform(-1.5, 1.5)),
                                    speed))
    return people


def _crossing_far(rng: np.random.Generator, walk: Walk, pid: int) -> Person:
    t = float(rng.uniform(3.0, 8.0))
    z = float(walk.position(t)[1]) + float(rng.uniform(18.0, 26.0))
    return _straight(rng, pid, 0.0, z, 90.0 if rng.uniform() < 0.5 else -90.0, float(rng.uniform(1.1, 1.5)), t0=t)


def walk_street(rng: np.random.Generator) -> Setup:
    v = float(rng.uniform(1.15, 1.45))
    t_stop = float(rng.uniform(5.0, 7.0))
    turn = float(rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 8.0))
    walk = _walk(rng, [Leg(t_stop, v), Leg(1.0, 0.0), Leg(1.5, v, turn), Leg(1.5, v, -turn), Leg(_LONG, v)])
    people = _passersby(rng, walk, 1, 4) + [_crossing_far(rng, walk, 5)]
    return Setup(people, [], walk, *_world(rng, road_side(rng)))


def walk_crowd(rng: np.random.Generator) -> Setup:
    v = float(rng.uniform(1.0, 1.3))
    walk = _walk(rng, _wander(rng, v, stop=rng.uniform() < 0.5), speed=v)
    n = int(rng.integers(8, 12))
    people = _passersby(rng, walk, 1, n, lateral=(1.5, 3.2)) + [_crossing_far(rng, walk, n + 1)]
    return Setup(people, [], walk, *_world(rng, road_side(rng)))


def walk_past_poles(rng: np.random.Generator) -> Setup:
    v = float(rng.uniform(1.1, 1.5))
    walk = _walk(rng, _wander(rng, v, turn_dps=2.0), speed=v)
    things: list[Structure] = []
    times = np.arange(0.0, WALK_DURATION_S + 2.0, 0.05)
    along = np.array([walk.position(t)[1] for t in times])
    z = float(rng.uniform(2.5, 4.0))
    while z < along[-1] - 2.0:
        t = float(times[int(np.searchsorted(along, z))])  # placed beside where the wearer will really pass
        side = 1.0 if rng.uniform() < 0.6 else -1.0
        gap = float(rng.uniform(0.8, 1.5))  # from the wearer's line to the object's near side
        kind = rng.uniform()
        if kind < 0.55:
            things.append(pole(*_beside(walk, t, side * (gap + 0.06), 0.0)))
        elif kind < 0.8:
            things.append(bin_(*_beside(walk, t, side * (gap + 0.25), 0.0), colour=_colours(rng, 1)[0]))
        else:
            things.append(parked_car(*_beside(walk, t, side * (gap + 0.9), 1.5), colour=_colours(rng, 1)[0]))
        z += float(rng.uniform(2.0, 4.0))
    street, ground = _world(rng, road_side(rng), near=True)
    return Setup([_crossing_far(rng, walk, 1), _passersby(rng, walk, 2, 1, lateral=(3.0, 3.5))[0]], [], walk,
                 things + street, ground)


def walk_collide(rng: np.random.Generator) -> Setup:
    """A runner from the front right on a collision course with the walking wearer (constant bearing)."""
    v = float(rng.uniform(1.15, 1.45))
    v_run = float(rng.uniform(3.0, 4.0))
    bearing = float(rng.uniform(25.0, 60.0))
    dist = float(rng.uniform(9.0, 12.0))
    probe = _walk(rng, [Leg(_LONG, v)], speed=v)
    start = _beside(probe, ONSET_S, dist * math.sin(math.radians(bearing)), dist * math.cos(math.radians(bearing)))
    t_c = ONSET_S + dist / v_run
    for _ in range(20):  # meet 0.6 m ahead of where the wearer will be at contact
        meet = _beside(probe, t_c, 0.15, 0.6)
        t_c = ONSET_S + math.hypot(meet[0] - start[0], meet[1] - start[1]) / v_run
    # the wearer brakes at contact (the runner stops against them); re-aim at the braking walk
    walk = Walk([Leg(t_c - 0.25, v), Leg(_LONG, 0.0)], speed0=v, accel=2.5, bob_pitch_deg=probe.bob_pitch_deg,
                bob_roll_deg=probe.bob_roll_deg, sway_m=probe.sway_m)
    meet = _beside(walk, t_c, 0.15, 0.6)
    away = _beside(walk, t_c + 3.0, 3.0, 2.0)
    pre = (start[0] + 1.2, start[1] + 1.5)
    runner = _walker(rng, 1, [(0.0, *pre), (ONSET_S, *start), (t_c, *meet), (t_c + 0.8, *meet), (t_c + 3.0, *away)],
                     role="perpetrator", motion="runs at you from the front right and bumps into you",
                     face=tuple(walk.position(t_c)), face_from=t_c)
    people = [runner] + _passersby(rng, walk, 2, 2, lateral=(2.5, 3.0))
    event = EventSpec("Collide", ONSET_S, t_c + 0.5, 1, t_contact=t_c)
    return Setup(people, [event], walk, *_world(rng, road_side(rng)))


def walk_traffic(rng: np.random.Generator) -> Setup:
    """A car (or, for some seeds, a bicycle) crosses the wearer's path a few metres ahead."""
    v = float(rng.uniform(1.1, 1.4))
    t_cross = float(rng.uniform(5.5, 7.0))
    walk = _walk(rng, [Leg(t_cross - 1.2, v), Leg(2.4, 0.0), Leg(_LONG, v)], speed=v)
    ahead = float(rng.uniform(3.5, 5.0))
    wz = float(walk.position(t_cross)[1]) + ahead
    cycle = rng.uniform() < 0.4
    speed = float(rng.uniform(4.0, 6.0) if cycle else rng.uniform(5.0, 8.0))
    side = road_side(rng)
    from_road = rng.uniform() < 0.5
    sign = side if from_road else -side  # +1: from the right, going left
    x_at = float(walk.position(t_cross)[0])
    # from the road side it matters (and is seen) 20 m out; from the other side it comes out of a
    # side street between the facades (~4.6 m out) and is hidden until then
    t_on = t_cross - (20.0 if from_road else 5.5) / speed
    path = Path2D.of([(t_cross - 80.0 / speed, x_at + sign * 80.0, wz), (t_cross + 80.0 / speed, x_at - sign * 80.0,
                                                                          wz)])
    if cycle:
        top, colour = _colours(rng)
        car: Entity = Bicycle(1, path, colour=colour, top=top, role="perpetrator",
                              motion=f"rides across your path {ahead:.0f} m ahead")
    else:
        car = Vehicle(1, path, colour=_colours(rng, 1)[0], role="perpetrator",
                      motion=f"drives across your path {ahead:.0f} m ahead")
    onset = max(t_on, 1.5)
    people = _passersby(rng, walk, 2, 2)
    return Setup([car] + people, [EventSpec("Traffic", onset, t_cross + 12.0 / speed, 1)], walk, *_world(rng, side))


def walk_throw(rng: np.random.Generator) -> Setup:
    v = float(rng.uniform(1.1, 1.5))
    walk = _walk(rng, _wander(rng, v), speed=v)
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    t_rel = ONSET_S + 0.8
    spot = _beside(walk, t_rel, side * float(rng.uniform(2.0, 3.0)), float(rng.uniform(5.0, 7.0)))
    flight = 0.6
    head = _beside(walk, t_rel + flight, 0.0, 0.0)
    to = np.array(spot) - np.array(head)
    to /= np.linalg.norm(to)
    target = (head[0] + 0.35 * to[0], -0.15, head[1] + 0.35 * to[1])
    thrower = _walker(rng, 1, [(0.0, spot[0], spot[1] + 4.0), (ONSET_S - 0.8, *spot), (t_rel + 1.0, *spot),
                               (t_rel + 6.0, spot[0] + side * 6.0, spot[1])], role="perpetrator",
                      motion="throws an object at you", face=tuple(walk.position(t_rel)), face_from=ONSET_S - 0.8,
                      actions=(Action("throw", ONSET_S, t_rel, side=1, ramp=0.2),))
    ball = Thrown(2, thrower, side=1, t_grab=ONSET_S, t_release=t_rel, target=target, flight_s=flight,
                  colour=_colours(rng, 1)[0], rest=(head[0] - 0.8 * to[0], head[1] - 0.8 * to[1]))
    event = EventSpec("Throw", ONSET_S, t_rel + flight + 0.8, 1, t_contact=t_rel + flight)
    return Setup([thrower, ball] + _passersby(rng, walk, 3, 2), [event], walk, *_world(rng, road_side(rng)))


def walk_steal(rng: np.random.Generator) -> Setup:
    """Someone catches up from behind, walks 0.55 m behind-right of the wearer reaching at the bag, drops back."""
    v = float(rng.uniform(1.1, 1.5))
    walk = _walk(rng, _wander(rng, v), speed=v)
    side = 1.0 if rng.uniform() < 0.6 else -1.0
    t_reach = ONSET_S + float(rng.uniform(2.5, 3.5))
    keys = [(t, *_beside(walk, t, side * 1.5, -8.0)) for t in (0.0, ONSET_S)]
    keys += [(t_reach + k * 0.1, *_beside(walk, t_reach + k * 0.1, side * 0.25, -0.55)) for k in range(0, 16)]
    keys += [(t_reach + 3.5, *_beside(walk, t_reach + 3.5, side * 4.0, -3.0))]
    thief = _walker(rng, 1, keys, role="perpetrator", motion="comes up behind you and reaches at your bag",
                    actions=(Action("reach", t_reach, t_reach + 1.3, side=int(-side)),))
    event = EventSpec("Stealing", ONSET_S, t_reach + 1.6, 1, t_contact=t_reach)
    return Setup([thief] + _passersby(rng, walk, 2, 2), [event], walk, *_world(rng, road_side(rng)))


def walk_threaten(rng: np.random.Generator) -> Setup:
    """Someone walking towards the wearer steps into the path, stops ~1.2 m ahead and raises a fist."""
    v = float(rng.uniform(1.1, 1.4))
    t_block = ONSET_S + float(rng.uniform(1.3, 1.8))
    walk = _walk(rng, [Leg(t_block - 0.6, v), Leg(_LONG, 0.0)], speed=v)
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    stop = walk.position(t_block + 1.5)
    block = (float(stop[0]), float(stop[1]) + 1.2)
    start = (block[0] + side * 1.8, block[1] + float(rng.uniform(4.0, 6.0)))
    pre = (start[0], start[1] + 4.0)
    perp = _walker(rng, 1, [(0.0, *pre), (ONSET_S, *start), (t_block, *block)], role="perpetrator",
                   motion="steps into your path and raises a fist", face=(float(stop[0]), float(stop[1])),
                   face_from=t_block, actions=(Action("raise", t_block + 0.4, t_block + 2.6, side=1),))
    return Setup([perp] + _passersby(rng, walk, 2, 2), [EventSpec("Threaten", ONSET_S, t_block + 2.6, 1)], walk,
                 *_world(rng, road_side(rng)))


def table_people(rng: np.random.Generator) -> Setup:
    """A static 360° camera on a café table (0.8 m): people walk past at 3-5 m, nothing happens."""
    people = []
    for k in range(int(rng.integers(4, 7))):
        d = float(rng.uniform(3.0, 5.0))
        heading = float(rng.uniform(-180, 180))
        a = math.radians(heading + 90.0)  # pass at distance d from the camera, walking along `heading`
        x0, z0 = d * math.sin(a), d * math.cos(a)
        people.append(_straight(rng, k + 1, x0, z0, heading, float(rng.uniform(0.9, 1.5)),
                                t0=float(rng.uniform(0.0, WALK_DURATION_S))))
    things = [bench(float(rng.uniform(-4, 4)), float(rng.uniform(6, 8))), pole(-2.5, -6.0), bin_(6.0, 1.0)]
    return Setup(people, [], None, things, Ground(shadows=False), camera_height=0.8)
