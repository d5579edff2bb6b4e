"""SAM2 plugged into the alert path by name (`tracker.backend=sam2-torch`), random weights.

Random weights make the masks meaningless, so this checks the plumbing only: the entity stage seeds
SAM2 through the tracker interface at onset, every processed frame after that carries a track line for
the entity, bearings stay wearer-relative, and the alert still goes out.
"""

from __future__ import annotations

import pytest

from ego360.core.config import load_config
from ego360.core.geometry import Mounting
from ego360.runtime.services.events_log import read_events
from ego360.runtime.session import run_session


def test_sam2_torch_backend_runs_in_the_pipeline(tmp_path):
    pytest.importorskip("sam2")
    from ego360.tools.scenario.source import ScenarioSource

    cfg = load_config(None, ["runner.process_every=2", "output.annotated_video=false", "audio.sink=file",
                             "tts.backend=none", "tracker.backend=sam2-torch", "tracker.checkpoint=random:0",
                             "tracker.image_size=256", "tracker.view_size=256"])
    run_session(cfg, ScenarioSource("stealing", width=512, height=256, duration_s=4.0), tmp_path, Mounting(0.0))
    events = read_events(tmp_path / "events.jsonl")
    alerts = [e for e in events if e["type"] == "alert"]
    assert alerts and alerts[0]["role"] == "perpetrator"
    eid = alerts[0]["entity_id"]
    frames_after = [e["frame"] for e in events if e["type"] == "frame" and e["frame"] >= alerts[0]["frame"]]
    tracked = {e["frame"] for e in events if e["type"] == "track" and e["entity_id"] == eid}
    assert tracked and set(frames_after[: len(frames_after) // 2]) <= tracked
    assert all(-180.0 < e["bearing_deg"] <= 180.0 for e in events if e["type"] == "track")
    assert events[-1]["type"] == "summary" and events[-1]["config"]["tracker"] == "sam2-torch"
