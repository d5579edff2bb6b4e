"""The alert stage: instance-aligned captions and the spoken alerts that cite them.

Every alert names one tracked entity (its id, role and our bearing); the first alert of an event
uses the template caption so it never waits for a VLM, whose answers arrive later through
`poll()` and may be spoken as a follow-up when the policy allows.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ego360.core.config import Config
from ego360.core.geometry import clock_hour
from ego360.core.interfaces import Captioner
from ego360.core.packets import Alert, Caption, CaptionRequest, EntityMotion, EntityUpdate, Track, Work
from ego360.models.captioner_template import TemplateCaptioner, describe_appearance
from ego360.runtime.services.events_log import EventLog
from ego360.runtime.services.grounding_feed import GroundingFeed

if TYPE_CHECKING:  # the speaker pulls in the audio stack; the session builds it
    from ego360.runtime.audio.speaker import Speaker

log = logging.getLogger(__name__)
_EVENT_STATES = ("onset", "ongoing")


def motion_words(m: EntityMotion) -> str:
    """Measured motion in the few words a wearer needs."""
    close = m.distance_class == "within arm's reach"
    if m.approaching and (close or (m.ttc_s is not None and m.ttc_s < 2.0) or m.approach_mps > 1.5):
        return "reaching close" if close else "approaching fast"
    if m.approaching:
        return "approaching"
    if m.circling:
        return "circling you"
    if m.crossing:
        return "crossing close" if m.distance_class in ("within arm's reach", "close") else "crossing"
    if m.leaving:
        return "moving away"
    return "very close" if close else "nearby" if m.distance_class in ("close", "near") else "moving"


# What the trigger saw, for the perpetrator's first alert while its own track is still too short to measure.
CUE_WORDS = {"approach": "approaching", "close": "very close", "crossing": "crossing close", "gesture": "reaching"}
CUE_PRIORITY = {"approach": 2, "close": 3, "crossing": 2, "gesture": 3}


def motion_facts(entities: EntityUpdate | None, track: Track, cue: str = "none") -> tuple[str, str, int]:
    """(motion words, distance words, priority 1..3) for one track from the entity stage's measurements;
    the trigger's cue speaks for a perpetrator whose track has no measured motion yet."""
    m = entities.motion_of(track.entity_id) if entities is not None else None
    words, distance, priority = "moving", "", 1
    if m is not None:
        urgent = m.distance_class == "within arm's reach" or (m.approaching and m.ttc_s is not None and m.ttc_s < 2.0)
        priority = 3 if urgent else 2 if (m.approaching or m.crossing or m.circling) else 1
        words, distance = motion_words(m), m.distance_class
    if track.role == "perpetrator" and cue in CUE_WORDS and words in ("moving", "nearby"):
        words, priority = CUE_WORDS[cue], max(priority, CUE_PRIORITY[cue])
    return words, distance, priority


@dataclass
class _Counters:
    decided: int = 0
    spoken: int = 0
    suppressed: int = 0
    captions_template: int = 0
    captions_vlm: int = 0
    follow_ups: int = 0
    latencies_ms: list[float] = field(default_factory=list)


