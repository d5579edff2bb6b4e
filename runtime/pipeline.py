"""Threads, bounded queues and per-stage timing: the only place in ego360 that owns threads for frames.

Each stage runs in its own thread behind a bounded queue with a named overflow policy: live input
drops the oldest waiting item before slow stages (SAM2, the VLM) so the wearer hears about *now*,
offline replay blocks so every frame is processed. Drops and timings are counted, never hidden.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ego360.core.packets import FramePacket

log = logging.getLogger(__name__)
_CLOSED = object()


class OverflowPolicy(enum.StrEnum):
    BLOCK = "block"
    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"


class Stage(Protocol):
    name: str

    def process(self, item: Any) -> Any:
        """Return the item for the next stage, or None to stop it here."""


def carry_marks(dropped: Any, successor: Any) -> Any:
    """The successor of a frame that is dropped or skipped inherits its damage marks.

    Why: a `discontinuity` (or `gap_s`) is on one frame only; a drop-oldest queue or process_every
    that loses that frame would leave the trigger learning across the gap without re-warming."""
    if not isinstance(dropped, FramePacket) or not isinstance(successor, FramePacket):
        return successor
    if not (dropped.discontinuity or dropped.gap_s > 0.0):
        return successor
    return replace(successor, discontinuity=True, gap_s=max(dropped.gap_s, successor.gap_s))


class BoundedQueue:
    """A FIFO of fixed capacity whose behaviour when full is a named policy (and counted)."""

    def __init__(self, maxsize: int, policy: OverflowPolicy | str) -> None:
        self.maxsize = max(1, int(maxsize))
        self.policy = OverflowPolicy(policy)
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.put_count = 0
        self._lost: Any = None  # a dropped newest item whose damage marks the next one inherits

    def put(self, item: Any) -> bool:
        """Enqueue; returns False when the item (or an older one) was dropped to make room."""
        with self._cond:
            self.put_count += 1
            kept = True
            while len(self._items) >= self.maxsize and not self._closed:
                if self.policy is OverflowPolicy.BLOCK:
                    self._cond.wait(0.1)
                    continue
                self.dropped += 1
                kept = False
                if self.policy is OverflowPolicy.DROP_NEWEST:
                    self._lost = item if self._lost is None else carry_marks(self._lost, item)
                    return False
                lost = self._items.popleft()
                if self._items:
                    self._items[0] = carry_marks(lost, self._items[0])
                else:
                    item = carry_marks(lost, item)
            if self._lost is not None:
                item, self._lost = carry_marks(self._lost, item), None
            self._items.append(item)
            self._cond.notify_all()
            return kept

    def get(self, timeout: float | None = None) -> Any:
        """Next item, or the module's _CLOSED sentinel once closed and drained."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items:
                if self._closed:
                    return _CLOSED
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                self._cond.wait(remaining if remaining is not None else 0.1)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


@dataclass
class StageStats:
    """Timing of one stage; a bounded window keeps memory flat on endless streams."""

    name: str
    count: int = 0
    total_s: float = 0.0
    dropped: int = 0
    errors: int = 0
    window: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=20000))

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        self.window.append(seconds)

    def summary(self) -> dict[str, float | int | str]:
        ms = np.asarray(self.window, dtype=np.float64) * 1000.0
        pct = np.percentile(ms, [50, 95, 99]) if ms.size else np.zeros(3)
        return {
            "name": self.name, "count": self.count, "dropped": self.dropped, "errors": self.errors,
            "mean_ms": round(float(ms.mean()) if ms.size else 0.0, 3),
            "p50_ms": round(float(pct[0]), 3), "p95_ms": round(float(pct[1]), 3), "p99_ms": round(float(pct[2]), 3),
        }


@dataclass
class RunStats:
    frames_read: int = 0
    frames_skipped: int = 0  # skipped on purpose by process_every, not dropped
    frames_processed: int = 0
    frames_dropped: int = 0
    wall_s: float = 0.0
    stages: list[StageStats] = field(default_factory=list)
    source_error: str | None = None
    source_health: dict[str, int] | None = None  # damage counters of a camera/stream source (`health`)
    stage_counters: dict[str, dict[str, int]] = field(default_factory=dict)  # a stage's own `counters()`

    def summary(self) -> dict[str, Any]:
        return {
            "frames_read": self.frames_read, "frames_skipped": self.frames_skipped,
            "frames_processed": self.frames_processed, "frames_dropped": self.frames_dropped,
            "wall_s": round(self.wall_s, 3),
            "processed_fps": round(self.frames_processed / self.wall_s, 3) if self.wall_s > 0 else 0.0,
            "stages": [s.summary() for s in self.stages], "source_error": self.source_error,
            "source_health": self.source_health, "stage_counters": self.stage_counters,
        }


