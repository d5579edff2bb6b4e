"""`ego360 calibrate --auto CLIP`: camera height, pitch and roll estimated from a short clip.

Why two height estimates: image motion alone fixes distances only up to scale. A walking wearer's
ground-plane flow gives speed ÷ height exactly, so with the typical walking speed of adults
(1.35 ± 0.2 m/s) it gives the height to about ±15 %; a camera that stands still (on a table) sees
people walk by, whose feet and heads give their height ÷ camera height, so with the typical adult
height (1.70 ± 0.10 m) it gives the camera height to about ±6 % plus the spread between people.
Pitch and roll are not estimated yet: the per-frame ego-motion follows the head bob, but the
mount's constant tilt is only weakly visible in the ground's flow; give them with --pitch/--roll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WALK_SPEED_MPS, WALK_SPEED_SD = 1.35, 0.2
PERSON_HEIGHT_M, PERSON_HEIGHT_SD = 1.70, 0.10
REFERENCE_HEIGHT_M = 1.6  # the height the analysis runs at; results scale from it


@dataclass(frozen=True)
class AutoCalibration:
    height_m: float
    height_sd_m: float
    height_method: str  # "walking speed" | "people" | "none"
    pitch_deg: float
    pitch_sd_deg: float
    roll_deg: float
    roll_sd_deg: float
    frames: int
    samples: int  # frames (walking) or people observations (static) behind the height


def _sd_of_mean(x: np.ndarray) -> float:
    if x.size < 2:
        return float("nan")
    return float(1.4826 * np.median(np.abs(x - np.median(x))) / math.sqrt(x.size))


def estimate(clip: str, max_seconds: float = 30.0, every: int = 2) -> AutoCalibration:
    """Run the ego-motion estimator and the motion analysis over the first `max_seconds` of the clip."""
    import cv2

    from ego360.core.config import SourceConfig
    from ego360.models import egomotion
    from ego360.models.motion import MotionAnalyzer
    from ego360.runtime.sources import open_source

    est = egomotion.EgoMotionEstimator(REFERENCE_HEIGHT_M)
    motion = MotionAnalyzer(512, 30.0, REFERENCE_HEIGHT_M)
    speeds, ratios = [], []
    n = 0
    with open_source(clip, SourceConfig(max_width=1920)) as src:
        for packet in src:
            if packet.video_t > max_seconds:
                break
            if packet.frame_index % every:
                continue
            n += 1
            gray = cv2.cvtColor(cv2.resize(packet.image, (512, 256), interpolation=cv2.INTER_AREA),
                                cv2.COLOR_RGB2GRAY)
            ego = est.update(gray, packet.frame_index, packet.video_t)
            if ego.inliers:
                speeds.append(ego.speed_mps)
            for b in motion.analyze(packet).blobs:
                bottom, top = math.radians(b.bottom_pitch_deg), math.radians(b.top_pitch_deg)
                person_like = b.height_deg > 5.0 and b.height_deg > 1.8 * b.width_deg and bottom < -0.05
                if person_like and top > bottom:
                    ratios.append(1.0 + math.tan(top) / math.tan(-bottom))  # person height ÷ camera height
    sp = np.asarray(speeds, float)
    # The mount's tilt is only weakly seen in the ground's flow (the per-frame fit follows the head
    # bob well, but its mean keeps the first frame's error): not estimated, so not written.
    pitch = roll = 0.0
    pitch_sd = roll_sd = float("nan")
    moving = sp[sp > 0.3]
    if moving.size >= 10 and moving.size >= 0.3 * max(1, sp.size):
        v = float(np.median(moving))
        h = REFERENCE_HEIGHT_M * WALK_SPEED_MPS / v
        return AutoCalibration(h, h * WALK_SPEED_SD / WALK_SPEED_MPS, "walking speed", pitch, pitch_sd,
                               roll, roll_sd, n, int(moving.size))
    r = np.asarray(ratios, float)
    r = r[(r > 1.0) & (r < 6.0)]
    if r.size >= 5:
        h = PERSON_HEIGHT_M / float(np.median(r))
        spread = _sd_of_mean(r) / float(np.median(r))
        sd = h * math.hypot(PERSON_HEIGHT_SD / PERSON_HEIGHT_M, spread)
        return AutoCalibration(h, sd, "people", pitch, pitch_sd, roll, roll_sd, n, int(r.size))
    return AutoCalibration(REFERENCE_HEIGHT_M, float("nan"), "none", pitch, pitch_sd, roll, roll_sd, n, 0)


def auto_calibrate(clip: str, yaw_offset_deg: float, out: str | None, pitch_deg: float = 0.0,
                   roll_deg: float = 0.0) -> int:
    """Print the estimate with its uncertainty; with `out`, write it as the mounting calibration."""
    from ego360.calibration.mounting import save_mounting
    from ego360.core.errors import InputError
    from ego360.core.geometry import Mounting

    if not (Path(clip).exists() or ":" in clip):
        raise InputError(f"{clip}: no such clip; pass a video file, image folder or stream URL to --auto")
    a = estimate(clip)
    tilt = (f"pitch {a.pitch_deg:+.1f}° ± {a.pitch_sd_deg:.1f}, roll {a.roll_deg:+.1f}° ± {a.roll_sd_deg:.1f}"
            if math.isfinite(a.pitch_sd_deg) else "pitch/roll not estimated (give --pitch/--roll)")
    if a.height_method == "none":
        print(f"{clip}: {a.frames} frames; the camera neither walked nor saw people walking — height not "
              f"estimated (give --height-m H); {tilt}")
    else:
        print(f"{clip}: height {a.height_m:.2f} m ± {a.height_sd_m:.2f} (from {a.height_method}, {a.samples} "
              f"samples), {tilt}, over {a.frames} frames")
    if out:
        m = Mounting(float(yaw_offset_deg), float(pitch_deg), float(roll_deg), round(a.height_m, 3))
        print(f"wrote {save_mounting(out, m)}")
    return 0
