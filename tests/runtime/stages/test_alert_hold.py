"""The alert stage's hold, live: a held alert is spoken by a timer at its due time even when no frame
arrives, and an escalation within the hold replaces it; controls wired into a whole replay run."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.request
from pathlib import Path

import numpy as np

from ego360.core.config import load_config
from ego360.core.packets import Alert, FramePacket, TriggerResult, Work
from ego360.models.captioner_template import TemplateCaptioner
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker
from ego360.runtime.services.events_log import EventLog, read_events
from ego360.runtime.stages.alerts import AlertStage


def _stage(tmp_path: Path) -> AlertStage:
    cfg = load_config(None, ["audio.sink=file", "tts.backend=none", "audio.spatial=pan", "alerts.hold_s=0.15"])
    speaker = Speaker(cfg.audio, cfg.tts, open_sink(cfg.audio, tmp_path / "alerts.wav"))
    return AlertStage(cfg, EventLog(tmp_path / "events.jsonl"), speaker, TemplateCaptioner(), live=True)


def _work(frame: int, video_t: float) -> tuple[Work, int]:
    capture = time.monotonic_ns()
    packet = FramePacket(frame, video_t, capture, np.zeros((4, 8, 3), np.uint8))
    return Work(packet, TriggerResult(frame, 0.9, 90.0, "approach", "ongoing")), capture


def test_live_held_alert_is_spoken_by_the_timer_after_the_hold(tmp_path: Path):
    stage = _stage(tmp_path)
    work, capture = _work(1, 0.5)
    a = Alert(1, 0.5, capture, 7, "perpetrator", 90.0, 3, 2, "On your right, 3 o'clock: person approaching.")
    assert stage._speak(work, a) == "held"
    assert stage.alert_lines == []
    time.sleep(0.6)  # no further frame: only the timer can release it
    (line,) = stage.alert_lines
    assert line["decision"] == "speak" and line["text"] == a.text
    assert 150 <= line["latency_ms"] < 450  # the hold, plus a timer's wake-up on a busy machine
    assert line["video_t"] == 0.65  # on the WAV at its due time
    stage.close()
    (ev,) = [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "alert"]
    assert ev["held_ms"] == 150.0


def test_live_escalation_within_the_hold_is_the_only_alert(tmp_path: Path):
    stage = _stage(tmp_path)
    work, capture = _work(1, 0.5)
    stage._speak(work, Alert(1, 0.5, capture, 7, "perpetrator", 176.0, 6, 2, "approaching"))
    time.sleep(0.05)
    work2, capture2 = _work(3, 0.566)
    assert stage._speak(work2, Alert(3, 0.566, capture2, 7, "perpetrator", 176.0, 6, 3, "approaching fast")) == \
        "spoken"
    time.sleep(0.4)
    stage.close()
    assert [line["text"] for line in stage.alert_lines] == ["approaching fast"]
    assert stage.policy.counters.replaced_held == 1


def test_replay_with_the_control_api(tmp_path: Path):
    """Verbosity "danger" set through the HTTP API before the run: the priority-2 alert is not said."""
    from ego360.core.geometry import Mounting
    from ego360.runtime.session import run_session
    from ego360.tools.scenario.source import ScenarioSource

    cfg = load_config(None, ["runner.process_every=2", "output.annotated_video=false", "audio.sink=file",
                             "tts.backend=none", "control.port=0", "control.token=t0k", "control.media_button=false",
                             "alerts.hold_s=0", "alerts.escalation_window_s=0"])  # the old rules: two alerts
    seen = {}

    def ready(control) -> None:
        req = urllib.request.Request(f"{control.server.url}/api/verbosity", method="POST",
                                     data=json.dumps({"level": "danger"}).encode(),
                                     headers={"Authorization": "Bearer t0k"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            seen["state"] = json.loads(resp.read())["state"]

    res = run_session(cfg, ScenarioSource("stealing", width=960, height=480, seed=0), tmp_path, Mounting(),
                      controls=True, on_controls=ready)
    assert seen["state"]["verbosity"] == "danger"
    assert [a["text"] for a in res.alerts] == ["Behind you, 6 o'clock: person approaching fast."]
    policy = res.summary["alerts"]["policy"]
    assert policy["dropped_verbosity"] >= 1 and policy["spoken"] == 1  # (retried on the next frame, dropped again)
    ctl = res.summary["control"]
    assert ctl["actions"] == {"verbosity": 1} and ctl["http"]["requests"] == 1 and ctl["keys"] is None


def test_verbosity_captions_speaks_a_new_entity_caption(tmp_path: Path):
    from ego360.core.packets import Box, EntityUpdate, Track

    stage = _stage(tmp_path)
    stage.live = False
    track = Track(5, 1, "none", np.ones((4, 8), bool), Box(0, 0, 8, 4), -90.0, 0.0, kind="person")

    def frame(i: int, t: float) -> Work:
        w, _ = _work(i, t)
        ents = EntityUpdate(i, (dataclasses.replace(track, frame_index=i),), (5,) if i == 1 else (), (), ())
        return dataclasses.replace(w, trigger=TriggerResult(i, 0.0, None, "none", "idle"), entities=ents)

    stage.process(frame(1, 1.0))
    stage.process(frame(2, 1.2))
    assert stage.alert_lines == []  # alerts only: a new caption is not said
    stage.speak_captions = lambda: True
    stage.captions.clear()  # the entity's caption is made again, as for a new entity
    stage.process(frame(3, 1.4))
    stage.process(frame(4, 1.6))  # after the hold
    stage.close()
    (line,) = stage.alert_lines
    assert line["text"] == stage.captions[5].speech and "9 o'clock" in line["text"]
