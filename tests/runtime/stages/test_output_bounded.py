"""The output stage keeps a bounded window of capture→output latencies (a day-long live run must not
grow a list by one float per frame) and the window holds the most recent frames."""

from __future__ import annotations

import time

import numpy as np

from ego360.core.packets import FramePacket, TriggerResult, Work
from ego360.runtime.stages import output


class _Events:
    def frame(self, *args, **kwargs) -> None:
        pass

    def track(self, *args) -> None:
        pass


def test_latency_window_is_bounded_and_recent(monkeypatch):
    monkeypatch.setattr(output, "LATENCY_WINDOW", 5)
    stage = output.OutputStage(_Events(), None)
    img = np.zeros((4, 8, 3), np.uint8)
    now = time.monotonic_ns()
    for i in range(12):
        # frame i was captured (12 - i) seconds ago: later frames have smaller latencies
        p = FramePacket(i, i / 30.0, now - (12 - i) * 1_000_000_000, img)
        stage.process(Work(p, TriggerResult(i, 0.0, None, "none", "idle")))
    assert len(stage.latencies_ms) == 5
    assert max(stage.latencies_ms) < 5_500  # frames 7..11 only (5 s ago at most)
