"""A companion dashboard for `ego360 live --dashboard` and `ego360 replay --dashboard`.

The wearer cannot see a screen; a sighted companion or researcher can. One local page (served by the
control server on 127.0.0.1, behind its token — no second server, no second token) shows the equirect
stream with role-coloured masks, a top-down radar of the tracked entities by clock bearing and distance,
the alert log with each alert's sound as it was played, the per-stage latencies and the wearer's
controls (buttons on the control API). Standard library only: Server-Sent Events for the live feed
(feed.py), routes on the control `Router` (routes.py), static files in static/.

The dashboard never slows the alert path: frames reach it through a one-slot drop-oldest hand-off and
are drawn and JPEG-encoded on its own thread (frames.py); alerts are logged by the speaker as they are
announced (alert_log.py). Nothing is written to disk; only the latest frame is held.

Wiring: `run_session(..., **dash.session_kwargs(out_dir))` — the tapped speaker, the frame hand-off as
the progress callback, the runner (stage stats) and the control session (routes, controls).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ego360.core.config import Config
from ego360.core.packets import FramePacket
from ego360.runtime.dashboard.alert_log import AlertLog, TappedSpeaker
from ego360.runtime.dashboard.feed import percentiles, recent, stage_stats
from ego360.runtime.dashboard.frames import FrameFeed
from ego360.runtime.dashboard.routes import dashboard_routes
from ego360.runtime.services.annotated_video import ROLE_COLOURS
from ego360.runtime.services.entity_snapshot import EntityView

if TYPE_CHECKING:
    from ego360.runtime.control import ControlSession
    from ego360.runtime.pipeline import Runner
    from ego360.runtime.sources import Source

__all__ = ["Dashboard", "dashboard_config"]


def dashboard_config(cfg: Config) -> Config:
    """The dashboard lives on the control server: switch it on (any free port) when it is off."""
    if cfg.control.port >= 0:
        return cfg
    return dataclasses.replace(cfg, control=dataclasses.replace(cfg.control, port=0))


class Dashboard:
    """One run's dashboard: build it before `run_session`, close it after."""

    def __init__(self, cfg: Config, *, live: bool, title: str = "", width: int = 960, fps: float = 8.0) -> None:
        self.cfg = cfg
        self.live = live
        self.title = title
        self.frames = FrameFeed(width, fps).start()
        self.alerts = AlertLog(cfg.audio.sample_rate)
        self.control: ControlSession | None = None
        self.runner: Runner | None = None
        self.clients = 0
        self.pages_opened = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._page = threading.Event()
        self._started_unix_ms = time.time() * 1000.0

    # -- hooks of run_session ----------------------------------------------------------------------

    def session_kwargs(self, out_dir: Path, on_controls: Callable[[ControlSession], None] | None = None
                       ) -> dict[str, Any]:
        """`speaker`, `progress`, `on_runner` and `on_controls` for `run_session` (controls=True)."""
        def controls(control: ControlSession) -> None:
            self.attach(control)
            if on_controls is not None:
                on_controls(control)

        return {"speaker": self.make_speaker(out_dir / "alerts.wav"), "progress": self.frames.offer,
                "on_runner": self.attach_runner, "on_controls": controls}

    def make_speaker(self, wav_path: Path | None) -> TappedSpeaker:
        """The run's speaker (same sinks as `session.make_speaker`) with the alert log's taps."""
        from ego360.runtime.audio.sinks import open_sink

        return TappedSpeaker(self.cfg.audio, self.cfg.tts, open_sink(self.cfg.audio, wav_path, live=self.live),
                              self.alerts)

    def attach_runner(self, runner: Runner) -> None:
        self.runner = runner

    def attach(self, control: ControlSession) -> None:
        if control.server is None:
            raise RuntimeError("the dashboard needs the control server (control.port >= 0; see dashboard_config)")
        self.control = control
        dashboard_routes(control.server.router, self)

    @property
    def url(self) -> str | None:
        """The page's address with its token ("" before the controls are up)."""
        server = self.control.server if self.control is not None else None
        return None if server is None else f"{server.url}/dash/?token={server.token}"

    # -- read by the feed ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def wait(self, seconds: float) -> None:
        self._closed.wait(seconds)

    def client_joined(self) -> None:
        with self._lock:
            self.clients += 1
            self.pages_opened += 1
        self._page.set()

    def client_left(self) -> None:
        with self._lock:
            self.clients -= 1

    def hello(self) -> dict[str, Any]:
        return {"title": self.title, "live": self.live, "started_unix_ms": round(self._started_unix_ms),
                "roles": {k: "#{:02x}{:02x}{:02x}".format(*v) for k, v in ROLE_COLOURS.items()},
                "frame_width": self.frames.width, "frame_fps": round(1.0 / self.frames.interval_s, 2)}

    def entities(self) -> tuple[EntityView, ...]:
        return self.control.controls.entities() if self.control is not None else ()

    def video_t(self) -> float:
        jpeg = self.frames.latest()
        return jpeg.video_t if jpeg is not None else 0.0

    def control_state(self) -> dict[str, Any] | None:
        return dataclasses.asdict(self.control.controls.state()) if self.control is not None else None

    def stats(self) -> dict[str, Any]:
        jpeg, f = self.frames.latest(), self.frames
        return {**stage_stats(self.runner),
                "capture_to_earcon": {"spoken": self.alerts.spoken, **percentiles(self.alerts.latencies_ms())},
                "dashboard": {"frames_offered": f.offered, "frames_encoded": jpeg.seq if jpeg else 0,
                              "frames_replaced": f.dropped, "encode": percentiles(recent(f.encode_ms)),
                              "capture_to_jpeg": percentiles(recent(f.lag_ms)), "pages": self.clients}}

    # -- replay: wait for the page ------------------------------------------------------------------

    def wait_for_page(self, timeout_s: float) -> bool:
        return self._page.wait(timeout_s)

    def gate(self, source: Source, timeout_s: float) -> Source:
        """The source, starting once a page has opened the feed (or after `timeout_s`): a replay then shows
        on the page from its first frame."""
        return _Gated(source, self, timeout_s)

    def summary(self) -> dict[str, Any]:
        jpeg = self.frames.latest()
        return {"url": self.url.split("?")[0] if self.url else None, "pages_opened": self.pages_opened,
                "frames_offered": self.frames.offered, "frames_encoded": jpeg.seq if jpeg else 0,
                "encode_ms": percentiles(recent(self.frames.encode_ms)), "alerts_logged": self.alerts.spoken,
                "encode_errors": self.frames.errors}

    def close(self, linger_s: float = 2.0) -> None:
        """Tell every open page the run has ended, and wait (up to `linger_s`) until their feeds have sent
        it: the feeds run on the control server's daemon threads, which die with the process, so a command
        that returned at once often left the page without its "end" (and the CI browser test red)."""
        self._closed.set()
        self.frames.close()
        deadline = time.monotonic() + linger_s
        while self.clients > 0 and time.monotonic() < deadline:
            time.sleep(0.02)


class _Gated:
    def __init__(self, source: Source, dash: Dashboard, timeout_s: float) -> None:
        self.source, self.dash, self.timeout_s, self.info = source, dash, timeout_s, source.info

    def __iter__(self) -> Iterator[FramePacket]:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline and not getattr(self.source, "closed", False):
            if self.dash.wait_for_page(min(0.2, max(0.0, deadline - time.monotonic()))):
                break
        yield from self.source

    @property
    def health(self) -> Any:
        return getattr(self.source, "health", None)

    def close(self) -> None:
        self.source.close()
