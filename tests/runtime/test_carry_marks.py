"""A frame dropped by a full drop-oldest/drop-newest queue or skipped by process_every hands its damage
marks (discontinuity, gap) to the next frame, so the trigger still re-warms after the gap."""

from __future__ import annotations

import numpy as np

from ego360.core.packets import FramePacket
from ego360.runtime.pipeline import BoundedQueue, OverflowPolicy, Runner, carry_marks


def _frame(i: int, **marks) -> FramePacket:
    return FramePacket(i, i / 30.0, 0, np.zeros((4, 8, 3), np.uint8), **marks)


def test_drop_oldest_passes_the_discontinuity_on():
    q = BoundedQueue(2, OverflowPolicy.DROP_OLDEST)
    q.put(_frame(0, discontinuity=True, gap_s=1.5))
    q.put(_frame(1))
    q.put(_frame(2))  # frame 0 is dropped
    first = q.get(0.1)
    assert first.frame_index == 1 and first.discontinuity and first.gap_s == 1.5
    assert not q.get(0.1).discontinuity


def test_drop_oldest_with_one_slot():
    q = BoundedQueue(1, OverflowPolicy.DROP_OLDEST)
    q.put(_frame(0, discontinuity=True))
    q.put(_frame(1))
    got = q.get(0.1)
    assert got.frame_index == 1 and got.discontinuity


def test_drop_newest_marks_the_next_accepted_frame():
    q = BoundedQueue(1, OverflowPolicy.DROP_NEWEST)
    q.put(_frame(0))
    assert not q.put(_frame(1, discontinuity=True, gap_s=0.7))  # dropped
    assert not q.get(0.1).discontinuity
    q.put(_frame(2))
    got = q.get(0.1)
    assert got.frame_index == 2 and got.discontinuity and got.gap_s == 0.7


def test_unmarked_and_foreign_items_pass_unchanged():
    f = _frame(3)
    assert carry_marks(_frame(2), f) is f
    assert carry_marks(_frame(2, discontinuity=True), "work") == "work"


class _Collect:
    name = "collect"

    def __init__(self) -> None:
        self.seen: list[FramePacket] = []

    def process(self, item):
        self.seen.append(item)
        return None


def test_process_every_skip_passes_the_discontinuity_on():
    frames = [_frame(i, discontinuity=(i == 3), gap_s=(2.0 if i == 3 else 0.0)) for i in range(8)]
    stage = _Collect()
    Runner(frames, [(stage, OverflowPolicy.BLOCK)], process_every=2).run()
    by_index = {f.frame_index: f for f in stage.seen}
    assert sorted(by_index) == [0, 2, 4, 6]
    assert by_index[4].discontinuity and by_index[4].gap_s == 2.0  # frame 3 was skipped
    assert not by_index[2].discontinuity and not by_index[6].discontinuity
