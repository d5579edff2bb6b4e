"""Trigger: hysteresis, ego-rotation compensation, registry, and the acceptance targets on scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.config import TriggerConfig
from ego360.core.errors import ConfigError, ModelError
from ego360.core.geometry import Mounting, clock_hour
from ego360.models.event_state import EventStateMachine
from ego360.models.motion import MotionAnalyzer
from ego360.models.registry import TRIGGERS
from ego360.models.registry import create_trigger as make_trigger
from ego360.models.trigger import MotionTrigger
from tests.models.scenario_onsets import scenario_onsets

EVENTS = ["stealing", "teasing", "glancing", "collide", "threaten", "throw", "traffic", "stealing_other"]
NORMAL = ["normal_passersby", "normal_turning"]


def test_state_machine_needs_a_run_to_start_and_to_stop():
    sm = EventStateMachine(0.5, 0.3, min_on_frames=2, min_off_frames=3)
    states = [sm.update(s).state for s in [0.9, 0.1, 0.9, 0.9, 0.4, 0.2, 0.2, 0.45, 0.2, 0.2, 0.2, 0.0]]
    assert states == ["idle", "idle", "idle", "onset", "ongoing", "ongoing", "ongoing", "ongoing",
                      "ongoing", "ongoing", "offset", "idle"]


def test_state_machine_event_ids_increase_and_clear_when_idle():
    sm = EventStateMachine(0.5, 0.3, min_on_frames=1, min_off_frames=1)
    steps = [sm.update(s) for s in [0.9, 0.0, 0.0, 0.9, 0.0]]
    assert [s.event_id for s in steps] == [0, 0, None, 1, 1]


def test_state_machine_rejects_off_above_on():
    with pytest.raises(ValueError):
        EventStateMachine(0.3, 0.5)


def test_registry_names_and_errors(tmp_path):
    assert set(TRIGGERS) == {"motion", "onnx"}
    with pytest.raises(ConfigError, match="motion"):
        make_trigger(TriggerConfig(backend="nope"))
    with pytest.raises(ModelError):
        make_trigger(TriggerConfig(backend="onnx", onnx_path=str(tmp_path / "missing.onnx")))
    assert isinstance(make_trigger(TriggerConfig()), MotionTrigger)


def test_ego_rotation_is_measured_and_cancelled(synth):
    """The wearer turning 25°/s in an empty street: yaw is recovered and nothing moves."""
    scene = synth.SynthScene(960, [], ego_rate_dps=25.0, num_frames=60)
    ma = MotionAnalyzer()
    for i in range(0, 60, 2):
        mf = ma.analyze(scene.packet(i))
        if mf.warm:
            assert mf.blobs == (), f"frame {i}: turning produced foreground"
    assert mf.ego_yaw_deg == pytest.approx(25.0 * 58 / 30.0, abs=1.0)


def _onsets(scene, mounting=None):
    trig = MotionTrigger(TriggerConfig(), mounting)
    return [(i, r.bearing_deg) for i in range(0, scene.num_frames, 2)
            if (r := trig.process(scene.packet(i))).state == "onset"]


def test_synthetic_approach_from_behind_triggers_on_time_and_bearing(synth):
    scene = synth.approach_scene(960, from_yaw=150.0)
    onsets = _onsets(scene)
    assert onsets, "no onset for a person walking up from behind"
    frame, bearing = onsets[0]
    assert 45 <= frame <= 45 + 30
    assert abs(clock_hour(bearing) - clock_hour(150.0)) <= 1


def test_synthetic_passersby_while_turning_stay_silent(synth):
    assert _onsets(synth.passersby_scene(960, ego_rate_dps=25.0)) == []


def test_bearing_uses_the_mounting(synth):
    scene = synth.approach_scene(960, from_yaw=150.0)
    frame, bearing = _onsets(scene, Mounting(yaw_offset_deg=90.0))[0]
    assert abs(((bearing - 60.0) + 180.0) % 360.0 - 180.0) < 20.0


@pytest.mark.parametrize("name", EVENTS)
def test_scenario_event_triggers_within_1s_at_the_right_clock_hour(name):
    onsets, sc = scenario_onsets(name)
    ev = sc.gt_header().events[0]
    on_time = [(f, b) for f, b, _cue in onsets if ev.start_frame <= f <= ev.end_frame]
    assert on_time, f"{name}: no onset during the event (onsets {onsets})"
    frame, bearing = on_time[0]
    assert (frame - ev.start_frame) / sc.fps <= 1.0, f"{name}: onset {frame} too late for start {ev.start_frame}"
    truth = sc.geometry(frame)[ev.perpetrator][0]
    diff = abs(clock_hour(bearing) - clock_hour(truth)) % 12
    assert min(diff, 12 - diff) <= 1, f"{name}: clock {clock_hour(bearing)} vs truth {clock_hour(truth)}"


@pytest.mark.parametrize("name", NORMAL)
def test_scenario_normal_scene_stays_silent(name):
    onsets, _sc = scenario_onsets(name)
    assert onsets == ()


def test_score_is_bounded(synth):
    trig = MotionTrigger(TriggerConfig())
    scene = synth.approach_scene(960)
    scores = [trig.process(scene.packet(i)).score for i in range(0, scene.num_frames, 4)]
    assert all(0.0 <= s <= 1.0 for s in scores) and max(scores) > 0.5
    assert np.isfinite(scores).all()
