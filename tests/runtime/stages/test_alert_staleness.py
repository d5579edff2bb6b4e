"""Staleness follows the source's pace: an unpaced replay's frames wait in full queues for as long as the
machine's load says, so their age must not drop alerts there (replays and `ego360 eval` would depend on the
load); live and paced replays drop an alert whose frame is older than `alerts.stale_s`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import load_config
from ego360.core.packets import Alert, FramePacket, SourceInfo, TriggerResult, Work
from ego360.models.captioner_template import TemplateCaptioner
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker
from ego360.runtime.services.events_log import EventLog
from ego360.runtime.stages.alerts import AlertStage


@pytest.mark.parametrize("live,paced,spoken", [(False, False, True), (False, True, False), (True, True, False)])
def test_a_frame_that_waited_3_s_is_dropped_only_when_frames_came_at_the_camera_pace(tmp_path: Path, live, paced,
                                                                                     spoken):
    cfg = load_config(None, ["audio.sink=file", "tts.backend=none", "audio.spatial=pan", "alerts.hold_s=0",
                             "alerts.stale_s=1.5"])
    speaker = Speaker(cfg.audio, cfg.tts, open_sink(cfg.audio, tmp_path / "alerts.wav"))
    stage = AlertStage(cfg, EventLog(tmp_path / "events.jsonl"), speaker, TemplateCaptioner(), live=live, paced=paced)
    capture = time.monotonic_ns() - 3_000_000_000  # decoded 3 s ago, then queued behind slow frames
    work = Work(FramePacket(40, 2.0, capture, np.zeros((4, 8, 3), np.uint8)),
                TriggerResult(40, 0.9, 90.0, "approach", "onset"))
    alert = Alert(40, 2.0, capture, 7, "perpetrator", 90.0, 3, 3, "On your right, 3 o'clock: person very close.")
    assert stage._speak(work, alert) == ("spoken" if spoken else "")
    assert stage.policy.counters.dropped_stale == (0 if spoken else 1)
    stage.close()


def test_sources_say_whether_they_are_paced(tmp_path: Path):
    from ego360.tools.scenario.source import ScenarioSource

    assert SourceInfo("x", 8, 4, 30.0, None, False).paced is False
    assert ScenarioSource("stealing", width=64, height=32, duration_s=0.2).info.paced is False
    assert ScenarioSource("stealing", width=64, height=32, duration_s=0.2, realtime=True).info.paced is True
