"""Binaural rendering (audio.spatial=hrtf) measured from the rendered audio, per clock hour.

Ground truth is the head's geometry: the near ear hears a lateral source first and louder, by about
the spherical-head (Woodworth) time difference; front/back mirror hours have the same ITD and ILD, so
only their spectra can tell them apart. The pan fallback is measured with the same metric and must NOT
pass the front/back test — otherwise the metric would not be measuring pinna cues at all.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.packets import Alert
from ego360.runtime.audio import spatial
from ego360.runtime.audio.hrtf import HRTFUnavailable
from ego360.runtime.audio.measure import (
    CLOCK_PAIRS,
    clock_table,
    measure_ild_db,
    measure_itd_us,
    noise_burst,
    woodworth_itd_us,
)
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker

SR = 22050
needs_kemar = pytest.mark.skipif(importlib.util.find_spec("slab") is None, reason="slab (KEMAR HRTF data) absent")
FRONT_BACK_MIN_DB = 2.0  # KEMAR pairs measure ~4 dB; pan ~0.2 dB


@pytest.fixture(scope="module")
def hrtf():
    sp = spatial.make_spatializer(AudioConfig(sample_rate=SR, spatial="hrtf"))
    assert sp.mode == "hrtf"
    return sp


@pytest.fixture(scope="module")
def hrtf_table(hrtf):
    return {r["hour"]: r for r in clock_table(hrtf, SR)}


@needs_kemar
@pytest.mark.parametrize("hour", range(1, 13))
def test_itd_and_ild_have_the_right_sign_and_size(hrtf_table, hour: int):
    r = hrtf_table[hour]
    side = 0 if hour in (6, 12) else (1 if hour < 6 else -1)  # +1: right ear leads / louder
    if side == 0:
        assert abs(r["itd_us"]) < 30.0
        assert abs(r["ild_db"]) < 1.0
        return
    expected = woodworth_itd_us(r["bearing_deg"])
    assert side * r["itd_us"] == pytest.approx(expected, rel=0.35)
    assert side * r["ild_db"] > 3.0


@needs_kemar
@pytest.mark.parametrize("pair", CLOCK_PAIRS)
def test_front_back_pairs_differ_in_their_spectra(hrtf_table, pair):
    front, back = pair
    # same lateral cues, so only the spectrum can separate them ...
    assert hrtf_table[front]["itd_us"] == pytest.approx(hrtf_table[back]["itd_us"], abs=60.0)
    # ... and it does
    assert hrtf_table[front]["front_back_detail_db"] > FRONT_BACK_MIN_DB


def test_pan_fallback_does_not_pass_the_front_back_test():
    pan = spatial.make_spatializer(AudioConfig(sample_rate=SR, spatial="pan"))
    table = {r["hour"]: r for r in clock_table(pan, SR)}
    for front, _back in CLOCK_PAIRS:
        assert table[front]["front_back_detail_db"] < FRONT_BACK_MIN_DB / 2
    assert all(r["itd_us"] == 0.0 for r in table.values())  # panning has no time cue either
    assert table[2]["ild_db"] > 3.0 and table[10]["ild_db"] < -3.0  # but its level cue is right


@needs_kemar
def test_interpolation_between_measured_azimuths_is_smooth(hrtf):
    """KEMAR is measured every 5°; 1° steps in between must move the ITD monotonically, not jump or
    comb (naive sample-wise blending of two responses would give two onsets)."""
    x = noise_burst(SR, 0.5)
    itds = [measure_itd_us(hrtf(x, float(b), SR), SR) for b in range(0, 91, 1)]
    steps = np.diff(itds)
    assert steps.min() > -25.0  # within measurement jitter (one sample is 45 µs)
    assert itds[-1] - itds[0] > 550.0
    # a 2.5° bearing lies between its neighbours in level too
    ild = [measure_ild_db(hrtf(x, b, SR)) for b in (30.0, 32.0, 35.0)]
    assert min(ild[0], ild[2]) - 0.5 <= ild[1] <= max(ild[0], ild[2]) + 0.5


@needs_kemar
def test_output_keeps_the_input_length_and_level(hrtf):
    x = noise_burst(SR, 0.3)
    for bearing in (0.0, 60.0, 180.0, -120.0):
        y = hrtf(x, bearing, SR)
        assert y.shape == (len(x), 2) and y.dtype == np.float32
        gain = np.sum(y.astype(np.float64) ** 2) / np.sum(x.astype(np.float64) ** 2)
        assert 0.2 < gain < 3.0  # normalised like equal-power panning (sum of ears ~1 on average)


def test_missing_hrtf_data_falls_back_to_pan_and_warns_once(monkeypatch, caplog):
    def missing(*_a, **_k):
        raise HRTFUnavailable("the 'slab' package is not installed (pip install slab)")

    monkeypatch.setattr(spatial, "load_kemar", missing)
    monkeypatch.setattr(spatial, "_warned", threading.Event())
    with caplog.at_level(logging.WARNING, logger=spatial.__name__):
        sps = [spatial.make_spatializer(AudioConfig(spatial="hrtf")) for _ in range(3)]
    assert [s.mode for s in sps] == ["pan"] * 3
    assert len([r for r in caplog.records if "stereo panning" in r.message]) == 1
    x = noise_burst(SR, 0.2)
    from ego360.runtime.audio.pan import spatialize

    assert np.array_equal(sps[0](x, 60.0, SR), spatialize(x, 60.0, SR))


@needs_kemar
def test_speaker_renders_the_alert_binaurally(tmp_path: Path):
    """Through the Speaker: a 2 o'clock alert's earcon reaches the right ear first and louder, and the
    4 o'clock one differs from it in spectrum, not only in the earcon's tones."""
    cfg = AudioConfig(sink="file", sample_rate=SR, earcon_ms=120, spatial="hrtf")
    out = open_sink(cfg, tmp_path / "alerts.wav")
    sp = Speaker(cfg, TTSConfig(backend="none"), out)
    alert = Alert(0, 1.0, 10**9, 1, "perpetrator", 60.0, 2, 2, "person at two o'clock")
    sp.announce(alert, Decision(True, False, "speak"), 1.0)
    sp.close()
    x = out.file_sink.render()[int(1.0 * SR) : int(1.12 * SR)]
    assert measure_itd_us(x, SR) > 300.0
    assert measure_ild_db(x) > 3.0


class _Recorder:
    """A stand-in device sink that keeps what it is given."""

    def __init__(self) -> None:
        self.sounds: list[np.ndarray] = []

    def play(self, stereo, video_t, priority, after=None, queue=False) -> int:
        self.sounds.append(np.asarray(stereo))
        return len(self.sounds) - 1

    def interrupt(self, below_priority, video_t) -> int:
        return 0

    def close(self) -> None:
        pass


@needs_kemar
def test_hrtf_load_never_delays_a_live_alert(monkeypatch):
    """With a device, an alert that comes while the HRTF is still loading is panned at once (no wait);
    once the load is done the next alert is binaural."""
    from ego360.runtime.audio.sinks import AudioOut

    gate, real = threading.Event(), spatial.load_kemar

    def slow_load(*a, **k):
        assert gate.wait(30)
        return real(*a, **k)

    monkeypatch.setattr(spatial, "load_kemar", slow_load)
    device = _Recorder()
    cfg = AudioConfig(sample_rate=SR, earcon_ms=120, spatial="hrtf")
    sp = Speaker(cfg, TTSConfig(backend="none"), AudioOut([device], device_sink=device))
    alert = Alert(0, 1.0, 10**9, 1, "perpetrator", 60.0, 2, 2, "person at two o'clock")
    t0 = time.perf_counter()
    sp.announce(alert, Decision(True, False, "speak"), 1.0)
    assert time.perf_counter() - t0 < 0.5  # did not wait for the gated load
    assert sp.spatializer.loading and sp.spatializer.panned_while_loading == 1
    assert abs(measure_itd_us(device.sounds[0], SR)) < 1.0 and measure_ild_db(device.sounds[0]) > 3.0  # panned right
    gate.set()
    assert sp.spatializer.wait_ready(30) and sp.spatializer.mode == "hrtf"
    sp.announce(alert, Decision(True, False, "speak"), 2.0)
    sp.close()
    assert measure_itd_us(device.sounds[1], SR) > 300.0  # binaural now: the right ear leads
    assert (sp.stats.spatial, sp.stats.panned_while_loading) == ("hrtf", 1)  # what the run summary reports


@needs_kemar
def test_file_only_run_waits_for_the_hrtf(monkeypatch, tmp_path: Path):
    """Without a device (a replay's WAV) the first sound waits for the load, so the WAV never depends on
    how fast the machine loaded the data."""
    real = spatial.load_kemar

    def slow_load(*a, **k):
        time.sleep(0.3)
        return real(*a, **k)

    monkeypatch.setattr(spatial, "load_kemar", slow_load)
    cfg = AudioConfig(sink="file", sample_rate=SR, earcon_ms=120, spatial="hrtf")
    out = open_sink(cfg, tmp_path / "alerts.wav")
    sp = Speaker(cfg, TTSConfig(backend="none"), out)
    sp.announce(Alert(0, 1.0, 10**9, 1, "perpetrator", 60.0, 2, 2, "x"), Decision(True, False, "speak"), 1.0)
    sp.close()
    assert sp.spatializer.mode == "hrtf" and sp.spatializer.panned_while_loading == 0
    assert measure_itd_us(out.file_sink.render()[int(1.0 * SR) :], SR) > 300.0
