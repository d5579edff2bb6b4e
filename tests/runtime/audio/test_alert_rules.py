"""Alert rules a listener can live with (runtime/audio/policy.py), on a fake clock, and the demo's
double utterance ("approaching" then, 133 ms later, "approaching fast") heard as one."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import AlertsConfig, AudioConfig, TTSConfig, load_config
from ego360.core.packets import Alert
from ego360.runtime.audio.policy import AlertPolicy, Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker

NS = 1_000_000_000
SR = 16000


def alert(entity: int = 1, priority: int = 2, t: float = 0.0, bearing: float = 176.0, text: str = "person") -> Alert:
    from ego360.core.geometry import clock_hour

    return Alert(0, t, int(t * NS), entity, "perpetrator", bearing, clock_hour(bearing), priority, text)


def ns(t: float) -> int:
    return int(round(t * NS))


def test_escalation_during_the_hold_replaces_the_held_alert():
    """The demo's pair: priority 2 at 2.4667 s, priority 3 (danger) at 2.6 s → only the escalation, at once."""
    pol = AlertPolicy(AlertsConfig())  # hold 0.15 s, danger = 3
    assert pol.decide(alert(1, 2, 2.4667, text="approaching"), ns(2.4667)).reason == "held"
    assert pol.release(ns(2.55)) == []  # still holding
    d = pol.decide(alert(1, 3, 2.6, text="approaching fast"), ns(2.6))
    assert (d.speak, d.interrupt, d.reason) == (True, False, "speak")  # danger skips the hold
    assert d.held_ns == ns(2.6) - ns(2.4667)
    assert pol.flush() == []  # the first one is gone, never spoken
    c = pol.counters
    assert (c.considered, c.held, c.replaced_held, c.spoken, c.interrupts) == (2, 1, 1, 1, 0)


def test_held_alert_is_released_after_exactly_the_hold():
    pol = AlertPolicy(AlertsConfig(hold_s=0.15))
    assert pol.decide(alert(1, 2, 1.0), ns(1.0)).reason == "held"
    assert pol.next_due_ns() == ns(1.15)
    assert pol.release(ns(1.149)) == []
    (r,) = pol.release(ns(1.15))
    assert r.decision.speak and r.decision.reason == "speak" and r.wait_ns == ns(0.15)
    assert r.decision.held_ns == ns(0.15)


def test_non_danger_escalation_keeps_the_first_due_time():
    pol = AlertPolicy(AlertsConfig(hold_s=0.15))
    pol.decide(alert(1, 1, 0.0, text="moving"), 0)
    assert pol.decide(alert(1, 2, 0.1, text="approaching"), ns(0.1)).reason == "held"  # replaces, not re-held
    assert pol.decide(alert(1, 2, 0.12, text="approaching again"), ns(0.12)).reason == "coalesced"
    (r,) = pol.release(ns(0.15))  # the hold never grows
    assert r.alert.text == "approaching" and r.wait_ns == ns(0.05)
    assert (pol.counters.replaced_held, pol.counters.dropped_coalesced) == (1, 1)


def test_escalation_just_after_the_earcon_replaces_the_words_later_one_interrupts():
    pol = AlertPolicy(AlertsConfig(hold_s=0.15, escalation_window_s=0.3))
    pol.decide(alert(1, 1, 0.0), 0)
    (r,) = pol.release(ns(0.15))  # earcon at 0.15 s; the utterance runs ~1 s
    d = pol.decide(alert(1, 2, 0.4, text="approaching"), ns(0.4))  # 0.25 s after it began
    assert d == Decision(True, False, "replace", replace=True)
    pol2 = AlertPolicy(AlertsConfig(hold_s=0.15, escalation_window_s=0.3))
    pol2.decide(alert(1, 1, 0.0), 0)
    pol2.release(ns(0.15))
    assert pol2.decide(alert(1, 2, 0.5, text="approaching"), ns(0.5)).reason == "held"  # 0.35 s: too late
    (r2,) = pol2.release(ns(0.65))
    assert r2.decision.interrupt  # still one at a time: the new one cuts in with its own earcon
    assert (pol.counters.replaced_speech, pol2.counters.replaced_speech, pol2.counters.interrupts) == (1, 0, 1)


def test_same_fact_is_throttled_beyond_the_cooldown():
    pol = AlertPolicy(AlertsConfig(hold_s=0.0, cooldown_s=1.0, repeat_s=10.0))
    assert pol.decide(alert(1, 2, 0.0, bearing=90.0), 0).speak  # 3 o'clock
    assert pol.decide(alert(1, 2, 2.0, bearing=91.0), ns(2.0)).reason == "repeat"  # same entity, level, hour
    assert pol.decide(alert(1, 2, 4.0, bearing=180.0), ns(4.0)).speak  # it moved to 6 o'clock: a new fact
    assert pol.decide(alert(2, 2, 6.0, bearing=90.0), ns(6.0)).speak  # another entity
    assert pol.decide(alert(1, 2, 10.5, bearing=90.0), ns(10.5)).speak  # 10.5 s later: may be said again
    assert pol.counters.dropped_repeat == 1


def test_stale_alerts_are_dropped_counting_the_hold():
    pol = AlertPolicy(AlertsConfig(hold_s=0.15, stale_s=0.2))
    assert pol.decide(alert(1, 2, 0.0), ns(0.1)).reason == "stale"  # 0.1 s old + 0.15 s hold > 0.2 s
    assert pol.decide(alert(2, 2, 1.0), ns(1.0)).reason == "held"
    assert pol.decide(alert(3, 3, 0.0), ns(0.25)).reason == "stale"  # danger, no hold, but 0.25 s old
    assert pol.counters.dropped_stale == 2


