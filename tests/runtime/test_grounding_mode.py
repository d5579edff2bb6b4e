"""Grounding mode (issue 5): at onset the VLM is asked for perpetrator/victim boxes in views around the
trigger's bearing; good boxes seed the tracker, malformed ones are dropped and counted, and the first
alert does not wait for any of it. The VLM is a real HTTP server on loopback speaking the OpenAI API."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from ego360.core.config import load_config
from ego360.core.geometry import Mounting
from ego360.runtime.services.events_log import read_events
from ego360.runtime.session import run_session


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
        text = " ".join(p.get("text", "") for p in parts if p["type"] == "text")
        images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
        if "Find the perpetrator" in text:
            self.server.grounding_requests += 1
            w, h = Image.open(io.BytesIO(base64.b64decode(images[1].split(",", 1)[1]))).size
            answer = [{"view": 1, "label": "perpetrator", "bbox_2d": [0.3 * w, 0.2 * h, 0.7 * w, 0.95 * h]},
                      {"view": 1, "label": "perpetrator", "bbox_2d": [10, 20]},  # malformed: dropped
                      {"view": 7, "label": "victim", "bbox_2d": [1, 2, 3, 4]}]  # no such view: dropped
        else:
            answer = {"role": "perpetrator", "appearance": "a person", "motion": "walks toward you",
                      "interaction": "", "speech": "person walking toward you"}
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": json.dumps(answer)}}]})
        data = reply.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def vlm_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.grounding_requests = 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def _replay(out, *extra):
    from ego360.tools.scenario.source import ScenarioSource

    cfg = load_config(None, ["runner.process_every=2", "output.annotated_video=false", "audio.sink=file",
                             "tts.backend=none", *extra])
    result = run_session(cfg, ScenarioSource("stealing", width=960, height=480, seed=0), out, Mounting(0.0))
    return read_events(out / "events.jsonl"), result.summary


def test_grounding_boxes_seed_the_tracker_without_delaying_the_alert(vlm_server, tmp_path):
    url = f"http://127.0.0.1:{vlm_server.server_address[1]}/v1"
    base, _ = _replay(tmp_path / "plain")
    events, summary = _replay(tmp_path / "grounded", "captioner.backend=openai", f"captioner.base_url={url}",
                              "captioner.model=qwen2.5-vl", "captioner.grounding=true", "captioner.json_schema=false")
    first = [e for e in base if e["type"] == "alert"][0]
    first_g = [e for e in events if e["type"] == "alert"][0]
    assert (first_g["frame"], first_g["entity_id"], first_g["clock"]) == (first["frame"], first["entity_id"],
                                                                        first["clock"])
    g = summary["alerts"]["grounding"]
    assert vlm_server.grounding_requests == 1 and g["requested"] == 1 and g["answered"] == 1
    assert g["boxes"] == 1 and g["dropped"] == 2 and g["seeded"] == 1
    assert any(e["type"] == "caption" and e["source"] == "vlm" for e in events)


def test_seed_box_across_the_seam_covers_both_edges():
    from ego360.core.packets import Box
    from ego360.runtime.stages.entities import _box_mask

    m = _box_mask(Box(90.0, 10.0, 110.0, 20.0), 50, 100)
    assert m[10:20, 90:100].all() and m[10:20, 0:10].all() and not m[10:20, 10:90].any()
    assert m.sum() == 20 * 10
