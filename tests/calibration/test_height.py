"""Camera height is part of the mounting: written by `ego360 calibrate --height-m`, checked on read,
and used for every distance unless the config sets `trigger.camera_height_m` itself."""

from __future__ import annotations

import pytest

from ego360.calibration.mounting import load_mounting, save_mounting
from ego360.core.config import Config, TriggerConfig, load_config
from ego360.core.errors import ConfigError
from ego360.core.geometry import Mounting
from ego360.runtime.session import with_camera_height
from ego360.tools.cli import main


def test_height_round_trips_and_old_files_default_to_1_6(tmp_path):
    path = save_mounting(tmp_path / "m.toml", Mounting(10.0, 1.0, -2.0, 0.82))
    assert load_mounting(path) == Mounting(10.0, 1.0, -2.0, 0.82)
    old = tmp_path / "old.toml"
    old.write_text("version = 1\nyaw_offset_deg = 5.0\npitch_deg = 0.0\nroll_deg = 0.0\n")
    assert load_mounting(old).height_m == 1.6


@pytest.mark.parametrize("height", ["-0.5", "0.0", "12.0"])
def test_bad_height_in_the_file_is_one_line(tmp_path, height):
    bad = tmp_path / "bad.toml"
    bad.write_text(f"version = 1\nyaw_offset_deg = 0.0\npitch_deg = 0.0\nroll_deg = 0.0\nheight_m = {height}\n")
    with pytest.raises(ConfigError, match="height_m") as err:
        load_mounting(bad)
    assert "\n" not in str(err.value) and "--height-m" in str(err.value)


def test_calibrate_cli_writes_height_and_rejects_a_negative_one(tmp_path, capsys):
    out = tmp_path / "m.toml"
    assert main(["calibrate", "--height-m", "0.8", "--out", str(out)]) == 0
    assert load_mounting(out).height_m == 0.8
    bad = tmp_path / "bad.toml"
    assert main(["calibrate", "--height-m", "-1", "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--height-m" in err[0] and not bad.exists()


def test_config_height_wins_else_the_calibrated_one_is_used():
    table = Mounting(0.0, 0.0, 0.0, 0.8)
    assert with_camera_height(Config(), table).trigger.camera_height_m == 0.8
    explicit = Config(trigger=TriggerConfig(camera_height_m=1.2))
    assert with_camera_height(explicit, table).trigger.camera_height_m == 1.2
    assert with_camera_height(Config(), Mounting()).trigger.camera_height_m == 1.6


def test_config_rejects_a_negative_camera_height():
    with pytest.raises(ConfigError, match="trigger.camera_height_m"):
        load_config(None, ["trigger.camera_height_m=-0.8"])
