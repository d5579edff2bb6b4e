"""Single keys in the terminal that runs `ego360 live` / `replay`: the quickest control while testing.

Only when stdin is a TTY: the terminal is put in cbreak mode (keys arrive one at a time without Enter;
Ctrl-C still interrupts) and restored when the reader stops. `KeyReader.feed` takes characters from any
stream, which is how the tests drive it.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import IO

from ego360.runtime.control.actions import ActionResult, Controls

log = logging.getLogger(__name__)

KEYMAP: dict[str, tuple[str, Callable[[Controls], ActionResult]]] = {
    "r": ("repeat the last alert", Controls.repeat_last),
    "a": ("what's around me", Controls.around_me),
    " ": ("what's around me", Controls.around_me),
    "m": ("mute for control.mute_minutes / unmute", Controls.toggle_mute),
    "v": ("verbosity: danger → alerts → captions", Controls.cycle_verbosity),
    "e": ("earcons on/off", Controls.set_earcons),
    "+": ("speak faster", Controls.faster),
    "=": ("speak faster", Controls.faster),
    "-": ("speak slower", Controls.slower),
}


def key_help() -> str:
    seen: dict[str, list[str]] = {}
    for k, (what, _) in KEYMAP.items():
        seen.setdefault(what, []).append("space" if k == " " else k)
    return "keys: " + "; ".join(f"{'/'.join(ks)} {what}" for what, ks in seen.items())


class KeyReader:
    """Maps characters to actions; `start()` reads the terminal on a daemon thread."""

    def __init__(self, controls: Controls, stream: IO[str] | None = None) -> None:
        self._controls = controls
        self._stream = stream if stream is not None else sys.stdin
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: list | None = None
        self.pressed = 0

    def feed(self, chars: str) -> list[ActionResult]:
        out = []
        for ch in chars:
            entry = KEYMAP.get(ch.lower() if ch.isalpha() else ch)
            if entry is not None:
                self.pressed += 1
                out.append(entry[1](self._controls))
        return out

    def feed_stream(self, stream: IO[str]) -> list[ActionResult]:
        """Every character until the stream ends (tests; piped input)."""
        out = []
        while ch := stream.read(1):
            out += self.feed(ch)
        return out

    def start(self) -> bool:
        """Read the terminal; False (and nothing started) when stdin is not a TTY."""
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        if not os.isatty(fd):
            return False
        import termios
        import tty

        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._thread = threading.Thread(target=self._run, args=(fd,), name="ego360-keys", daemon=True)
        self._thread.start()
        return True

    def _run(self, fd: int) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            data = os.read(fd, 32)
            if not data:
                return
            try:
                self.feed(data.decode(errors="ignore"))
            except Exception:  # noqa: BLE001 - a failing action must not end the key reader
                log.exception("key action failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
