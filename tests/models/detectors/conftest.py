"""Fixtures for the detector tests: the shipped MediaPipe models and real people placed in 360° frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ego360.core.geometry import equirect_px_to_yawpitch
from ego360.core.projection import PerspectiveView

REPO = Path(__file__).resolve().parents[3]
MODEL_DIR = REPO / ".models" / "mediapipe"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The MediaPipe models scripts/setup.sh extracts (CI runs setup.sh --dev first, so they are there)."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: run scripts/setup.sh")
    if not (MODEL_DIR / "pose_detection.tflite").is_file():
        pytest.skip("MediaPipe models missing in .models/mediapipe: run scripts/setup.sh")
    return MODEL_DIR


@pytest.fixture(scope="session")
def place():
    """`place(picture, pano, yaw, fov, pitch=0)` → (equirect frame, the PerspectiveView that placed it)."""
    return _place


def _place(view_img: np.ndarray, pano: np.ndarray, yaw: float, fov: float, pitch: float = 0.0
          ) -> tuple[np.ndarray, PerspectiveView]:
    """Put a perspective picture into an equirect panorama through the project's own projection: every
    equirect pixel inside the view samples the picture where `PerspectiveView` says it lands."""
    import cv2

    H, W = pano.shape[:2]
    vh, vw = view_img.shape[:2]
    view = PerspectiveView(yaw, pitch, fov, out_size=(vw, vh), equirect_size=(H, W))
    cc, rr = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    u, v, front = view.equirect_to_view_points(*equirect_px_to_yawpitch(cc, rr, W, H))
    with np.errstate(invalid="ignore"):
        inside = front & (u >= 0) & (u < vw) & (v >= 0) & (v < vh)
    mx = np.where(inside, u - 0.5, -10).astype(np.float32)
    my = np.where(inside, v - 0.5, -10).astype(np.float32)
    scale = min(1.0, (W / 360.0) / (vw / 2 / np.tan(np.radians(fov) / 2) * np.pi / 180))
    small = cv2.resize(view_img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else view_img
    sampled = cv2.remap(small, mx * small.shape[1] / vw, my * small.shape[0] / vh, cv2.INTER_LINEAR)
    out = pano.copy()
    out[inside] = sampled[inside]
    return out, view


@pytest.fixture(scope="session")
def real_people(shared_data) -> list[np.ndarray]:
    """Three RGB frames of the real clip with one person standing (frames 100, 300, 1000)."""
    av = pytest.importorskip("av")
    path = shared_data("real/intel_one-by-one-person-detection.mp4")
    want, out = {100, 300, 1000}, []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                out.append(f.to_ndarray(format="rgb24"))
            if i >= max(want):
                break
    return out


@pytest.fixture(scope="session")
def street() -> np.ndarray:
    import cv2

    from ego360.tools.scenario.background import PANORAMA

    bgr = cv2.resize(cv2.imread(str(PANORAMA)), (960, 480), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
