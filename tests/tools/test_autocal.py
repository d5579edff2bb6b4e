"""`ego360 calibrate --auto`: the mount's pitch and roll (and the height) from a rendered walk whose
camera is mounted at a known tilt, checked against the scenario's ground truth; bad clips → exit 2."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from ego360.calibration.mounting import load_mounting
from ego360.tools.cli import main

PITCH, ROLL = 5.0, -4.0
# Measured on this clip (walk_past_poles seed 7, 960×480, 3 s at 15 fps): pitch/roll within 0.2° (on
# 1920-wide clips of held-out seeds within 0.2° too; at 640 wide about 10 % of the tilt is lost).
TILT_TOL_DEG = 0.6


@pytest.fixture(scope="module")
def tilted_walk(tmp_path_factory):
    from ego360.tools.scenario.clip import render_scenario

    out = tmp_path_factory.mktemp("tilted")
    render_scenario("walk_past_poles", out, progress=False, seed=7, width=960, height=480, fps=15.0,
                    duration_s=3.0, mount_pitch_deg=PITCH, mount_roll_deg=ROLL)
    return out


def test_auto_estimates_the_mounts_pitch_and_roll_with_their_uncertainty(tilted_walk, tmp_path, capsys):
    gt = json.loads((tilted_walk / "gt.json").read_text())
    assert (gt["mount_pitch_deg"], gt["mount_roll_deg"]) == (PITCH, ROLL)  # the truth records the mount
    out = tmp_path / "mounting.toml"
    assert main(["calibrate", "--auto", str(tilted_walk / "clip.mp4"), "--yaw-offset", "10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    pitch = re.search(r"pitch ([+-][\d.]+)° ± ([\d.]+)", printed)
    roll = re.search(r"roll ([+-][\d.]+)° ± ([\d.]+)", printed)
    assert pitch and roll, printed
    assert abs(float(pitch[1]) - PITCH) <= TILT_TOL_DEG and abs(float(roll[1]) - ROLL) <= TILT_TOL_DEG, printed
    for sd in (float(pitch[2]), float(roll[2])):  # an honest uncertainty: not zero, not vague
        assert 0.1 <= sd <= 1.0, printed
    m = load_mounting(out)
    assert abs(m.pitch_deg - PITCH) <= TILT_TOL_DEG and abs(m.roll_deg - ROLL) <= TILT_TOL_DEG
    assert m.yaw_offset_deg == 10.0
    assert 1.0 <= m.height_m <= 2.2  # true 1.6 m; walking speed alone knows it to ±15 %


def test_levelling_with_the_estimate_puts_vertical_edges_upright(tilted_walk):
    """The leveller used before the height pass undoes the mount: the levelled frame's vertical edges
    meet straight above (within the head bob of that frame)."""
    import cv2

    from ego360.runtime.sources import open_source
    from ego360.tools.autocal.height import Leveller
    from ego360.tools.autocal.tilt import TiltAccumulator, frame_up, up_to_pitch_roll

    with open_source(str(tilted_walk / "clip.mp4")) as src:
        frames = [p.image for p in src]
    gt = json.loads((tilted_walk / "gt.json").read_text())
    k = 20
    bob = gt["frames"][k]["wearer"]
    acc = TiltAccumulator()
    tilted = frame_up(cv2.cvtColor(cv2.resize(frames[k], (1024, 512)), cv2.COLOR_RGB2GRAY))
    level = Leveller(PITCH, ROLL)(frames[k])
    found = frame_up(cv2.cvtColor(cv2.resize(level, (1024, 512)), cv2.COLOR_RGB2GRAY))
    assert tilted is not None and found is not None
    p0, r0 = up_to_pitch_roll(tilted.up)
    p, r = up_to_pitch_roll(found.up)
    assert math.hypot(p0 - PITCH - bob["pitch_deg"], r0 - ROLL - bob["roll_deg"]) < 1.5
    assert math.hypot(p - bob["pitch_deg"], r - bob["roll_deg"]) < 1.5
    assert acc.result().frames == 0 and not acc.result().ok  # nothing fed: no answer, not a zero tilt


def test_hand_given_values_win_over_the_estimate(monkeypatch, tmp_path, capsys):
    import ego360.tools.autocal as autocal

    fake = autocal.AutoCalibration(0.9, 0.05, "people", 3.0, 0.3, -2.0, 0.3, 100, 50, 60)
    monkeypatch.setattr(autocal, "estimate", lambda clip: fake)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    out = tmp_path / "m.toml"
    assert main(["calibrate", "--auto", str(clip), "--roll", "1.5", "--out", str(out)]) == 0
    m = load_mounting(out)
    assert (m.pitch_deg, m.roll_deg, m.height_m) == (3.0, 1.5, 0.9)
    none = autocal.AutoCalibration(1.6, math.nan, "none", 0.0, math.nan, 0.0, math.nan, 100, 0, 0)
    monkeypatch.setattr(autocal, "estimate", lambda clip: none)
    capsys.readouterr()
    assert main(["calibrate", "--auto", str(clip), "--out", str(tmp_path / "n.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nothing estimated" in err and "\n" not in err and not (tmp_path / "n.toml").exists()


def test_a_file_that_is_not_a_video_or_too_short_is_a_one_line_error(tmp_path, capsys):
    from ego360.tools.scenario.clip import encode_frame, open_writer

    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video", encoding="utf-8")
    short = tmp_path / "short.mp4"
    container, stream = open_writer(short, 64, 32, 10.0)
    for _ in range(4):
        encode_frame(container, stream, np.full((32, 64, 3), 128, np.uint8))
    encode_frame(container, stream, None)
    container.close()
    for clip in (bogus, short):
        out = tmp_path / f"{clip.stem}.toml"
        assert main(["calibrate", "--auto", str(clip), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(clip) in err, err
        assert not out.exists()
    assert main(["calibrate", "--auto", str(short), "--pitch", "120"]) == 2


def test_the_mount_tilt_is_recorded_only_when_set():
    from ego360.tools.scenario.library import build_scene

    plain = build_scene("walk_street", seed=3, width=320, height=160, duration_s=0.2)
    assert "mount_pitch_deg" not in plain.gt_header().to_dict()  # existing clips keep identical truth files
    tilted = build_scene("walk_street", seed=3, width=320, height=160, duration_s=0.2, mount_pitch_deg=-7.5)
    assert tilted.gt_header().to_dict()["mount_pitch_deg"] == -7.5
    a, b = plain.render_frame(0)[0], tilted.render_frame(0)[0]
    assert np.mean(np.abs(a.astype(int) - b.astype(int))) > 5  # the tilt is really rendered
