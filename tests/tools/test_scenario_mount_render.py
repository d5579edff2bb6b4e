"""A tilted mount renders the same world as a level one, seen through the tilt: every row of the frame.

The mounted standing camera (no ground plane) once left the rows below the tilt margin as uninitialised
memory, which the motion model then read as ego-motion; this compares the tilted frame, row band by row band,
with the level frame resampled along the tilted camera's rays."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from ego360.tools.scenario.library import build_scene
from ego360.tools.scenario.wearer import tilt

W, H = 480, 240


def _through_tilt(level: np.ndarray, pitch: float, roll: float) -> np.ndarray:
    """The level frame seen by a camera tilted by the mount: d_level = tilt(pitch, roll)ᵀ d_camera."""
    yaw = np.radians((np.arange(W) + 0.5) / W * 360.0 - 180.0)[None, :]
    pit = np.radians(90.0 - (np.arange(H) + 0.5) * 180.0 / H)[:, None]
    d = np.stack(np.broadcast_arrays(np.cos(pit) * np.sin(yaw), np.sin(pit), np.cos(pit) * np.cos(yaw)), -1)
    lv = d @ tilt(pitch, roll)  # row vectors: (Rᵀ d)ᵀ = dᵀ R
    ly = np.degrees(np.arctan2(lv[..., 0], lv[..., 2]))
    lp = np.degrees(np.arcsin(np.clip(lv[..., 1], -1.0, 1.0)))
    mx = ((ly / 360.0 + 0.5) * W - 0.5).astype(np.float32)
    my = ((0.5 - lp / 180.0) * H - 0.5).astype(np.float32)
    return cv2.remap(level, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


@pytest.mark.parametrize("pitch,roll", [(-8.0, 5.0), (6.0, -3.0)])
def test_tilted_standing_frame_is_the_level_world_through_the_tilt(pitch, roll):
    level = build_scene("stealing", seed=3, width=W, height=H)
    tilted = build_scene("stealing", seed=3, width=W, height=H, mount_pitch_deg=pitch, mount_roll_deg=roll)
    frame = 10
    want = _through_tilt(level.render_frame(frame)[0], pitch, roll).astype(np.int16)
    got = tilted.render_frame(frame)[0].astype(np.int16)
    err = np.abs(got - want).mean(axis=(1, 2))  # per row
    margin = int(math.ceil((abs(pitch) + abs(roll)) / 180.0 * H)) + 2  # rows a tilt pushes past a pole
    for band in np.array_split(np.arange(margin, H - margin), 8):
        assert err[band].mean() < 1.5, (band[0], err[band].mean())
    # rendering is a function of the frame index: the same frame twice is the same picture
    assert np.array_equal(tilted.render_frame(frame)[0], tilted.render_frame(frame)[0])


def test_a_still_camera_on_a_tilted_mount_is_not_taken_for_walking():
    """The wearer stands still: the motion analysis, given the mount's tilt, must stay in standing mode."""
    from ego360.core.packets import FramePacket
    from ego360.models.motion import MotionAnalyzer

    scene = build_scene("stealing", seed=5, width=960, height=480, mount_pitch_deg=-8.0, mount_roll_deg=5.0)
    motion = MotionAnalyzer(512, scene.fps, 1.6, tilt_deg=(-8.0, 5.0))
    walking = []
    for i in range(0, 90, 2):
        motion.analyze(FramePacket(i, i / scene.fps, 0, scene.render_frame(i)[0]))
        walking.append(motion.walking)
    assert sum(walking) == 0, f"taken for walking on {sum(walking)} of {len(walking)} processed frames"
