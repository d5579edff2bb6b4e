"""`ego360 scenario --mount-pitch/--mount-roll`: a tilted camera from the command line, recorded in gt.json."""

from __future__ import annotations

import json

from ego360.tools.cli import main


def test_tilted_mount_is_rendered_and_recorded(tmp_path):
    out = tmp_path / "tilted"
    assert main(["scenario", "stealing", "--width", "320", "--duration", "1", "--mount-pitch", "-8",
                 "--mount-roll", "5", "--out", str(out)]) == 0
    g = json.loads((out / "gt.json").read_text())
    assert (g["mount_pitch_deg"], g["mount_roll_deg"]) == (-8.0, 5.0)


def test_a_tilt_outside_45_degrees_is_a_one_line_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["scenario", "walk_street", "--mount-pitch", "60", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--mount-pitch 60" in err[0]
    assert not out.exists()