class Runner:
    """Source thread → [queue → stage thread]* → optional sink callback (called on the last stage's thread)."""

    def __init__(
        self,
        source: Iterable[Any],
        stages: list[tuple[Stage, OverflowPolicy | str]],
        *,
        queue_size: int = 4,
        process_every: int = 1,
        sink: Callable[[Any], None] | None = None,
        on_error: str = "count",
        sync: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        self.stages = stages
        self.queues = [BoundedQueue(queue_size, policy) for _, policy in stages]
        self.process_every = max(1, int(process_every))
        self.sink = sink
        self.on_error = on_error
        self.sync = sync  # e.g. torch.cuda.synchronize: stage times then include their queued GPU work
        self.stats = RunStats(stages=[StageStats("decode")] + [StageStats(s.name) for s, _ in stages])
        self._stop = threading.Event()
        self._stage_errors: list[BaseException] = []

    def stop(self) -> None:
        """Ask the source to stop; queued work drains."""
        self._stop.set()

    def _source_loop(self) -> None:
        stats, first = self.stats, self.queues[0]
        iterator = iter(self.source)
        skipped = None
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                stats.stages[0].add(time.perf_counter() - t0)
                stats.frames_read += 1
                if skipped is not None:
                    item = carry_marks(skipped, item)
                    skipped = None
                if (stats.frames_read - 1) % self.process_every:
                    stats.frames_skipped += 1
                    skipped = item
                    continue
                first.put(item)
        except Exception as exc:  # a dying source ends the run cleanly, with the reason kept
            log.error("source failed: %s", exc)
            stats.source_error = f"{type(exc).__name__}: {exc}"
        finally:
            first.close()

    def _stage_loop(self, index: int) -> None:
        stage, _ = self.stages[index]
        inq = self.queues[index]
        outq = self.queues[index + 1] if index + 1 < len(self.queues) else None
        st = self.stats.stages[index + 1]
        try:
            while (item := inq.get()) is not _CLOSED:
                t0 = time.perf_counter()
                try:
                    out = stage.process(item)
                    if self.sync is not None:
                        self.sync()
                except Exception as exc:
                    st.errors += 1
                    log.exception("stage %s failed on an item", stage.name)
                    if self.on_error == "raise":
                        self._stage_errors.append(exc)
                        self._stop.set()
                        while inq.get() is not _CLOSED:
                            pass
                        break
                    continue
                st.add(time.perf_counter() - t0)
                if out is None:
                    continue
                if outq is not None:
                    outq.put(out)
                elif self.sink is not None:
                    self.sink(out)
        finally:
            if outq is not None:
                outq.close()

    def run(self) -> RunStats:
        """Run to the end of the source (or stop()); returns the counters."""
        t0 = time.perf_counter()
        threads = [threading.Thread(target=self._source_loop, name="ego360-source", daemon=True)]
        threads += [
            threading.Thread(target=self._stage_loop, args=(i,), name=f"ego360-{s.name}", daemon=True)
            for i, (s, _) in enumerate(self.stages)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.stop()
            for t in threads:
                t.join()
        self.stats.wall_s = time.perf_counter() - t0
        for q, st in zip(self.queues, self.stats.stages[1:], strict=True):
            st.dropped = q.dropped
        self.stats.frames_dropped = sum(q.dropped for q in self.queues)
        self.stats.frames_processed = self.stats.stages[-1].count
        health = getattr(self.source, "health", None)
        self.stats.source_health = health.summary() if health is not None else None
        self.stats.stage_counters = {s.name: s.counters() for s, _ in self.stages if hasattr(s, "counters")}
        if self.on_error == "raise" and self._stage_errors:
            raise self._stage_errors[0]
        return self.stats


@contextlib.contextmanager
def stop_on_signals(runner: Runner, close_source: Callable[[], None]) -> Iterator[dict[str, str | None]]:
    """SIGINT/SIGTERM stop the run the way the end of the source does, so every output is finalised
    (events.jsonl with its summary line, the WAV's header, the annotated video): the first signal stops
    the runner and closes the source from a helper thread (a read or a reconnect wait may be blocking);
    a second one raises KeyboardInterrupt. Yields {"signal": name or None}. Main thread only (Python's
    rule for handlers); elsewhere it does nothing."""
    got: dict[str, str | None] = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def handler(signum: int, _frame) -> None:
        if got["signal"] is not None:
            raise KeyboardInterrupt
        got["signal"] = signal.Signals(signum).name
        log.warning("%s: stopping the run and finishing its outputs (again to abort)", got["signal"])
        runner.stop()
        threading.Thread(target=close_source, name="ego360-stop", daemon=True).start()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
