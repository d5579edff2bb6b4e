"""The dashboard's live feed as Server-Sent Events, and the numbers it carries.

One generator per open page, run on that request's own thread by the control server (`Response.stream`):
it wakes every `tick_s`, and sends what changed — `frame` (a new JPEG is ready: its seq; the page then
fetches /dash/frame.jpg), `alert` (each spoken alert once, the backlog first), `entities` (the radar, a few
times a second), `stats` (per-stage latencies, once a second), `state` (the wearer's controls) and
`audio` (an alert's sound grew: its words came after its earcon; the page then keeps the WAV, so it can
still be played after the run). It ends when the dashboard closes or the page goes away (the write fails).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from ego360.runtime.dashboard.alert_log import AlertLog
from ego360.runtime.dashboard.frames import FrameFeed
from ego360.runtime.pipeline import Runner
from ego360.runtime.services.entity_snapshot import EntityView

RECENT = 300  # per-stage latencies over the last this many items


class Feedable(Protocol):
    """What the feed and the routes read of a run's dashboard (`Dashboard` in this package's __init__)."""

    frames: FrameFeed
    alerts: AlertLog
    clients: int

    @property
    def closed(self) -> bool: ...
    def wait(self, seconds: float) -> None: ...
    def client_joined(self) -> None: ...
    def client_left(self) -> None: ...
    def hello(self) -> dict[str, Any]: ...
    def entities(self) -> tuple[EntityView, ...]: ...
    def video_t(self) -> float: ...
    def stats(self) -> dict[str, Any]: ...
    def control_state(self) -> dict[str, Any] | None: ...


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    ms = np.asarray([v for v in values if v == v], dtype=np.float64)
    if not ms.size:
        return {"p50_ms": None, "p95_ms": None, "mean_ms": None}
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "mean_ms": round(float(ms.mean()), 2)}


def recent(window: Any, n: int = RECENT) -> list[float]:
    """The newest n items of a deque another thread appends to (a C-level copy; retried if it raced)."""
    for _ in range(3):
        try:
            return list(itertools.islice(reversed(window), n))
        except RuntimeError:
            continue
    return []


def stage_stats(runner: Runner | None) -> dict[str, Any]:
    """Per stage: items done, dropped at its queue, errors, recent p50/p95/mean in ms; frame counters."""
    if runner is None:
        return {"stages": []}
    st = runner.stats
    stages = []
    for i, s in enumerate(st.stages):
        q = runner.queues[i - 1] if 0 < i <= len(runner.queues) else None
        stages.append({"name": s.name, "count": s.count, "errors": s.errors,
                       "dropped": q.dropped if q is not None else 0, "queued": len(q) if q is not None else 0,
                       **percentiles(v * 1000.0 for v in recent(s.window))})
    return {"stages": stages, "frames_read": st.frames_read, "frames_skipped": st.frames_skipped,
            "frames_processed": st.stages[-1].count if st.stages else 0}


def entity_json(v: EntityView) -> dict[str, Any]:
    d = dataclasses.asdict(v)
    d["distance_m"] = round(v.distance_m, 2) if math.isfinite(v.distance_m) else None
    d["bearing_deg"] = round(v.bearing_deg, 1)
    return d


def events(dash: Feedable, *, tick_s: float = 0.1, entities_s: float = 0.2, stats_s: float = 1.0,
           ping_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> Iterator[bytes]:
    """The feed for one page; see the module docstring."""
    dash.client_joined()
    last_seq = last_alert = sound_version = 0
    next_entities = next_stats = 0.0
    next_ping = clock() + ping_s
    last_entities: list[dict[str, Any]] | None = None
    try:
        yield b"retry: 1000\n\n"
        yield sse("hello", dash.hello())
        while not dash.closed:
            now = clock()
            jpeg = dash.frames.latest()
            if jpeg is not None and jpeg.seq != last_seq:
                last_seq = jpeg.seq
                yield sse("frame", {"seq": jpeg.seq, "video_t": round(jpeg.video_t, 3), "frame": jpeg.frame_index,
                                    "lag_ms": round(jpeg.lag_ms, 1)})
            for entry in dash.alerts.since(last_alert):
                last_alert = entry.id
                yield sse("alert", entry.to_json())
            grown, sound_version = dash.alerts.sounds_since(sound_version)
            for entry in grown:
                yield sse("audio", {"id": entry.id, "seconds": round(entry.samples / dash.alerts.sample_rate, 3)})
            if now >= next_entities:
                next_entities = now + entities_s
                views = [entity_json(v) for v in dash.entities()]
                if views != last_entities:
                    last_entities = views
                    yield sse("entities", {"video_t": round(dash.video_t(), 3), "entities": views})
            if now >= next_stats:
                next_stats = now + stats_s
                yield sse("stats", dash.stats())
                state = dash.control_state()
                if state is not None:
                    yield sse("state", state)
            if now >= next_ping:
                next_ping = now + ping_s
                yield b": ping\n\n"
            dash.wait(tick_s)
        yield sse("end", {"reason": "the run has ended"})
    finally:
        dash.client_left()
