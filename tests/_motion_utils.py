"""Synthetic moving people over the real street panorama, with exact ground truth, for trigger/tracker tests.

People are flat-shaded upright figures (body + head) placed by world yaw and ground distance for a
camera 1.6 m above the ground; the wearer may turn (a circular shift of the panorama). Used until
(and alongside) the scenario generator, so the tests stay independent of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ego360.core.packets import FramePacket

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CAM_H = 1.6


def street(width: int) -> np.ndarray:
    """The street panorama as bundled with the scenario generator, so the scene is the same on every machine."""
    from ego360.tools.scenario.background import PANORAMA

    bgr = cv2.imread(str(PANORAMA))
    return cv2.cvtColor(cv2.resize(bgr, (width, width // 2), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


@dataclass
class Person:
    eid: int
    color: tuple[int, int, int]
    path: Callable[[float], tuple[float, float]]  # t → (world yaw deg, ground distance m)
    height_m: float = 1.75


@dataclass
class SynthScene:
    width: int
    people: list[Person]
    fps: float = 30.0
    num_frames: int = 90
    ego_rate_dps: float = 0.0
    events: list[dict] = field(default_factory=list)  # {"start_frame", "end_frame", "perpetrator", "victim"}
    _bg: np.ndarray | None = None

    def render(self, i: int) -> tuple[np.ndarray, dict[int, np.ndarray], dict[int, float]]:
        """Frame i → (RGB, GT masks per person id, GT wearer yaw per person id)."""
        w, h = self.width, self.width // 2
        if self._bg is None:
            self._bg = street(w)
        t = i / self.fps
        ego = self.ego_rate_dps * t
        img = np.roll(self._bg, -int(round(ego / 360.0 * w)), axis=1).copy()
        rng = np.random.default_rng(i)
        masks: dict[int, np.ndarray] = {}
        yaws: dict[int, float] = {}
        order = sorted(self.people, key=lambda p: -p.path(t)[1])
        for p in order:
            world, d = p.path(t)
            yaw = (world - ego + 180.0) % 360.0 - 180.0
            m = person_mask(w, h, yaw, d, p.height_m)
            shade = np.linspace(1.15, 0.75, h, dtype=np.float32)[:, None, None]
            colour = np.clip(np.array(p.color, np.float32)[None, None] * shade, 0, 255).astype(np.uint8)
            img[m] = np.broadcast_to(colour, (h, w, 3))[m]
            for other in masks.values():
                other &= ~m
            masks[p.eid] = m
            yaws[p.eid] = yaw
        noise = rng.normal(0.0, 2.0, img.shape).astype(np.float32)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        return img, masks, yaws

    def packet(self, i: int) -> FramePacket:
        img, _m, _y = self.render(i)
        return FramePacket(i, i / self.fps, i, img)


def person_mask(w: int, h: int, yaw: float, d: float, height_m: float = 1.75) -> np.ndarray:
    """An upright figure at camera yaw `yaw`, distance `d` (wraps the seam)."""
    half = math.degrees(math.atan(0.25 / d))
    top = math.degrees(math.atan((height_m - CAM_H) / d))
    head = math.degrees(math.atan((height_m - 0.25 - CAM_H) / d))
    bottom = -math.degrees(math.atan(CAM_H / d))
    px = lambda a: (a / 360.0 + 0.5) * w  # noqa: E731
    py = lambda p: (0.5 - p / 180.0) * h  # noqa: E731
    canvas = np.zeros((h, 3 * w), np.uint8)
    cx = px(yaw) + w
    hw = half / 360.0 * w
    x0, x1 = int(round(cx - hw)), int(round(cx + hw))
    cv2.rectangle(canvas, (x0, int(round(py(head)))), (x1, int(round(py(bottom)))), 1, -1)
    r = max(1, int(round(0.45 * hw)))
    centre = (int(round(cx)), int(round((py(top) + py(head)) / 2)))
    cv2.ellipse(canvas, centre, (r, max(1, int(round((py(head) - py(top)) / 2)))), 0, 0, 360, 1, -1)
    m = canvas[:, :w] | canvas[:, w : 2 * w] | canvas[:, 2 * w :]
    return m.astype(bool)


def linear(p0: tuple[float, float], p1: tuple[float, float], t0: float, t1: float
           ) -> Callable[[float], tuple[float, float]]:
    """Walk in a straight line on the ground between two (world yaw, distance) points during [t0, t1]."""
    def xy(p):
        a = math.radians(p[0])
        return p[1] * math.sin(a), p[1] * math.cos(a)

    (x0, y0), (x1, y1) = xy(p0), xy(p1)

    def f(t: float) -> tuple[float, float]:
        u = min(1.0, max(0.0, (t - t0) / (t1 - t0)))
        x, y = x0 + u * (x1 - x0), y0 + u * (y1 - y0)
        return math.degrees(math.atan2(x, y)), max(0.3, math.hypot(x, y))

    return f


def circling(radius: float, start_yaw: float, rate_dps: float) -> Callable[[float], tuple[float, float]]:
    return lambda t: ((start_yaw + rate_dps * t + 180.0) % 360.0 - 180.0, radius)


def approach_scene(width: int = 960, from_yaw: float = 150.0) -> SynthScene:
    """A person waits 6 m away, then from 1.5 s walks up to 0.7 m of the wearer; a passer-by far away."""
    perp = Person(1, (200, 30, 30), linear((from_yaw, 6.0), (from_yaw, 0.7), 1.5, 4.5))
    far = Person(2, (30, 60, 200), linear((-60.0, 12.0), (20.0, 12.0), 0.0, 6.0))
    return SynthScene(width, [perp, far], num_frames=150, events=[{"start_frame": 45, "end_frame": 149,
                                                                  "perpetrator": 1, "victim": "wearer"}])


def passersby_scene(width: int = 960, ego_rate_dps: float = 0.0) -> SynthScene:
    """Ordinary street life: people walking past at 4–9 m, optionally while the wearer turns."""
    people = [  # straight walks whose closest point to the wearer is 5 m or more
        Person(1, (200, 180, 40), linear((-50.0, 7.8), (50.0, 7.8), 0.0, 8.0)),
        Person(2, (40, 160, 60), linear((110.0, 6.0), (170.0, 9.0), 0.0, 5.0)),
        Person(3, (90, 40, 160), linear((-150.0, 9.0), (-100.0, 9.0), 0.0, 5.0)),
    ]
    return SynthScene(width, people, num_frames=150, ego_rate_dps=ego_rate_dps)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 0.0


@dataclass
class ScenarioResult:
    name: str
    onsets: list[tuple[int, float | None]]  # (frame, bearing) of every onset
    event: tuple[int, int] | None  # GT (start_frame, end_frame) of the first event
    truth_bearing: float | None  # GT perpetrator bearing on our first onset frame
    iou: float | None  # perpetrator IoU averaged over processed frames of the event window
    roles: dict[int, str]
    ms: dict[str, float]  # CPU ms per processed frame per stage
    max_score: float = 0.0  # highest trigger score outside the event window (margin on normal scenes)


def run_scenario(name: str, width: int = 960, seed: int = 0, every: int = 2, **scene_kw) -> ScenarioResult:
    """Trigger + entity stage over a generated scenario, scored against its ground truth."""
    import time

    from ego360.core.config import Config
    from ego360.core.geometry import Mounting
    from ego360.models.trigger import MotionTrigger
    from ego360.runtime.stages.entities import EntityStage
    from ego360.tools.scenario import build_scene

    sc = build_scene(name, seed=seed, width=width, height=width // 2, fps=30.0, **scene_kw)
    hdr = sc.gt_header()
    cfg = Config()
    mounting = Mounting(sc.yaw_offset_deg)
    trig = MotionTrigger(cfg.trigger, mounting)
    stage = EntityStage.from_config(cfg, mounting, motion=trig.motion)
    ev = hdr.events[0] if hdr.events else None
    onsets: list[tuple[int, float | None]] = []
    ious: list[float] = []
    roles: dict[int, str] = {}
    cpu = {"trigger": 0.0, "entities": 0.0}
    quiet_max = 0.0
    n = 0
    for i in range(0, sc.num_frames, every):
        img, recs = sc.render_frame(i)
        p = FramePacket(i, i / sc.fps, i, img)
        t0 = time.process_time()
        r = trig.process(p)
        t1 = time.process_time()
        upd = stage.update(p, r)
        cpu["trigger"] += t1 - t0
        cpu["entities"] += time.process_time() - t1
        n += 1
        if r.state == "onset":
            onsets.append((i, r.bearing_deg))
        if ev is None or not ev.start_frame - 15 <= i <= ev.end_frame + 60:
            quiet_max = max(quiet_max, r.score)
        for t in upd.tracks:
            roles.setdefault(t.entity_id, t.role)
        if ev is not None and ev.start_frame <= i <= ev.end_frame:
            gt = next((g for g in recs if g.id == ev.perpetrator), None)
            ours = next((t for t in upd.tracks if t.role == "perpetrator" and t.mask.any()), None)
            if gt is not None:
                ious.append(iou(ours.mask, gt.mask()) if ours is not None else 0.0)
    truth = None
    if onsets and ev is not None:
        truth = sc.geometry(onsets[0][0]).get(ev.perpetrator, (None,))[0]
    return ScenarioResult(name, onsets, (ev.start_frame, ev.end_frame) if ev else None, truth,
                          float(np.mean(ious)) if ious else None, roles,
                          {k: 1000.0 * v / max(1, n) for k, v in cpu.items()}, quiet_max)