def test_one_utterance_at_a_time_queue_and_interrupt():
    pol = AlertPolicy(AlertsConfig(hold_s=0.15, stale_s=5.0))
    pol.decide(alert(1, 2, 0.0, text="a person is walking towards you from the left"), 0)
    pol.release(ns(0.15))  # speaking until ~3.5 s
    pol.decide(alert(2, 2, 0.2, text="bike"), ns(0.2))
    (r,) = pol.release(ns(0.35))
    assert r.decision.reason == "queued"  # waits behind the first
    assert pol.decide(alert(3, 3, 0.4, text="car"), ns(0.4)).reason == "interrupt"


def test_mute_gate_lets_only_danger_through():
    floor = [(3, "muted")]
    pol = AlertPolicy(AlertsConfig(hold_s=0.0), gate=lambda: floor[0])
    assert pol.decide(alert(1, 2, 0.0), 0).reason == "muted"
    assert pol.decide(alert(1, 3, 0.1), ns(0.1)).speak
    floor[0] = (3, "verbosity")
    assert pol.decide(alert(2, 1, 8.0), ns(8.0)).reason == "verbosity"
    c = pol.counters
    assert (c.dropped_muted, c.dropped_verbosity, c.spoken) == (1, 1, 1)


class GatedTTS:
    """Stands in for the TTS worker: records texts, answers with a 0.3 s tone when `finish()` is called."""

    def __init__(self) -> None:
        self._cfg = TTSConfig()
        self.waiting: list = []
        self.texts: list[str] = []
        self.stats = None

    def submit(self, text, callback=None):
        self.waiting.append((text, callback))

    def finish(self) -> None:
        for text, cb in self.waiting:
            self.texts.append(text)
            cb(np.full(int(0.3 * SR), 0.2, np.float32))
        self.waiting = []

    def close(self) -> None:
        self.finish()


def test_speaker_replace_keeps_one_earcon_and_says_only_the_escalation(tmp_path: Path):
    cfg = AudioConfig(sink="file", sample_rate=SR, earcon_ms=120, spatial="pan")
    out = open_sink(cfg, tmp_path / "alerts.wav")
    tts = GatedTTS()
    sp = Speaker(cfg, TTSConfig(), out, tts=tts)
    sp.announce(alert(1, 2, 1.0, text="approaching"), Decision(True, False, "speak"), 1.0)
    sp.announce(alert(1, 3, 1.2, text="approaching fast"), Decision(True, False, "replace", replace=True), 1.2)
    sp.close()
    st = sp.stats
    assert (st.announced, st.replaced, st.speech_played, st.speech_cancelled) == (1, 1, 1, 1)
    x = np.abs(out.file_sink.render()).max(axis=1)
    (onset,) = sound_starts(x, SR, 1e-3)  # one earcon, the speech right after it (no gap, no second earcon)
    assert onset == pytest.approx(1.0, abs=0.006)  # the earcon's 5 ms fade-in
    assert len(x) == int(1.0 * SR) + int(0.12 * SR) + int(0.3 * SR)
    assert sp.last_alert.text == "approaching fast"


def sound_starts(level: np.ndarray, sr: int, threshold: float) -> list[float]:
    """Start times (s) of the sounds in a level trace: a sound starts after 50 ms below `threshold`."""
    starts, last = [], -sr
    for i in np.flatnonzero(level > threshold):
        if i - last > 0.05 * sr:
            starts.append(i / sr)
        last = i
    return starts


def _sounding_s(wav: Path) -> float:
    """How long the WAV is audible: with tts.backend=none only earcons (120 ms each) sound."""
    with wave.open(str(wav)) as w:
        sr = w.getframerate()
        x = np.abs(np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)).max(axis=1)
    loud = np.flatnonzero(x > 50)
    gaps = np.diff(loud)
    return float(np.sum(gaps[gaps <= 0.005 * sr]) / sr)  # the sounding spans, bridging zero crossings


@pytest.mark.parametrize("rules,expected", [
    ([], ["Behind you, 6 o'clock: person approaching fast."]),
    (["alerts.hold_s=0", "alerts.escalation_window_s=0"],  # the rules before: two utterances
     ["Behind you, 6 o'clock: person approaching.", "Behind you, 6 o'clock: person approaching fast."]),
])
def test_demo_double_utterance_becomes_one(tmp_path: Path, rules: list[str], expected: list[str]):
    from ego360.core.geometry import Mounting
    from ego360.runtime.session import run_session
    from ego360.tools.scenario.source import ScenarioSource

    cfg = load_config(None, ["runner.process_every=2", "output.annotated_video=false", "audio.sink=file",
                             "tts.backend=none", *rules])
    res = run_session(cfg, ScenarioSource("stealing", width=960, height=480, seed=0), tmp_path, Mounting())
    assert [a["text"] for a in res.alerts] == expected
    assert _sounding_s(tmp_path / "alerts.wav") == pytest.approx(0.12 * len(expected), abs=0.03)  # earcons heard
    policy = res.summary["alerts"]["policy"]
    if not rules:
        assert (policy["held"], policy["replaced_held"], policy["spoken"]) == (1, 1, 1)
        assert abs(res.alerts[0]["video_t"] - 2.6) < 0.01  # at its own frame: danger did not wait


def test_muted_while_held_is_not_spoken():
    floor = [(0, "")]
    pol = AlertPolicy(AlertsConfig(hold_s=0.15), gate=lambda: floor[0])
    assert pol.decide(alert(1, 2, 0.0), 0).reason == "held"
    floor[0] = (3, "muted")
    (r,) = pol.release(ns(0.2))
    assert r.decision.reason == "muted" and pol.counters.dropped_muted == 1 and pol.counters.spoken == 0
