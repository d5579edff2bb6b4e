"""Assembles one run of the alert path: source → trigger → entities/tracker → alerts → outputs.

The same assembly serves `replay` (block on full queues: every frame counts), `live` (drop the oldest
frame before slow stages: the wearer needs *now*), `demo` and `bench replay`. Heavy backends are
created through the registry only when configured.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.alerting import AlertStage, Work
from runtime.annotate import AnnotatedVideo
from runtime.bearings import Mounting
from runtime.config import Config
from runtime.events_log import EventLog
from runtime.packets import Caption, FramePacket, SourceInfo
from runtime.pipeline import OverflowPolicy, Runner

log = logging.getLogger(__name__)


class TriggerStage:
    """Frame → Work with the anomaly score (the trigger keeps its own motion history)."""

    name = "trigger"

    def __init__(self, trigger: Any) -> None:
        self.trigger = trigger

    def process(self, packet: FramePacket) -> Work:
        return Work(packet=packet, trigger=self.trigger.process(packet))


class EntityStageAdapter:
    """Runs the entity stage (proposals, roles, tracker) — the queue before it may drop in live mode.

    In grounding mode the VLM's boxes (asked for at onset, answered later) seed the tracker too.
    """

    name = "tracker"

    def __init__(self, stage: Any, grounding: Any | None = None) -> None:
        self.stage = stage
        self.grounding = grounding

    def process(self, work: Work) -> Work:
        if self.grounding is not None:
            if work.trigger.state == "onset":
                self.grounding.on_onset(work.packet.image, work.trigger.bearing_deg, work.packet.frame_index)
            seeds = self.grounding.poll()
            if seeds:
                self.grounding.stats.seeded += len(self.stage.seed(work.packet, seeds))
        return dataclasses.replace(work, entities=self.stage.process(work.packet, work.trigger))


class OutputStage:
    """Per-frame lines of events.jsonl and the annotated video, off the alert thread."""

    name = "output"

    def __init__(self, events: EventLog, video: AnnotatedVideo | None) -> None:
        self.events = events
        self.video = video
        self.captions: dict[int, Caption] = {}
        self.latencies_ms: list[float] = []

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


@dataclass
class SessionResult:
    out_dir: Path
    summary: dict[str, Any]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_latencies_ms: list[float] = field(default_factory=list)  # capture → earcon handed to the sink
    frame_latencies_ms: list[float] = field(default_factory=list)  # capture → frame fully processed


def _percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    if not values:
        return {}
    p50, p95, p99 = np.percentile(np.asarray(values), [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_stages(cfg: Config, mounting: Mounting, info: SourceInfo, out_dir: Path, *, live: bool,
                 speaker: Any | None = None) -> tuple[list, EventLog, AnnotatedVideo | None, AlertStage, OutputStage]:
    """Everything but the source, so tests can drive the stages with their own sources."""
    from models.entities import EntityStage
    from models.registry import check_backends, create_captioner, create_tracker
    from models.trigger import make_trigger

    check_backends(cfg.tracker, cfg.captioner)
    events = EventLog(out_dir / "events.jsonl", write_tracks=cfg.output.tracks)
    video = AnnotatedVideo(out_dir / "annotated.mp4", info.fps / cfg.runner.process_every) \
        if cfg.output.annotated_video else None
    trigger = make_trigger(cfg.trigger, mounting)
    entity_stage = EntityStage(cfg, mounting, lambda c: create_tracker(c, mounting),
                               motion=getattr(trigger, "motion", None))
    if speaker is None:
        speaker = make_speaker(cfg, out_dir / "alerts.wav")
    captioner = create_captioner(cfg.captioner)
    alert_stage = AlertStage(cfg, events, speaker, captioner, live=live)
    grounding = None
    if cfg.captioner.grounding:
        from runtime.grounding_feed import GroundingFeed

        grounding = GroundingFeed(cfg.captioner, captioner, mounting)
    policy = OverflowPolicy(cfg.runner.live_policy if live else cfg.runner.replay_policy)
    output = OutputStage(events, video)
    stages = [
        (TriggerStage(trigger), policy),
        (EntityStageAdapter(entity_stage, grounding), policy),
        (alert_stage, OverflowPolicy.BLOCK),  # alerts never drop: they are the product
        (output, policy if live else OverflowPolicy.BLOCK),
    ]
    alert_stage.grounding = grounding  # reported in the summary, closed with the alert stage
    return stages, events, video, alert_stage, output


def make_speaker(cfg: Config, wav_path: Path | None) -> Any:
    from runtime.audio.sinks import open_sink
    from runtime.audio.speaker import Speaker

    return Speaker(cfg.audio, cfg.tts, open_sink(cfg.audio, wav_path))


def _cuda_sync() -> Any | None:
    """torch.cuda.synchronize when a CUDA backend is in use, so per-stage times are true GPU times."""
    import sys

    torch = sys.modules.get("torch")
    return torch.cuda.synchronize if torch is not None and torch.cuda.is_available() else None


def run_session(cfg: Config, source: Any, out_dir: Path, mounting: Mounting, *, live: bool = False,
                speaker: Any | None = None, progress: Any | None = None, cuda_sync: bool = False) -> SessionResult:
    """Run to the end of the source; writes events.jsonl, alerts.wav and annotated.mp4 in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info: SourceInfo = source.info
    stages, events, video, alert_stage, output = build_stages(cfg, mounting, info, out_dir, live=live, speaker=speaker)
    runner = Runner(source, stages, queue_size=cfg.runner.queue_size, process_every=cfg.runner.process_every,
                    sink=progress, sync=_cuda_sync() if cuda_sync else None)
    t0 = time.perf_counter()
    try:
        stats = runner.run()
    finally:
        source.close()
        alert_stage.close()
    wav = out_dir / "alerts.wav"
    if video is not None:
        video.finish(wav if wav.exists() else None)
    summary = {
        "source": dataclasses.asdict(info), "live": live,
        "mounting": dataclasses.asdict(mounting),
        **stats.summary(),
        "alerts": alert_stage.summary(),
        "capture_to_output_ms": _percentiles(output.latencies_ms),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "total_wall_s": round(time.perf_counter() - t0, 3),
        "config": {"tracker": cfg.tracker.backend, "captioner": cfg.captioner.backend,
                   "trigger": cfg.trigger.backend, "process_every": cfg.runner.process_every},
    }
    events.summary(summary)
    events.close()
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return SessionResult(out_dir=out_dir, summary=summary, alerts=alert_stage.alert_lines,
                         alert_latencies_ms=list(alert_stage.c.latencies_ms), frame_latencies_ms=output.latencies_ms)
