"""Shared by the trigger tests (not a test): the motion trigger's onsets on one scenario, frame by frame.

Why one helper: the standing-scene tests (`test_trigger.py`) and the walking-wearer tests
(`test_trigger_walking.py`) run the same loop — every second frame at 960×480, as
`runner.process_every=2` does — and a second copy drifted once (camera height, duration). Cached, so a
scenario that several tests read is rendered and run once per session.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from ego360.core.config import TriggerConfig
from ego360.core.geometry import Mounting
from ego360.core.packets import FramePacket
from ego360.models.trigger import MotionTrigger


@functools.cache
def scenario_onsets(name: str, seed: int = 0,
                    duration_s: float | None = None) -> tuple[tuple[tuple[int, float, str], ...], Any]:
    """((frame, bearing_deg, cue) of every onset), the scene. The trigger gets the scene's camera height
    (1.6 m standing, the walk's own, 0.8 m on a table) and yaw offset, as `ego360 calibrate` would give."""
    scen = pytest.importorskip("ego360.tools.scenario")
    sc = scen.build_scene(name, seed=seed, width=960, height=480, fps=30.0, duration_s=duration_s)
    trig = MotionTrigger(TriggerConfig(camera_height_m=sc.camera_height), Mounting(sc.yaw_offset_deg))
    out = []
    for i in range(0, sc.num_frames, 2):
        r = trig.process(FramePacket(i, i / sc.fps, i, sc.render_frame(i)[0]))
        if r.state == "onset":
            out.append((i, r.bearing_deg, r.cue))
    return tuple(out), sc
