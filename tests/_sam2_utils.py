"""Shared helpers for the SAM2 tests: a seeded random-weight model and a small synthetic clip that
both our tracker and Meta's `SAM2VideoPredictor` read (as JPEG frames, so both see the same pixels)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

CONFIG = "sam2.1_hiera_t"
SIZE = 256
N_FRAMES = 18  # >= 16 so the reference's pointer window is not shortened by a short video
VIDEO_HW = (96, 128)


def require_sam2() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sam2")


@functools.lru_cache(maxsize=4)
def random_model(config: str = CONFIG, size: int = SIZE, seed: int = 0):
    """The same random weights on every call (cached: building takes seconds)."""
    import torch

    from ego360.models.sam2.build import build_model

    torch.manual_seed(seed)
    return build_model(config, None, image_size=size)


def make_clip(folder: Path, n: int = N_FRAMES, hw: tuple[int, int] = VIDEO_HW, seed: int = 1) -> list[np.ndarray]:
    """Write `n` JPEG frames of two moving squares on texture; return them as decoded (RGB uint8)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = hw
    base = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
    base = np.array(Image.fromarray(base).resize((w, h)))
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(n):
        img = base.copy()
        img[20 + i : 50 + i, 10 + 2 * i : 40 + 2 * i] = (230, 40, 40)
        img[50:80, 90 - i : 120 - i] = (30, 200, 60)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(img).save(path, quality=95)
        frames.append(np.array(Image.open(path).convert("RGB")))
    return frames


BOX_A = (10.0, 20.0, 40.0, 50.0)
POINTS_B = np.array([[105.0, 65.0], [20.0, 80.0]], dtype=np.float32)
LABELS_B = np.array([1, 0], dtype=np.int32)


def mask_c(hw: tuple[int, int] = VIDEO_HW) -> np.ndarray:
    m = np.zeros(hw, dtype=bool)
    m[5:30, 60:100] = True
    return m


def reference_run(model, folder: Path, prompts: list[tuple], start: int | None = None) -> dict:
    """Meta's predictor on the clip: {frame: {obj_id: video-res logits}}. Prompts: (frame, obj_id, kind, args)."""
    state = model.init_state(str(folder))
    for frame, obj_id, kind, arg in prompts:
        if kind == "box":
            model.add_new_points_or_box(state, frame_idx=frame, obj_id=obj_id, box=np.array(arg))
        elif kind == "points":
            model.add_new_points_or_box(state, frame_idx=frame, obj_id=obj_id, points=arg[0], labels=arg[1])
        else:
            model.add_new_mask(state, frame_idx=frame, obj_id=obj_id, mask=arg)
    out: dict[int, dict[int, np.ndarray]] = {}
    for f, ids, masks in model.propagate_in_video(state, start_frame_idx=start):
        out[f] = {i: masks[k, 0].float().cpu().numpy() for k, i in enumerate(ids)}
    return out


def add_prompt(tracker, frame: int, image: np.ndarray, obj_id: int, kind: str, arg):
    if kind == "box":
        return tracker.add_object(frame, image, obj_id, box=arg)
    if kind == "points":
        return tracker.add_object(frame, image, obj_id, points=arg[0], labels=arg[1])
    return tracker.add_object(frame, image, obj_id, mask=arg)


@pytest.fixture
def one_thread():
    """The CI box is shared: one intra-op thread is faster than oversubscribed cores (restored after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
