"""Submit now, collect later, within a deadline: the one helper that keeps slow models off the frame loop.

Used by the VLM captioner (one job per entity) and by grounding (one job per event onset). The
frame loop only calls `submit` and `poll`, which never block; worker threads run the jobs. A result
is released only when it arrived within the deadline, its key was not forgotten meanwhile and (when
given) `accept` agrees; everything else is counted, so the run summary says what happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadlineCounts:
    """submitted; completed (released); late (past the deadline, queued or answered late); failed
    (the job raised); replaced (a queued job superseded by a newer one for the same key); stale
    (answered in time, but its key was forgotten or `accept` refused it)."""

    submitted: int = 0
    completed: int = 0
    late: int = 0
    failed: int = 0
    replaced: int = 0
    stale: int = 0


@dataclass(frozen=True)
class _Job(Generic[R]):
    run: Callable[[], R]
    submitted_at: float
    epoch: int


class DeadlineWorker(Generic[K, R]):
    """At most one job in flight per key; a newer job for a key replaces its queued one."""

    def __init__(self, deadline_s: float, workers: int = 1, name: str = "ego360-worker",
                 accept: Callable[[K, R], bool] | None = None, clock: Callable[[], float] = time.monotonic):
        self.deadline_s = float(deadline_s)
        self._n_workers = max(1, int(workers))
        self._name = name
        self._accept = accept
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: OrderedDict[K, _Job[R]] = OrderedDict()
        self._in_flight: set[K] = set()
        self._epoch: dict[K, int] = {}
        self._results: list[tuple[K, R]] = []
        self._counts = dict.fromkeys(DeadlineCounts.__dataclass_fields__, 0)
        self._threads: list[threading.Thread] = []
        self._closed = False

    # ---- frame-loop side (never blocks)

    def submit(self, key: K, run: Callable[[], R]) -> None:
        with self._cond:
            if self._closed:
                return
            self._counts["submitted"] += 1
            if self._pending.pop(key, None) is not None:
                self._counts["replaced"] += 1
            self._pending[key] = _Job(run, self._clock(), self._epoch.get(key, 0))
            while len(self._threads) < self._n_workers:
                t = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
            self._cond.notify()

    def busy(self) -> bool:
        """Something is queued or running."""
        with self._cond:
            return bool(self._pending or self._in_flight)

    def poll(self) -> list[tuple[K, R]]:
        """Results released since the last poll, in arrival order."""
        with self._cond:
            out, self._results = self._results, []
        return out

    def forget(self, key: K) -> None:
        """Drop the key's queued job and discard an answer still coming for it."""
        with self._cond:
            self._pending.pop(key, None)
            self._epoch[key] = self._epoch.get(key, 0) + 1

    def counts(self) -> DeadlineCounts:
        with self._cond:
            return DeadlineCounts(**self._counts)

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
        """Stop taking work; queued jobs are dropped, a running one is left to finish in its thread."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout_s)

    # ---- worker side

    def _next(self) -> tuple[K, _Job[R]] | None:
        with self._cond:
            while not self._closed:
                ready = next((k for k in self._pending if k not in self._in_flight), None)
                if ready is not None:
                    self._in_flight.add(ready)
                    return ready, self._pending.pop(ready)
                self._cond.wait()
        return None

    def _work(self) -> None:
        while (item := self._next()) is not None:
            key, job = item
            result, error, ran = None, None, False
            if self._clock() - job.submitted_at <= self.deadline_s:
                ran = True
                try:
                    result = job.run()
                except Exception as exc:  # noqa: BLE001 - any failure keeps what the frame loop has
                    error = exc
            self._finish(key, job, result, error, ran)

    def _finish(self, key: K, job: _Job[R], result: R | None, error: Exception | None, ran: bool) -> None:
        late = self._clock() - job.submitted_at > self.deadline_s
        with self._cond:
            self._in_flight.discard(key)
            if error is not None:
                self._counts["failed"] += 1
                log.warning("%s job for %r failed: %s", self._name, key, error)
            elif late or not ran or result is None:
                self._counts["late"] += 1
            elif self._epoch.get(key, 0) != job.epoch or (self._accept and not self._accept(key, result)):
                self._counts["stale"] += 1
            else:
                self._counts["completed"] += 1
                self._results.append((key, result))
            self._cond.notify_all()
