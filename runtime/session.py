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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ego360.core.config import Config
from ego360.core.geometry import DEFAULT_CAMERA_HEIGHT_M, Mounting
from ego360.core.packets import SourceInfo, Work
from ego360.runtime.pipeline import OverflowPolicy, Runner, stop_on_signals
from ego360.runtime.services.annotated_video import AnnotatedVideo
from ego360.runtime.services.events_log import EventLog
from ego360.runtime.sources import Source
from ego360.runtime.stages.alerts import AlertStage
from ego360.runtime.stages.entities import EntityStage, detection_service
from ego360.runtime.stages.output import OutputStage
from ego360.runtime.stages.trigger import TriggerStage

if TYPE_CHECKING:  # the speaker pulls in the audio stack; built only when a run starts
    from ego360.runtime.audio.speaker import Speaker
    from ego360.runtime.control import ControlSession

log = logging.getLogger(__name__)


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
                 speaker: Speaker | None = None,
                 ) -> tuple[list, EventLog, AnnotatedVideo | None, AlertStage, OutputStage]:
    """Everything but the source, so tests can drive the stages with their own sources.

    Every service is built here and handed to the stages that use it: one motion analysis shared by
    the trigger, the tracker and the entity stage (computed once per frame, the tracker's held masks
    fed back to it), the captioner, the grounding feed, the speaker and the outputs."""
    from ego360.models.motion import MotionAnalyzer
    from ego360.models.registry import check_backends, create_captioner, create_tracker, create_trigger

    check_backends(cfg.tracker, cfg.captioner, cfg.trigger)
    cfg = with_camera_height(cfg, mounting)
    events = EventLog(out_dir / "events.jsonl", write_tracks=cfg.output.tracks)
    video = AnnotatedVideo(out_dir / "annotated.mp4", info.fps / cfg.runner.process_every) \
        if cfg.output.annotated_video else None
    motion = MotionAnalyzer.configured(cfg.trigger, mounting)
    trigger = create_trigger(cfg.trigger, mounting, motion=motion)
    captioner = create_captioner(cfg.captioner)
    grounding = None
    if cfg.captioner.grounding:
        from ego360.runtime.services.grounding_feed import GroundingFeed

        grounding = GroundingFeed(cfg.captioner, captioner, mounting)
    # the trained detector on cube faces (detector.backend; none = motion only) runs in its own thread
    entity_stage = EntityStage(cfg, mounting, create_tracker(cfg, mounting, motion), motion, grounding,
                               detection_service(cfg, mounting))
    if speaker is None:
        speaker = make_speaker(cfg, out_dir / "alerts.wav", live=live)
    alert_stage = AlertStage(cfg, events, speaker, captioner, live=live, paced=live or info.paced,
                             grounding=grounding)
    policy = OverflowPolicy(cfg.runner.live_policy if live else cfg.runner.replay_policy)
    output = OutputStage(events, video)
    stages = [
        (TriggerStage(trigger), policy),
        (entity_stage, policy),
        (alert_stage, OverflowPolicy.BLOCK),  # alerts never drop: they are the product
        (output, policy if live else OverflowPolicy.BLOCK),
    ]
    return stages, events, video, alert_stage, output


def with_camera_height(cfg: Config, mounting: Mounting) -> Config:
    """The camera height every distance uses: `trigger.camera_height_m` when set away from its
    default, else the mounting calibration's `height_m` (`ego360 calibrate --height-m`)."""
    if cfg.trigger.camera_height_m != DEFAULT_CAMERA_HEIGHT_M or mounting.height_m == cfg.trigger.camera_height_m:
        return cfg
    return dataclasses.replace(cfg, trigger=dataclasses.replace(cfg.trigger, camera_height_m=mounting.height_m))


def make_speaker(cfg: Config, wav_path: Path | None, live: bool = False) -> Speaker:
    from ego360.runtime.audio.sinks import open_sink
    from ego360.runtime.audio.speaker import Speaker

    return Speaker(cfg.audio, cfg.tts, open_sink(cfg.audio, wav_path, live=live))


def _cuda_sync() -> Any | None:
    """torch.cuda.synchronize when a CUDA backend is in use, so per-stage times are true GPU times."""
    import sys

    torch = sys.modules.get("torch")
    return torch.cuda.synchronize if torch is not None and torch.cuda.is_available() else None


def _audio_out(alert_stage: AlertStage) -> Any | None:
    """The speaker's AudioOut (its `file_sink`, `device_lost`), None for a speaker without one."""
    return getattr(alert_stage.speaker, "_out", None)


