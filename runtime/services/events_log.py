"""`events.jsonl`: the replay's machine-readable record (alerts, tracks, captions, per-frame scores).

Documented in the README; `ego360 eval` and our checks read it, so field names are stable. Lines are
flushed as they are written so a crashed or interrupted live run still leaves a readable log.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from ego360.core.packets import Alert, Caption, Track
from ego360.core.rle import decode_rle, encode_rle  # noqa: F401  (decode_rle re-exported for readers)

log = logging.getLogger(__name__)


class EventLog:
    """Thread-safe JSON-lines writer; one instance per run."""

    def __init__(self, path: Path, *, write_tracks: bool = True) -> None:
        self.path = path
        self.write_tracks = write_tracks
        self._fh = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.failed: str | None = None  # why writing stopped (a full disk), reported once
        self.lost = 0  # lines not written after that

    def _write(self, obj: dict[str, Any]) -> None:
        """A write that fails (ENOSPC, EIO) stops the log, logged once: the run and its alerts go on."""
        line = json.dumps(obj, separators=(",", ":"))
        with self._lock:
            if self.failed is not None:
                self.lost += 1
                return
            try:
                self._fh.write(line + "\n")
                self._fh.flush()
            except OSError as exc:
                self.failed, self.lost = f"{type(exc).__name__}: {exc}", 1
                log.error("writing %s failed (%s); the event log stops here, alerts go on", self.path, exc)
                return
            self.counts[obj["type"]] = self.counts.get(obj["type"], 0) + 1

    def frame(self, frame: int, video_t: float, score: float, **extra: Any) -> None:
        self._write({"type": "frame", "frame": frame, "video_t": round(video_t, 4), "score": round(score, 5), **extra})

    def track(self, t: Track) -> None:
        if not self.write_tracks:
            return
        self._write({
            "type": "track", "frame": t.frame_index, "entity_id": t.entity_id, "role": t.role,
            "bearing_deg": round(t.bearing_deg, 2), "kind": t.kind,
            "box": [round(v, 1) for v in (t.box.x0, t.box.y0, t.box.x1, t.box.y1)], "rle": encode_rle(t.mask),
        })

    def caption(self, c: Caption) -> None:
        self._write({
            "type": "caption", "entity_id": c.entity_id, "frame": c.frame_index, "role": c.role,
            "appearance": c.appearance, "motion": c.motion, "interaction": c.interaction, "speech": c.speech,
            "source": c.source,
        })

    def alert(self, a: Alert, wall_latency_ms: float, **extra: Any) -> None:
        self._write({
            "type": "alert", "frame": a.frame_index, "video_t": round(a.video_t, 4),
            "wall_latency_ms": round(wall_latency_ms, 3), "entity_id": a.entity_id, "role": a.role,
            "bearing_deg": round(a.bearing_deg, 2), "clock": a.clock, "priority": a.priority, "text": a.text, **extra,
        })

    def summary(self, data: dict[str, Any]) -> None:
        self._write({"type": "summary", **data})

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                try:
                    self._fh.close()
                except OSError as exc:  # the buffer could not be flushed: the disk is full
                    self.failed = self.failed or f"{type(exc).__name__}: {exc}"


def read_events(path: Path) -> list[dict[str, Any]]:
    """All lines of an events.jsonl (tests, eval and the demo's summary use it)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
