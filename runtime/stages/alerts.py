"""The alert stage: instance-aligned captions and the spoken alerts that cite them.

Every alert names one tracked entity (its id, role and our bearing); the first alert of an event
uses the template caption so it never waits for a VLM, whose answers arrive later through
`poll()` and may be spoken as a follow-up when the policy allows.

The policy may hold a non-danger alert for `alerts.hold_s` (see runtime/audio/policy.py); held
alerts are released after each frame's own alerts are decided and, live, also by a timer at their due
time, so a held alert waits its hold and no longer. Every frame also refreshes `snapshot` (the tracked entities,
read by the wearer's "what's around me"), and `floor`/`speak_captions` let the wearer's controls
mute alerts or add captions.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ego360.core.config import Config
from ego360.core.geometry import clock_hour
from ego360.core.interfaces import Captioner
from ego360.core.packets import Alert, Caption, CaptionRequest, EntityMotion, EntityUpdate, Track, Work
from ego360.models.captioner_template import TemplateCaptioner, describe_appearance
from ego360.runtime.services.entity_snapshot import EntitySnapshot, EntityView
from ego360.runtime.services.events_log import EventLog
from ego360.runtime.services.grounding_feed import GroundingFeed

if TYPE_CHECKING:  # the speaker pulls in the audio stack; the session builds it
    from ego360.runtime.audio.policy import Decision, Released
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
                 paced: bool | None = None, grounding: GroundingFeed | None = None) -> None:
        from ego360.runtime.audio.policy import AlertPolicy

        self.cfg = cfg
        self.live = live
        self.paced = live if paced is None else paced  # frames come at the camera's pace (SourceInfo.paced)
        self.events = events
        self.speaker = speaker
        self.floor: Callable[[], tuple[int, str]] = lambda: (0, "")  # the wearer's controls replace these
        self.speak_captions: Callable[[], bool] = lambda: False
        self.policy = AlertPolicy(cfg.alerts, gate=lambda: self.floor())
        self.snapshot = EntitySnapshot()
        self.video_t = 0.0  # of the latest frame: where a control's sound goes on the WAV's timeline
        self._lock = threading.RLock()  # the policy and the speaker are driven from here and from the hold timer
        self._timer: threading.Timer | None = None
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

    def _policy_clock(self, work: Work, alert: Alert) -> tuple[int, int]:
        """(now, the deciding frame's time) on the policy's clock. Live: the wall clock. Replay: the video
        time, so cooldowns and holds mean the same in a replay run faster than real time (and its WAV is the
        same from run to run). A paced replay takes the frame's real lag off its capture time, so a frame
        that waited too long still goes stale; an unpaced one has no lag: its frames are read ahead and wait
        in full queues for as long as the machine's load says, which would make its alerts (and `ego360
        eval`) depend on that load. How late alerts come is measured paced (`ego360 bench replay`, live)."""
        if self.live:
            return time.monotonic_ns(), alert.capture_ns
        video_ns = int(work.packet.video_t * 1e9)
        if not self.paced:
            return video_ns, video_ns
        return video_ns, video_ns - (time.monotonic_ns() - work.packet.capture_ns)

    def _now(self, work: Work | None) -> int:
        if work is None or self.live:
            return time.monotonic_ns()
        return int(work.packet.video_t * 1e9)

    def _speak(self, work: Work, alert: Alert) -> str:
        """"spoken", "held" (the policy will release it) or "" (dropped)."""
        with self._lock:
            now, capture = self._policy_clock(work, alert)
            decision = self.policy.decide(alert, now, capture)
            self.c.decided += 1
            if decision.reason == "held":
                self._arm_timer(now)
                return "held"
            if not decision.speak:
                self.c.suppressed += 1
                return ""
            self._announce(alert, decision, work.packet.video_t)
            return "spoken"

    def _announce(self, alert: Alert, decision: Decision, video_t: float) -> None:
        handed_ns = self.speaker.announce(alert, decision, video_t)
        latency_ms = (handed_ns - alert.capture_ns) / 1e6 if handed_ns else float("nan")
        self.events.alert(alert, latency_ms, decision=decision.reason, held_ms=round(decision.held_ns / 1e6, 1))
        self.c.spoken += 1
        self.c.latencies_ms.append(latency_ms)
        self.alert_lines.append({"frame": alert.frame_index, "entity_id": alert.entity_id, "text": alert.text,
                                 "clock": alert.clock, "bearing_deg": alert.bearing_deg, "latency_ms": latency_ms,
                                 "video_t": round(video_t, 3), "decision": decision.reason})

    def _release(self, work: Work | None, flush: bool = False) -> list[Alert]:
        """Speak the held alerts whose hold is over; each at its due time on the WAV's timeline."""
        with self._lock:
            out = []
            released: list[Released] = self.policy.flush() if flush else self.policy.release(self._now(work))
            for r in released:
                if not r.decision.speak:
                    self.c.suppressed += 1
                    continue
                self._announce(r.alert, r.decision, r.alert.video_t + r.wait_ns / 1e9)
                out.append(r.alert)
            return out

    def _arm_timer(self, now: int) -> None:
        """Live: release a held alert at its due time even when no frame arrives then."""
        due = self.policy.next_due_ns()
        if not self.live or due is None or (self._timer is not None and self._timer.is_alive()):
            return
        self._timer = threading.Timer(max(0.0, (due - now) / 1e9), self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        try:
            with self._lock:
                self._timer = None
                self._release(None)
                if self.policy.pending:
                    self._arm_timer(time.monotonic_ns())
        except Exception:  # noqa: BLE001 - a timer thread must not die silently with an alert in it
            log.exception("releasing held alerts failed")

    def _maybe_alert(self, work: Work, track: Track, speech: str, priority: int) -> tuple[Alert | None, str]:
        """An alert for the perpetrator when this event has not yet told the wearer this much, and whether it
        was spoken or held (a held one counts as told: the policy speaks it or its escalation)."""
        if priority <= self.alerted.get(track.entity_id, 0):
            return None, ""
        alert = Alert(work.packet.frame_index, work.packet.video_t, work.packet.capture_ns, track.entity_id,
                      track.role, track.bearing_deg, clock_hour(track.bearing_deg), priority, speech)
        status = self._speak(work, alert)
        if not status:
            return None, ""
        self.alerted[track.entity_id] = priority
        return alert, status

    def _update_snapshot(self, work: Work, tracks: list[Track]) -> None:
        views = []
        for t in tracks:
            m = work.entities.motion_of(t.entity_id) if work.entities is not None else None
            views.append(EntityView(t.entity_id, t.role, t.kind, t.bearing_deg, clock_hour(t.bearing_deg),
                                    m.distance_m if m is not None else float("inf"),
                                    m.distance_class if m is not None else "",
                                    motion_words(m) if m is not None else "moving"))
        self.snapshot.update(tuple(views), work.packet.video_t)

    def process(self, work: Work) -> Work:
        new_caps: list[Caption] = []
        self.video_t = work.packet.video_t
        # Live, a held alert is due on the wall clock (its timer may be a little late): out before this frame.
        # Replay, the frame's own alerts are decided first, as they would be live when the lag does not grow.
        alerts: list[Alert] = self._release(work) if self.live else []
        in_event = work.trigger.state in _EVENT_STATES
        if work.trigger.state == "onset":
            self.alerted.clear()
        tracks = [t for t in (work.entities.tracks if work.entities is not None else ()) if t.mask.any()]
        self._update_snapshot(work, tracks)
        requests: dict[int, CaptionRequest] = {}
        for track in tracks:
            motion, distance, priority = motion_facts(work.entities, track, work.trigger.cue)
            request = requests[track.entity_id] = self._request(work, track, motion, distance)
            cap = self.template.caption(request)
            alert, status = self._maybe_alert(work, track, cap.speech, priority) \
                if in_event and track.role == "perpetrator" else (None, "")
            old = self.captions.get(track.entity_id)
            # A caption is (re)made when the entity is new, its role changed, or an alert said something new.
            if old is None or old.role != cap.role or (alert is not None and old.motion != cap.motion):
                self.captions[track.entity_id] = cap
                self.c.captions_template += 1
                new_caps.append(cap)
            if status == "spoken":
                alerts.append(alert)
        if self.feed is not None:
            self.feed.observe(work.packet.image, work.packet.video_t, tracks,
                              {k: dataclasses.replace(r, template=self.captions.get(k)) for k, r in requests.items()})
            for eid in work.entities.lost_entities if work.entities is not None else ():
                self.feed.forget(eid)
        new_caps += self._poll_vlm(work, in_event)
        alerts += self._release(work)
        for cap in new_caps:
            self.events.caption(cap)
        if new_caps and self.speak_captions():
            self._speak_captions(work, tracks, new_caps, {a.entity_id for a in alerts})
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
                    self.c.follow_ups += self._speak(work, alert) != ""
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

    def _speak_captions(self, work: Work, tracks: list[Track], caps: list[Caption], alerted: set[int]) -> None:
        """Verbosity "alerts and captions": a new caption of an entity not alerted on this frame is said as the
        lowest-level alert (the policy's cooldown, repeat and staleness rules apply to it as to any)."""
        by_id = {t.entity_id: t for t in tracks}
        for cap in caps:
            t = by_id.get(cap.entity_id)
            if t is None or cap.entity_id in alerted or not cap.speech:
                continue
            self._speak(work, Alert(work.packet.frame_index, work.packet.video_t, work.packet.capture_ns,
                                    cap.entity_id, cap.role, t.bearing_deg, clock_hour(t.bearing_deg), 1, cap.speech))

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._release(None, flush=True)  # held alerts are still said (and written to the WAV)
        if self.async_vlm is not None:
            self.async_vlm.close()
        if self.grounding is not None:
            self.grounding.close()
        self.speaker.close()
