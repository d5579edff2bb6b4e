"""The trigger stage: frame → `Work` with the anomaly score, cue and bearing.

It also owns what happens after damaged input (see `ego360.runtime.sources.damage`): a frame that
comes after a long discontinuity (a stream joined or reconnected, frames skipped for damage, a stalled
camera, a whole new picture) re-warms the motion model — the shared background model is reset and the
trigger rebuilt through the registry — and for `rewarm_s` of video time after that, and on every frame
marked `damaged`, the stage passes a quiet result on, so no alert can come from damage or from a model
that has not yet re-learnt the scene. Consecutive frames that all carry the mark (the converge policy marks
`CONVERGE_MARK_S` of them, so a live queue that drops one still passes another) are one discontinuity: the
model is re-warmed on the first, not reset again on each (which restarted the quiet time every frame and
kept a 0.8 s clean stretch silent).
"""

from __future__ import annotations

from typing import Any

from ego360.core.packets import FramePacket, TriggerResult, Work
from ego360.models.trigger import Trigger


def _quiet(result: TriggerResult) -> TriggerResult:
    return TriggerResult(result.frame_index, 0.0, None, "none", "idle", None)


class TriggerStage:
    """Frame → Work with the anomaly score (the trigger keeps its own motion history)."""

    name = "trigger"

    def __init__(self, trigger: Trigger, *, rewarm_gap_s: float = 0.5, rewarm_s: float = 1.0) -> None:
        self.trigger = trigger
        self.rewarm_gap_s = float(rewarm_gap_s)
        self.rewarm_s = float(rewarm_s)
        self.rewarms = 0
        self.quieted = 0  # frames whose result was withheld (damaged or re-warming)
        self._quiet_until: float | None = None
        self._seen = False
        self._marked = False  # the previous frame carried a re-warm mark

    def _rebuild(self) -> None:
        """A fresh trigger on a reset background model, built the way the session built the first one
        (registry + the same shared MotionAnalyzer), so the tracker and entity stage keep sharing it."""
        from ego360.models.registry import create_trigger

        trigger: Any = self.trigger
        motion = getattr(trigger, "motion", None)
        if motion is not None and hasattr(motion, "reset"):
            motion.reset()
        cfg, mounting = getattr(trigger, "cfg", None), getattr(trigger, "mounting", None)
        if cfg is not None:
            self.trigger = create_trigger(cfg, mounting, **({"motion": motion} if motion is not None else {}))

    def process(self, packet: FramePacket) -> Work:
        marked = packet.discontinuity and self._seen and packet.gap_s >= self.rewarm_gap_s
        if marked and not self._marked:
            self._rebuild()
            self.rewarms += 1
            self._quiet_until = packet.video_t + self.rewarm_s
        self._seen, self._marked = True, marked
        result = self.trigger.process(packet)
        if packet.damaged or (self._quiet_until is not None and packet.video_t < self._quiet_until):
            self.quieted += 1
            result = _quiet(result)
        return Work(packet=packet, trigger=result)

    def counters(self) -> dict[str, int]:
        return {"rewarms": self.rewarms, "frames_quieted": self.quieted}
