"""Helpers for the projection / bearings tests: real data paths and synthetic masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_rgb(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """A shared-data image as RGB uint8, optionally resized to (W, H); skips the test if absent."""
    import cv2

    path = DATA / name
    if not path.is_file():  # small copies kept in the repo: tests/data, and the scenario generator's panorama
        from ego360.tools.scenario.background import PANORAMA

        local = Path(__file__).resolve().parent / "data" / name
        fallback = PANORAMA if name.startswith("street_") and size is not None and size[0] <= 1920 else local
        if not fallback.is_file():
            pytest.skip(f"{path} not present")
        path = fallback
    img = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if size is not None and img.shape[1::-1] != size:
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def cap_mask(yaw: float, pitch: float, radius_deg: float, W: int, H: int) -> np.ndarray:
    """Equirect mask of a spherical cap: every pixel centre within radius_deg of (yaw, pitch)."""
    from ego360.core.geometry import yawpitch_to_dir
    from ego360.core.projection import equirect_px_to_yawpitch

    xs, ys = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    d = yawpitch_to_dir(*equirect_px_to_yawpitch(xs, ys, W, H))
    c = yawpitch_to_dir(yaw, pitch)
    return d @ c >= np.cos(np.radians(radius_deg))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
