"""Keep the VLM off the frame loop: the first alert never waits, late or failed answers change nothing.

This is an output service (like the audio sink), so it owns its worker threads. The frame loop only
calls `submit`/`caption` (never blocks) and `poll` (never blocks); a VLM caption is released only
when it arrived within the deadline and the entity was not forgotten in the meantime.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from models.captioning import Captioner, CaptionRequest
from runtime.packets import Caption

log = logging.getLogger("ego360.vlm")


@dataclass(frozen=True)
class VLMStats:
    """Run-summary counters. late: past the deadline (queued or answered late); stale: answered in time
    but the entity was forgotten meanwhile; replaced: a queued request superseded by a newer one."""

    submitted: int = 0
    completed: int = 0
    late: int = 0
    failed: int = 0
    replaced: int = 0
    stale: int = 0


@dataclass(frozen=True)
class _Job:
    request: CaptionRequest
    submitted_at: float
    epoch: int


def measured_caption(request: CaptionRequest) -> Caption:
    """The caption the wearer hears right away: the template's, or the measured hints if none."""
    if request.template is not None:
        return request.template
    return Caption(entity_id=request.entity_id, frame_index=request.frame_index, role=request.role,
                   appearance=request.appearance_hint or request.kind, motion=request.motion_hint,
                   speech="", source="template")


class AsyncCaptioner:
    """Wraps a blocking Captioner; at most one request in flight per entity, newest request wins."""

    def __init__(self, backend: Captioner, deadline_s: float, workers: int = 1,
                 is_relevant: Callable[[Caption], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.backend = backend
        self.deadline_s = float(deadline_s)
        self._n_workers = max(1, int(workers))
        self._is_relevant = is_relevant
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: OrderedDict[int, _Job] = OrderedDict()
        self._in_flight: set[int] = set()
        self._epoch: dict[int, int] = {}
        self._results: list[Caption] = []
        self._counts = {f.name: 0 for f in dataclasses.fields(VLMStats)}
        self._threads: list[threading.Thread] = []
        self._closed = False

    # ---- frame-loop side (never blocks on the VLM)

    def submit(self, request: CaptionRequest) -> None:
        """Queue a request; a queued, not yet started request for the same entity is replaced."""
        with self._cond:
            if self._closed:
                return
            self._counts["submitted"] += 1
            if self._pending.pop(request.entity_id, None) is not None:
                self._counts["replaced"] += 1
            job = _Job(request, self._clock(), self._epoch.get(request.entity_id, 0))
            self._pending[request.entity_id] = job
            self._start_workers()
            self._cond.notify()

    def caption(self, request: CaptionRequest) -> Caption:
        """Captioner interface: the measured caption now; the VLM's arrives later through poll()."""
        self.submit(request)
        return measured_caption(request)

    def poll(self) -> list[Caption]:
        """VLM captions that arrived in time since the last poll (source="vlm")."""
        with self._cond:
            out, self._results = self._results, []
        return out

    def forget(self, entity_id: int) -> None:
        """The entity's event is over: drop its queued request and discard an answer still coming."""
        with self._cond:
            self._pending.pop(entity_id, None)
            self._epoch[entity_id] = self._epoch.get(entity_id, 0) + 1

    def stats(self) -> VLMStats:
        with self._cond:
            return VLMStats(**self._counts)

    def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or in flight (end of a replay); True if it got there."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while self._pending or self._in_flight:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop taking work; queued requests are dropped, a running one is left to finish in its thread."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout_s)

    # ---- worker side

    def _start_workers(self) -> None:
        while len(self._threads) < self._n_workers:
            t = threading.Thread(target=self._work, name=f"vlm-{len(self._threads)}", daemon=True)
            self._threads.append(t)
            t.start()

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._closed:
                ready = next((eid for eid in self._pending if eid not in self._in_flight), None)
                if ready is not None:
                    self._in_flight.add(ready)
                    return self._pending.pop(ready)
                self._cond.wait()
        return None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            caption, error = None, None
            if self._clock() - job.submitted_at <= self.deadline_s:
                try:
                    caption = self.backend.caption(job.request)
                except Exception as exc:  # noqa: BLE001 - any backend failure keeps the template
                    error = exc
            self._finish(job, caption, error)

    def _finish(self, job: _Job, caption: Caption | None, error: Exception | None) -> None:
        eid = job.request.entity_id
        late = self._clock() - job.submitted_at > self.deadline_s
        with self._cond:
            self._in_flight.discard(eid)
            if error is not None:
                self._counts["failed"] += 1
                log.warning("VLM caption for entity %d failed: %s", eid, error)
            elif late or caption is None:
                self._counts["late"] += 1
            elif self._epoch.get(eid, 0) != job.epoch or (self._is_relevant and not self._is_relevant(caption)):
                self._counts["stale"] += 1
            else:
                self._counts["completed"] += 1
                self._results.append(dataclasses.replace(caption, source="vlm"))
            self._cond.notify_all()
