"""The motion trigger with a walking wearer (issue 13), frame by frame on the scenario generator's world
with depth: a collision course and a snatch are announced during the event at the right clock hour, and
ordinary walks (passers-by, a crowd of eight, poles beside the path) stay silent.

Seed 0 of each class, 12 s at 960×480, every second frame (as `runner.process_every=2`). These guard the
trigger's walking path in CI; the held-out figures against the issue's targets come from `ego360 eval`
(README "Walking: where it stands")."""

from __future__ import annotations

import pytest

from ego360.core.geometry import clock_hour
from tests.models.scenario_onsets import scenario_onsets

# The onset may come this late after the labelled start. The target is 0.5 s; these clips measure
# 0.93 s (collide 0), 0.8 s and 1.4 s (steal 0, 1), so 2 s catches a trigger that got much slower.
MAX_DELAY_S = 2.0


@pytest.mark.parametrize(("name", "seed"), [("walk_collide", 0), ("walk_steal", 0), ("walk_steal", 1)])
def test_walking_event_is_announced_in_time_at_the_perpetrators_clock_hour(name, seed):
    onsets, sc = scenario_onsets(name, seed, 12.0)
    assert sc.gt_header().events, f"{name} {seed}: the scenario lost its event"
    ev = sc.gt_header().events[0]
    during = [o for o in onsets if ev.start_frame <= o[0] <= ev.end_frame]
    assert during, f"{name} {seed}: no onset during frames {ev.start_frame}–{ev.end_frame} (onsets {onsets})"
    frame, bearing, _cue = during[0]
    assert (frame - ev.start_frame) / sc.fps <= MAX_DELAY_S, f"onset {frame} for start {ev.start_frame}"
    truth = sc.geometry(frame)[ev.perpetrator][0]
    diff = abs(clock_hour(bearing) - clock_hour(truth)) % 12
    assert min(diff, 12 - diff) <= 1, f"clock {clock_hour(bearing)} (bearing {bearing:.0f}) vs truth {truth:.0f}"
    early = [o for o in onsets if o[0] < ev.start_frame]
    assert early == [], f"false onsets before the event: {early}"


@pytest.mark.parametrize(("name", "seed"), [("walk_street", 0), ("walk_street", 1), ("walk_past_poles", 0),
                                            ("walk_crowd", 0)])
def test_ordinary_walk_stays_silent(name, seed):
    onsets, sc = scenario_onsets(name, seed, 12.0)
    assert not sc.gt_header().events
    assert onsets == ()
