"""Everything the wearer can ask for, in one object that every input (keys, media button, HTTP) calls.

The wearer cannot see a screen, so every action answers with a short confirmation sound (`cues.py`:
distinct from the alert earcons) and, where there is something to tell, with speech. The controls
change what is spoken through three small hooks instead of owning the alert path: `floor()` is the
alert policy's gate (muted or verbosity "danger" → only danger alerts; danger always comes through),
`captions_on()` lets the alert stage speak new captions, and the speaker's own earcon switch and
speech rate. Mute expires by itself: it is a deadline on this object's clock, checked on every alert.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ego360.core.config import AlertsConfig, ControlConfig
from ego360.core.packets import Alert
from ego360.runtime.control.cues import cue
from ego360.runtime.services.entity_snapshot import EntitySnapshot, EntityView

if TYPE_CHECKING:
    from ego360.runtime.audio.speaker import Speaker

VERBOSITY = ("danger", "alerts", "captions")
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450


@dataclass(frozen=True)
class ControlState:
    muted: bool
    mute_left_s: float
    verbosity: str
    earcons: bool
    rate_wpm: int | None


@dataclass(frozen=True)
class ActionResult:
    action: str
    ok: bool
    said: str  # what was spoken in answer ("" for a cue only)
    state: ControlState

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def distance_words(v: EntityView) -> str:
    if math.isfinite(v.distance_m):
        metres = max(1, round(v.distance_m))
        return f"{metres} metre" if metres == 1 else f"{metres} metres"
    return {"": "distance unknown", "far": "far away"}.get(v.distance_class, v.distance_class)


def around_text(views: tuple[EntityView, ...], limit: int = 4) -> str:
    """"2 around you. 6 o'clock, person, 3 metres, approaching. 2 o'clock, person, far away, moving.\""""
    if not views:
        return "Nothing tracked around you."
    parts = [f"{len(views)} around you." if len(views) > 1 else "1 around you."]
    for v in views[:limit]:
        kind = v.kind if v.kind not in ("", "unknown") else "someone"
        parts.append(f"{v.clock} o'clock, {kind}, {distance_words(v)}, {v.motion}.")
    return " ".join(parts)


class Controls:
    """Thread-safe: inputs call it from their own threads; the alert stage reads `floor()` per alert."""

    def __init__(self, cfg: ControlConfig, alerts_cfg: AlertsConfig, speaker: Speaker, snapshot: EntitySnapshot,
                 *, video_t: Callable[[], float] = lambda: 0.0, clock: Callable[[], float] = time.monotonic,
                 sample_rate: int = 22050) -> None:
        self._cfg = cfg
        self._danger = alerts_cfg.danger_priority
        self._speaker = speaker
        self._snapshot = snapshot
        self._video_t = video_t
        self._clock = clock
        self._sr = sample_rate
        self._lock = threading.Lock()
        self._muted_until = -math.inf
        self._verbosity = cfg.verbosity
        speaker.earcons = cfg.earcons
        self.counts: dict[str, int] = {}

    # -- read by the alert path ------------------------------------------------------------------

    def floor(self) -> tuple[int, str]:
        """Lowest alert priority the wearer wants now, and why ("" = everything)."""
        with self._lock:
            if self._clock() < self._muted_until:
                return self._danger, "muted"
            if self._verbosity == "danger":
                return self._danger, "verbosity"
        return 0, ""

    def captions_on(self) -> bool:
        with self._lock:
            return self._verbosity == "captions" and self._clock() >= self._muted_until

    def state(self) -> ControlState:
        with self._lock:
            left = max(0.0, self._muted_until - self._clock())
            return ControlState(left > 0, round(left, 1), self._verbosity, self._speaker.earcons,
                                self._speaker.rate_wpm)

    def entities(self) -> tuple[EntityView, ...]:
        return self._snapshot.nearest()

    # -- actions ---------------------------------------------------------------------------------

    def repeat_last(self) -> ActionResult:
        last = self._speaker.last_alert
        if last is None:
            return self._done("repeat", False)
        self._speaker.say(last, self._video_t(), earcon=True)
        return self._done("repeat", True, last.text)

    def around_me(self) -> ActionResult:
        text = around_text(self._snapshot.nearest())
        self._speaker.say(Alert(-1, self._video_t(), 0, -1, "none", 0.0, 12, 2, text), self._video_t())
        return self._done("around", True, text)

    def mute(self, minutes: float | None = None) -> ActionResult:
        minutes = self._cfg.mute_minutes if minutes is None else float(minutes)
        if not 0 < minutes <= 24 * 60:
            return self._done("mute", False)
        with self._lock:
            self._muted_until = self._clock() + minutes * 60.0
        return self._done("mute", True, kind="off")

    def unmute(self) -> ActionResult:
        with self._lock:
            self._muted_until = -math.inf
        return self._done("unmute", True)

    def toggle_mute(self) -> ActionResult:
        return self.unmute() if self.state().muted else self.mute()

    def set_verbosity(self, level: str) -> ActionResult:
        if level not in VERBOSITY:
            return self._done("verbosity", False)
        with self._lock:
            self._verbosity = level
        return self._done("verbosity", True, kind="off" if level == "danger" else "ok")

    def cycle_verbosity(self) -> ActionResult:
        nxt = VERBOSITY[(VERBOSITY.index(self.state().verbosity) + 1) % len(VERBOSITY)]
        return self.set_verbosity(nxt)

    def set_earcons(self, on: bool | None = None) -> ActionResult:
        """None toggles."""
        with self._lock:
            self._speaker.earcons = (not self._speaker.earcons) if on is None else bool(on)
            on = self._speaker.earcons
        return self._done("earcons", True, kind="ok" if on else "off")

    def set_rate(self, wpm: int) -> ActionResult:
        if self._speaker.rate_wpm is None or not MIN_RATE_WPM <= int(wpm) <= MAX_RATE_WPM:
            return self._done("rate", False)
        self._speaker.set_rate(int(wpm))
        return self._done("rate", True)

    def faster(self) -> ActionResult:
        return self.set_rate((self._speaker.rate_wpm or 0) + self._cfg.rate_step_wpm)

    def slower(self) -> ActionResult:
        return self.set_rate((self._speaker.rate_wpm or 0) - self._cfg.rate_step_wpm)

    def _done(self, action: str, ok: bool, said: str = "", *, kind: str = "ok") -> ActionResult:
        """Count the action and confirm it by ear: `kind` cue when it worked, the refusal cue when not."""
        key = action if ok else f"{action}_refused"
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
        self._speaker.play_cue(cue(kind if ok else "refused", self._sr), self._video_t())
        return ActionResult(action, ok, said, self.state())
