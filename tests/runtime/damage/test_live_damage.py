"""Issue 14 item 0 acceptance, small: a scenario streamed over UDP (MPEG-4 in MPEG-TS, `ffmpeg -re`),
`ego360 live`'s session joining after the stream started, with and without 5 % of datagrams dropped by a
relay. Every alert's clock hour is within 1 h of the ground truth and of `ego360 replay` of the same clip,
the event is announced as in the replay, and no alert comes from a frame marked damaged.

The live runs here block instead of dropping the oldest frame (`runner.live_policy=block`): how many frames
a loaded 2-core box drops is a speed question (the closing-note measurement runs the real live policy);
these tests isolate what damage does, so live and replay see the same frames but for the damage.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from tests.runtime.damage.harness import LIVE_AS_REPLAY, Replay, check_alerts, render, replay_alerts, run_live

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI to stream")




@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live-damage")


@functools.cache
def _replay(root: Path, name: str) -> tuple[Path, Replay]:
    clip = render(name, root / name)
    return clip, replay_alerts(clip, root / f"{name}-replay")


def _check(clip: Path, replay: Replay, run) -> None:
    assert replay, "the replay itself announced nothing; the scenario or the alert path changed"
    check_alerts(clip, replay, run)


def test_joined_mid_stream_alerts_at_the_right_clock_hour(root):
    """The issue's case: a person from behind; the session joins after the sender started."""
    clip, replay = _replay(root, "stealing")
    run = run_live(clip, root / "stealing-live", join_s=0.8, sets=LIVE_AS_REPLAY)
    health = run.summary["source_health"]
    assert health["pts_origin_s"] > 0.2, "the session did not join mid-stream"
    _check(clip, replay, run)


def test_five_percent_datagram_loss_alerts_at_the_right_clock_hour(root):
    clip, replay = _replay(root, "collide")
    run = run_live(clip, root / "collide-live-loss", drop=0.05, join_s=0.8, seed=2, sets=LIVE_AS_REPLAY)
    health = run.summary["source_health"]
    assert run.datagrams_dropped > 0 and health["corrupt_packets"] + health["skipped_corrupt"] > 0
    assert run.summary["stage_counters"]["trigger"]["frames_quieted"] >= run.damaged_frames > 0
    _check(clip, replay, run)
