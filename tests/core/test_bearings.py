"""Bearings: wrapping, clock hours, VIEW360 directions, mount levelling (the mounting file and
`ego360 calibrate` are in tests/calibration/test_mounting.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.geometry import Mounting, clock_hour, view360_direction, wrap_deg


@pytest.mark.parametrize("a,expected", [(0, 0), (180, 180), (-180, 180), (540, 180), (190, -170), (-190, 170),
                                        (359.5, -0.5), (720, 0), (-30, -30)])
def test_wrap_deg(a, expected):
    assert wrap_deg(a) == pytest.approx(expected)
    assert isinstance(wrap_deg(a), float)


def test_wrap_deg_vectorised():
    out = wrap_deg(np.array([-540.0, -180.0, 0.0, 181.0]))
    assert np.allclose(out, [180.0, 180.0, 0.0, -179.0])


@pytest.mark.parametrize("yaw,hour", [(0, 12), (14.9, 12), (15, 1), (-15, 11), (45, 2), (-45, 10), (90, 3),
                                      (-90, 9), (165, 6), (-165, 6), (180, 6), (-179, 6), (195, 6), (345, 11),
                                      (-14.9, 12), (135, 5)])
def test_clock_hour(yaw, hour):
    assert clock_hour(yaw) == hour


@pytest.mark.parametrize("b,d", [(0, "c"), (30, "c"), (-30, "c"), (30.5, "r"), (-31, "l"), (149, "r"), (150, "c"),
                                 (-150, "c"), (180, "c"), (-100, "l"), (390, "c"), (-300, "r")])
def test_view360_direction(b, d):
    assert view360_direction(b) == d


def test_wearer_yaw_offset():
    m = Mounting(yaw_offset_deg=30.0)
    assert m.wearer_yaw(30.0) == 0.0
    assert m.wearer_yaw(-160.0) == pytest.approx(170.0)
    assert np.allclose(m.wearer_yaw(np.array([30.0, 120.0])), [0.0, 90.0])
    assert m.camera_to_wearer(30.0, 12.0) == (0.0, 12.0)


def test_levelling_pitched_down_mount():
    """Mount pitched down 10° (pitch_deg=-10): a level point appears at camera pitch +10 and levels to 0;
    what the camera sees straight ahead is really 10° below the horizon."""
    m = Mounting(pitch_deg=-10.0)
    cyaw, cpitch = m.wearer_to_camera(0.0, 0.0)
    assert cyaw == pytest.approx(0.0, abs=1e-9) and cpitch == pytest.approx(10.0)
    assert np.allclose(m.camera_to_wearer(0.0, 10.0), (0.0, 0.0), atol=1e-9)
    assert np.allclose(m.camera_to_wearer(0.0, 0.0), (0.0, -10.0), atol=1e-9)
    # Behind the wearer the same tilt raises the view: camera-behind pitch 0 is 10° above the horizon.
    assert np.allclose(np.abs(m.camera_to_wearer(180.0, 0.0)), (180.0, 10.0), atol=1e-9)


def test_levelling_roll():
    m = Mounting(roll_deg=10.0)  # right side down
    assert np.allclose(m.camera_to_wearer(90.0, 0.0), (90.0, -10.0), atol=1e-9)
    assert np.allclose(m.wearer_to_camera(90.0, 0.0), (90.0, 10.0), atol=1e-9)
    assert np.allclose(m.camera_to_wearer(0.0, 0.0), (0.0, 0.0), atol=1e-9)  # the roll axis itself


def test_levelling_round_trip_vectorised():
    m = Mounting(yaw_offset_deg=-75.0, pitch_deg=8.0, roll_deg=-5.0)
    rng = np.random.default_rng(0)
    yaw, pitch = rng.uniform(-180, 180, 300), rng.uniform(-80, 80, 300)
    wy, wp = m.camera_to_wearer(yaw, pitch)
    assert wy.shape == (300,) and wp.shape == (300,)
    cy, cp = m.wearer_to_camera(wy, wp)
    assert np.abs(wrap_deg(cy - yaw)).max() < 1e-9 and np.abs(cp - pitch).max() < 1e-9
    # with offset only, camera_to_wearer equals wearer_yaw
    assert np.allclose(Mounting(-75.0).camera_to_wearer(yaw, pitch)[0], Mounting(-75.0).wearer_yaw(yaw))
