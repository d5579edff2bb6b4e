"""A headset's media button, read from Linux input events with the standard library (no evdev).

Each event is `struct input_event` = (seconds, microseconds, type, code, value), format 'llHHi'. Only
key events (type 1) of the media keys count; value 1 = pressed, 0 = released, 2 = auto-repeat. One-button
headsets send KEY_PLAYPAUSE (or KEY_MEDIA), so the gestures carry the meaning, timed with the events' own
timestamps: a short press repeats the last alert, two presses within `double_s` ask "what's around me",
a press held `long_s` or longer mutes/unmutes. Headsets with more keys get next = around, previous =
repeat, mute = mute/unmute. Devices are found through /sys (their key capability bitmap has a media
key) and read on a daemon thread; none readable → nothing starts (one info line).
"""

from __future__ import annotations

import glob
import logging
import os
import select
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ego360.runtime.control.actions import Controls

log = logging.getLogger(__name__)

EVENT = struct.Struct("llHHi")
EV_KEY = 1
KEY_MUTE, KEY_NEXTSONG, KEY_PLAYPAUSE, KEY_PREVIOUSSONG = 113, 163, 164, 165
KEY_PLAYCD, KEY_PAUSECD, KEY_MEDIA = 200, 201, 226
BUTTON_KEYS = (KEY_PLAYPAUSE, KEY_PLAYCD, KEY_PAUSECD, KEY_MEDIA)
DIRECT = {KEY_NEXTSONG: "around", KEY_PREVIOUSSONG: "repeat", KEY_MUTE: "toggle_mute"}
MEDIA_KEYS = BUTTON_KEYS + tuple(DIRECT)


@dataclass(frozen=True)
class InputEvent:
    t: float  # the kernel's timestamp, seconds
    type: int
    code: int
    value: int


def parse_events(data: bytes) -> tuple[list[InputEvent], bytes]:
    """Whole events in `data`, and the bytes left over (a read may end inside an event)."""
    n = len(data) // EVENT.size
    out = [InputEvent(s + us / 1e6, typ, code, value)
           for s, us, typ, code, value in (EVENT.unpack_from(data, i * EVENT.size) for i in range(n))]
    return out, data[n * EVENT.size:]


class Gestures:
    """Media key events → action names ("repeat", "around", "toggle_mute"); pure, driven by event time."""

    def __init__(self, double_s: float = 0.4, long_s: float = 0.8) -> None:
        self.double_s, self.long_s = double_s, long_s
        self._down_t: float | None = None
        self._long_fired = False
        self._single_at: float | None = None  # a short press waiting to see whether a second one follows

    def feed(self, ev: InputEvent) -> list[str]:
        out = self.tick(ev.t)
        if ev.type != EV_KEY:
            return out
        if ev.code in DIRECT and ev.value == 1:
            return out + [DIRECT[ev.code]]
        if ev.code not in BUTTON_KEYS:
            return out
        if ev.value == 1:
            self._down_t, self._long_fired = ev.t, False
        elif ev.value == 2 and self._down_t is not None and not self._long_fired and ev.t - self._down_t >= self.long_s:
            self._long_fired = True
            self._single_at = None
            out.append("toggle_mute")
        elif ev.value == 0 and self._down_t is not None:
            held = ev.t - self._down_t
            self._down_t = None
            if self._long_fired:
                return out
            if held >= self.long_s:
                self._single_at = None
                out.append("toggle_mute")
            elif self._single_at is not None:
                self._single_at = None
                out.append("around")
            else:
                self._single_at = ev.t
        return out

    def tick(self, now: float) -> list[str]:
        """A lone short press becomes "repeat" once `double_s` has passed without a second press."""
        if self._single_at is not None and self._down_t is None and now - self._single_at > self.double_s:
            self._single_at = None
            return ["repeat"]
        return []


ACTIONS: dict[str, Callable[[Controls], object]] = {
    "repeat": Controls.repeat_last, "around": Controls.around_me, "toggle_mute": Controls.toggle_mute,
}


def _has_media_key(event_path: str) -> bool:
    """The device's key capability bitmap (/sys, hex words, most significant first) has a media key."""
    caps = Path("/sys/class/input") / Path(event_path).name / "device" / "capabilities" / "key"
    try:
        words = caps.read_text().split()
    except OSError:
        return False
    bits = 0
    for w in words:
        bits = (bits << 64) | int(w, 16)
    return any(bits >> code & 1 for code in MEDIA_KEYS)


def find_devices(explicit: str = "") -> list[str]:
    if explicit:
        return [explicit] if os.access(explicit, os.R_OK) else []
    return [p for p in sorted(glob.glob("/dev/input/event*")) if os.access(p, os.R_OK) and _has_media_key(p)]


class MediaButton:
    """Reads input event devices on a daemon thread and runs the gestures' actions."""

    def __init__(self, controls: Controls, devices: list[str], gestures: Gestures | None = None) -> None:
        self._controls = controls
        self._devices = devices
        self._gestures = gestures or Gestures()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.actions: list[str] = []

    def handle(self, events: list[InputEvent]) -> list[str]:
        names = [n for ev in events for n in self._gestures.feed(ev)]
        self._run(names)
        return names

    def _run(self, names: list[str]) -> None:
        for name in names:
            self.actions.append(name)
            ACTIONS[name](self._controls)

    def start(self) -> bool:
        if not self._devices:
            return False
        self._thread = threading.Thread(target=self._loop, name="ego360-media", daemon=True)
        self._thread.start()
        return True

    def _open(self) -> Iterator[int]:
        for path in self._devices:
            try:
                yield os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                log.info("media button: cannot read %s (%s)", path, exc)

    def _loop(self) -> None:
        import time

        fds = list(self._open())
        rest = {fd: b"" for fd in fds}
        try:
            while fds and not self._stop.is_set():
                ready, _, _ = select.select(fds, [], [], 0.1)
                for fd in ready:
                    try:
                        data = os.read(fd, EVENT.size * 64)
                    except OSError:  # unplugged
                        fds.remove(fd)
                        continue
                    events, rest[fd] = parse_events(rest[fd] + data)
                    self.handle(events)
                # event timestamps are CLOCK_REALTIME by default: tick on the same clock
                self._run(self._gestures.tick(time.time()))
        except Exception:  # noqa: BLE001 - the button is optional; the run goes on without it
            log.exception("media button reader stopped")
        finally:
            for fd in rest:
                os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
