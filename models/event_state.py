"""Event state machine with hysteresis: a score must stay high to start an event and low to end it.

Why hysteresis: a per-frame score flickers around any single threshold, and every flicker would be a
new earcon in the wearer's ears. Two thresholds plus minimum run lengths turn the flicker into one
onset and one offset.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES: tuple[str, ...] = ("idle", "onset", "ongoing", "offset")


@dataclass(frozen=True)
class EventStep:
    state: str  # "idle" | "onset" | "ongoing" | "offset"
    event_id: int | None  # set from onset through offset


class EventStateMachine:
    """idle → onset (one frame) → ongoing → offset (one frame) → idle.

    Onset needs `min_on_frames` consecutive scores ≥ `on_threshold`; offset needs `min_off_frames`
    consecutive scores < `off_threshold`. Scores between the thresholds keep the current state.
    """

    def __init__(self, on_threshold: float, off_threshold: float, min_on_frames: int = 2, min_off_frames: int = 8):
        if off_threshold > on_threshold:
            raise ValueError(f"off_threshold {off_threshold} must not exceed on_threshold {on_threshold}")
        self.on_threshold = float(on_threshold)
        self.off_threshold = float(off_threshold)
        self.min_on_frames = max(1, int(min_on_frames))
        self.min_off_frames = max(1, int(min_off_frames))
        self.state = "idle"
        self._active = False
        self._run = 0
        self._next_id = 0
        self.event_id: int | None = None

    def update(self, score: float) -> EventStep:
        if not self._active:
            self._run = self._run + 1 if score >= self.on_threshold else 0
            if self._run >= self.min_on_frames:
                self._active, self._run = True, 0
                self.event_id, self._next_id = self._next_id, self._next_id + 1
                self.state = "onset"
            else:
                self.state, self.event_id = "idle", None
            return EventStep(self.state, self.event_id)
        self._run = self._run + 1 if score < self.off_threshold else 0
        if self._run >= self.min_off_frames:
            self._active, self._run = False, 0
            self.state = "offset"
        else:
            self.state = "ongoing"
        return EventStep(self.state, self.event_id)

    def reset(self) -> None:
        self.state, self._active, self._run, self.event_id = "idle", False, 0, None
