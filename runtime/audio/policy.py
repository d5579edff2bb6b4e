"""Which alerts are spoken, and which may cut into the current utterance.

Pure logic with the clock passed in, so every rule is testable with explicit times and the same
decisions are made in replay and live. Rules, in order:

1. priority below `min_priority` → dropped.
2. stale: the deciding frame (`alert.capture_ns`) is older than `stale_s` at the moment the alert
   would be spoken — now, or when the current utterance ends if it has to wait → dropped.
3. cooldown: an entity already spoken within `cooldown_s` stays quiet unless the new alert has a
   higher priority than the last one spoken for it (a repeat "person at 3 o'clock" is noise; an
   escalation to "person running at you" is not).
4. busy: while an utterance is (estimated to be) playing, a higher-priority alert interrupts it;
   an equal or lower one waits behind it (if it will not be stale by then).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ego360.core.config import AlertsConfig
from ego360.core.packets import Alert

_NS = 1_000_000_000


@dataclass(frozen=True)
class Decision:
    speak: bool
    interrupt: bool
    reason: str  # "speak" | "interrupt" | "queued" | "below-min-priority" | "stale" | "cooldown"


@dataclass(frozen=True)
class PolicyCounters:
    considered: int = 0
    spoken: int = 0
    interrupts: int = 0
    queued: int = 0
    dropped_priority: int = 0
    dropped_stale: int = 0
    dropped_cooldown: int = 0


def estimate_utterance_s(text: str, words_per_s: float = 3.0, earcon_s: float = 0.12) -> float:
    """Rough spoken length; only used to know when the current utterance is probably over."""
    words = len(re.findall(r"\w+", text))
    return earcon_s + 0.3 + words / max(words_per_s, 0.1)


class AlertPolicy:
    """Stateful per run; call `decide` once per candidate alert, in time order."""

    def __init__(self, cfg: AlertsConfig, words_per_s: float = 3.0, earcon_s: float = 0.12) -> None:
        self._cfg = cfg
        self._words_per_s = words_per_s
        self._earcon_s = earcon_s
        self._last: dict[int, tuple[int, int]] = {}  # entity_id → (spoken at ns, priority)
        self._busy_until_ns = 0
        self._busy_priority = 0
        self._counts: dict[str, int] = {f: 0 for f in PolicyCounters.__dataclass_fields__}

    @property
    def counters(self) -> PolicyCounters:
        return PolicyCounters(**self._counts)

    def note_finished(self, now_ns: int) -> None:
        """The speaker may say the utterance ended earlier than estimated (e.g. TTS failed)."""
        self._busy_until_ns = min(self._busy_until_ns, now_ns)

    def decide(self, alert: Alert, now_ns: int) -> Decision:
        self._counts["considered"] += 1
        cfg = self._cfg
        if alert.priority < cfg.min_priority:
            return self._drop("dropped_priority", "below-min-priority")
        busy = now_ns < self._busy_until_ns
        interrupt = busy and alert.priority > self._busy_priority
        speak_at = self._busy_until_ns if busy and not interrupt else now_ns
        if speak_at - alert.capture_ns > cfg.stale_s * _NS:
            return self._drop("dropped_stale", "stale")
        last = self._last.get(alert.entity_id)
        if last is not None and now_ns - last[0] < cfg.cooldown_s * _NS and alert.priority <= last[1]:
            return self._drop("dropped_cooldown", "cooldown")
        self._last[alert.entity_id] = (now_ns, alert.priority)
        length_ns = int(estimate_utterance_s(alert.text, self._words_per_s, self._earcon_s) * _NS)
        self._busy_until_ns = speak_at + length_ns
        self._busy_priority = alert.priority
        self._counts["spoken"] += 1
        if interrupt:
            self._counts["interrupts"] += 1
            return Decision(True, True, "interrupt")
        if busy:
            self._counts["queued"] += 1
            return Decision(True, False, "queued")
        return Decision(True, False, "speak")

    def _drop(self, counter: str, reason: str) -> Decision:
        self._counts[counter] += 1
        return Decision(False, False, reason)