class AlertStage:
    name = "alerts"

    def __init__(self, cfg: Config, events: EventLog, speaker: Speaker, captioner: Captioner, *, live: bool = False,
                 grounding: GroundingFeed | None = None) -> None:
        from ego360.runtime.audio.policy import AlertPolicy

        self.cfg = cfg
        self.live = live
        self.events = events
        self.speaker = speaker
        self.policy = AlertPolicy(cfg.alerts)
        self.template = TemplateCaptioner()
        self.async_vlm = None
        self.feed = None
        if captioner.is_vlm:
            from ego360.models.vlm.async_runner import AsyncCaptioner
            from ego360.runtime.services.vlm_feed import VlmFeed

            self.async_vlm = AsyncCaptioner(captioner, deadline_s=cfg.captioner.deadline_s,
                                            workers=cfg.captioner.workers)
            self.feed = VlmFeed(cfg.captioner, self.async_vlm)
        self.grounding = grounding  # reported in the summary, closed with this stage
        self.captions: dict[int, Caption] = {}
        self.appearance: dict[int, str] = {}
        self.alerted: dict[int, int] = {}  # entity id → highest priority already alerted in this event
        self.alert_lines: list[dict[str, Any]] = []
        self.c = _Counters()

    def _request(self, work: Work, track: Track, motion: str, distance: str) -> CaptionRequest:
        appearance = self.appearance.get(track.entity_id)
        if appearance is None:  # measured once per entity: colours do not change, and it costs milliseconds
            appearance = self.appearance[track.entity_id] = describe_appearance(work.packet.image, track.mask,
                                                                                track.kind)
        return CaptionRequest(
            entity_id=track.entity_id, frame_index=track.frame_index, role=track.role, kind=track.kind,
            bearing_deg=track.bearing_deg, clock=clock_hour(track.bearing_deg), distance_hint=distance,
            motion_hint=motion, appearance_hint=appearance,
        )

    def _policy_clock(self, work: Work, alert: Alert) -> tuple[Alert, int]:
        """Live: wall clock. Replay: video time plus the real processing lag, so cooldowns mean the same
        in a replay run faster than real time, while a frame that waited too long still goes stale."""
        now = time.monotonic_ns()
        if self.live:
            return alert, now
        video_ns = int(work.packet.video_t * 1e9)
        return dataclasses.replace(alert, capture_ns=video_ns), video_ns + (now - work.packet.capture_ns)

    def _speak(self, work: Work, alert: Alert) -> bool:
        decision = self.policy.decide(*self._policy_clock(work, alert))
        self.c.decided += 1
        if not decision.speak:
            self.c.suppressed += 1
            return False
        handed_ns = self.speaker.announce(alert, decision, work.packet.video_t)
        latency_ms = (handed_ns - alert.capture_ns) / 1e6 if handed_ns else float("nan")
        self.events.alert(alert, latency_ms)
        self.c.spoken += 1
        self.c.latencies_ms.append(latency_ms)
        self.alert_lines.append({"frame": alert.frame_index, "entity_id": alert.entity_id, "text": alert.text,
                                 "clock": alert.clock, "bearing_deg": alert.bearing_deg, "latency_ms": latency_ms})
        return True

    def _maybe_alert(self, work: Work, track: Track, speech: str, priority: int) -> Alert | None:
        """An alert for the perpetrator when this event has not yet told the wearer this much."""
        if priority <= self.alerted.get(track.entity_id, 0):
            return None
        alert = Alert(work.packet.frame_index, work.packet.video_t, work.packet.capture_ns, track.entity_id,
                      track.role, track.bearing_deg, clock_hour(track.bearing_deg), priority, speech)
        if not self._speak(work, alert):
            return None
        self.alerted[track.entity_id] = priority
        return alert

    def process(self, work: Work) -> Work:
        new_caps: list[Caption] = []
        alerts: list[Alert] = []
        in_event = work.trigger.state in _EVENT_STATES
        if work.trigger.state == "onset":
            self.alerted.clear()
        tracks = [t for t in (work.entities.tracks if work.entities is not None else ()) if t.mask.any()]
        requests: dict[int, CaptionRequest] = {}
        for track in tracks:
            motion, distance, priority = motion_facts(work.entities, track, work.trigger.cue)
            request = requests[track.entity_id] = self._request(work, track, motion, distance)
            cap = self.template.caption(request)
            alert = self._maybe_alert(work, track, cap.speech, priority) \
                if in_event and track.role == "perpetrator" else None
            old = self.captions.get(track.entity_id)
            # A caption is (re)made when the entity is new, its role changed, or an alert said something new.
            if old is None or old.role != cap.role or (alert is not None and old.motion != cap.motion):
                self.captions[track.entity_id] = cap
                self.c.captions_template += 1
                new_caps.append(cap)
            if alert is not None:
                alerts.append(alert)
        if self.feed is not None:
            self.feed.observe(work.packet.image, work.packet.video_t, tracks,
                              {k: dataclasses.replace(r, template=self.captions.get(k)) for k, r in requests.items()})
            for eid in work.entities.lost_entities if work.entities is not None else ():
                self.feed.forget(eid)
        new_caps += self._poll_vlm(work, in_event)
        for cap in new_caps:
            self.events.caption(cap)
        return dataclasses.replace(work, captions=tuple(new_caps), alerts=tuple(alerts))

    def _poll_vlm(self, work: Work, in_event: bool) -> list[Caption]:
        if self.async_vlm is None:
            return []
        out = []
        for cap in self.async_vlm.poll():
            self.captions[cap.entity_id] = cap
            self.c.captions_vlm += 1
            out.append(cap)
            if in_event and cap.role == "perpetrator" and cap.speech:
                bearing = next((t.bearing_deg for t in work.entities.tracks if t.entity_id == cap.entity_id), None) \
                    if work.entities is not None else None
                if bearing is not None:
                    alert = Alert(work.packet.frame_index, work.packet.video_t, work.packet.capture_ns,
                                  cap.entity_id, cap.role, bearing, clock_hour(bearing), 1, cap.speech)
                    self.c.follow_ups += self._speak(work, alert)
        return out

    def summary(self) -> dict[str, Any]:
        import numpy as np

        lat = np.asarray([v for v in self.c.latencies_ms if v == v], dtype=float)
        out: dict[str, Any] = {k: v for k, v in dataclasses.asdict(self.c).items() if k != "latencies_ms"}
        if lat.size:
            out["capture_to_earcon_ms"] = {"p50": round(float(np.percentile(lat, 50)), 2),
                                           "p95": round(float(np.percentile(lat, 95)), 2),
                                           "max": round(float(lat.max()), 2)}
        out["policy"] = dataclasses.asdict(self.policy.counters) if dataclasses.is_dataclass(self.policy.counters) \
            else {}
        if self.async_vlm is not None:
            out["vlm"] = dataclasses.asdict(self.async_vlm.stats())
        if self.grounding is not None:
            out["grounding"] = self.grounding.summary()
        stats = getattr(self.speaker, "stats", None)
        if stats is not None and dataclasses.is_dataclass(stats):
            out["speaker"] = dataclasses.asdict(stats)
        return out

    def close(self) -> None:
        if self.async_vlm is not None:
            self.async_vlm.close()
        if self.grounding is not None:
            self.grounding.close()
        self.speaker.close()
