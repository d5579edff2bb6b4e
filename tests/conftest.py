"""Suite-wide settings and fixtures shared by more than one test folder.

GPU tests skip without CUDA; heavy libraries stay offline. The shared-data folder is named here and
nowhere else. Fixtures used by one folder live in that folder's conftest.py; helpers used by one test
file live in that file.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data beside the checkout
LOCAL_DATA = Path(__file__).resolve().parent / "data"  # small copies kept in the repo (same bytes)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("gpu" in item.keywords for item in items) and not _cuda_available():
        skip = pytest.mark.skip(reason="needs CUDA (run scripts/gpu_check.sh on a GPU machine)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


# ----------------------------------------------------------------------------------------- shared data
def _data_file(name: str, fallback: Path | None = None) -> Path:
    path = SHARED_DATA / name
    if path.is_file():
        return path
    for other in (LOCAL_DATA / name, fallback):
        if other is not None and other.is_file():
            return other
    pytest.skip(f"{path} not present")


@pytest.fixture(scope="session")
def shared_data() -> Callable[..., Path]:
    """`shared_data(name, fallback=None)`: ../shared/data/NAME, else its small copy in tests/data, else
    `fallback`; skips the test when none exists (a fresh clone without ../shared still runs the rest)."""
    return _data_file


# ----------------------------------------------------------------------------------------------- SAM2
@pytest.fixture(scope="session")
def require_sam2() -> None:
    """Skips the test when torch or Meta's sam2 package is not installed."""
    pytest.importorskip("torch")
    pytest.importorskip("sam2")


@functools.lru_cache(maxsize=4)
def _random_sam2(config: str = "sam2.1_hiera_t", size: int = 256, seed: int = 0):
    import torch

    from ego360.models.sam2.build import build_model

    torch.manual_seed(seed)
    return build_model(config, None, image_size=size)


@pytest.fixture(scope="session")
def random_sam2(require_sam2) -> Callable[..., object]:
    """`random_sam2(config="sam2.1_hiera_t", size=256, seed=0)`: the same seeded random-weight model on every
    call (cached for the session: building takes seconds)."""
    return _random_sam2


@pytest.fixture
def one_thread() -> Iterator[None]:
    """The CI box is shared: one intra-op thread is faster than oversubscribed cores (restored after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------ synthetic moving people
# Synthetic moving people over the real street panorama, with exact ground truth, for the trigger,
# tracker and entity-stage tests. People are flat-shaded upright figures (body + head) placed by world
# yaw and ground distance for a camera 1.6 m above the ground; the wearer may turn (a circular shift of
# the panorama). Kept independent of the scenario generator so those tests do not depend on it.
CAM_H = 1.6


def _street(width: int) -> np.ndarray:
    """The street panorama as bundled with the scenario generator, so the scene is the same on every machine."""
    import cv2

    from ego360.tools.scenario.background import PANORAMA

    bgr = cv2.imread(str(PANORAMA))
    return cv2.cvtColor(cv2.resize(bgr, (width, width // 2), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


@dataclass
class _Person:
    eid: int
    color: tuple[int, int, int]
    path: Callable[[float], tuple[float, float]]  # t → (world yaw deg, ground distance m)
    height_m: float = 1.75


@dataclass
class _SynthScene:
    width: int
    people: list[_Person]
    fps: float = 30.0
    num_frames: int = 90
    ego_rate_dps: float = 0.0
    events: list[dict] = field(default_factory=list)  # {"start_frame", "end_frame", "perpetrator", "victim"}
    _bg: np.ndarray | None = None

    def render(self, i: int) -> tuple[np.ndarray, dict[int, np.ndarray], dict[int, float]]:
        """Frame i → (RGB, GT masks per person id, GT wearer yaw per person id)."""
        w, h = self.width, self.width // 2
        if self._bg is None:
            self._bg = _street(w)
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
            m = _person_mask(w, h, yaw, d, p.height_m)
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

    def packet(self, i: int):
        from ego360.core.packets import FramePacket

        img, _m, _y = self.render(i)
        return FramePacket(i, i / self.fps, i, img)


def _person_mask(w: int, h: int, yaw: float, d: float, height_m: float = 1.75) -> np.ndarray:
    """An upright figure at camera yaw `yaw`, distance `d` (wraps the seam)."""
    import cv2

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


def _linear(p0: tuple[float, float], p1: tuple[float, float], t0: float, t1: float
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


def _circling(radius: float, start_yaw: float, rate_dps: float) -> Callable[[float], tuple[float, float]]:
    return lambda t: ((start_yaw + rate_dps * t + 180.0) % 360.0 - 180.0, radius)


def _approach_scene(width: int = 960, from_yaw: float = 150.0) -> _SynthScene:
    """A person waits 6 m away, then from 1.5 s walks up to 0.7 m of the wearer; a passer-by far away."""
    perp = _Person(1, (200, 30, 30), _linear((from_yaw, 6.0), (from_yaw, 0.7), 1.5, 4.5))
    far = _Person(2, (30, 60, 200), _linear((-60.0, 12.0), (20.0, 12.0), 0.0, 6.0))
    return _SynthScene(width, [perp, far], num_frames=150, events=[{"start_frame": 45, "end_frame": 149,
                                                                    "perpetrator": 1, "victim": "wearer"}])


def _passersby_scene(width: int = 960, ego_rate_dps: float = 0.0) -> _SynthScene:
    """Ordinary street life: people walking past at 4–9 m, optionally while the wearer turns."""
    people = [  # straight walks whose closest point to the wearer is 5 m or more
        _Person(1, (200, 180, 40), _linear((-50.0, 7.8), (50.0, 7.8), 0.0, 8.0)),
        _Person(2, (40, 160, 60), _linear((110.0, 6.0), (170.0, 9.0), 0.0, 5.0)),
        _Person(3, (90, 40, 160), _linear((-150.0, 9.0), (-100.0, 9.0), 0.0, 5.0)),
    ]
    return _SynthScene(width, people, num_frames=150, ego_rate_dps=ego_rate_dps)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 0.0


@pytest.fixture(scope="session")
def synth() -> SimpleNamespace:
    """Synthetic street scenes with exact GT: `synth.SynthScene(width, [synth.Person(id, rgb, path)], ...)`
    with paths from `synth.linear`/`synth.circling`, the canned `synth.approach_scene()` /
    `synth.passersby_scene()`, and `synth.iou(a, b)` (0 for two empty masks)."""
    return SimpleNamespace(SynthScene=_SynthScene, Person=_Person, linear=_linear, circling=_circling,
                           approach_scene=_approach_scene, passersby_scene=_passersby_scene, iou=_iou)
