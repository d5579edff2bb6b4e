"""The camera's height above the ground from a short clip, in frames levelled by the estimated tilt.

Why two height estimates: image motion alone fixes distances only up to scale. A walking wearer's
ground-plane flow gives speed ÷ height exactly, so with the typical walking speed of adults
(1.35 ± 0.2 m/s) it gives the height to about ±15 %; a camera that stands still (on a table) sees
people walk by, whose feet and heads give their height ÷ camera height, so with the typical adult
height (1.70 ± 0.10 m) it gives the camera height to about ±6 % plus the spread between people.
Both read pitches below the horizon, which a tilted mount shifts by up to its tilt (a 4 m-away foot
is 11° below a 0.8 m camera: a 5° tilt would change the height by half), so each frame is first
turned level with the tilt found on the clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

WALK_SPEED_MPS, WALK_SPEED_SD = 1.35, 0.2
PERSON_HEIGHT_M, PERSON_HEIGHT_SD = 1.70, 0.10
REFERENCE_HEIGHT_M = 1.6  # the height the analysis runs at; results scale from it
EGO_WIDTH = 512  # the ego-motion estimator's work width


@dataclass(frozen=True)
class HeightEstimate:
    height_m: float
    height_sd_m: float
    method: str  # "walking speed" | "people" | "none"
    samples: int  # frames (walking) or people observations (static) behind it


def sd_of_mean(x: np.ndarray) -> float:
    """Robust (MAD-based) sd of the mean."""
    if x.size < 2:
        return float("nan")
    return float(1.4826 * np.median(np.abs(x - np.median(x))) / math.sqrt(x.size))


class Leveller:
    """Resamples equirect frames of a camera mounted at (pitch, roll) into the level frame, so the
    horizon is the middle row again (one remap per frame; maps built once per frame size)."""

    def __init__(self, pitch_deg: float, roll_deg: float) -> None:
        self.pitch_deg, self.roll_deg = float(pitch_deg), float(roll_deg)
        self._maps: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    @property
    def identity(self) -> bool:
        return self.pitch_deg == 0.0 and self.roll_deg == 0.0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        import cv2

        if self.identity:
            return image
        h, w = image.shape[:2]
        maps = self._maps.get((w, h))
        if maps is None:
            from ego360.core.geometry import dir_to_yawpitch, equirect_rays, level_matrix

            cam = equirect_rays(w, h).astype(np.float64) @ level_matrix(self.pitch_deg, self.roll_deg)
            yaw, pitch = dir_to_yawpitch(cam)
            mx = ((yaw / 360.0 + 0.5) * w - 0.5).astype(np.float32)
            my = np.clip((0.5 - pitch / 180.0) * h - 0.5, 0.0, h - 1.0).astype(np.float32)
            maps = self._maps[(w, h)] = (mx, my)
        return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


class HeightAccumulator:
    """Feeds levelled frames to the ego-motion estimator (walking speed) and to the motion analysis
    (people's feet and heads) and turns what they saw into a height."""

    def __init__(self) -> None:
        from ego360.models import egomotion
        from ego360.models.motion import MotionAnalyzer

        self.ego = egomotion.EgoMotionEstimator(REFERENCE_HEIGHT_M)
        self.motion = MotionAnalyzer(EGO_WIDTH, 30.0, REFERENCE_HEIGHT_M)
        self.speeds: list[float] = []
        self.ratios: list[float] = []

    def add(self, packet) -> None:
        """`packet`: a FramePacket whose image is already level."""
        import cv2

        gray = cv2.cvtColor(cv2.resize(packet.image, (EGO_WIDTH, EGO_WIDTH // 2), interpolation=cv2.INTER_AREA),
                            cv2.COLOR_RGB2GRAY)
        ego = self.ego.update(gray, packet.frame_index, packet.video_t)
        if ego.inliers:
            self.speeds.append(ego.speed_mps)
        for b in self.motion.analyze(packet).blobs:
            bottom, top = math.radians(b.bottom_pitch_deg), math.radians(b.top_pitch_deg)
            person_like = b.height_deg > 5.0 and b.height_deg > 1.8 * b.width_deg and bottom < -0.05
            if person_like and top > bottom:
                self.ratios.append(1.0 + math.tan(top) / math.tan(-bottom))  # person height ÷ camera height

    def result(self) -> HeightEstimate:
        sp = np.asarray(self.speeds, float)
        moving = sp[sp > 0.3]
        if moving.size >= 10 and moving.size >= 0.3 * max(1, sp.size):
            v = float(np.median(moving))
            h = REFERENCE_HEIGHT_M * WALK_SPEED_MPS / v
            return HeightEstimate(h, h * WALK_SPEED_SD / WALK_SPEED_MPS, "walking speed", int(moving.size))
        r = np.asarray(self.ratios, float)
        r = r[(r > 1.0) & (r < 6.0)]
        if r.size >= 5:
            h = PERSON_HEIGHT_M / float(np.median(r))
            spread = sd_of_mean(r) / float(np.median(r))
            return HeightEstimate(h, h * math.hypot(PERSON_HEIGHT_SD / PERSON_HEIGHT_M, spread), "people",
                                  int(r.size))
        return HeightEstimate(REFERENCE_HEIGHT_M, float("nan"), "none", 0)


def levelled(packet, leveller: Leveller):
    """The packet with its image turned level (the same packet when the mount is level)."""
    return packet if leveller.identity else replace(packet, image=leveller(packet.image))
