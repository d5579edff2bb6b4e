"""The wearer's own motion — turning, head bob and walking — from how the static world moves in the image.

Why a ground-plane model: a walking wearer's camera translates, so near things slide past (the
pavement at the feet fastest) while the far panorama only turns. Given the camera height, a
feature below the horizon is a point on the ground at a known distance, so its image motion fixes
the translation in metres; features above the horizon are treated as far away and fix the rotation.
One robust least-squares fit per frame pair gives heading change, camera pitch/roll (bob, sway) and
the step (x right, z ahead); movers and near structures above the ground (people, poles) disagree with
both models and fall out as outliers of the Cauchy loss. Velocities are smoothed over ~0.25 s, as a
single step is only a few centimetres.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ego360.core.geometry import col_yaw, level_matrix, row_pitch, yawpitch_to_dir
from ego360.core.packets import EgoMotion

ATTITUDE_TAU_S = 2.0
_LK = {"winSize": (15, 15), "maxLevel": 2,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


def _rot_y(a: float) -> np.ndarray:
    """Rotation that lowers every yaw by `a` radians (what the wearer turning right by `a` does)."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def predict_dirs(params: np.ndarray, lev1: np.ndarray, ground: np.ndarray, height_m: float) -> np.ndarray:
    """Camera directions in frame 2 of static points seen (levelled) as `lev1` in frame 1.

    params = (dyaw rad, pitch2 deg, roll2 deg, tx m, tz m): the wearer stepped by (tx, 0, tz) in its
    level frame 1, turned right by dyaw, and its camera now has attitude (pitch2, roll2). Ground
    points sit on the plane `height_m` below the camera; the others are at infinity."""
    dyaw, p2, r2, tx, tz = params
    x = lev1.copy()
    g = ground
    if g.any():
        scale = height_m / np.maximum(-lev1[g, 1], 1e-3)
        x[g] = lev1[g] * scale[:, None] - np.array([tx, 0.0, tz])
    x = x @ _rot_y(dyaw).T
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x @ level_matrix(p2, r2)


