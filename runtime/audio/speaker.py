"""The pipeline's one entry point for sound: earcon now, speech when the TTS thread has it.

`announce` only builds/pans a cached earcon, hands it to the sinks and queues the text to the
TTS worker — no synthesis and no device I/O on the caller's (frame loop's) thread. Speech is mixed
when ready: live, right after its earcon; in the WAV, at the earcon's video time + earcon length
(later only if earlier speech is still playing). An interrupting alert fades out lower-priority
sound and cancels their speech that has not started yet. TTS failures are counted, never raised.

A `replace` decision (an escalation just after the entity's earcon, see policy.py) keeps the earcon
already heard and swaps the words while they are still being synthesised: one earcon, one sentence.
If those words were already handed to the sinks it falls back to an interrupt (counted `replace_late`).
Speech arrives phrase by phrase (tts.py `on_chunk`): the place phrase is placed after the earcon as soon
as it is synthesised and the rest after it; an interrupt also drops the rest of a lower utterance. An
escalation whose place phrase is the one already placed swaps only the rest ("Behind you, 6 o'clock:" |
"person approaching." → "person approaching fast."), still one earcon and one sentence.
The wearer's controls act here too: earcons on/off, speech rate, the last alert said again, a spoken
answer (`say`) and short confirmation cues (`play_cue`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ego360.core.config import AudioConfig, TTSConfig
from ego360.core.packets import Alert
from ego360.runtime.audio.earcon import make_earcon
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import AudioOut, Handle
from ego360.runtime.audio.spatial import Spatializer, make_spatializer
from ego360.runtime.audio.tts import SpeechEngine, TTSStats, TTSWorker, split_phrases

log = logging.getLogger(__name__)
HRTF_WAIT_S = 30.0  # bound on the wait for the HRTF load when only a file is written


@dataclass(frozen=True)
class SpeakerStats:
    announced: int = 0
    interrupts: int = 0
    speech_played: int = 0
    speech_cancelled: int = 0  # interrupted or replaced before its speech was ready
    replaced: int = 0  # an utterance's words swapped for an escalation's, under the one earcon
    replace_late: int = 0  # the words were already placed: the escalation interrupted instead
    said: int = 0  # control answers and repeats
    cues: int = 0  # confirmation sounds of the wearer's controls
    tts_failures: int = 0
    tts: TTSStats | None = None
    spatial: str = ""  # how sounds are placed now: hrtf, or pan (asked for, or the fallback)
    panned_while_loading: int = 0  # sounds panned because the HRTF was still loading


class Speaker:
    def __init__(
        self,
        audio_cfg: AudioConfig,
        tts_cfg: TTSConfig,
        out: AudioOut,
        tts: TTSWorker | None = None,
        engine_factory: Callable[[], SpeechEngine] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._cfg = audio_cfg
        self._out = out
        self._clock = clock
        # audio.spatial: hrtf (loaded on its own thread; panned until ready), or pan as the fallback. With no
        # device (a replay's WAV only) the first sound waits for the load, so the WAV is the same every run.
        self._spatialize = make_spatializer(audio_cfg, background=True,
                                            wait_s=0.0 if getattr(out, "device_sink", None) else HRTF_WAIT_S)
        if tts is None and tts_cfg.backend != "none":
            tts = TTSWorker(tts_cfg, audio_cfg.sample_rate, engine_factory=engine_factory)
        self._tts = tts
        self._lock = threading.Lock()  # sinks are fed from the caller and from the TTS thread
        self._pending: dict[int, int] = {}  # announce seq → priority, until its speech is placed
        self._cancelled: set[int] = set()
        # entity → (seq, what its words follow, speech video_t, place phrase already placed before them or None)
        self._entity: dict[int, tuple[int, Handle | None, float, str | None]] = {}
        self._streaming: dict[int, tuple[int, Handle, str]] = {}  # seq → (priority, place handle, place phrase)
        self._seq = 0
        self.earcons = True  # the wearer may turn them off; confirmation cues still play
        self.last_alert: Alert | None = None
        self._counts = {f: 0 for f in SpeakerStats.__dataclass_fields__
                        if f not in ("tts", "spatial", "panned_while_loading")}

    @property
    def stats(self) -> SpeakerStats:
        with self._lock:
            return SpeakerStats(**self._counts, tts=self._tts.stats if self._tts else None,
                                spatial=self._spatialize.mode,
                                panned_while_loading=self._spatialize.panned_while_loading)

    @property
    def spatializer(self) -> Spatializer:
        """How sounds are placed (`mode`: hrtf or pan; `wait_ready` for a background HRTF load)."""
        return self._spatialize

    @property
    def rate_wpm(self) -> int | None:
        return getattr(self._tts, "rate_wpm", None)

    def set_rate(self, wpm: int) -> None:
        """Speech rate for the next utterances (no TTS worker: nothing to set)."""
        setter = getattr(self._tts, "set_rate", None)
        if setter is not None:
            setter(int(wpm))

    def announce(self, alert: Alert, decision: Decision, video_t: float) -> int:
        """Play the earcon now and queue the speech; returns monotonic ns when the earcon was handed
        to the sinks (0 when `decision.speak` is False and nothing was played)."""
        if not decision.speak:
            return 0
        if decision.replace and self._replace(alert):
            return self._clock()
        with self._lock:
            if decision.interrupt or decision.replace:
                self._counts["interrupts" if decision.interrupt else "replace_late"] += 1
                self._out.interrupt(alert.priority, video_t)
                self._cancelled.update(s for s, p in self._pending.items() if p < alert.priority)
                self._cancelled.update(s for s, (p, _h, _t) in self._streaming.items() if p < alert.priority)
            handle, speech_t = self._earcon(alert, video_t) if self.earcons else (None, video_t)
            handed_ns = self._clock()
            self._counts["announced"] += 1
            self.last_alert = alert
            seq = self._next_seq(alert.priority)
            self._entity[alert.entity_id] = (seq, handle, speech_t, None)
        self._submit(seq, alert, speech_t, handle)
        return handed_ns

    def _earcon(self, alert: Alert, video_t: float) -> tuple[Handle, float]:
        """Play the alert's earcon at its bearing, queued after what is playing → (its handle, the video
        time its speech starts: right after it). The caller holds the lock."""
        sr = self._cfg.sample_rate
        mono = make_earcon(alert.bearing_deg, sr, self._cfg.earcon_ms)
        sound = self._spatialize(mono, alert.bearing_deg, sr)
        return self._out.play(sound, video_t, alert.priority, queue=True), video_t + len(sound) / sr

    def _next_seq(self, priority: int) -> int:
        self._seq += 1
        if self._tts is not None:
            self._pending[self._seq] = priority
        return self._seq

    def _submit(self, seq: int, alert: Alert, speech_t: float, after: Handle | None, text: str | None = None,
                counted: bool = True) -> None:
        if self._tts is None:
            return
        words = alert.text if text is None else text

        def on_chunk(pcm: np.ndarray | None, last: bool = True) -> None:
            self._on_speech(seq, pcm, alert, speech_t, after, last, words, counted)

        if isinstance(self._tts, TTSWorker):
            self._tts.submit(words, on_chunk=on_chunk)
        else:  # a stand-in worker hands the whole utterance to a plain callback
            self._tts.submit(words, on_chunk)

    @staticmethod
    def _rest(text: str, place: str) -> str | None:
        """The words of `text` after `place` when `text` starts with that place phrase, else None."""
        parts = split_phrases(text)
        return parts[1] if len(parts) == 2 and parts[0] == place else None

    def _replace(self, alert: Alert) -> bool:
        """Swap the words of this entity's utterance that are not placed yet: all of them, or the rest after
        a place phrase already placed when the escalation names the same place; False when too late."""
        with self._lock:
            prev = self._entity.get(alert.entity_id)
            if prev is None:
                return False
            seq_old, after, speech_t, place = prev
            if seq_old in self._pending:  # none of its words placed yet
                text = alert.text if place is None else self._rest(alert.text, place)
            elif seq_old in self._streaming:  # its place phrase is placed, the rest is not
                _p, after, place = self._streaming[seq_old]
                text = self._rest(alert.text, place)
            else:
                return False
            if text is None:
                return False
            self._cancelled.add(seq_old)
            self._counts["replaced"] += 1
            self.last_alert = alert
            seq = self._next_seq(alert.priority)
            self._entity[alert.entity_id] = (seq, after, speech_t, place)
        self._submit(seq, alert, speech_t, after, text=text, counted=place is None)
        return True

    def say(self, alert: Alert, video_t: float, earcon: bool = False) -> None:
        """Speak `alert.text` outside the alert rules (the wearer asked for it): queued after what is playing."""
        with self._lock:
            handle, speech_t = self._earcon(alert, video_t) if earcon and self.earcons else (None, video_t)
            self._counts["said"] += 1
            seq = self._next_seq(alert.priority)
        self._submit(seq, alert, speech_t, handle)

    def play_cue(self, stereo: np.ndarray, video_t: float) -> None:
        """A confirmation sound: played at once over whatever is playing (it is short), never queued."""
        with self._lock:
            self._out.play(stereo, video_t, 0)
            self._counts["cues"] += 1

    def _on_speech(self, seq: int, pcm: np.ndarray | None, alert: Alert, video_t: float, after: Handle,
                   last: bool = True, text: str = "", counted: bool = True) -> None:
        """One phrase of an utterance (the whole of it when `last` on the first call). Runs on the TTS
        thread; must never raise into it."""
        try:
            with self._lock:
                first = self._pending.pop(seq, None) is not None
                stream = self._streaming.pop(seq, None)
                if seq in self._cancelled:
                    if last:
                        self._cancelled.discard(seq)
                    if first or stream is not None:  # once per utterance: its words or its rest dropped
                        self._counts["speech_cancelled"] += 1
                    return
                if pcm is None:
                    self._counts["tts_failures"] += 1
                    return
                stereo = self._spatialize(pcm, alert.bearing_deg, self._cfg.sample_rate)
                handle = self._out.play(stereo, video_t, alert.priority, after=stream[1] if stream else after,
                                        queue=True)
                if first and counted:
                    self._counts["speech_played"] += 1
                if not last:
                    self._streaming[seq] = (alert.priority, handle, split_phrases(text)[0])
        except Exception:  # noqa: BLE001 - a broken sink must not kill the TTS thread
            log.exception("placing speech for entity %d failed", alert.entity_id)

    def close(self) -> None:
        """Finish queued speech, write the WAV, stop the device stream."""
        if self._tts is not None:
            self._tts.close()
        self._out.close()
