"""The trigger stage: frame → `Work` with the anomaly score, cue and bearing."""

from __future__ import annotations

from ego360.core.packets import FramePacket, Work
from ego360.models.trigger import Trigger


class TriggerStage:
    """Frame → Work with the anomaly score (the trigger keeps its own motion history)."""

    name = "trigger"

    def __init__(self, trigger: Trigger) -> None:
        self.trigger = trigger

    def process(self, packet: FramePacket) -> Work:
        return Work(packet=packet, trigger=self.trigger.process(packet))
