"""Interaural and spectral cues measured from rendered stereo audio (used by tests and `ego360 bench audio`).

- ITD: the lag of the interaural cross-correlation peak (±1 ms, parabolic sub-sample), µs, positive =
  the right ear hears it first;
- ILD: right/left energy, dB, positive = right louder (±60 dB = one ear silent);
- front/back spectral detail: for mirror hours (12/6, 1/5, 2/4, 11/7, 10/8), the per-ear log-spectral
  difference of two renderings of the same noise after removing a smooth quadratic trend over log
  frequency (0.5–10 kHz), RMS dB, averaged over both ears. The trend removal is deliberate: a level
  change and a smooth tilt (what pan mode's "behind" low-pass is) carry no pinna cue, so stereo panning
  scores ~0 here and only a direction-dependent spectrum with peaks and notches scores high.
"""

from __future__ import annotations

import math

import numpy as np

CLOCK_PAIRS = ((12, 6), (1, 5), (2, 4), (11, 7), (10, 8))
HEAD_RADIUS_M = 0.0875
SPEED_OF_SOUND = 343.0
BAND_HZ = (500.0, 10000.0)


def bearing_of_hour(hour: int) -> float:
    return ((hour % 12) * 30.0 + 180.0) % 360.0 - 180.0


def woodworth_itd_us(bearing_deg: float) -> float:
    """Spherical-head ITD for a far source on the horizontal plane (front/back symmetric)."""
    lat = math.asin(abs(math.sin(math.radians(bearing_deg))))
    return HEAD_RADIUS_M / SPEED_OF_SOUND * (lat + math.sin(lat)) * 1e6


def noise_burst(sample_rate: int, seconds: float = 1.0, seed: int = 7) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(sample_rate * seconds)) * 0.1).astype(np.float32)


def measure_itd_us(stereo: np.ndarray, sample_rate: int, max_ms: float = 1.0) -> float:
    from scipy.signal import correlate

    left, right = stereo[:, 0].astype(np.float64), stereo[:, 1].astype(np.float64)
    el, er = float(left @ left), float(right @ right)
    if min(el, er) <= 1e-9 * max(el, er, 1e-30):
        return 0.0  # one ear silent (hard pan): there is no interaural time cue to measure
    c = correlate(left, right, mode="full", method="fft")
    zero = len(right) - 1
    m = int(sample_rate * max_ms / 1000.0)
    win = c[zero - m : zero + m + 1]
    k = int(np.argmax(win))
    frac = 0.0
    if 0 < k < len(win) - 1:
        a, b, d = win[k - 1], win[k], win[k + 1]
        den = a - 2 * b + d
        frac = 0.5 * (a - d) / den if den else 0.0
    return (k - m + frac) / sample_rate * 1e6  # left delayed behind right → positive


def measure_ild_db(stereo: np.ndarray) -> float:
    e = (stereo.astype(np.float64) ** 2).sum(axis=0) + 1e-20
    return float(np.clip(10.0 * np.log10(e[1] / e[0]), -60.0, 60.0))  # ±60 = one ear silent


def spectral_detail_db(a: np.ndarray, b: np.ndarray, sample_rate: int) -> float:
    """RMS dB of the per-ear spectral difference of two renderings of the same signal, trend removed."""
    from scipy.signal import welch

    out = []
    for ear in range(2):
        f, pa = welch(a[:, ear], sample_rate, nperseg=256)
        _, pb = welch(b[:, ear], sample_rate, nperseg=256)
        sel = (f >= BAND_HZ[0]) & (f <= min(BAND_HZ[1], 0.45 * sample_rate))
        d = 10.0 * np.log10((pa[sel] + 1e-20) / (pb[sel] + 1e-20))
        x = np.log2(f[sel])
        resid = d - np.polyval(np.polyfit(x, d, 2), x)
        out.append(float(np.sqrt(np.mean(resid**2))))
    return float(np.mean(out))


def clock_table(spatialize, sample_rate: int) -> list[dict]:
    """One row per clock hour: ITD, ILD and the spectral detail distance to its front/back mirror."""
    x = noise_burst(sample_rate)
    rendered = {h: spatialize(x, bearing_of_hour(h), sample_rate) for h in range(1, 13)}
    mirror = {a: b for p in CLOCK_PAIRS for a, b in (p, p[::-1])}
    rows = []
    for h in range(1, 13):
        y = rendered[h]
        rows.append({
            "hour": h, "bearing_deg": bearing_of_hour(h),
            "itd_us": round(measure_itd_us(y, sample_rate), 1) + 0.0,
            "woodworth_itd_us": round(woodworth_itd_us(bearing_of_hour(h)), 1),
            "ild_db": round(measure_ild_db(y), 2),
            "mirror_hour": mirror.get(h),
            "front_back_detail_db": round(spectral_detail_db(y, rendered[mirror[h]], sample_rate), 2)
            if h in mirror else None,
        })
    return rows
