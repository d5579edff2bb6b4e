"""The mounting calibration file (round trip, one-line errors, atomic writes, precedence) and `ego360 calibrate`."""

from __future__ import annotations

import os

import pytest

from ego360.calibration.mounting import load_mounting, resolve_mounting, save_mounting
from ego360.core.config import BearingsConfig
from ego360.core.errors import ConfigError
from ego360.core.geometry import Mounting
from ego360.tools.cli import main


def test_file_round_trip(tmp_path):
    m = Mounting(12.345678901234, -7.5, 3.0)
    path = save_mounting(tmp_path / "sub" / "mounting.toml", m)
    assert load_mounting(path) == m
    assert "version = 1" in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == ["mounting.toml"]  # no temp file left behind


@pytest.mark.parametrize("text,word", [("version = 1\nyaw_offset_deg = \n", "not valid TOML"),
                                       ("version = 2\nyaw_offset_deg = 1.0\n", "version"),
                                       ("yaw_offset_deg = 1.0\n", "version"),
                                       ("version = 1\nyaw_offset_deg = 'ten'\n", "not a finite number"),
                                       ("version = 1\npitch_deg = 120.0\n", "outside"),
                                       ("version = 1\nyaw_ofset_deg = 1.0\n", "unknown key")])
def test_bad_file_is_one_line_config_error(tmp_path, text, word):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=word) as info:
        load_mounting(path)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        load_mounting(tmp_path / "missing.toml")


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = save_mounting(tmp_path / "m.toml", Mounting(5.0))

    def boom(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ConfigError, match="No space left"):
        save_mounting(path, Mounting(99.0))
    assert load_mounting(path) == Mounting(5.0)
    assert [p.name for p in tmp_path.iterdir()] == ["m.toml"]


def test_resolve_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert resolve_mounting(BearingsConfig(), None) == Mounting()
    save_mounting(None, Mounting(40.0, -5.0, 2.0))  # default path
    assert (tmp_path / "xdg" / "ego360" / "mounting.toml").is_file()
    assert resolve_mounting(BearingsConfig(), None) == Mounting(40.0, -5.0, 2.0)
    assert resolve_mounting(BearingsConfig(yaw_offset_deg=10.0), None) == Mounting(10.0, -5.0, 2.0)
    assert resolve_mounting(BearingsConfig(yaw_offset_deg=10.0, roll_deg=1.0), -20.0) == Mounting(-20.0, -5.0, 1.0)
    other = save_mounting(tmp_path / "other.toml", Mounting(-90.0))
    assert resolve_mounting(BearingsConfig(calibration_file=str(other)), None) == Mounting(-90.0)
    with pytest.raises(ConfigError, match="not found"):
        resolve_mounting(BearingsConfig(calibration_file=str(tmp_path / "nope.toml")), None)


def test_cli_calibrate_writes_and_shows(tmp_path, capsys):
    out = tmp_path / "cal" / "mounting.toml"
    assert main(["calibrate", "--yaw-offset", "-35.5", "--pitch", "-10", "--out", str(out)]) == 0
    assert "yaw_offset_deg = -35.5" in capsys.readouterr().out
    assert load_mounting(out) == Mounting(-35.5, -10.0, 0.0)
    assert main(["calibrate", "--show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "-35.5" in shown and "pitch_deg = -10" in shown


def test_cli_calibrate_default_path_and_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["calibrate", "--show"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["calibrate", "--yaw-offset", "15", "--roll", "3"]) == 0
    assert load_mounting(tmp_path / "ego360" / "mounting.toml") == Mounting(15.0, 0.0, 3.0)
    assert main(["calibrate"]) == 2
    assert main(["calibrate", "--yaw-offset", "0", "--pitch", "95", "--out", str(tmp_path / "x.toml")]) == 2
    err = capsys.readouterr().err
    assert "--yaw-offset" in err and "outside [-90, 90]" in err
    assert not (tmp_path / "x.toml").exists()
