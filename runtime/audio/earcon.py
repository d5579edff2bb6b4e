"""Short onset tones that say "alert" and "front or behind" before any word is spoken.

Ahead (|bearing| <= 90°): a rising two-tone, 660 Hz then 990 Hz (a fifth up) — reads as "look up,
in front". Behind: a falling, lower two-tone, 440 Hz then 294 Hz — reads as "behind you". The tones
are distinct in pitch as well as direction so the cue survives the behind low-pass in pan.py.
Each tone has 5 ms raised-cosine edges so there is no click at onset or between tones.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ego360.runtime.audio.pan import is_behind

FRONT_TONES_HZ = (660.0, 990.0)
BEHIND_TONES_HZ = (440.0, 294.0)
EARCON_LEVEL = 0.5
EDGE_MS = 5.0


def _tone(freq_hz: float, n: int, sample_rate: int) -> np.ndarray:
    t = np.arange(n, dtype=np.float64) / sample_rate
    x = np.sin(2.0 * np.pi * freq_hz * t)
    edge = min(int(sample_rate * EDGE_MS / 1000.0), n // 2)
    if edge > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, edge))
        x[:edge] *= ramp
        x[n - edge :] *= ramp[::-1]
    return x


@lru_cache(maxsize=16)
def _earcon(behind: bool, sample_rate: int, ms: int) -> np.ndarray:
    n = max(2, int(round(sample_rate * ms / 1000.0)))
    first, second = BEHIND_TONES_HZ if behind else FRONT_TONES_HZ
    half = n // 2
    x = np.concatenate([_tone(first, half, sample_rate), _tone(second, n - half, sample_rate)])
    out = (x * EARCON_LEVEL).astype(np.float32)
    out.flags.writeable = False  # cached and shared between calls
    return out


def make_earcon(bearing_deg: float, sample_rate: int, ms: int) -> np.ndarray:
    """Mono float32 earcon of `ms` milliseconds for a source at `bearing_deg` (not yet panned)."""
    return _earcon(is_behind(bearing_deg), int(sample_rate), int(ms))