def _output_failures(events: EventLog, video: AnnotatedVideo | None, alert_stage: AlertStage) -> dict[str, str]:
    """Outputs that stopped mid-run (a full disk, an unplugged sound device), each reported once."""
    out = _audio_out(alert_stage)
    file_sink = getattr(out, "file_sink", None)
    found = {"events": events.failed, "annotated_video": getattr(video, "failed", None),
             "wav": getattr(file_sink, "failed", None), "audio_device": getattr(out, "device_lost", None)}
    return {k: v for k, v in found.items() if v}


def run_session(cfg: Config, source: Source, out_dir: Path, mounting: Mounting, *, live: bool = False,
                speaker: Speaker | None = None, progress: Callable[[Work], None] | None = None,
                cuda_sync: bool = False, controls: bool = False,
                on_controls: Callable[[ControlSession], None] | None = None,
                on_runner: Callable[[Runner], None] | None = None) -> SessionResult:
    """Run to the end of the source; writes events.jsonl, alerts.wav and annotated.mp4 in out_dir.

    `controls`: the wearer's controls for this run (`cfg.control`: terminal keys when stdin is a TTY, a
    media button when one is readable, the HTTP API when `control.port` >= 0); `on_controls` is called
    once they are up (the live command prints the API's address and token there); `on_runner` gets the
    runner before it starts (a dashboard reads its per-stage stats while it runs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info: SourceInfo = source.info
    stages, events, video, alert_stage, output = build_stages(cfg, mounting, info, out_dir, live=live, speaker=speaker)
    control = None
    if controls:
        from ego360.runtime.control import ControlSession

        try:
            control = ControlSession(cfg, alert_stage)
        except BaseException:  # e.g. the control port is taken: stop the threads already started
            source.close()
            alert_stage.close()
            events.close()
            raise
        if on_controls is not None:
            on_controls(control)
    queue_size = cfg.runner.live_queue_size if live else cfg.runner.queue_size
    runner = Runner(source, stages, queue_size=queue_size, process_every=cfg.runner.process_every,
                    sink=progress, sync=_cuda_sync() if cuda_sync else None)
    if on_runner is not None:
        on_runner(runner)
    with stop_on_signals(runner, source.close) as stopped:
        t0 = time.perf_counter()
        try:
            stats = runner.run()
        finally:
            source.close()
            alert_stage.close()  # the last words are spoken (and reach a dashboard) while the control API is up
            if control is not None:
                control.close()
            detections = getattr(stages[1][0], "detections", None)
            if detections is not None:
                detections.close()
        wav = out_dir / "alerts.wav"
        file_sink = getattr(_audio_out(alert_stage), "file_sink", None)
        compact = bool(getattr(file_sink, "compact", False))
        if video is not None:  # a compact WAV is off the video clock: the video keeps no sound then
            video.finish(wav if wav.exists() and not compact else None)
        summary = {
            "source": dataclasses.asdict(info), "live": live,
            "mounting": dataclasses.asdict(mounting),
            **stats.summary(),
            "alerts": alert_stage.summary(),
            "control": control.summary() if control is not None else None,
            "detector": detections.stats() if detections is not None else None,  # its own thread, off the frame loop
            "capture_to_output_ms": _percentiles(output.latencies_ms),
            "alerts_wav": None if file_sink is None else {
                "mode": "compact" if compact else "timeline",
                "seconds": round(file_sink.in_file / file_sink.sample_rate, 3),
                "silence_cut_s": round(file_sink.cut / file_sink.sample_rate, 3)},
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "stopped_by": stopped["signal"], "output_failures": _output_failures(events, video, alert_stage),
            "total_wall_s": round(time.perf_counter() - t0, 3),
            "config": {"tracker": cfg.tracker.backend, "captioner": cfg.captioner.backend,
                       "trigger": cfg.trigger.backend, "process_every": cfg.runner.process_every,
                       "detector": cfg.detector.backend},
        }
        events.summary(summary)
        events.close()
        try:
            (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        except OSError as exc:  # a full disk: the summary is still returned and printed
            log.error("writing %s failed (%s)", out_dir / "summary.json", exc)
    return SessionResult(out_dir=out_dir, summary=summary, alerts=alert_stage.alert_lines,
                         alert_latencies_ms=list(alert_stage.c.latencies_ms),
                         frame_latencies_ms=list(output.latencies_ms))
