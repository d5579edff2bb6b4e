"""Helpers for the scenario tests: hand-placed scenes and mask measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ego360.tools.scenario.background import procedural_background
from ego360.tools.scenario.render import Scene
from ego360.tools.scenario.scene import Path2D, Person, polar

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def standing_person(pid: int, bearing: float, dist: float, top: str = "red", bottom: str = "blue") -> Person:
    """A person standing still at a world bearing/distance, facing the wearer (symmetric silhouette)."""
    x, z = polar(bearing, dist)
    return Person(pid, Path2D.of([(0.0, x, z), (1.0, x, z)]), top=top, bottom=bottom, face=(0.0, 0.0))


def hand_scene(people, *, width: int = 512, height: int = 256, fps: float = 10.0, num_frames: int = 3,
               yaw_offset_deg: float = 0.0, ego_yaw_rate_dps: float = 0.0) -> Scene:
    bg = np.array(procedural_background(width, height))
    return Scene("hand", "Normal", list(people), [], width=width, height=height, fps=fps, num_frames=num_frames,
                 ego_yaw_rate_dps=ego_yaw_rate_dps, yaw_offset_deg=yaw_offset_deg, background=bg)


def mask_bearing(mask: np.ndarray, yaw_offset_deg: float = 0.0) -> float:
    """Wearer-relative yaw of a mask's pixels: circular mean of pixel-centre camera yaw, minus offset."""
    h, w = mask.shape
    cols = np.nonzero(mask)[1]
    yaw = np.radians(((cols + 0.5) / w - 0.5) * 360.0)
    mean = np.degrees(np.arctan2(np.sin(yaw).mean(), np.cos(yaw).mean()))
    return wrap(mean - yaw_offset_deg)


def wrap(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0 if (a + 180.0) % 360.0 != 0 else 180.0


def box_contains(box, mask: np.ndarray) -> bool:
    """True when every mask pixel is inside box (x1 may exceed W at the seam)."""
    h, w = mask.shape
    x0, y0, x1, y1 = box
    ys, xs = np.nonzero(mask)
    xs_unwrapped = np.where(xs < x0, xs + w, xs)
    return bool(ys.min() >= y0 and ys.max() < y1 and xs_unwrapped.min() >= x0 and xs_unwrapped.max() < x1)
