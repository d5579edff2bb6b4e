"""Alert audio through a real audio server (PulseAudio null sink), and the no-device fallback."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.packets import Alert
from ego360.runtime.audio.measure import measure_ild_db, measure_itd_us, woodworth_itd_us
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker

SR = 22050
SPEAK = Decision(True, False, "speak")
REPO = Path(__file__).resolve().parents[3]


def alert_at(bearing: float, text: str = "person at three o'clock") -> Alert:
    clock = round(bearing / 30.0) % 12 or 12
    return Alert(0, 0.0, time.monotonic_ns(), 1, "perpetrator", bearing, clock, 2, text)


def tts_available() -> bool:
    try:
        import pyttsx3  # noqa: F401
    except ImportError:
        return False
    return shutil.which("espeak-ng") is not None


def play_and_record(server, tmp_path: Path, bearing: float, tts: TTSConfig,
                    spatial: str = "pan") -> tuple[np.ndarray, Speaker]:
    """Record the null sink's monitor around one alert played through SounddeviceSink."""
    raw = tmp_path / f"rec_{int(bearing)}.raw"
    rec = server.record(raw, SR)
    try:
        time.sleep(0.5)  # let the capture stream run before anything plays
        cfg = AudioConfig(sink="sounddevice", sample_rate=SR, device="pulse", earcon_ms=200, spatial=spatial)
        out = open_sink(cfg)
        assert out.device_sink is not None and out.file_sink is None
        sp = Speaker(cfg, tts, out)
        assert sp.spatializer.wait_ready(30)  # live, the HRTF loads in the background (panned meanwhile)
        sp.announce(alert_at(bearing), SPEAK, 0.0)
        time.sleep(0.2)
        sp.close()  # drains the mixer, then stops the stream
        time.sleep(0.5)
    finally:
        rec.terminate()
        rec.wait(timeout=10)
    return server.read_recording(raw), sp


@pytest.mark.audio
@pytest.mark.parametrize("bearing,loud", [(90.0, 1), (-90.0, 0)], ids=["3-oclock-right", "9-oclock-left"])
def test_device_output_is_panned_by_clock(pulse_server, tmp_path: Path, bearing: float, loud: int):
    tts = TTSConfig() if tts_available() else TTSConfig(backend="none")
    x, sp = play_and_record(pulse_server, tmp_path, bearing, tts)
    assert len(x) > SR // 2, f"nothing recorded; see {pulse_server.log}"
    rms = np.sqrt(np.mean(x**2, axis=0))
    assert rms[loud] > 0.02, f"alert not heard on the monitor (rms {rms})"
    assert rms[loud] > 10 * rms[1 - loud]
    active = np.flatnonzero(np.abs(x[:, loud]) > 0.01)
    heard_s = (active[-1] - active[0]) / SR
    if tts.backend == "pyttsx3":
        assert sp.stats.speech_played == 1
        assert heard_s > 0.8  # earcon (0.2 s) followed by ~1.5 s of speech
    else:
        assert heard_s == pytest.approx(0.2, abs=0.05)


@pytest.mark.audio
@pytest.mark.skipif(importlib.util.find_spec("slab") is None, reason="slab (KEMAR HRTF data) absent")
@pytest.mark.parametrize("bearing", [60.0, -120.0], ids=["2-oclock", "8-oclock"])
def test_device_output_is_binaural(pulse_server, tmp_path: Path, bearing: float):
    """The default audio.spatial=hrtf through the real device path: the near ear hears the earcon first
    and louder (the earcon alone, so the test does not depend on espeak)."""
    x, sp = play_and_record(pulse_server, tmp_path, bearing, TTSConfig(backend="none"), spatial="hrtf")
    assert sp.spatializer.mode == "hrtf"
    active = np.flatnonzero(np.abs(x).max(axis=1) > 0.005)
    assert len(active), f"nothing recorded; see {pulse_server.log}"
    earcon = x[active[0] : active[0] + int(0.2 * SR)]
    side = 1 if bearing > 0 else -1
    assert side * measure_itd_us(earcon, SR) > 0.5 * woodworth_itd_us(bearing)
    assert side * measure_ild_db(earcon) > 3.0


def test_auto_without_device_logs_once_and_keeps_file(tmp_path: Path, caplog):
    def no_device(sample_rate: int, device: str):
        raise OSError("Error querying device -1")

    cfg = AudioConfig(sink="auto", sample_rate=16000, earcon_ms=120)
    with caplog.at_level(logging.WARNING, logger="ego360.runtime.audio"):
        out = open_sink(cfg, tmp_path / "alerts.wav", device_factory=no_device)
        sp = Speaker(cfg, TTSConfig(backend="none"), out)
        for i in range(3):
            assert sp.announce(alert_at(90.0), SPEAK, 1.0 + i) > 0
        sp.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no audio output device" in warnings[0].getMessage()
    assert out.device_sink is None and out.sinks == [out.file_sink]
    with wave.open(str(tmp_path / "alerts.wav")) as w:
        assert w.getnchannels() == 2 and w.getnframes() == 3 * 16000 + int(0.12 * 16000)


def test_explicit_sounddevice_without_device_is_a_user_error(tmp_path: Path):
    from ego360.core.errors import UserError

    def no_device(sample_rate: int, device: str):
        raise OSError("Error querying device -1")

    with pytest.raises(UserError, match="audio.sink=auto"):
        open_sink(AudioConfig(sink="sounddevice"), tmp_path / "a.wav", device_factory=no_device)


_NO_SERVER_SCRIPT = """
import json, logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker
from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.packets import Alert
cfg = AudioConfig(sink="auto", sample_rate=16000)
out = open_sink(cfg, sys.argv[1])
sp = Speaker(cfg, TTSConfig(backend="none"), out)
ns = sp.announce(Alert(0, 0.5, 1, 1, "victim", 90.0, 3, 2, "x"), Decision(True, False, "speak"), 0.5)
sp.close()
print(json.dumps({"device": out.device_sink is not None, "ns": ns}))
"""


def test_auto_with_no_audio_server_in_env_falls_back(tmp_path: Path):
    """A real PortAudio start where the audio server the environment names does not exist."""
    pytest.importorskip("sounddevice")
    env = {
        **os.environ,
        "PULSE_SERVER": f"unix:{tmp_path}/no-such-socket",
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    wav = tmp_path / "alerts.wav"
    res = subprocess.run(
        [sys.executable, "-c", _NO_SERVER_SCRIPT, str(wav)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    if got["device"]:
        pytest.skip("this machine has a sound card ALSA opens directly; nothing to fall back from")
    assert got["device"] is False and got["ns"] > 0
    assert res.stderr.count("no audio output device") == 1
    assert wav.stat().st_size > 44
