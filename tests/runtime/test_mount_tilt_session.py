"""A calibrated mounting's pitch and roll reach the motion analysis every distance comes from."""

from __future__ import annotations

import dataclasses

import pytest

from ego360.core.config import Config
from ego360.core.geometry import Mounting
from ego360.core.packets import SourceInfo
from ego360.runtime.session import build_stages


def test_the_runtime_hands_the_calibrated_tilt_to_the_motion_analysis(tmp_path):
    cfg = Config()
    cfg = dataclasses.replace(cfg, audio=dataclasses.replace(cfg.audio, sink="none"),
                              output=dataclasses.replace(cfg.output, annotated_video=False))
    info = SourceInfo("test", 960, 480, 30.0, None, False)
    stages, events, _video, alert_stage, _output = build_stages(cfg, Mounting(0.0, -8.0, 5.0, 1.4), info, tmp_path,
                                                               live=False)
    try:
        motion = stages[0][0].trigger.motion
        assert motion.tilt_deg == (-8.0, 5.0) and motion.camera_height_m == pytest.approx(1.4)
        assert stages[1][0].motion is motion  # one analysis, shared by the entity stage
    finally:
        events.close()
        alert_stage.close()
