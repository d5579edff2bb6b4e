"""The camera's mounting pitch and roll from vertical structure: where the world's vertical lines meet.

Why vertical edges: every vertical line in the world (a pole, a wall corner, a door frame, a window
column of a facade at any distance) lies in a plane through the camera that also contains the
world's up direction, so on the sphere it is a great circle through the zenith. The normals of
those planes are all perpendicular to "up": the up direction in camera coordinates is the direction
least aligned with them (the smallest eigenvector of their scatter). This needs no motion, no depth
and no camera height, so it works for a walking wearer and a camera on a table alike; the head bob
(±1–2° at the step frequency) moves each frame's answer, and averaging frames cancels it.

Each straight segment of the equirect frame gives one such normal: the cross product of the rays
through its two ends. Only segments that run close to the meridian of the current estimate vote
(a robust fit, see `frame_up`), so horizontal edges (roof lines, kerbs, the ground's texture) do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOCK_DEG = 12.0  # first round: segments within this angle of the prior's meridians
TUKEY_DEG = 8.0  # then: Tukey's biweight on the segment-to-meridian angle (0 weight beyond)
MAX_ROUNDS = 12
MIN_SEGMENTS = 8  # fewer near-vertical segments than this: the frame says nothing reliable
PITCH_BAND_DEG = (-25.0, 65.0)  # segments used: near the poles the map degenerates, far ground is texture
WORK_WIDTH = 1024  # equirect width analysed (0.35°/px); segments are located to a fraction of that
MIN_FRAMES = 5  # frames with an answer needed before a tilt is reported
FLOOR_SD_DEG = 0.3  # systematic part of the error (see TiltAccumulator), added to the sd of the mean
LOW_RES_WIDTH = 960  # narrower clips: aliased edges pull the answer towards the camera's own up ...
LOW_RES_LOSS = 0.12  # ... by about this fraction of the tilt (measured at 640 px wide), added to the sd


@dataclass(frozen=True)
class FrameUp:
    """The world's up direction seen in one frame (camera coordinates: x right, y up, z ahead)."""

    up: np.ndarray
    segments: int  # near-vertical segments behind it


def segment_normals(gray: np.ndarray, min_len_px: float = 8.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(midpoint rays, chord directions, great-circle normals) of the frame's straight edge segments,
    each N×3; a normal's length is the sine of the segment's arc, so longer segments weigh more.

    Segments (OpenCV's line segment detector) rather than per-pixel gradients: a slightly slanted
    edge is a staircase of pixels whose local gradients mostly point exactly along the pixel grid,
    which pulls a per-pixel estimate halfway back to the camera's own up; a segment's two ends lie
    on the edge's great circle however it is aliased."""
    import cv2

    g = np.asarray(gray)
    if g.dtype != np.uint8:
        g = np.clip(g, 0, 255).astype(np.uint8)
    H, W = g.shape
    found = cv2.createLineSegmentDetector().detect(g)[0]
    if found is None:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3))
    x1, y1, x2, y2 = found.reshape(-1, 4).astype(np.float64).T + 0.5  # LSD puts pixel centres at integers
    keep = np.hypot(x2 - x1, y2 - y1) >= min_len_px
    x1, y1, x2, y2 = x1[keep], y1[keep], x2[keep], y2[keep]
    d1 = _ray(x1, y1, W, H)
    d2 = _ray(x2, y2, W, H)
    mid = d1 + d2
    mid /= np.maximum(np.linalg.norm(mid, axis=1, keepdims=True), 1e-12)
    pitch = np.degrees(np.arcsin(np.clip(mid[:, 1], -1.0, 1.0)))
    band = (pitch > PITCH_BAND_DEG[0]) & (pitch < PITCH_BAND_DEG[1])
    n = np.cross(d1, d2)[band]
    return mid[band], (d2 - d1)[band], n


def _ray(x: np.ndarray, y: np.ndarray, W: int, H: int) -> np.ndarray:
    """Unit rays of continuous equirect pixel coordinates (pixel centres at +0.5)."""
    yaw = (x / W - 0.5) * 2.0 * math.pi
    pitch = (0.5 - y / H) * math.pi
    cp = np.cos(pitch)
    return np.stack([cp * np.sin(yaw), np.sin(pitch), cp * np.cos(yaw)], axis=-1)


