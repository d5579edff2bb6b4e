"""Ego-motion solver: heading change, head bob and the walking step recovered from static points.

Correspondences are synthesised from a known motion of a camera above a ground plane (points on the
pavement at 1–9 m, far points above the horizon), with pixel noise and a share of movers that
disagree; the fit must recover the motion, so the test fails if the model or its conventions break.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ego360.core.geometry import dir_to_yawpitch, level_matrix
from ego360.models.egomotion import EgoMotionEstimator, predict_dirs

W, H = 512, 256


def _pixels(d: np.ndarray) -> np.ndarray:
    yaw, pitch = dir_to_yawpitch(d)
    return np.stack([(yaw + 180.0) / 360.0 * W - 0.5, (90.0 - pitch) / 180.0 * H - 0.5], axis=1)


def _scene(rng: np.random.Generator, height: float, n_ground: int = 150, n_far: int = 80):
    az, dist = rng.uniform(-np.pi, np.pi, n_ground), rng.uniform(1.0, 9.0, n_ground)
    ground = np.stack([dist * np.sin(az), np.full(n_ground, -height), dist * np.cos(az)], axis=1)
    azf, el = rng.uniform(-np.pi, np.pi, n_far), rng.uniform(0.05, 0.8, n_far)
    far = np.stack([np.cos(el) * np.sin(azf), np.sin(el), np.cos(el) * np.cos(azf)], axis=1)
    lev1 = np.concatenate([ground / np.linalg.norm(ground, axis=1, keepdims=True), far])
    return lev1, np.r_[np.ones(n_ground, bool), np.zeros(n_far, bool)]


@pytest.mark.parametrize(("seed", "height", "truth"), [
    (1, 1.6, (1.5, 2.0, 0.5, 0.02, 0.087)),  # walking 1.3 m/s at 15 fps, turning, bobbing
    (2, 0.8, (0.0, -1.0, 1.5, -0.05, 0.0)),  # side step, table height
    (3, 1.6, (-4.0, 0.0, 0.0, 0.0, 0.0)),  # turning on the spot
    (4, 1.75, (0.3, 1.2, -0.7, 0.0, 0.2)),  # jogging 3 m/s
])
def test_fit_recovers_rotation_attitude_and_step(seed, height, truth):
    rng = np.random.default_rng(seed)
    lev1, ground = _scene(rng, height)
    att1 = (1.0, -0.8)
    x_true = np.array([math.radians(truth[0]), *truth[1:]])
    d1 = lev1 @ level_matrix(*att1)
    d2 = predict_dirs(x_true, lev1, ground, height)
    q0 = _pixels(d1)
    q1 = _pixels(d2) + rng.normal(0.0, 0.15, (len(d1), 2))
    q1[:25] += rng.normal(0.0, 5.0, (25, 2))  # movers: their own motion, not the wearer's
    est = EgoMotionEstimator(height)
    est._att = att1
    x, inliers = est._fit(q0.astype(np.float32), q1.astype(np.float32), (H, W), 1 / 15)
    assert math.degrees(x[0]) == pytest.approx(truth[0], abs=0.1)
    assert x[1] == pytest.approx(truth[1], abs=0.15) and x[2] == pytest.approx(truth[2], abs=0.15)
    assert np.hypot(x[3] - truth[3], x[4] - truth[4]) < 0.01 + 0.05 * np.hypot(truth[3], truth[4])
    assert inliers >= 0.8 * (len(d1) - 25)


def test_wrong_height_scales_the_step():
    """The step is measured in metres through the camera height: twice the height, twice the step."""
    rng = np.random.default_rng(7)
    lev1, ground = _scene(rng, 1.6)
    x_true = np.array([0.0, 0.0, 0.0, 0.0, 0.1])
    q0, q1 = _pixels(lev1), _pixels(predict_dirs(x_true, lev1, ground, 1.6))
    steps = []
    for h in (1.6, 3.2):
        est = EgoMotionEstimator(h)
        steps.append(est._fit(q0.astype(np.float32), q1.astype(np.float32), (H, W), 1 / 15)[0][4])
    assert steps[0] == pytest.approx(0.1, rel=0.05) and steps[1] == pytest.approx(0.2, rel=0.05)
