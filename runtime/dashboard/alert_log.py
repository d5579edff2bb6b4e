"""The dashboard's alert log, with the very sound each alert made.

`TappedSpeaker` is the run's `Speaker` (the session takes it as `speaker=`) with taps: `announce` logs every
alert the moment its earcon is handed to the sinks, and `TapOut` — the speaker's sinks, unchanged — keeps a
copy of what is played for it. The earcon is played inside `announce` (a thread-local names the alert);
its words follow on the TTS thread, phrase by phrase, each placed `after` the sound before it, so they
are found by that chain of sink handles (with earcons off, the first phrase is named by the thread-local
set around the speaker's speech callback). A repeat of the alert by the wearer starts a new chain and is
not mixed in. An escalation that replaced the words takes over the first alert's chain: its sound is
the first earcon (and place phrase) with its own words, as heard. The WAV served per alert is therefore
what the wearer heard, not a re-rendering (concatenated: a wait while other speech played is left out).
Memory is bounded: the last `keep` alerts, with audio for the last `keep_audio` of them.
"""

from __future__ import annotations

import collections
import io
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.packets import Alert
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import AudioOut, Handle
from ego360.runtime.audio.speaker import Speaker
from ego360.runtime.audio.wav import pcm16, write_wav


@dataclass
class AlertEntry:
    id: int
    alert: Alert
    reason: str  # the policy's decision ("speak", "interrupt", "replace", …)
    spoken_unix_ms: float = 0.0  # wall clock when its earcon was handed to the sinks
    latency_ms: float = float("nan")  # capture → earcon
    sound: list[np.ndarray] = field(default_factory=list)  # int16 (N, 2) pieces in playing order
    earcon_played: bool = False
    sound_version: int = 0  # the log's counter when a piece was last added (the feed announces new sound)

    @property
    def has_audio(self) -> bool:
        return bool(self.sound)

    @property
    def samples(self) -> int:
        return sum(len(p) for p in list(self.sound))

    def to_json(self) -> dict[str, Any]:
        a = self.alert
        return {"id": self.id, "entity_id": a.entity_id, "role": a.role, "bearing_deg": round(a.bearing_deg, 1),
                "clock": a.clock, "priority": a.priority, "text": a.text, "frame": a.frame_index,
                "video_t": round(a.video_t, 3), "reason": self.reason, "spoken_unix_ms": round(self.spoken_unix_ms, 1),
                "latency_ms": None if self.latency_ms != self.latency_ms else round(self.latency_ms, 1),
                "has_audio": self.earcon_played or self.has_audio}


class AlertLog:
    """Spoken alerts in order; thread-safe (the frame loop, the TTS thread and HTTP readers use it)."""

    def __init__(self, sample_rate: int, keep: int = 500, keep_audio: int = 100) -> None:
        self.sample_rate = int(sample_rate)
        self.keep, self.keep_audio = int(keep), int(keep_audio)
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[int, AlertEntry] = collections.OrderedDict()
        self._by_alert: dict[int, AlertEntry] = {}  # id(Alert) → entry (the entry keeps the Alert alive)
        self._chain: collections.OrderedDict[Handle, AlertEntry] = collections.OrderedDict()  # sink handle → entry
        self._by_entity: dict[int, AlertEntry] = {}  # the latest entry of each entity (an escalation takes it over)
        self._next = 1
        self._version = 0
        self.spoken = 0

    def open(self, alert: Alert, reason: str) -> AlertEntry:
        """An entry for an alert about to be announced; published (visible to readers) by `publish`."""
        with self._lock:
            entry = AlertEntry(self._next, alert, reason)
            self._next += 1
            self._by_alert[id(alert)] = entry
            return entry

    def publish(self, entry: AlertEntry, handed_ns: int) -> None:
        with self._lock:
            entry.spoken_unix_ms = time.time() * 1000.0
            entry.latency_ms = (handed_ns - entry.alert.capture_ns) / 1e6
            self._entries[entry.id] = entry
            self._by_entity[entry.alert.entity_id] = entry
            self.spoken += 1
            while len(self._entries) > self.keep:
                _, old = self._entries.popitem(last=False)
                self._forget(old)
            for i, e in enumerate(reversed(self._entries.values())):
                if i >= self.keep_audio and e.sound:
                    e.sound = []

    def discard(self, entry: AlertEntry) -> None:
        """An opened entry whose announce played nothing."""
        with self._lock:
            self._forget(entry)

    def _forget(self, entry: AlertEntry) -> None:
        if self._by_alert.get(id(entry.alert)) is entry:
            del self._by_alert[id(entry.alert)]
        if self._by_entity.get(entry.alert.entity_id) is entry:
            del self._by_entity[entry.alert.entity_id]
        for h in [h for h, e in self._chain.items() if e is entry]:
            del self._chain[h]

    def take_over(self, entry: AlertEntry) -> tuple[AlertEntry, list[Handle]] | None:
        """An escalation replacing the words of its entity's last alert: that alert's chain (and the sound
        already played of it) becomes this entry's. Returns what `give_back` needs if it was too late."""
        with self._lock:
            prev = self._by_entity.get(entry.alert.entity_id)
            if prev is None or prev is entry:
                return None
            moved = [h for h, e in self._chain.items() if e is prev]
            for h in moved:
                self._chain[h] = entry
            entry.sound = list(prev.sound)
            return prev, moved

    def give_back(self, entry: AlertEntry, undo: tuple[AlertEntry, list[Handle]]) -> None:
        """The replacement was too late (the speaker played a new earcon instead): undo `take_over`."""
        prev, moved = undo
        with self._lock:
            for h in moved:
                if self._chain.get(h) is entry:
                    self._chain[h] = prev
            entry.sound = entry.sound[len(prev.sound):]

    def entry_for(self, alert: Alert) -> AlertEntry | None:
        with self._lock:
            return self._by_alert.get(id(alert))

    def record(self, stereo: np.ndarray, handle: Handle, after: Handle | None, earcon_of: AlertEntry | None,
               words_of: AlertEntry | None) -> None:
        """A sound the speaker handed to its sinks. Kept when it is an alert's earcon (`earcon_of`: played
        inside announce), follows a sound of an alert's chain, or is the first words of an alert without
        earcon (`words_of`: the speech callback's alert)."""
        with self._lock:
            if earcon_of is not None:
                entry = earcon_of
                entry.earcon_played = True
            elif after is not None:
                entry = self._chain.get(after)
            elif words_of is not None and not words_of.earcon_played and not words_of.sound:
                entry = words_of
            else:
                entry = None
            if entry is None:
                return
            entry.sound.append(pcm16(stereo))
            self._version += 1
            entry.sound_version = self._version
            self._chain[handle] = entry
            while len(self._chain) > 8 * self.keep:
                self._chain.popitem(last=False)

    def since(self, last_id: int) -> list[AlertEntry]:
        with self._lock:
            return [e for i, e in self._entries.items() if i > last_id]

    def sounds_since(self, version: int) -> tuple[list[AlertEntry], int]:
        """Published entries whose sound grew after `version`, and the version now."""
        with self._lock:
            return [e for e in self._entries.values() if e.sound_version > version], self._version

    def get(self, alert_id: int) -> AlertEntry | None:
        with self._lock:
            return self._entries.get(alert_id)

    def latencies_ms(self) -> list[float]:
        with self._lock:
            return [e.latency_ms for e in self._entries.values() if e.latency_ms == e.latency_ms]

    def wav(self, alert_id: int) -> bytes | None:
        """The alert's sounds in playing order (earcon, then its phrases) as a 16-bit stereo WAV."""
        with self._lock:
            e = self._entries.get(alert_id)
            parts = list(e.sound) if e is not None else []
        if not parts:
            return None
        buf = io.BytesIO()
        write_wav(buf, np.concatenate(parts), self.sample_rate)
        return buf.getvalue()


