"""The wearer's controls: one `Controls` object (actions.py) and the inputs that call it — terminal keys
(keys.py), a headset media button (media.py) and a local HTTP API with a token (http_api.py).

`ControlSession` wires them to one run's alert stage (its speaker, entity snapshot and policy gate) and
stops them at the end; the session module builds it for `ego360 live` and `ego360 replay`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ego360.core.config import Config
from ego360.runtime.control.actions import Controls
from ego360.runtime.control.http_api import ControlServer, Router, control_routes
from ego360.runtime.control.keys import KeyReader
from ego360.runtime.control.media import MediaButton, find_devices

if TYPE_CHECKING:
    from ego360.runtime.stages.alerts import AlertStage

log = logging.getLogger(__name__)

__all__ = ["ControlServer", "ControlSession", "Controls", "Router"]


class ControlSession:
    """Controls bound to one run, with whichever inputs are available and enabled."""

    def __init__(self, cfg: Config, alert_stage: AlertStage, *, keys: bool = True) -> None:
        c = cfg.control
        self.controls = Controls(c, cfg.alerts, alert_stage.speaker, alert_stage.snapshot,
                                 video_t=lambda: alert_stage.video_t, sample_rate=cfg.audio.sample_rate)
        alert_stage.floor = self.controls.floor
        alert_stage.speak_captions = self.controls.captions_on
        self.server: ControlServer | None = None
        self.keys: KeyReader | None = None
        self.media: MediaButton | None = None
        if c.port >= 0:
            self.server = ControlServer(control_routes(Router(), self.controls), c.token, port=c.port).start()
        if keys and c.keys:
            reader = KeyReader(self.controls)
            self.keys = reader if reader.start() else None
        if c.media_button:
            button = MediaButton(self.controls, find_devices(c.media_device))
            self.media = button if button.start() else None
            if self.media is None:
                log.info("no readable media-button input device; the headset button is off")

    def summary(self) -> dict[str, Any]:
        return {"actions": dict(self.controls.counts),
                "http": {"url": self.server.url, "requests": self.server.requests, "refused": self.server.refused}
                if self.server is not None else None,
                "keys": self.keys.pressed if self.keys is not None else None,
                "media_button": len(self.media.actions) if self.media is not None else None}

    def close(self) -> None:
        for reader in (self.keys, self.media):
            if reader is not None:
                reader.stop()
        if self.server is not None:
            self.server.close()
