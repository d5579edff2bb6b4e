"""Shared pieces of the source protocol: context-manager behaviour and realtime pacing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ego360.core.packets import FramePacket, SourceInfo

log = logging.getLogger("ego360.runtime.sources")

# A replay that falls this far behind its schedule (slow disk, a consumer that blocked) re-anchors
# instead of bursting frames to catch up: a live-like source never delivers faster than its fps.
_REANCHOR_S = 0.5


@runtime_checkable
class Source(Protocol):
    info: SourceInfo

    def __iter__(self) -> Iterator[FramePacket]: ...

    def close(self) -> None: ...


class SourceBase:
    """Context manager + an Event that `close()` sets, so a waiting iterator stops promptly."""

    info: SourceInfo

    def __init__(self) -> None:
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # release decoders even if the caller forgot close()
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing sensible to do
            pass


class Pacer:
    """Deliver frame k at anchor + (video_t_k − video_t_anchor) on the monotonic clock.

    Each deadline is computed from the anchor, not from the previous frame, so sleep overshoot does
    not accumulate into drift over a long clip.
    """

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._anchor_ns: int | None = None
        self._anchor_t = 0.0

    def wait(self, video_t: float) -> None:
        now = time.monotonic_ns()
        if self._anchor_ns is None:
            self._anchor_ns, self._anchor_t = now, video_t
            return
        due = self._anchor_ns + int((video_t - self._anchor_t) * 1e9)
        late_s = (now - due) / 1e9
        if late_s > _REANCHOR_S:
            log.debug("replay %.2f s behind schedule; re-anchoring", late_s)
            self._anchor_ns, self._anchor_t = now, video_t
        elif late_s < 0:
            self._stop.wait(-late_s)
