"""The local control API: HTTP on 127.0.0.1 with a token, for a phone, a script or a companion dashboard.

Standard library only (`http.server` on a daemon thread). Every request needs the token — header
`Authorization: Bearer TOKEN`, `X-Ego360-Token: TOKEN` or `?token=TOKEN` — else 403. Routes live in a
small `Router`, so a dashboard served from the same server adds its own with `add_route(method, path,
handler)` (`prefix=True` for a folder of files). Handlers take a `Request` and return a `Response`; a
`Response` with a `stream` (an iterator of byte chunks: Server-Sent Events, a multipart stream) is written
chunk by chunk on the request's own thread and its connection closed at the end.

Routes of the controls (JSON in and out; each answers the action's result and the new state):
  GET  /api/state                       mute, verbosity, earcons, speech rate
  GET  /api/entities                    tracked entities, nearest first (no sound)
  POST /api/repeat                      say the last alert again
  POST /api/around                      say what's around, nearest first
  POST /api/mute      {"minutes": N}    mute (default control.mute_minutes); danger still comes through
  POST /api/unmute
  POST /api/verbosity {"level": "danger"|"alerts"|"captions"}
  POST /api/earcons   {"on": true|false}   (no body: toggle)
  POST /api/rate      {"wpm": N} or {"step": +1|-1}
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ego360.core.errors import UserError
from ego360.runtime.control.actions import ActionResult, Controls

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
STREAM_WRITE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty); ValueError when it is not one."""
        if not self.body.strip():
            return {}
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None  # written chunk by chunk (no Content-Length), then the connection closes

    @staticmethod
    def json(data: Any, status: int = 200) -> Response:
        return Response(status, json.dumps(data).encode())


Handler = Callable[[Request], Response]


def _error(status: int, message: str) -> Response:
    return Response.json({"error": message}, status)


class Router:
    """(method, path) → handler; exact paths first, then the longest matching prefix route."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], tuple[Handler, bool]] = {}
        self._prefix: list[tuple[str, str, Handler, bool]] = []

    def add_route(self, method: str, path: str, handler: Handler, *, prefix: bool = False, auth: bool = True) -> None:
        """`auth=False` only for what holds no control and no data (e.g. a login page that asks for the token)."""
        if prefix:
            self._prefix.append((method.upper(), path, handler, auth))
            self._prefix.sort(key=lambda r: -len(r[1]))
        else:
            self._exact[(method.upper(), path)] = (handler, auth)

    def match(self, method: str, path: str) -> tuple[Handler, bool] | int:
        """The handler and whether it needs the token, or 404/405."""
        hit = self._exact.get((method, path))
        if hit is not None:
            return hit
        for m, p, h, auth in self._prefix:
            if m == method and path.startswith(p):
                return h, auth
        elsewhere = any(p == path for (_, p) in self._exact) or any(path.startswith(p) for _, p, _, _ in self._prefix)
        return 405 if elsewhere else 404


def new_token() -> str:
    """A random URL-safe token that never starts with "-": the wearer may paste the printed one into
    `--control-token TOKEN` on a later run, where argparse would take "-…" for an option."""
    while (token := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return token


class ControlServer:
    """Serves a Router on 127.0.0.1 (port 0 = any free port) with token checks."""

    def __init__(self, router: Router, token: str = "", host: str = "127.0.0.1", port: int = 0) -> None:
        self.router = router
        self.token = token or new_token()
        self.requests = 0
        self.refused = 0
        try:
            self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        except OSError as exc:
            raise UserError(f"cannot serve the control API on {host}:{port} ({exc.strerror or exc}); "
                            "choose another --control-port, or 0 for any free port") from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ego360-control-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever, which never ran otherwise
            self._httpd.shutdown()
            self._thread.join(2.0)
        self._httpd.server_close()

    def authorised(self, req: Request) -> bool:
        given = req.query.get("token") or req.headers.get("x-ego360-token", "")
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def dispatch(self, req: Request) -> Response:
        self.requests += 1
        hit = self.router.match(req.method, req.path)
        if isinstance(hit, int):
            return _error(hit, "no such route" if hit == 404 else f"{req.method} is not allowed here")
        handler, needs_token = hit
        if needs_token and not self.authorised(req):
            self.refused += 1
            return _error(403, "missing or wrong token; send Authorization: Bearer TOKEN")
        try:
            return handler(req)
        except (ValueError, TypeError, KeyError) as exc:
            return _error(400, f"bad request: {exc}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._send(_error(413, "body too large"))
                    return
                body = self.rfile.read(length) if length else b""
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._send(server.dispatch(Request(self.command, url.path, query, body, headers)))

            def _send(self, resp: Response) -> None:
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                if resp.stream is not None:
                    self._send_stream(resp.stream)
                    return
                self.send_header("Content-Length", str(len(resp.body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(resp.body)

            def _send_stream(self, chunks: Iterator[bytes]) -> None:
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.connection.settimeout(STREAM_WRITE_TIMEOUT_S)  # a page that stops reading frees its thread
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:  # the client went away
                    pass
                finally:
                    close = getattr(chunks, "close", None)
                    if close is not None:
                        close()

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("control http: " + fmt, *args)

        return _Handler


def _result(r: ActionResult) -> Response:
    return Response.json(r.to_json(), 200 if r.ok else 409)


def control_routes(router: Router, controls: Controls) -> Router:
    """The wearer's actions as routes (listed in the module docstring)."""

    def rate(req: Request) -> Response:
        data = req.json()
        if "wpm" in data:
            return _result(controls.set_rate(int(data["wpm"])))
        step = int(data.get("step", 1))
        return _result(controls.faster() if step > 0 else controls.slower())

    def earcons(req: Request) -> Response:
        on = req.json().get("on")
        if on is not None and not isinstance(on, bool):
            raise ValueError("'on' must be true or false")
        return _result(controls.set_earcons(on))

    def mute(req: Request) -> Response:
        minutes = req.json().get("minutes")
        return _result(controls.mute(None if minutes is None else float(minutes)))

    router.add_route("GET", "/api/state", lambda req: Response.json(dataclasses.asdict(controls.state())))
    router.add_route("GET", "/api/entities", lambda req: Response.json(
        [dataclasses.asdict(v) | {"distance_m": v.distance_m if v.distance_m != float("inf") else None}
         for v in controls.entities()]))
    router.add_route("POST", "/api/repeat", lambda req: _result(controls.repeat_last()))
    router.add_route("POST", "/api/around", lambda req: _result(controls.around_me()))
    router.add_route("POST", "/api/mute", mute)
    router.add_route("POST", "/api/unmute", lambda req: _result(controls.unmute()))
    router.add_route("POST", "/api/verbosity", lambda req: _result(controls.set_verbosity(str(req.json()["level"]))))
    router.add_route("POST", "/api/earcons", earcons)
    router.add_route("POST", "/api/rate", rate)
    return router