def frame_up(gray: np.ndarray, prior: np.ndarray | None = None) -> FrameUp | None:
    """The up direction that the frame's near-vertical segments converge to; None when too few.

    A weighted least-squares fit (weight ∝ length², the inverse variance of a segment's direction
    when its ends are located to a fixed fraction of a pixel) inside Tukey's biweight on each
    segment's angle to the meridian. A hard narrow window would be narrower than a short segment's
    own noise and hold the answer near where it started (at 640 px wide: 10–15 % of the tilt lost);
    the biweight's fixed point does not depend on the start. `prior`: where to start (default: the
    camera's own up); the first round takes segments within `LOCK_DEG` of its meridians."""
    rays, chords, n = segment_normals(gray)
    up = np.array([0.0, 1.0, 0.0]) if prior is None else np.asarray(prior, np.float64) / np.linalg.norm(prior)
    length = np.linalg.norm(n, axis=1)
    unit = n / np.maximum(length, 1e-12)[:, None]
    cn = np.linalg.norm(chords, axis=1)
    used = 0
    for k in range(MAX_ROUNDS):
        m = up[None, :] - (rays @ up)[:, None] * rays  # the meridian through each midpoint towards `up`
        cos = np.abs(np.einsum("ij,ij->i", chords, m)) / np.maximum(np.linalg.norm(m, axis=1) * cn, 1e-12)
        angle = np.degrees(np.arccos(np.clip(cos, 0.0, 1.0)))
        if k == 0:
            w = np.where(angle < LOCK_DEG, 1.0, 0.0)
        else:
            w = np.clip(1.0 - (angle / TUKEY_DEG) ** 2, 0.0, None) ** 2
        used = int(np.count_nonzero(w))
        if used < MIN_SEGMENTS:
            return None
        w = w * length**2
        vecs = np.linalg.eigh((unit * w[:, None]).T @ unit)[1]
        new = vecs[:, 0] if vecs[:, 0] @ up >= 0 else -vecs[:, 0]
        step = math.degrees(math.acos(min(1.0, float(new @ up))))
        up = new
        if k > 0 and step < 0.005:
            break
    return FrameUp(up, used)


def up_to_pitch_roll(up: np.ndarray) -> tuple[float, float]:
    """Mounting pitch/roll (deg, `ego360.core.geometry.Mounting` conventions) whose level frame's up
    is `up` in camera coordinates: up = (−sin r cos p, cos r cos p, sin p)."""
    u = np.asarray(up, np.float64) / np.linalg.norm(up)
    return math.degrees(math.asin(float(np.clip(u[2], -1.0, 1.0)))), math.degrees(math.atan2(-u[0], u[1]))


@dataclass(frozen=True)
class TiltEstimate:
    """The mount's pitch/roll over a clip (deg, Mounting conventions) with the sd of each."""

    pitch_deg: float
    pitch_sd_deg: float
    roll_deg: float
    roll_sd_deg: float
    frames: int  # frames looked at
    used: int  # frames whose vertical segments gave an answer (after rejecting outliers)

    @property
    def ok(self) -> bool:
        return math.isfinite(self.pitch_sd_deg)


class TiltAccumulator:
    """Feeds frames to `frame_up` and averages their answers.

    The head bob swings each frame's answer by ±1–2° at the step frequency; the mean over many
    frames cancels it, and the scatter over frames gives the sd of that mean. A floor is added in
    quadrature for what averaging cannot remove: how level the scene's "vertical" structure itself
    is (a leaning facade in a panorama, rounded bodies), measured on rendered clips with known tilt,
    and below `LOW_RES_WIDTH` the part of the tilt that pixel aliasing hides."""

    def __init__(self, work_width: int = WORK_WIDTH) -> None:
        self.work_width = int(work_width)
        self.ups: list[np.ndarray] = []
        self.frames = 0
        self.source_width = 0

    def add(self, rgb: np.ndarray) -> None:
        import cv2

        self.frames += 1
        h, w = rgb.shape[:2]
        self.source_width = w
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if w != self.work_width:
            gray = cv2.resize(gray, (self.work_width, self.work_width // 2),
                              interpolation=cv2.INTER_AREA if w > self.work_width else cv2.INTER_LINEAR)
        prior = np.median(np.stack(self.ups), axis=0) if len(self.ups) >= 5 else None
        found = frame_up(gray, prior)
        if found is not None:
            self.ups.append(found.up)

    def result(self) -> TiltEstimate:
        nan = float("nan")
        if len(self.ups) < MIN_FRAMES:
            return TiltEstimate(0.0, nan, 0.0, nan, self.frames, len(self.ups))
        pr = np.array([up_to_pitch_roll(u) for u in self.ups])
        med = np.median(pr, axis=0)
        mad = 1.4826 * np.median(np.abs(pr - med), axis=0)
        keep = np.all(np.abs(pr - med) <= np.maximum(4.0 * mad, 0.5), axis=1)
        pr = pr[keep]
        mean = pr.mean(axis=0)
        sd = pr.std(axis=0, ddof=1) / math.sqrt(len(pr))
        floor = FLOOR_SD_DEG
        if self.source_width < LOW_RES_WIDTH:
            floor = math.hypot(floor, LOW_RES_LOSS * math.hypot(float(mean[0]), float(mean[1])))
        pitch_sd, roll_sd = (math.hypot(float(s), floor) for s in sd)
        return TiltEstimate(float(mean[0]), pitch_sd, float(mean[1]), roll_sd, self.frames, int(len(pr)))
