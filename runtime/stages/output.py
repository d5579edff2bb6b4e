"""The output stage: per-frame lines of events.jsonl and the annotated video, off the alert thread."""

from __future__ import annotations

import time
from collections import deque

from ego360.core.packets import Caption, Work
from ego360.runtime.services.annotated_video import AnnotatedVideo
from ego360.runtime.services.events_log import EventLog

LATENCY_WINDOW = 108_000


class OutputStage:
    """Writes what each frame produced; the queue before it may drop in live mode."""

    name = "output"

    def __init__(self, events: EventLog, video: AnnotatedVideo | None) -> None:
        self.events = events
        self.video = video
        self.captions: dict[int, Caption] = {}
        # The last hour at 30 fps: a day-long live run must not grow a list by one float a frame
        # (~80 MB a day); the summary's capture→output percentiles are then over that last hour.
        self.latencies_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)

    def process(self, work: Work) -> Work:
        p, trig = work.packet, work.trigger
        self.events.frame(p.frame_index, p.video_t, trig.score, state=trig.state, cue=trig.cue)
        tracks = list(work.entities.tracks) if work.entities is not None else []
        for t in tracks:
            self.events.track(t)
        for c in work.captions:
            self.captions[c.entity_id] = c
        if self.video is not None:
            self.video.write(p.image, tracks, self.captions, trig.score, p.video_t)
        self.latencies_ms.append((time.monotonic_ns() - p.capture_ns) / 1e6)
        return work
