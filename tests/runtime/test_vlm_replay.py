"""Issue 5: a VLM that never answers changes nothing the wearer hears — same alerts, failures counted."""

from __future__ import annotations

import socket

from ego360.core.config import load_config
from ego360.core.geometry import Mounting
from ego360.runtime.services.events_log import read_events
from ego360.runtime.session import run_session


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: connections are refused


def _replay(out, *extra: str):
    from ego360.tools.scenario.source import ScenarioSource

    cfg = load_config(None, ["runner.process_every=2", "output.annotated_video=false", "audio.sink=file",
                             "tts.backend=none", *extra])
    result = run_session(cfg, ScenarioSource("stealing", width=960, height=480, seed=0), out, Mounting(0.0))
    alerts = [(e["frame"], e["entity_id"], e["bearing_deg"], e["clock"], e["text"])
              for e in read_events(out / "events.jsonl") if e["type"] == "alert"]
    return alerts, result.summary


def test_openai_backend_on_a_closed_port_keeps_the_template_alerts(tmp_path):
    template, _ = _replay(tmp_path / "template")
    port = _closed_port()
    vlm, summary = _replay(tmp_path / "vlm", "captioner.backend=openai", f"captioner.base_url=http://127.0.0.1:{port}/v1",
                           "captioner.model=qwen2.5-vl", "captioner.deadline_s=2")
    assert template, "the template run alerted nothing; the comparison would be empty"
    assert vlm == template
    stats = summary["alerts"]["vlm"]
    assert stats["submitted"] >= 1 and stats["failed"] >= 1 and stats["completed"] == 0
    captions = [e for e in read_events(tmp_path / "vlm" / "events.jsonl") if e["type"] == "caption"]
    assert captions and all(c["source"] == "template" for c in captions)
