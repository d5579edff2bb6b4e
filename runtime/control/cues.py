"""Confirmation sounds for the wearer's own actions: short, centred, and unlike any alert earcon.

Alert earcons are 120 ms two-tone steps at 294–990 Hz (earcon.py). The cues are higher and shorter so
they never read as "something is there": "ok" = two quick rising ticks at 1320 → 1760 Hz, "off" (mute,
earcons off, danger only) = two falling ticks at 1760 → 1320 Hz, "refused" (nothing to repeat, a value
out of range) = one low 60 ms buzz at 220 Hz with its third harmonic. Centred (equal in both ears), so
no direction is implied.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CUE_LEVEL = 0.3
TICK_MS, GAP_MS, BUZZ_MS = 35, 25, 60
CUE_TONES_HZ = {"ok": (1320.0, 1760.0), "off": (1760.0, 1320.0)}
REFUSED_HZ = 220.0


def _tone(freqs: tuple[float, ...], ms: float, sr: int) -> np.ndarray:
    n = max(2, int(sr * ms / 1000.0))
    t = np.arange(n) / sr
    x = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate(freqs))
    edge = min(n // 2, int(sr * 0.004))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, edge))
    x[:edge] *= ramp
    x[n - edge:] *= ramp[::-1]
    return x / np.max(np.abs(x))


@lru_cache(maxsize=8)
def _cue(kind: str, sr: int) -> np.ndarray:
    if kind == "refused":
        mono = _tone((REFUSED_HZ, 3 * REFUSED_HZ), BUZZ_MS, sr)
    elif kind in CUE_TONES_HZ:
        a, b = CUE_TONES_HZ[kind]
        gap = np.zeros(int(sr * GAP_MS / 1000.0))
        mono = np.concatenate([_tone((a,), TICK_MS, sr), gap, _tone((b,), TICK_MS, sr)])
    else:
        raise ValueError(f"unknown cue {kind!r}; use ok, off or refused")
    out = np.repeat((mono * CUE_LEVEL).astype(np.float32)[:, None], 2, axis=1)
    out.flags.writeable = False
    return out


def cue(kind: str, sample_rate: int) -> np.ndarray:
    """Stereo float32 (N, 2) confirmation sound: "ok", "off" or "refused"."""
    return _cue(kind, int(sample_rate))
