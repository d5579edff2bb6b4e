"""`ego360 calibrate --auto CLIP`: camera pitch, roll and height estimated from a short clip.

Two passes over the first `max_seconds`: the mount's pitch and roll from where the world's vertical
lines meet (`tilt`: no motion or depth needed, so a walk and a table camera alike), then the height
from frames turned level with that tilt (`height`: walking speed, or people walking by). Each value
is printed with its uncertainty; with --out the calibration is written like a hand-given one, and
values given by hand (--pitch/--roll/--height-m) take precedence over the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ego360.tools.autocal.height import REFERENCE_HEIGHT_M, HeightAccumulator, HeightEstimate, Leveller, levelled
from ego360.tools.autocal.tilt import TiltAccumulator, TiltEstimate

MIN_FRAMES = 10  # frames analysed below this: the clip is too short to say anything
TILT_EVERY_S = 0.1  # the tilt pass looks at ~10 frames/s (the head bob is ~2 Hz: well sampled)


@dataclass(frozen=True)
class AutoCalibration:
    height_m: float
    height_sd_m: float
    height_method: str  # "walking speed" | "people" | "none"
    pitch_deg: float
    pitch_sd_deg: float  # nan when not estimated (no vertical structure seen)
    roll_deg: float
    roll_sd_deg: float
    frames: int  # frames behind the height
    samples: int  # frames (walking) or people observations (static) behind the height
    tilt_frames: int = 0  # frames whose vertical structure gave a tilt

    @property
    def tilt_ok(self) -> bool:
        return math.isfinite(self.pitch_sd_deg)


def _frames(clip: str, max_seconds: float, every_s: float | None, every: int = 1):
    """Packets of the clip's first `max_seconds`: every `every`-th frame, or one per `every_s` seconds."""
    from ego360.core.config import SourceConfig
    from ego360.runtime.sources import open_source

    next_t = 0.0
    with open_source(clip, SourceConfig(max_width=1920)) as src:
        for packet in src:
            if packet.video_t > max_seconds:
                break
            if every_s is not None:
                if packet.video_t + 1e-6 < next_t:
                    continue
                next_t = packet.video_t + every_s
            elif packet.frame_index % every:
                continue
            yield packet


def estimate_tilt(clip: str, max_seconds: float = 30.0) -> TiltEstimate:
    """The mount's pitch and roll over the clip's first `max_seconds` (about 10 frames/s)."""
    acc = TiltAccumulator()
    for packet in _frames(clip, max_seconds, TILT_EVERY_S):
        acc.add(packet.image)
    return acc.result()


def estimate(clip: str, max_seconds: float = 30.0, every: int = 2) -> AutoCalibration:
    """Tilt, then height from levelled frames, over the first `max_seconds` of the clip."""
    from ego360.core.errors import InputError

    tilt = estimate_tilt(clip, max_seconds)
    if tilt.frames < MIN_FRAMES:  # the tilt pass samples ~10 frames/s
        raise InputError(f"{clip}: only {tilt.frames} frames in the first {max_seconds:g} s; --auto needs a clip "
                         "of at least 1 s (better 10-30 s of walking or of people walking by)")
    leveller = Leveller(tilt.pitch_deg, tilt.roll_deg) if tilt.ok else Leveller(0.0, 0.0)
    acc = HeightAccumulator()
    n = 0
    for packet in _frames(clip, max_seconds, None, every):
        n += 1
        acc.add(levelled(packet, leveller))
    h: HeightEstimate = acc.result()
    return AutoCalibration(h.height_m, h.height_sd_m, h.method, tilt.pitch_deg, tilt.pitch_sd_deg, tilt.roll_deg,
                           tilt.roll_sd_deg, n, h.samples, tilt.used)


def auto_calibrate(clip: str, yaw_offset_deg: float, out: str | None, pitch_deg: float | None = None,
                   roll_deg: float | None = None, height_m: float | None = None) -> int:
    """Print the estimate with its uncertainty; with `out`, write it as the mounting calibration.

    Values given by hand replace the estimate; nothing is written when nothing could be estimated
    and nothing was given (a default 1.6 m level mount would silently look measured)."""
    from ego360.calibration.mounting import save_mounting
    from ego360.core.errors import InputError
    from ego360.core.geometry import DEFAULT_CAMERA_HEIGHT_M, Mounting

    if not (Path(clip).exists() or ":" in clip):
        raise InputError(f"{clip}: no such clip; pass a video file, image folder or stream URL to --auto")
    a = estimate(clip)
    if a.tilt_ok:
        tilt = (f"pitch {a.pitch_deg:+.1f}° ± {a.pitch_sd_deg:.1f}, roll {a.roll_deg:+.1f}° ± {a.roll_sd_deg:.1f} "
                f"(from vertical edges, {a.tilt_frames} frames)")
    else:
        tilt = "pitch/roll not estimated: too few vertical edges (poles, walls, door frames); give --pitch/--roll"
    if a.height_method == "none":
        height = (f"height not estimated: in {a.frames} frames the camera neither walked nor saw people walking; "
                  "give --height-m H")
    else:
        height = (f"height {a.height_m:.2f} m ± {a.height_sd_m:.2f} (from {a.height_method}, {a.samples} samples "
                  f"in {a.frames} frames)")
    print(f"{clip}: {height}; {tilt}")
    if out:
        pitch = pitch_deg if pitch_deg is not None else a.pitch_deg if a.tilt_ok else None
        roll = roll_deg if roll_deg is not None else a.roll_deg if a.tilt_ok else None
        height_v = height_m if height_m is not None else a.height_m if a.height_method != "none" else None
        if pitch is None and roll is None and height_v is None:
            raise InputError(f"{clip}: nothing estimated, nothing written to {out}; give --pitch/--roll/--height-m "
                             "by hand or use a clip with a walk, people walking by, or vertical structure")
        m = Mounting(float(yaw_offset_deg), round(float(pitch or 0.0), 2), round(float(roll or 0.0), 2),
                     round(float(DEFAULT_CAMERA_HEIGHT_M if height_v is None else height_v), 3))
        print(f"wrote {save_mounting(out, m)}")
    return 0


__all__ = ["REFERENCE_HEIGHT_M", "AutoCalibration", "auto_calibrate", "estimate", "estimate_tilt"]
