"""Stereo placement of a mono sound from a wearer-relative bearing.

Headphones can only express left/right, so the pan position is sin(bearing): 3 o'clock (+90°) is
hard right, 9 o'clock (-90°) hard left, 12 and 6 o'clock centred. That mapping cannot tell 2 o'clock
from 4 o'clock, so sources behind the wearer (|bearing| > 90°) are also made a little quieter and
duller (one-pole low-pass), and the earcon itself differs for front and behind (see earcon.py).
Equal-power gains (cos/sin of a quarter turn) keep loudness constant while the source moves.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

BEHIND_GAIN = 0.7  # ~-3 dB for sources behind the wearer
BEHIND_CUTOFF_HZ = 3000.0


def is_behind(bearing_deg: float) -> bool:
    """Strictly behind the ear axis; 3 and 9 o'clock count as front."""
    b = (bearing_deg + 180.0) % 360.0 - 180.0
    return abs(b) > 90.0


def pan_gains(bearing_deg: float) -> tuple[float, float]:
    """Equal-power (left, right) gains, left² + right² = 1 (before the behind attenuation)."""
    p = math.sin(math.radians(bearing_deg))  # -1 = left, +1 = right
    theta = (p + 1.0) * math.pi / 4.0
    return math.cos(theta), math.sin(theta)


def _lowpass(mono: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    a = math.exp(-2.0 * math.pi * cutoff_hz / sample_rate)
    return lfilter([1.0 - a], [1.0, -a], mono).astype(np.float32)


def spatialize(mono: np.ndarray, bearing_deg: float, sample_rate: int) -> np.ndarray:
    """Mono float32 (N,) → stereo float32 (N, 2) placed at `bearing_deg`."""
    x = np.asarray(mono, dtype=np.float32).reshape(-1)
    if is_behind(bearing_deg):
        x = _lowpass(x, sample_rate, BEHIND_CUTOFF_HZ) * np.float32(BEHIND_GAIN)
    left, right = pan_gains(bearing_deg)
    return np.stack([x * np.float32(left), x * np.float32(right)], axis=1)
