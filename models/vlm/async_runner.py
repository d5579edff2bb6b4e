"""Keep the VLM off the frame loop: the first alert never waits, late or failed answers change nothing.

Built on `ego360.core.deadline.DeadlineWorker` (shared with grounding), keyed by entity id. The frame loop only
calls `submit`/`caption` (never blocks) and `poll` (never blocks); a VLM caption is released only
when it arrived within the deadline and the entity was not forgotten in the meantime.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from ego360.core.deadline import DeadlineCounts, DeadlineWorker
from ego360.core.interfaces import Captioner
from ego360.core.packets import Caption, CaptionRequest

VLMStats = DeadlineCounts  # run-summary counters, see DeadlineCounts


def measured_caption(request: CaptionRequest) -> Caption:
    """The caption the wearer hears right away: the template's, or the measured hints if none."""
    if request.template is not None:
        return request.template
    return Caption(entity_id=request.entity_id, frame_index=request.frame_index, role=request.role,
                   appearance=request.appearance_hint or request.kind, motion=request.motion_hint,
                   speech="", source="template")


class AsyncCaptioner:
    """Wraps a blocking Captioner; at most one request in flight per entity, newest request wins."""

    is_vlm = False  # the wrapper itself never blocks

    def __init__(self, backend: Captioner, deadline_s: float, workers: int = 1,
                 is_relevant: Callable[[Caption], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.backend = backend
        self.deadline_s = float(deadline_s)
        accept = (lambda _eid, c: is_relevant(c)) if is_relevant is not None else None
        self._worker: DeadlineWorker[int, Caption] = DeadlineWorker(
            deadline_s, workers, name="vlm", accept=accept, clock=clock)

    def submit(self, request: CaptionRequest) -> None:
        """Queue a request; a queued, not yet started request for the same entity is replaced."""
        self._worker.submit(request.entity_id, lambda: self.backend.caption(request))

    def caption(self, request: CaptionRequest) -> Caption:
        """Captioner interface: the measured caption now; the VLM's arrives later through poll()."""
        self.submit(request)
        return measured_caption(request)

    def poll(self) -> list[Caption]:
        """VLM captions that arrived in time since the last poll (source="vlm")."""
        return [dataclasses.replace(c, source="vlm") for _, c in self._worker.poll()]

    def forget(self, entity_id: int) -> None:
        """The entity's event is over: drop its queued request and discard an answer still coming."""
        self._worker.forget(entity_id)

    def stats(self) -> VLMStats:
        return self._worker.counts()

    def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or in flight (end of a replay); True if it got there."""
        return self._worker.drain(timeout_s)

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop taking work; queued requests are dropped, a running one is left to finish in its thread."""
        self._worker.close(timeout_s)
