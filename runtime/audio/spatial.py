"""`audio.spatial`: the one switch between binaural (hrtf.py) and stereo panning (pan.py).

`make_spatializer` is called once when the Speaker is built (the HRTF file is read and the filters for
the output rate are computed then, on the caller's thread, not on the first alert). When `hrtf` is
asked for but its data is missing or unreadable, it logs one warning per process and pans instead — an
alert must never go silent because a data file is gone.

Earcons are cached read-only arrays (earcon.py), so their binaural renderings are cached too: the
frame loop's `announce` then only looks a stereo array up, and the convolution work left is speech,
rendered on the TTS thread.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from ego360.core.config import AudioConfig
from ego360.runtime.audio.hrtf import HRTFRenderer, HRTFUnavailable, load_kemar
from ego360.runtime.audio.pan import spatialize as pan_spatialize

log = logging.getLogger(__name__)

_warned = threading.Event()
CACHE_MAX = 2048


class Spatializer:
    """`(mono, bearing_deg, sample_rate) → stereo (N, 2)`; `mode` says what it really does."""

    def __init__(self, renderer: HRTFRenderer | None) -> None:
        self._renderer = renderer
        self.mode = "hrtf" if renderer is not None else "pan"
        self._cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def prepare(self, sample_rate: int) -> None:
        """Build the filters for `sample_rate` now rather than on the first alert."""
        if self._renderer is not None:
            self._renderer.filters(sample_rate)

    def __call__(self, mono: np.ndarray, bearing_deg: float, sample_rate: int) -> np.ndarray:
        if self._renderer is None:
            return pan_spatialize(mono, bearing_deg, sample_rate)
        if isinstance(mono, np.ndarray) and not mono.flags.writeable:  # a cached earcon: cache its rendering
            key = (id(mono), int(round(float(bearing_deg))) % 360, int(sample_rate))
            hit = self._cache.get(key)
            if hit is not None and hit[0] is mono:
                return hit[1]
            out = self._renderer.render(mono, bearing_deg, sample_rate)
            out.flags.writeable = False
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = (mono, out)  # keeps `mono` alive so its id is not reused
            return out
        return self._renderer.render(mono, bearing_deg, sample_rate)


def make_spatializer(cfg: AudioConfig) -> Spatializer:
    if cfg.spatial == "pan":
        return Spatializer(None)
    try:
        sp = Spatializer(HRTFRenderer(load_kemar()))
        sp.prepare(cfg.sample_rate)
        return sp
    except HRTFUnavailable as exc:
        if not _warned.is_set():
            _warned.set()
            log.warning("audio.spatial=hrtf: %s; using stereo panning (audio.spatial=pan)", exc)
        return Spatializer(None)
