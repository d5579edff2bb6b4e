"""The dashboard's routes on the control server's `Router` (same server, same token, 127.0.0.1 only).

  GET /dash/                 the page (index.html; its script and style under /dash/)
  GET /dash/events           the live feed, Server-Sent Events (feed.py)
  GET /dash/frame.jpg        the latest frame with role-coloured masks (204 before the first one)
  GET /dash/alerts           the alert log as JSON
  GET /dash/alert/ID.wav     the sound of one alert, as played (404 once it has aged out)

Every route needs the token like the control API (`?token=` for what a browser loads by URL: the page,
EventSource, <img>, <audio>). The controls' buttons call the existing /api/* routes.
"""

from __future__ import annotations

from importlib import resources

from ego360.runtime.control.http_api import Request, Response, Router
from ego360.runtime.dashboard.feed import Feedable, events

STATIC = {"index.html": "text/html; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8",
          "dashboard.css": "text/css; charset=utf-8"}
MAX_PAGES = 8  # open feeds at once; each holds one server thread


def static_file(name: str) -> bytes:
    return resources.files("ego360.runtime.dashboard").joinpath("static", name).read_bytes()


def dashboard_routes(router: Router, dash: Feedable) -> Router:
    files = {name: static_file(name) for name in STATIC}  # read once: the page cannot change under a run

    def page(req: Request) -> Response:
        name = req.path[len("/dash/"):] or "index.html"
        if name not in files:
            return Response.json({"error": "no such file"}, 404)
        return Response(200, files[name], STATIC[name])

    def feed(req: Request) -> Response:
        if dash.clients >= MAX_PAGES:
            return Response.json({"error": f"at most {MAX_PAGES} dashboard pages at once"}, 503)
        return Response(200, content_type="text/event-stream", stream=events(dash))

    def frame(req: Request) -> Response:
        jpeg = dash.frames.latest()
        return Response(204, content_type="image/jpeg") if jpeg is None else Response(200, jpeg.data, "image/jpeg")

    def alert_wav(req: Request) -> Response:
        stem = req.path[len("/dash/alert/"):]
        if not stem.endswith(".wav") or not stem[:-4].isdigit():
            return Response.json({"error": "use /dash/alert/ID.wav"}, 404)
        data = dash.alerts.wav(int(stem[:-4]))
        if data is None:
            return Response.json({"error": "no sound for this alert (unknown or aged out)"}, 404)
        return Response(200, data, "audio/wav")

    router.add_route("GET", "/dash", page)
    router.add_route("GET", "/dash/", page, prefix=True)
    router.add_route("GET", "/dash/events", feed)
    router.add_route("GET", "/dash/frame.jpg", frame)
    router.add_route("GET", "/dash/alerts", lambda req: Response.json([e.to_json() for e in dash.alerts.since(0)]))
    router.add_route("GET", "/dash/alert/", alert_wav, prefix=True)
    return router
