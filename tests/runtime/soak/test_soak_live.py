"""The CI soak (issue 14 item 6): `ego360 live` as a child process on a looping UDP stream for 75 s, the
camera unplugged for 4 s in the middle, ended by SIGTERM. Threads and open files must not grow, RSS
must stay within a bound, the outage is reported once and alerts come back after it, and every output is
finalised. The 30-minute figures come from `ego360 bench soak` (reports/soak/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ego360.tools.bench.soak import prepare_clip, soak
from ego360.tools.bench.soak_report import summarise

OUTAGE_AT_S, OUTAGE_S = 35.0, 4.0

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg binary to send the stream")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("soak")
    clip, fps = prepare_clip("stealing", 960, 20.0, 1.0, cache)
    return soak(clip, fps, cache / "run", 1.25, interval=2.0, sig="TERM", annotated=True,
                outages=[(OUTAGE_AT_S, OUTAGE_S)], width=960)


def test_stops_on_sigterm_with_every_output_finalised(run):
    assert run.exit_code == 0 and run.stop_s < 30
    assert run.outputs["events_summary_line"] and run.outputs["wav_valid"] and run.outputs["annotated_valid"]
    assert run.outputs["leftovers"] == []
    assert run.summary["stopped_by"] == "SIGTERM" and run.summary["output_failures"] == {}
    log = Path(run.log_path).read_text(errors="replace")
    assert run.log_counts["traceback"] == 0, log[max(0, log.find("Traceback") - 2000):][:6000]


def test_no_growth_in_threads_open_files_or_memory(run):
    before = [s for s in run.samples if 10.0 <= s["t"] < OUTAGE_AT_S]
    end = run.samples[-1]
    assert before and end["t"] > 60
    assert end["threads"] <= max(s["threads"] for s in before)
    assert end["fds"] <= max(s["fds"] for s in before)
    figures = summarise(run)
    assert figures["rss_growth_after_warmup_pct"] is not None and figures["rss_growth_after_warmup_pct"] <= 10.0


def test_camera_unplugged_and_back_reported_once_and_alerts_go_on(run):
    assert run.log_counts["reconnected"] == 1  # one outage, one reconnect line
    assert 1 <= run.log_counts["stream_lost"] <= 3  # one line per reconnect attempt, a few at most
    back = OUTAGE_AT_S + OUTAGE_S
    assert any(a["t"] < OUTAGE_AT_S for a in run.alerts)
    assert any(a["t"] > back for a in run.alerts)
    assert run.summary["source_error"] is None
