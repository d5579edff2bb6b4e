"""Runner: bounded queues with named overflow policies, counted drops, per-stage timing."""

from __future__ import annotations

import threading
import time

import pytest

from ego360.runtime.pipeline import BoundedQueue, OverflowPolicy, Runner


def test_queue_policies_count_drops():
    q = BoundedQueue(2, "drop-oldest")
    for i in range(5):
        q.put(i)
    assert q.dropped == 3 and [q.get(0.1), q.get(0.1)] == [3, 4]
    q = BoundedQueue(2, OverflowPolicy.DROP_NEWEST)
    for i in range(5):
        q.put(i)
    assert q.dropped == 3 and [q.get(0.1), q.get(0.1)] == [0, 1]


def test_block_policy_waits_for_room():
    q = BoundedQueue(1, "block")
    q.put("a")
    done = threading.Event()
    threading.Thread(target=lambda: (q.put("b"), done.set()), daemon=True).start()
    assert not done.wait(0.3)
    assert q.get(1.0) == "a"
    assert done.wait(2.0) and q.get(1.0) == "b" and q.dropped == 0


def test_unknown_policy_rejected():
    with pytest.raises(ValueError):
        BoundedQueue(1, "drop-random")


class _Slow:
    def __init__(self, name: str, delay: float) -> None:
        self.name, self.delay, self.seen = name, delay, []

    def process(self, item):
        time.sleep(self.delay)
        self.seen.append(item)
        return item


def test_replay_blocks_and_processes_everything():
    slow = _Slow("slow", 0.002)
    out = []
    stats = Runner(range(50), [(slow, "block")], queue_size=2, sink=out.append).run()
    assert out == list(range(50)) and stats.frames_dropped == 0 and stats.frames_processed == 50
    s = stats.summary()
    assert s["stages"][1]["name"] == "slow" and s["stages"][1]["count"] == 50 and s["stages"][1]["p50_ms"] >= 1.0


def test_live_drops_oldest_before_slow_stage_and_keeps_newest():
    slow = _Slow("sam2", 0.02)
    out = []
    stats = Runner(range(200), [(slow, "drop-oldest")], queue_size=2, sink=out.append).run()
    assert stats.frames_dropped > 0
    assert stats.frames_processed + stats.frames_dropped == 200
    assert out[-1] == 199  # the newest frame always survives drop-oldest
    assert out == sorted(out)


def test_process_every_skips_not_drops():
    out = []
    stats = Runner(range(10), [(_Slow("s", 0), "block")], process_every=2, sink=out.append).run()
    assert out == [0, 2, 4, 6, 8] and stats.frames_skipped == 5 and stats.frames_dropped == 0


def test_dying_source_ends_run_cleanly():
    def source():
        yield 1
        yield 2
        raise OSError("camera unplugged")

    out = []
    stats = Runner(source(), [(_Slow("s", 0), "block")], sink=out.append).run()
    assert out == [1, 2] and "camera unplugged" in stats.source_error


def test_stage_error_counted_and_run_goes_on():
    class Flaky:
        name = "flaky"

        def process(self, item):
            if item == 3:
                raise RuntimeError("boom")
            return item

    out = []
    stats = Runner(range(6), [(Flaky(), "block")], sink=out.append).run()
    assert out == [0, 1, 2, 4, 5] and stats.stages[1].errors == 1
