"""The `openai` backend against a real HTTP server on loopback, and AsyncCaptioner around it."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from ego360.core.config import CaptionerConfig
from ego360.core.errors import ConfigError
from ego360.core.packets import Caption, CaptionRequest
from ego360.models.registry import create_captioner
from ego360.models.vlm.async_runner import AsyncCaptioner
from ego360.models.vlm.base import VLMError

SECRET = "sk-test-do-not-log-4242"
GOOD = json.dumps({"role": "perpetrator", "appearance": "man in a green coat", "motion": "running",
                   "interaction": "reaches for your bag", "speech": "Man grabbing your bag on the left"})


class FakeVLM(ThreadingHTTPServer):
    """Answers chat completions from a script of (status, content | None, delay_s) replies."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[tuple[int, str | None, float]] = []
        self.requests: list[dict] = []
        self.headers_seen: list[dict] = []
        self.reject_schema = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        srv: FakeVLM = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv.requests.append(body)
        srv.headers_seen.append(dict(self.headers))
        if srv.reject_schema and "response_format" in body:
            return self._send(400, {"error": {"message": "response_format not supported"}})
        status, content, delay = srv.script.pop(0) if srv.script else (200, GOOD, 0.0)
        time.sleep(delay)
        if status != 200:
            return self._send(status, {"error": {"message": "boom"}})
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})

    def _send(self, status, obj):
        data = json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    srv = FakeVLM()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _cfg(url: str, **kw) -> CaptionerConfig:
    base = dict(backend="openai", base_url=url, model="qwen2.5-vl-3b", deadline_s=2.0, max_frames=3,
                max_pixels=112 * 112, api_key_env="EGO360_TEST_VLM_KEY")
    base.update(kw)
    return CaptionerConfig(**base)


def _request(entity_id: int = 1, frame: int = 10) -> CaptionRequest:
    view = np.zeros((96, 96, 3), np.uint8)
    view[30:60, 40:70] = (0, 200, 0)
    tmpl = Caption(entity_id, frame, "perpetrator", "green top", "approaching", "On your right, 3 o'clock: person")
    return CaptionRequest(entity_id=entity_id, frame_index=frame, role="perpetrator", kind="person", bearing_deg=90.0,
                          clock=3, distance_hint="", motion_hint="approaching", appearance_hint="green top",
                          views=(view, view), context=np.zeros((64, 128, 3), np.uint8), template=tmpl)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_well_formed_reply_becomes_vlm_caption_with_our_bearing(server, monkeypatch):
    monkeypatch.setenv("EGO360_TEST_VLM_KEY", SECRET)
    cap = create_captioner(_cfg(server.url)).caption(_request())
    assert cap.source == "vlm" and cap.entity_id == 1 and cap.appearance == "man in a green coat"
    assert cap.speech == "Man grabbing your bag at 3 o'clock"
    body = server.requests[0]
    assert body["model"] == "qwen2.5-vl-3b"
    assert body["response_format"]["type"] == "json_schema"
    parts = body["messages"][1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 3  # max_frames bounds the images (2 views + context fit exactly)
    jpg = cv2.imdecode(np.frombuffer(base64.b64decode(urls[0].split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert jpg.shape[0] % 28 == 0 and jpg.shape[0] * jpg.shape[1] <= 112 * 112
    assert server.headers_seen[0]["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(create_captioner(_cfg(server.url)))


def test_schema_rejected_falls_back_to_plain_once_and_remembers(server):
    server.reject_schema = True
    backend = create_captioner(_cfg(server.url))
    assert backend.caption(_request()).source == "vlm"
    assert backend.caption(_request()).source == "vlm"
    with_schema = ["response_format" in r for r in server.requests]
    assert with_schema == [True, False, False]


def test_malformed_json_is_repaired_once(server):
    server.script = [(200, "The man wears a green coat and runs.", 0.0), (200, f"```json\n{GOOD}\n```", 0.0)]
    cap = create_captioner(_cfg(server.url)).caption(_request())
    assert cap.appearance == "man in a green coat"
    repair = server.requests[1]["messages"][1]["content"]
    assert "The man wears a green coat and runs." in repair[0]["text"]
    assert not any(p["type"] == "image_url" for p in repair)


def test_malformed_json_after_repair_fails(server):
    server.script = [(200, "nope", 0.0), (200, "{still not json", 0.0)]
    with pytest.raises(VLMError, match="after one repair"):
        create_captioner(_cfg(server.url)).caption(_request())
    assert len(server.requests) == 2


@pytest.mark.parametrize("reply, match", [((200, "", 0.0), "empty content"), ((500, None, 0.0), "HTTP 500")])
def test_empty_content_and_http_500_fail_without_repair(server, reply, match):
    server.script = [reply]
    with pytest.raises(VLMError, match=match):
        create_captioner(_cfg(server.url)).caption(_request())
    assert len(server.requests) == 1


def test_slow_reply_times_out(server):
    server.script = [(200, GOOD, 1.5)]
    with pytest.raises(VLMError, match="did not answer"):
        create_captioner(_cfg(server.url, deadline_s=0.3)).caption(_request())


def test_connection_refused_names_the_url_not_the_key(monkeypatch):
    monkeypatch.setenv("EGO360_TEST_VLM_KEY", SECRET)
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(VLMError, match="cannot reach") as info:
        create_captioner(_cfg(url)).caption(_request())
    assert SECRET not in str(info.value) and "127.0.0.1" in str(info.value)


def test_config_errors():
    with pytest.raises(ConfigError, match="captioner.model"):
        create_captioner(_cfg("http://127.0.0.1:1/v1", model=""))
    with pytest.raises(ConfigError, match="valid names"):
        create_captioner(_cfg("http://x", backend="gpt"))


# ---------------------------------------------------------------- through AsyncCaptioner


def _run_async(cfg: CaptionerConfig, requests: list[CaptionRequest]) -> tuple[list[Caption], list[Caption], object]:
    runner = AsyncCaptioner(create_captioner(cfg), deadline_s=cfg.deadline_s)
    first = [runner.caption(r) for r in requests]
    assert runner.drain(10.0)
    later = runner.poll()
    runner.close()
    return first, later, runner.stats()


def test_async_good_answer_arrives_via_poll_after_template(server):
    req = _request()
    first, later, stats = _run_async(_cfg(server.url), [req])
    assert first == [req.template]  # the first alert never waits
    assert len(later) == 1 and later[0].source == "vlm" and later[0].entity_id == 1
    assert (stats.submitted, stats.completed, stats.failed, stats.late) == (1, 1, 0, 0)


@pytest.mark.parametrize("script, counter", [
    ([(500, None, 0.0)], "failed"),
    ([(200, "", 0.0)], "failed"),
    ([(200, "garbage", 0.0), (200, "garbage", 0.0)], "failed"),
    ([(200, GOOD, 1.0)], "failed"),  # socket timeout at the deadline
])
def test_async_failures_keep_the_template(server, script, counter):
    server.script = list(script)
    req = _request()
    first, later, stats = _run_async(_cfg(server.url, deadline_s=0.5), [req])
    assert first == [req.template] and later == []
    assert getattr(stats, counter) == 1 and stats.completed == 0


def test_async_connection_refused_keeps_the_template():
    req = _request()
    first, later, stats = _run_async(_cfg(f"http://127.0.0.1:{_free_port()}/v1"), [req])
    assert first == [req.template] and later == [] and stats.failed == 1
