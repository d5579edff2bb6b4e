"""Which alerts are spoken, when, and which may cut into or replace the current utterance.

Pure logic with the clock passed in, so every rule is testable with explicit times and the same
decisions are made in replay and live. Rules, in order:

1. priority below `min_priority`, or below the wearer's own floor (`gate`: muted → danger only;
   verbosity "danger") → dropped.
2. held: an alert for an entity that already has one waiting in the hold replaces it when it escalates
   (higher priority; before any sound was made), else it is dropped as coalesced.
3. escalation: an alert with a higher priority than the entity's utterance that began less than
   `escalation_window_s` ago replaces that utterance's speech (the speaker keeps the earcon already
   heard and swaps the words) instead of a second earcon and a cut-off sentence.
4. stale: the deciding frame (`capture_ns`) is older than `stale_s` at the moment the alert would be
   spoken — after its hold, or when the current utterance ends if it has to wait → dropped.
5. cooldown: an entity already spoken within `cooldown_s` stays quiet unless the new alert has a
   higher priority than the last one spoken for it.
6. repeat: the same fact — entity, level (priority) and clock hour — said within `repeat_s` is not
   said again, even after the cooldown (an entity that flaps between two levels would otherwise
   repeat both every cooldown).
7. hold: alerts below `danger_priority` wait `hold_s` (0.15 s by default) before their earcon, so the
   escalation that often follows a frame or two later (e.g. "approaching" → "approaching fast" 133 ms
   apart) is heard as one utterance. That is the only latency the rules add; danger skips it.
8. busy: while an utterance is (estimated to be) playing, a higher-priority alert interrupts it;
   an equal or lower one waits behind it — at most one utterance at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ego360.core.config import AlertsConfig
from ego360.core.packets import Alert

_NS = 1_000_000_000


@dataclass(frozen=True)
class Decision:
    speak: bool
    interrupt: bool
    # "speak" | "interrupt" | "queued" | "replace" | "held" | "below-min-priority" | "muted" | "verbosity"
    # | "stale" | "cooldown" | "repeat" | "coalesced"
    reason: str
    replace: bool = False  # swap the words of this entity's utterance that has just begun (no new earcon)
    held_ns: int = 0  # how long the alert waited in the hold before this decision


@dataclass(frozen=True)
class Released:
    """A held alert whose hold is over, with the decision taken at its due time."""

    alert: Alert
    decision: Decision
    due_ns: int
    wait_ns: int  # from this alert's own decision to its due time: where it goes after its frame


@dataclass(frozen=True)
class PolicyCounters:
    considered: int = 0
    spoken: int = 0
    interrupts: int = 0
    queued: int = 0
    held: int = 0  # alerts that waited in the hold
    replaced_held: int = 0  # a held alert replaced by an escalation before any sound was made
    replaced_speech: int = 0  # an utterance's words replaced by an escalation right after its earcon
    dropped_priority: int = 0
    dropped_muted: int = 0
    dropped_verbosity: int = 0
    dropped_stale: int = 0
    dropped_cooldown: int = 0
    dropped_repeat: int = 0
    dropped_coalesced: int = 0  # an equal/lower alert for an entity whose alert was already waiting


@dataclass
class _Held:
    alert: Alert
    capture_ns: int
    since_ns: int
    due_ns: int
    decided_ns: int


def estimate_utterance_s(text: str, words_per_s: float = 3.0, earcon_s: float = 0.12) -> float:
    """Rough spoken length; only used to know when the current utterance is probably over."""
    words = len(re.findall(r"\w+", text))
    return earcon_s + 0.3 + words / max(words_per_s, 0.1)


Gate = Callable[[], tuple[int, str]]  # → (lowest priority the wearer wants now, "muted" | "verbosity" | "")


class AlertPolicy:
    """Stateful per run; call `decide` once per candidate alert and `release` regularly, in time order."""

    def __init__(self, cfg: AlertsConfig, words_per_s: float = 3.0, earcon_s: float = 0.12,
                 gate: Gate | None = None) -> None:
        self._cfg = cfg
        self._words_per_s = words_per_s
        self._earcon_s = earcon_s
        self.gate = gate
        self._last: dict[int, tuple[int, int]] = {}  # entity_id → (spoken at ns, priority)
        self._facts: dict[tuple[int, int, int], int] = {}  # (entity, priority, clock) → spoken at ns
        self._held: dict[int, _Held] = {}
        self._busy_until_ns = 0
        self._busy_priority = 0
        self._busy_entity = -1
        self._counts: dict[str, int] = {f: 0 for f in PolicyCounters.__dataclass_fields__}

    @property
    def counters(self) -> PolicyCounters:
        return PolicyCounters(**self._counts)

    @property
    def pending(self) -> int:
        return len(self._held)

    def next_due_ns(self) -> int | None:
        return min((h.due_ns for h in self._held.values()), default=None)

    def note_finished(self, now_ns: int) -> None:
        """The speaker may say the utterance ended earlier than estimated (e.g. TTS failed)."""
        self._busy_until_ns = min(self._busy_until_ns, now_ns)

    def decide(self, alert: Alert, now_ns: int, capture_ns: int | None = None) -> Decision:
        """`capture_ns` (default `alert.capture_ns`) is the deciding frame's time on the policy's clock."""
        self._counts["considered"] += 1
        cfg = self._cfg
        capture = alert.capture_ns if capture_ns is None else capture_ns
        eid = alert.entity_id
        if alert.priority < cfg.min_priority:
            return self._drop("dropped_priority", "below-min-priority")
        gated = self._gated(alert)
        if gated is not None:
            return gated
        held = self._held.get(eid)
        if held is not None:
            if alert.priority <= held.alert.priority:
                return self._drop("dropped_coalesced", "coalesced")
            del self._held[eid]
            self._counts["replaced_held"] += 1
            if alert.priority < cfg.danger_priority:  # keeps the first one's due time: the hold never grows
                return self._hold(alert, capture, held.since_ns, held.due_ns, now_ns)
            return self._commit(alert, now_ns, capture, now_ns - held.since_ns)
        last = self._last.get(eid)
        if (last is not None and alert.priority > last[1] and now_ns - last[0] <= cfg.escalation_window_s * _NS
                and now_ns < self._busy_until_ns and self._busy_entity == eid):
            return self._replace(alert, now_ns, capture, last[0])
        if cfg.hold_s > 0 and alert.priority < cfg.danger_priority:
            dropped = self._check(alert, now_ns + int(cfg.hold_s * _NS), capture)
            if dropped is not None:  # it could not be spoken after the hold either: say so now
                return dropped
            return self._hold(alert, capture, now_ns, now_ns + int(cfg.hold_s * _NS), now_ns)
        return self._commit(alert, now_ns, capture, 0)

    def release(self, now_ns: int) -> list[Released]:
        """Held alerts whose hold is over by `now_ns`, decided at their due time (earliest first)."""
        out = []
        for eid, h in sorted(self._held.items(), key=lambda kv: kv[1].due_ns):
            if h.due_ns > now_ns:
                continue
            del self._held[eid]
            gated = self._gated(h.alert)  # muted (or verbosity lowered) while it was held
            if gated is not None:
                out.append(Released(h.alert, gated, h.due_ns, 0))
                continue
            decision = self._commit(h.alert, h.due_ns, h.capture_ns, h.due_ns - h.since_ns)
            out.append(Released(h.alert, decision, h.due_ns, max(0, h.due_ns - h.decided_ns)))
        return out

    def flush(self) -> list[Released]:
        """Everything still held (the run is ending): decided at each one's due time."""
        return self.release(max((h.due_ns for h in self._held.values()), default=0))

    # -- internals ------------------------------------------------------------------------------

    def _gated(self, alert: Alert) -> Decision | None:
        """Below the wearer's floor now (muted → danger only; verbosity "danger"): the drop, else None.
        Asked both when an alert arrives and when its hold ends, as the wearer may have muted meanwhile."""
        floor, why = self.gate() if self.gate is not None else (0, "")
        if alert.priority >= floor:
            return None
        name = "muted" if why == "muted" else "verbosity"
        return self._drop(f"dropped_{name}", name)

    def _hold(self, alert: Alert, capture: int, since_ns: int, due_ns: int, decided_ns: int) -> Decision:
        self._held[alert.entity_id] = _Held(alert, capture, since_ns, due_ns, decided_ns)
        self._counts["held"] += 1
        return Decision(False, False, "held")

    def _check(self, alert: Alert, at_ns: int, capture: int) -> Decision | None:
        """Stale, cooldown and repeat rules at the time the alert would start: the drop, or None."""
        cfg = self._cfg
        busy = at_ns < self._busy_until_ns
        interrupt = busy and alert.priority > self._busy_priority
        speak_at = self._busy_until_ns if busy and not interrupt else at_ns
        if speak_at - capture > cfg.stale_s * _NS:
            return self._drop("dropped_stale", "stale")
        last = self._last.get(alert.entity_id)
        if last is not None and at_ns - last[0] < cfg.cooldown_s * _NS and alert.priority <= last[1]:
            return self._drop("dropped_cooldown", "cooldown")
        said = self._facts.get((alert.entity_id, alert.priority, alert.clock))
        if said is not None and at_ns - said < cfg.repeat_s * _NS:
            return self._drop("dropped_repeat", "repeat")
        return None

    def _commit(self, alert: Alert, now_ns: int, capture: int, held_ns: int) -> Decision:
        dropped = self._check(alert, now_ns, capture)
        if dropped is not None:
            return dropped
        busy = now_ns < self._busy_until_ns
        interrupt = busy and alert.priority > self._busy_priority
        speak_at = self._busy_until_ns if busy and not interrupt else now_ns
        self._record(alert, now_ns, speak_at)
        if interrupt:
            self._counts["interrupts"] += 1
            return Decision(True, True, "interrupt", held_ns=held_ns)
        if busy:
            self._counts["queued"] += 1
            return Decision(True, False, "queued", held_ns=held_ns)
        return Decision(True, False, "speak", held_ns=held_ns)

    def _replace(self, alert: Alert, now_ns: int, capture: int, began_ns: int) -> Decision:
        if now_ns - capture > self._cfg.stale_s * _NS:
            return self._drop("dropped_stale", "stale")
        self._record(alert, now_ns, began_ns)
        self._counts["replaced_speech"] += 1
        return Decision(True, False, "replace", replace=True)

    def _record(self, alert: Alert, now_ns: int, starts_ns: int) -> None:
        self._last[alert.entity_id] = (now_ns, alert.priority)
        self._facts[(alert.entity_id, alert.priority, alert.clock)] = now_ns
        length_ns = int(estimate_utterance_s(alert.text, self._words_per_s, self._earcon_s) * _NS)
        self._busy_until_ns = starts_ns + length_ns
        self._busy_priority = alert.priority
        self._busy_entity = alert.entity_id
        self._counts["spoken"] += 1

    def _drop(self, counter: str, reason: str) -> Decision:
        self._counts[counter] += 1
        return Decision(False, False, reason)
