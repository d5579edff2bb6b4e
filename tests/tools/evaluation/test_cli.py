"""`ego360 eval` end to end on fabricated replays, in worker processes and as Ray tasks."""

from __future__ import annotations

import json

import pytest

from ego360.tools.cli import main
from ego360.tools.evaluation.report import PLOTS


def test_cli_end_to_end_writes_metrics_report_and_plots(tmp_path, capsys, clip_a, clip_b):
    pa, ga = clip_a
    pb, gb = clip_b
    out = tmp_path / "report"
    rc = main(["eval", str(pa), str(pb), "--gt", str(ga), str(gb), "--out", str(out), "--grace-s", "0.2",
               "--scorer", "token-f1", "--workers", "2"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    o = m["overall"]
    assert m["scorer"] == "token-f1" and o["n_clips"] == 2
    # the same hand-computed values as tests/tools/evaluation/test_metrics.py, now through processes and JSON
    assert o["auc"] == pytest.approx(77 / 78) and o["recall"] == 1.0 and o["false_alerts_per_min"] == pytest.approx(60)
    assert o["delay_median_s"] == pytest.approx(0.1) and o["clock_within_1h"] == 1.0
    assert (o["iou"], o["fpe"], o["cap"]) == pytest.approx((50.0, 1.5, 80 / 3))
    assert m["per_role"]["perpetrator"]["iou"] == pytest.approx(75.0)
    assert [c["name"] for c in m["clips"]] == ["clip_a", "clip_b"]
    assert m["clips"][0]["entities"][0]["cap_status"] == "scored"
    for name in PLOTS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "cf. Table 2" in md and "cf. Table 4" in md and "token-f1" in md and "| Stealing |" in md
    assert not [p for p in out.iterdir() if p.name.startswith(".eval-tmp")]  # temp dir cleaned up
    assert "F_SC" in capsys.readouterr().out


def test_cli_bad_input_is_one_line_user_error(tmp_path, capsys, clip_a):
    rc = main(["eval", str(tmp_path / "nope"), "--gt", str(tmp_path / "gt.json"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "gt.json" in err
    pa, ga = clip_a
    rc = main(["eval", str(pa), "--gt", str(ga), "--out", str(tmp_path / "r"), "--judge-url", "http://x"])
    assert rc == 2 and "--judge-model" in capsys.readouterr().err
