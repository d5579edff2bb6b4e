"""`audio.spatial`: the one switch between binaural (hrtf.py, the default) and stereo panning (pan.py).

Loading the HRTF (reading slab's KEMAR file, building the per-bearing filters: ~0.5 s, seconds on a
loaded machine) must never delay an alert. The Speaker therefore asks for `background=True`: the data
is loaded on its own thread, started when the Speaker is built (before the first frame), and every
sound placed before it is ready is panned — a wearer hears the first alert at once, on the right side,
just without the pinna cues. Only when nobody is listening live (file sink only: a replay's alerts.wav,
which must come out the same on every run) does the first sound wait for the load (`wait_s`), so the
WAV never depends on how busy the machine was. When `hrtf` is asked for but its data is missing or
unreadable, it logs one warning per process and pans for good — an alert must never go silent because
a data file is gone.

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
    """`(mono, bearing_deg, sample_rate) → stereo (N, 2)`; `mode` says what it does right now."""

    def __init__(self, renderer: HRTFRenderer | None) -> None:
        self._renderer = renderer
        self._ready = threading.Event()
        self._ready.set()
        self._wait_s = 0.0
        self.panned_while_loading = 0  # sounds placed by panning because the HRTF was not loaded yet
        self._cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    @property
    def mode(self) -> str:
        return "hrtf" if self._renderer is not None else "pan"

    @property
    def loading(self) -> bool:
        return not self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until a background load has finished (loaded or fallen back to pan); False on timeout."""
        return self._ready.wait(timeout)

    def _load_in_background(self, sample_rate: int, wait_s: float) -> None:
        self._ready.clear()
        self._wait_s = float(wait_s)
        threading.Thread(target=self._load, args=(sample_rate,), name="hrtf-load", daemon=True).start()

    def _load(self, sample_rate: int) -> None:
        try:
            renderer = _load_renderer(sample_rate)
            if renderer is not None:
                self._renderer = renderer  # one reference assignment: readers see pan or a complete renderer
        except Exception:  # noqa: BLE001 - a broken data file must leave panning in place, not kill a thread
            log.exception("loading the HRTF failed; using stereo panning")
        finally:
            self._ready.set()

    def __call__(self, mono: np.ndarray, bearing_deg: float, sample_rate: int) -> np.ndarray:
        renderer = self._renderer
        if renderer is None and not self._ready.is_set():
            if self._wait_s > 0:
                self._ready.wait(self._wait_s)
                renderer = self._renderer
            if renderer is None:
                self.panned_while_loading += 1
        if renderer is None:
            return pan_spatialize(mono, bearing_deg, sample_rate)
        if isinstance(mono, np.ndarray) and not mono.flags.writeable:  # a cached earcon: cache its rendering
            key = (id(mono), int(round(float(bearing_deg))) % 360, int(sample_rate))
            hit = self._cache.get(key)
            if hit is not None and hit[0] is mono:
                return hit[1]
            out = renderer.render(mono, bearing_deg, sample_rate)
            out.flags.writeable = False
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = (mono, out)  # keeps `mono` alive so its id is not reused
            return out
        return renderer.render(mono, bearing_deg, sample_rate)


def _load_renderer(sample_rate: int) -> HRTFRenderer | None:
    """The KEMAR renderer with its filters for `sample_rate` built, or None (warned once) without data."""
    try:
        renderer = HRTFRenderer(load_kemar())
        renderer.filters(sample_rate)
        return renderer
    except HRTFUnavailable as exc:
        if not _warned.is_set():
            _warned.set()
            log.warning("audio.spatial=hrtf: %s; using stereo panning (audio.spatial=pan)", exc)
        return None


def make_spatializer(cfg: AudioConfig, background: bool = False, wait_s: float = 0.0) -> Spatializer:
    """`background`: load the HRTF on a thread and pan until it is ready (a sound placed meanwhile first
    waits up to `wait_s` for it); otherwise load it now, on the caller's thread."""
    if cfg.spatial == "pan":
        return Spatializer(None)
    if not background:
        return Spatializer(_load_renderer(cfg.sample_rate))
    sp = Spatializer(None)
    sp._load_in_background(cfg.sample_rate, wait_s)
    return sp
