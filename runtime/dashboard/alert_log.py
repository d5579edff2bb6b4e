"""The dashboard's alert log, with the very sound each alert made.

`TappedSpeaker` is the run's `Speaker` (the session takes it as `speaker=`) with two taps: `announce` logs
every alert the moment its earcon is handed to the sinks, and the stereo arrays the speaker hands to its
sinks for that alert — the spatialised earcon, then its spatialised speech from the TTS thread — are kept
with it (`TapOut` sees every `play`; a thread-local says which alert is being played). So the WAV served
per alert is what the wearer heard, not a re-rendering. An escalation that replaced the words keeps the
first alert's earcon with its own words, as heard. Memory is bounded: the last `keep` alerts, with audio
for the last `keep_audio` of them.
"""

from __future__ import annotations

import collections
import contextlib
import io
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.packets import Alert
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import AudioOut, Handle
from ego360.runtime.audio.speaker import Speaker


def _pcm16(stereo: np.ndarray) -> np.ndarray:
    x = np.asarray(stereo, dtype=np.float32).reshape(-1, 2)
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")


@dataclass
class AlertEntry:
    id: int
    alert: Alert
    reason: str  # the policy's decision ("new", "escalation", "replace", …)
    spoken_unix_ms: float = 0.0  # wall clock when its earcon was handed to the sinks
    latency_ms: float = float("nan")  # capture → earcon
    earcon: np.ndarray | None = None  # int16 (N, 2)
    speech: np.ndarray | None = None

    @property
    def has_audio(self) -> bool:
        return self.earcon is not None or self.speech is not None

    def to_json(self) -> dict[str, Any]:
        a = self.alert
        return {"id": self.id, "entity_id": a.entity_id, "role": a.role, "bearing_deg": round(a.bearing_deg, 1),
                "clock": a.clock, "priority": a.priority, "text": a.text, "frame": a.frame_index,
                "video_t": round(a.video_t, 3), "reason": self.reason, "spoken_unix_ms": round(self.spoken_unix_ms, 1),
                "latency_ms": None if self.latency_ms != self.latency_ms else round(self.latency_ms, 1),
                "has_audio": self.has_audio}


class AlertLog:
    """Spoken alerts in order; thread-safe (the frame loop, the TTS thread and HTTP readers use it)."""

    def __init__(self, sample_rate: int, keep: int = 500, keep_audio: int = 100) -> None:
        self.sample_rate = int(sample_rate)
        self.keep, self.keep_audio = int(keep), int(keep_audio)
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[int, AlertEntry] = collections.OrderedDict()
        self._by_alert: dict[int, AlertEntry] = {}  # id(Alert) → entry (the entry keeps the Alert alive)
        self._by_handle: collections.OrderedDict[Handle, AlertEntry] = collections.OrderedDict()
        self._next = 1
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
            self.spoken += 1
            while len(self._entries) > self.keep:
                _, old = self._entries.popitem(last=False)
                self._forget(old)
            for i, e in enumerate(reversed(self._entries.values())):
                if i >= self.keep_audio and e.has_audio:
                    e.earcon = e.speech = None

    def discard(self, entry: AlertEntry) -> None:
        """An opened entry whose announce played nothing."""
        with self._lock:
            self._forget(entry)

    def _forget(self, entry: AlertEntry) -> None:
        if self._by_alert.get(id(entry.alert)) is entry:
            del self._by_alert[id(entry.alert)]
        for h in [h for h, e in self._by_handle.items() if e is entry]:
            del self._by_handle[h]

    def entry_for(self, alert: Alert) -> AlertEntry | None:
        with self._lock:
            return self._by_alert.get(id(alert))

    def record(self, entry: AlertEntry, kind: str, stereo: np.ndarray, handle: Handle,
               after: Handle | None) -> None:
        """A sound the speaker handed to its sinks for `entry` ("earcon" or "speech")."""
        pcm = _pcm16(stereo)
        with self._lock:
            if kind == "earcon":
                entry.earcon = pcm
                self._by_handle[handle] = entry
                while len(self._by_handle) > 2 * self.keep:
                    self._by_handle.popitem(last=False)
            elif entry.speech is None:  # the first words; a later "repeat" of the same alert is not its sound
                entry.speech = pcm
                first = self._by_handle.get(after) if after is not None else None
                if entry.earcon is None and first is not None:  # replaced words under an earlier earcon
                    entry.earcon = first.earcon

    def since(self, last_id: int) -> list[AlertEntry]:
        with self._lock:
            return [e for i, e in self._entries.items() if i > last_id]

    def get(self, alert_id: int) -> AlertEntry | None:
        with self._lock:
            return self._entries.get(alert_id)

    def latencies_ms(self) -> list[float]:
        with self._lock:
            return [e.latency_ms for e in self._entries.values() if e.latency_ms == e.latency_ms]

    def wav(self, alert_id: int) -> bytes | None:
        """Earcon then speech, as the sinks placed them (speech follows its earcon), as a 16-bit stereo WAV."""
        with self._lock:
            e = self._entries.get(alert_id)
            parts = [p for p in (e.earcon, e.speech) if p is not None] if e is not None else []
        if not parts:
            return None
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(np.concatenate(parts).tobytes())
        return buf.getvalue()


class _Context(threading.local):
    entry: AlertEntry | None = None
    kind: str = ""


class TapOut(AudioOut):
    """The run's sinks, unchanged, plus a copy of each alert's sounds into the log."""

    def __init__(self, out: AudioOut, log: AlertLog, context: _Context) -> None:
        super().__init__(out.sinks, file_sink=out.file_sink, device_sink=out.device_sink)
        self._log = log
        self._ctx = context

    def play(self, stereo: np.ndarray, video_t: float, priority: int, after: Handle | None = None,
             queue: bool = False) -> Handle:
        handle = super().play(stereo, video_t, priority, after=after, queue=queue)
        entry = self._ctx.entry
        if entry is not None:
            self._log.record(entry, self._ctx.kind, stereo, handle, after)
        return handle


class TappedSpeaker(Speaker):
    """A `Speaker` whose alerts (and their sounds) also go to an `AlertLog`."""

    def __init__(self, audio_cfg: AudioConfig, tts_cfg: TTSConfig, out: AudioOut, log: AlertLog,
                 **kwargs: Any) -> None:
        self._ctx = _Context()
        self.alert_log = log
        super().__init__(audio_cfg, tts_cfg, TapOut(out, log, self._ctx), **kwargs)

    @contextlib.contextmanager
    def _tapping(self, entry: AlertEntry | None, kind: str) -> Iterator[None]:
        self._ctx.entry, self._ctx.kind = entry, kind
        try:
            yield
        finally:
            self._ctx.entry, self._ctx.kind = None, ""

    def announce(self, alert: Alert, decision: Decision, video_t: float) -> int:
        if not decision.speak:
            return super().announce(alert, decision, video_t)
        entry = self.alert_log.open(alert, decision.reason)
        with self._tapping(entry, "earcon"):
            handed_ns = super().announce(alert, decision, video_t)
        if handed_ns:
            self.alert_log.publish(entry, handed_ns)
        else:
            self.alert_log.discard(entry)
        return handed_ns

    def _on_speech(self, seq: int, pcm: np.ndarray | None, alert: Alert, video_t: float, after: Handle) -> None:
        with self._tapping(self.alert_log.entry_for(alert), "speech"):
            super()._on_speech(seq, pcm, alert, video_t, after)