class _Context(threading.local):
    earcon_of: AlertEntry | None = None  # set around announce (the earcon is played inside it)
    words_of: AlertEntry | None = None  # set around the speech callback (the TTS thread)


class TapOut(AudioOut):
    """The run's sinks, unchanged, plus a copy of each alert's sounds into the log."""

    def __init__(self, out: AudioOut, log: AlertLog, context: _Context) -> None:
        super().__init__(out.sinks, file_sink=out.file_sink, device_sink=out.device_sink)
        self._log = log
        self._ctx = context

    def play(self, stereo: np.ndarray, video_t: float, priority: int, after: Handle | None = None,
             queue: bool = False) -> Handle:
        handle = super().play(stereo, video_t, priority, after=after, queue=queue)
        self._log.record(stereo, handle, after, self._ctx.earcon_of, self._ctx.words_of)
        return handle


class TappedSpeaker(Speaker):
    """A `Speaker` whose alerts (and their sounds) also go to an `AlertLog`."""

    def __init__(self, audio_cfg: AudioConfig, tts_cfg: TTSConfig, out: AudioOut, log: AlertLog,
                 **kwargs: Any) -> None:
        self._ctx = _Context()
        self.alert_log = log
        super().__init__(audio_cfg, tts_cfg, TapOut(out, log, self._ctx), **kwargs)

    def announce(self, alert: Alert, decision: Decision, video_t: float) -> int:
        if not decision.speak:
            return super().announce(alert, decision, video_t)
        entry = self.alert_log.open(alert, decision.reason)
        undo = self.alert_log.take_over(entry) if decision.replace else None
        self._ctx.earcon_of = entry
        try:
            handed_ns = super().announce(alert, decision, video_t)
        except BaseException:
            self.alert_log.discard(entry)
            raise
        finally:
            self._ctx.earcon_of = None
        if undo is not None and entry.earcon_played:  # too late to replace: a new earcon was played
            self.alert_log.give_back(entry, undo)
        if handed_ns:
            self.alert_log.publish(entry, handed_ns)
        else:
            self.alert_log.discard(entry)
        return handed_ns

    def _on_speech(self, *args: Any, **kwargs: Any) -> None:
        """The speaker's speech callback (TTS thread), whatever its other arguments: names the alert."""
        alert = next((a for a in (*args, *kwargs.values()) if isinstance(a, Alert)), None)
        self._ctx.words_of = self.alert_log.entry_for(alert) if alert is not None else None
        try:
            super()._on_speech(*args, **kwargs)
        finally:
            self._ctx.words_of = None
