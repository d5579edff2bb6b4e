"""Fixtures for the VLM tests: synthetic equirect scenes with one coloured blob."""

from __future__ import annotations

import numpy as np
import pytest

COLOURS = {"red": (230, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230)}


def _scene_equirect(colour: str, yaw_deg: float = 30.0, size: tuple[int, int] = (256, 512), seed: int = 0):
    """A grey equirect with one coloured blob at `yaw_deg` on the horizon; returns (image, mask)."""
    h, w = size
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 110, np.uint8)
    img = np.clip(img.astype(int) + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
    cx = int((yaw_deg / 360.0 + 0.5) * w) % w
    cy = h // 2 + int(rng.integers(-8, 9))
    rx, ry = int(rng.integers(14, 20)), int(rng.integers(18, 26))
    yy, xx = np.mgrid[0:h, 0:w]
    dx = (xx - cx + w // 2) % w - w // 2
    mask = (dx / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    jitter = rng.integers(-20, 21, 3)
    img[mask] = np.clip(np.array(COLOURS[colour]) + jitter, 0, 255).astype(np.uint8)
    return img, mask


@pytest.fixture(scope="session")
def scene_equirect():
    """`scene_equirect(colour, yaw_deg=30.0, size=(256, 512), seed=0)` → (image, mask): a grey equirect with
    one red/green/blue blob on the horizon at `yaw_deg`."""
    return _scene_equirect
