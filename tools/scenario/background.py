"""Scene backgrounds: the real street panorama when present, else a procedural street.

The procedural one exists so tests and demos run without data files; it is textured (tiles, lane
dashes, facades with windows) so motion-based triggers see the world turn when the wearer turns.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from ego360.core.errors import InputError, UserError
from ego360.core.geometry import equirect_rays

# Bundled (MIT, see assets/README.md) so every machine renders the same scenes; the shared 3840×1920
# original is only used for outputs wider than the bundled copy.
PANORAMA = Path(__file__).resolve().parent / "assets" / "street_equirect_1920x960.jpg"
PANORAMA_FULL = Path(__file__).resolve().parents[3] / "shared" / "data" / "street_equirect_3840x1920.jpg"


def check_size(width: int, height: int) -> None:
    """Equirect is 2:1, and H.264 4:2:0 needs even sizes."""
    if width != 2 * height or height < 16 or height % 2:
        raise UserError(f"size {width}x{height}: need width = 2 x height with an even height >= 16, e.g. 1920x960")


def load_background(spec: str | Path | None, width: int, height: int) -> np.ndarray:
    """`None` → panorama if present else procedural; "procedural"; or a path to an equirect image."""
    if spec is None:
        spec = PANORAMA_FULL if width > 1920 and PANORAMA_FULL.is_file() else PANORAMA
        if not Path(spec).is_file():
            spec = "procedural"
    if str(spec) == "procedural":
        return procedural_background(width, height).copy()
    return _load_image(str(spec), width, height).copy()


@lru_cache(maxsize=4)
def _load_image(path: str, width: int, height: int) -> np.ndarray:
    import cv2

    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"background {path}: cannot read image (give an equirect JPEG/PNG or 'procedural')")
    interp = cv2.INTER_AREA if bgr.shape[1] > width else cv2.INTER_LINEAR
    rgb = cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=interp), cv2.COLOR_BGR2RGB)
    rgb.setflags(write=False)
    return rgb


def rotate_background(world: np.ndarray, shift_px: float) -> np.ndarray:
    """Camera view of a world-fixed panorama: out[:, x] = world[:, x + shift] (wrapping), with
    linear blending for the sub-pixel part so slow turns do not judder by whole pixels."""
    W = world.shape[1]
    s = shift_px % W
    si = int(math.floor(s))
    frac = s - si
    a = np.concatenate([world[:, si:], world[:, :si]], axis=1) if si else world.copy()
    if frac < 1e-4:
        return a
    if frac > 1 - 1e-4:
        return np.roll(a, -1, axis=1)
    import cv2

    return cv2.addWeighted(a, 1.0 - frac, np.roll(a, -1, axis=1), frac, 0.0)


@lru_cache(maxsize=4)
def procedural_background(width: int, height: int, seed: int = 3) -> np.ndarray:
    """A street: sky, a ring of facades ~15 m away, pavement tiles and a road with lane dashes."""

    rng = np.random.default_rng(seed)
    rays = equirect_rays(width, height).astype(np.float64)
    yaw = np.degrees(np.arctan2(rays[..., 0], rays[..., 2]))
    pitch = np.degrees(np.arcsin(np.clip(rays[..., 1], -1, 1)))
    img = np.empty((height, width, 3), np.float64)
    sky = np.clip(pitch / 90.0, 0, 1)[..., None]
    img[:] = (1 - sky) * np.array([190, 210, 230]) + sky * np.array([90, 140, 210])
    _facades(img, yaw, pitch, rng)
    _ground(img, rays, pitch)
    out = np.clip(img, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def _facades(img: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, rng: np.random.Generator) -> None:
    edges = np.cumsum(rng.uniform(6, 16, size=60))
    edges = edges[edges < 360] - 180.0
    palette = np.array([[170, 150, 130], [140, 140, 150], [200, 190, 170], [120, 100, 90], [180, 120, 100]])
    seg = np.searchsorted(edges, yaw)
    heights = rng.uniform(18, 45, size=len(edges) + 1)  # degrees above the horizon
    colours = palette[rng.integers(len(palette), size=len(edges) + 1)]
    top = heights[seg]
    wall = (pitch > -6.0) & (pitch < top)
    img[wall] = colours[seg][wall]
    window = wall & (np.mod(yaw * 1.7, 3.0) < 1.4) & (np.mod(pitch, 5.0) < 2.5) & (pitch > 2) & (pitch < top - 3)
    img[window] = np.array([60, 75, 95])
    img[wall & (np.abs(pitch + 6.0 + 1.0) < 1.0)] = np.array([70, 70, 70])


def _ground(img: np.ndarray, rays: np.ndarray, pitch: np.ndarray) -> None:
    below = pitch < -6.0
    t = 1.6 / np.maximum(-rays[..., 1], 1e-6)
    gx, gz = rays[..., 0] * t, rays[..., 2] * t
    tiles = ((np.floor(gx / 0.6) + np.floor(gz / 0.6)) % 2 == 0)
    ground = np.where(tiles[..., None], np.array([150, 145, 135]), np.array([125, 120, 112]))
    road = np.abs(gx - 5.5) < 3.0
    ground[road] = np.array([70, 70, 75])
    dash = road & (np.abs(gx - 5.5) < 0.08) & (np.mod(gz, 4.0) < 2.0)
    ground[dash] = np.array([230, 230, 220])
    far = np.clip((t - 20.0) / 40.0, 0, 1)[..., None]  # fade tiles into haze so the horizon is not aliased
    ground = (1 - far) * ground + far * np.array([135, 132, 125])
    img[below] = ground[below]