class EgoMotionEstimator:
    """Per-frame ego-motion from sparse feature tracks on the (work-size) grey equirect."""

    def __init__(self, camera_height_m: float = 1.6, max_features: int = 300, ground_below_deg: float = 8.0,
                 smooth_s: float = 0.25, max_abs_pitch_deg: float = 65.0,
                 tilt_deg: tuple[float, float] = (0.0, 0.0)) -> None:
        self.camera_height_m = float(camera_height_m)
        self.tilt_deg = (float(tilt_deg[0]), float(tilt_deg[1]))  # the mount's (pitch, roll), calibrated
        self.max_features = int(max_features)
        self.ground_below_deg = float(ground_below_deg)
        self.smooth_s = float(smooth_s)
        self.max_abs_pitch_deg = float(max_abs_pitch_deg)
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None
        self._prev_t = 0.0
        self._heading = 0.0
        self._att = self.tilt_deg
        self._v = np.zeros(2)
        self._rate = 0.0
        self.step = (0.0, 0.0, 0.0)  # the last fit's raw (dyaw deg, tx m, tz m); zeros when none

    def _features(self, gray: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        h, w = gray.shape
        keep = np.zeros((h, w), np.uint8)
        row = int(round(h * (0.5 - self.max_abs_pitch_deg / 180.0)))
        keep[row: h - row, 8: w - 8] = 255  # LK does not wrap the seam; the poles are stretched
        if mask is not None and mask.shape == keep.shape:
            keep[mask] = 0
        return cv2.goodFeaturesToTrack(gray, self.max_features, 0.01, max(4, w // 100), mask=keep, blockSize=5)

    def update(self, gray: np.ndarray, frame_index: int, video_t: float,
               movers: np.ndarray | None = None) -> EgoMotion:
        """Motion from the previous call's frame to `gray`; `movers` (bool, same size) masks out
        pixels known to move on their own so they do not pull the fit."""
        prev, prev_t = self._prev, self._prev_t
        self._prev, self._prev_t = gray, video_t
        self.step = (0.0, 0.0, 0.0)
        dt = video_t - prev_t
        if prev is None or prev.shape != gray.shape or not 0.0 < dt < 1.0:
            if prev is not None and prev.shape != gray.shape:
                self.reset()
                self._prev, self._prev_t = gray, video_t
            return self._result(frame_index, video_t, 0)
        p0 = self._features(prev, movers)
        if p0 is None or len(p0) < 12:
            return self._result(frame_index, video_t, 0)
        p1, st, _err = cv2.calcOpticalFlowPyrLK(prev, gray, p0, None, **_LK)
        back, st2, _err2 = cv2.calcOpticalFlowPyrLK(gray, prev, p1, None, **_LK)
        ok = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((back - p0).reshape(-1, 2), axis=1) < 0.7)
        if ok.sum() < 12:
            return self._result(frame_index, video_t, 0)
        params, inliers = self._fit(p0.reshape(-1, 2)[ok], p1.reshape(-1, 2)[ok], gray.shape, dt)
        if inliers < 8:
            return self._result(frame_index, video_t, 0)
        dyaw, p2, r2, tx, tz = params
        self.step = (math.degrees(dyaw), float(tx), float(tz))
        a = min(1.0, dt / self.smooth_s)
        self._v = (1 - a) * self._v + a * np.array([tx, tz]) / dt
        self._rate = (1 - a) * self._rate + a * math.degrees(dyaw) / dt
        self._heading += math.degrees(dyaw)
        # Bob and sway average out over steps; a tilt that stays is the mount's (`ego360 calibrate`), so
        # the attitude leaks back to the mount's tilt with a 2 s time constant: an error in the first
        # frame's attitude (only weakly seen through the ground's depth) does not linger.
        leak = 1.0 - min(1.0, dt / ATTITUDE_TAU_S)
        t0, r0 = self.tilt_deg
        self._att = (t0 + (float(p2) - t0) * leak, r0 + (float(r2) - r0) * leak)
        return self._result(frame_index, video_t, inliers)

    def _fit(self, q0: np.ndarray, q1: np.ndarray, shape: tuple[int, int], dt: float) -> tuple[np.ndarray, int]:
        """Gauss–Newton with Cauchy weights (IRLS) on the image-space error, in pixels: five
        parameters and a few hundred points take a few iterations of vectorised numpy."""
        h, w = shape

        def dirs(q: np.ndarray) -> np.ndarray:  # LK positions are pixel indices (centres at integers)
            return yawpitch_to_dir(col_yaw(q[:, 0], w), row_pitch(q[:, 1], h))

        d1, d2 = dirs(q0.astype(np.float64)), dirs(q1.astype(np.float64))
        lev1 = d1 @ level_matrix(*self._att).T
        ground = lev1[:, 1] < -math.sin(math.radians(self.ground_below_deg))
        x0 = np.array([math.radians(self._rate) * dt, self._att[0], self._att[1], self._v[0] * dt, self._v[1] * dt])
        px = math.radians(360.0 / w)  # one pixel, in radians
        steps = np.array([1e-4, 0.01, 0.01, 1e-3, 1e-3])
        prior_w = np.array([0.0, 0.0, 0.0, 20.0, 20.0])  # a gentle pull (px per metre) to the last velocity

        def res(x: np.ndarray) -> np.ndarray:
            return ((predict_dirs(x, lev1, ground, self.camera_height_m) - d2) / px).ravel()

        x = x0.copy()
        for _ in range(8):
            r = res(x)
            jac = np.stack([(res(x + np.eye(5)[k] * steps[k]) - r) / steps[k] for k in range(5)], axis=1)
            e2 = (r.reshape(-1, 3) ** 2).sum(axis=1)
            wt = np.repeat(1.0 / (1.0 + e2), 3)  # Cauchy, scale 1 px
            a = jac.T @ (jac * wt[:, None]) + np.diag(prior_w**2 + 1e-9)
            b = jac.T @ (wt * r) + prior_w**2 * (x - x0)
            delta = np.linalg.solve(a, -b)
            x = x + delta
            if np.all(np.abs(delta) < steps * 0.1):
                break
        err = np.linalg.norm(res(x).reshape(-1, 3), axis=1)
        return x, int((err < 1.5).sum())

    def _result(self, frame_index: int, video_t: float, inliers: int) -> EgoMotion:
        return EgoMotion(frame_index, video_t, self._heading, self._rate, self._att[0], self._att[1],
                         float(self._v[0]), float(self._v[1]), int(inliers))
