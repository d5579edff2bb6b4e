"""Text → float32 mono PCM on one dedicated thread, robust to a flaky espeak driver.

pyttsx3's espeak driver keeps process-global state (one espeak instance, one synth callback) and is
not safe from several threads; on some process starts it drops the rate setting or writes an empty
WAV. So exactly one thread (`TTSWorker`) owns the engine: it warms it up once, sets rate (and voice) before
every utterance, checks each WAV (readable, non-empty, audible, plausible duration for the word count),
retries up to `cfg.retries` times and re-creates the engine after any failure. A request that still
fails resolves to None (the earcon and event still happen), counted; `submit` never waits on the engine.

`engine_factory` builds the engine (any object with `synth_to_file(text, path, rate_wpm, voice)`);
tests pass failing engines through it. Without one, `cfg.backend` chooses: pyttsx3, or piper
(tts_piper.py) with pyttsx3 behind it: a request the neural voice gives up on (after its retries) is
spoken by pyttsx3, and pyttsx3 serves the rest of the run, so a broken model costs one slow request
at most, never an alert. Piper missing altogether (package or voice not installed) starts on pyttsx3,
with one warning. `fallback_factory` lets tests put their own engine behind a failing one.

Speaking sooner: a whole alert takes a neural voice a few hundred ms to synthesise, and nothing can play
before it is done. With `on_chunk` (the Speaker's way in) and `tts.split_phrases`, an alert is split
after its place phrase ("Behind you, 5 o'clock:" | "person approaching.") and each phrase is handed over
as soon as it is ready, so the place plays while the rest is synthesised. Piper 1.8's own streaming
(`PiperVoice.synthesize`) yields one chunk per sentence only, and the colon does not end one, hence
the split here; each phrase keeps the checks, retries and fallback. pyttsx3 (~20 ms an alert) is never
split. Place phrases (~20) repeat, so each is kept once synthesised (per engine, rate and voice).
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from math import gcd
from pathlib import Path
from typing import Protocol

import numpy as np

from ego360.core.config import TTSConfig

log = logging.getLogger(__name__)

MIN_RMS = 1e-3  # float scale; espeak speech is ~0.1
LEAD_SILENCE_KEEP_MS = 5.0
WHOLE_ENGINES = frozenset({"pyttsx3"})  # fast enough that splitting gains nothing (bench tts: ~20 ms per alert)
PLACE_CACHE_MAX = 64  # place phrases kept (~1.5 s of audio each)
# pyttsx3 engines live until exit: espeak's one callback holds the newest weakly; a collected one prints a traceback
_KEEP_ALIVE: list[object] = []
PHRASE_PAUSE_MS = 120.0  # silence kept after a place phrase (Piper pauses ~125 ms at the colon mid-sentence)
_PLACE = re.compile(r"^(\S.*?:)\s+(\S.*)$", re.S)  # up to the first colon followed by a space


class SpeechEngine(Protocol):
    def synth_to_file(self, text: str, path: str, rate_wpm: int, voice: str) -> None: ...


class Pyttsx3Engine:
    """pyttsx3 + espeak-ng, synthesising to a WAV file (never `say()`: it shells out to aplay)."""

    def __init__(self) -> None:
        import pyttsx3.drivers.espeak as espeak_driver
        from pyttsx3.engine import Engine

        espeak_driver.print = lambda *a, **_k: log.debug(" ".join(map(str, a)))  # "Audio saved to …": debug log
        self._engine = Engine("espeak")  # a fresh engine, not pyttsx3.init()'s cached one
        _KEEP_ALIVE.append(self._engine)  # never collected: see _KEEP_ALIVE

    def synth_to_file(self, text: str, path: str, rate_wpm: int, voice: str) -> None:
        if voice:
            self._engine.setProperty("voice", voice)
        self._engine.setProperty("rate", int(rate_wpm))
        self._engine.save_to_file(text, path)
        self._engine.runAndWait()


class TTSError(RuntimeError):
    """One synthesis attempt produced no usable speech."""


@dataclass(frozen=True)
class TTSStats:
    requests: int = 0
    succeeded: int = 0
    failed: int = 0  # requests that gave up after all retries
    retries: int = 0  # extra attempts made
    attempt_failures: int = 0
    reinits: int = 0
    fallbacks: int = 0  # switches from the configured engine to the fallback engine (0 or 1 per run)
    place_cache_hits: int = 0  # place phrases handed over from the cache, without synthesis
    synth_ms_total: float = 0.0
    synth_ms_max: float = 0.0

    @property
    def synth_ms_mean(self) -> float:
        return self.synth_ms_total / self.succeeded if self.succeeded else 0.0


def word_count(text: str) -> int:
    return max(1, len(re.findall(r"\w+", text)))


def plausible_duration_s(text: str, rate_wpm: int) -> tuple[float, float]:
    """Bounds on a spoken length; wide enough for espeak's pauses, tight enough to catch a lost rate."""
    expected = word_count(text) * 60.0 / max(rate_wpm, 1)
    return 0.35 * expected, 2.5 * expected + 0.8


def read_wav_mono(path: Path) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV → float32 mono in [-1, 1] and its sample rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise TTSError(f"unexpected sample width {w.getsampwidth()}")
        rate, channels = w.getframerate(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return x, rate


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate or len(x) == 0:
        return x.astype(np.float32)
    from scipy.signal import resample_poly

    g = gcd(src_rate, dst_rate)
    return resample_poly(x, dst_rate // g, src_rate // g).astype(np.float32)


def trim_leading_silence(x: np.ndarray, sample_rate: int, threshold: float = 0.01) -> np.ndarray:
    """espeak starts with tens of ms of silence; cutting it shortens alert latency."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    if len(loud) == 0:
        return x
    return x[max(0, int(loud[0]) - int(sample_rate * LEAD_SILENCE_KEEP_MS / 1000.0)) :]


def trim_trailing_silence(x: np.ndarray, sample_rate: int, keep_ms: float, threshold: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(x) > threshold)
    if len(loud) == 0:
        return x
    return x[: int(loud[-1]) + 1 + int(sample_rate * keep_ms / 1000.0)]


def split_phrases(text: str) -> list[str]:
    """"Behind you, 5 o'clock: person approaching." → ["Behind you, 5 o'clock:", "person approaching."];
    a text without a place phrase stays whole."""
    m = _PLACE.match(text.strip())
    return [m.group(1), m.group(2)] if m else [text]


def check_speech(path: Path, text: str, rate_wpm: int) -> tuple[np.ndarray, int]:
    """Read one synthesised WAV or raise TTSError saying what is wrong with it."""
    if not path.is_file() or path.stat().st_size <= 44:
        raise TTSError("empty or missing WAV")
    try:
        x, rate = read_wav_mono(path)
    except (wave.Error, EOFError, OSError) as exc:
        raise TTSError(f"unreadable WAV ({exc})") from None
    dur = len(x) / max(rate, 1)
    lo, hi = plausible_duration_s(text, rate_wpm)
    if not lo <= dur <= hi:
        raise TTSError(f"implausible duration {dur:.2f}s for {word_count(text)} words (expected {lo:.2f}–{hi:.2f}s)")
    if float(np.sqrt(np.mean(x**2))) < MIN_RMS:
        raise TTSError("silent WAV")
    return x, rate


ChunkCallback = Callable[[np.ndarray | None, bool], None]  # (phrase PCM or None on failure, last)
_Request = tuple[str, Future, ChunkCallback | None]


class TTSWorker:
    """The only thread that touches the speech engine; `submit` is safe from any thread."""

    WARMUP_TEXT = "ready"

    def __init__(
        self,
        cfg: TTSConfig,
        sample_rate: int,
        engine_factory: Callable[[], SpeechEngine] | None = None,
        warm_up: bool = True,
        fallback_factory: Callable[[], SpeechEngine] | None = None,
    ) -> None:
        self._cfg = cfg
        self._sample_rate = int(sample_rate)
        self._stats: dict[str, float] = {f: 0 for f in TTSStats.__dataclass_fields__}
        self._chain = self._engine_chain(cfg, engine_factory, fallback_factory)  # [(name, factory), ...]
        self._level = 0  # index into _chain of the engine in use
        self._warm_up = warm_up
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._lock = threading.Lock()
        self._engine: SpeechEngine | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="ego360-tts-"))
        self._seq = 0
        self._utt_ms = 0.0  # synthesis time of the utterance in progress (TTS thread only)
        self._places: dict[tuple[str, int, str, str], np.ndarray] = {}  # place phrase PCM (TTS thread only)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="tts-worker", daemon=True)
        self._thread.start()

    def _engine_chain(self, cfg: TTSConfig, primary, fallback) -> list[tuple[str, Callable[[], SpeechEngine]]]:
        if primary is not None:
            return [("custom", primary)] + ([("fallback", fallback)] if fallback is not None else [])
        if cfg.backend != "piper":
            return [("pyttsx3", Pyttsx3Engine)]
        from ego360.runtime.audio.tts_piper import PiperUnavailable, piper_factory

        try:
            chain = [("piper", piper_factory(cfg))]
        except PiperUnavailable as exc:
            log.warning("tts.backend=piper: %s; speaking with pyttsx3", exc)
            self._stats["fallbacks"] += 1
            chain = []
        return chain + [("pyttsx3", fallback or Pyttsx3Engine)]

    @property
    def engine_name(self) -> str:
        """The engine speaking now ("piper", "pyttsx3", …)."""
        return self._chain[self._level][0]

    @property
    def rate_wpm(self) -> int:
        return int(self._cfg.rate_wpm)

    def set_rate(self, wpm: int) -> None:  # the config is read per utterance: the next one has it
        self._cfg = replace(self._cfg, rate_wpm=int(wpm))

    @property
    def stats(self) -> TTSStats:
        with self._lock:
            return TTSStats(**self._stats)

    def submit(self, text: str, callback: Callable[[np.ndarray | None], None] | None = None,
               on_chunk: ChunkCallback | None = None) -> Future:
        """Queue `text`; the Future resolves to float32 mono PCM at `sample_rate`, or None on failure.
        `on_chunk(pcm, last)` is called on the TTS thread with each phrase as soon as it is ready (the
        whole text when it has no place phrase or `tts.split_phrases` is off); `(None, True)` once when
        the engines give up."""
        fut: Future = Future()
        if callback is not None:
            fut.add_done_callback(lambda f: callback(f.result()))
        if self._closed:
            fut.set_result(None)
            if on_chunk is not None:
                on_chunk(None, True)
            return fut
        self._bump("requests")
        self._queue.put((text, fut, on_chunk))
        return fut

    def synthesize(self, text: str, timeout: float | None = None) -> np.ndarray | None:
        """Blocking convenience for tools and tests — never call it from the frame loop."""
        return self.submit(text).result(timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Finish queued requests, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _bump(self, key: str, by: float = 1) -> None:
        with self._lock:
            self._stats[key] += by

    def _run(self) -> None:
        if self._warm_up:
            self._warm()
        while True:
            req = self._queue.get()
            if req is None:
                return
            text, fut, on_chunk = req
            if fut.set_running_or_notify_cancel():
                fut.set_result(self._synth_utterance(text, on_chunk))

    def _warm(self) -> None:
        """First utterance in a process is the one most likely to misbehave; spend it on a throwaway.
        An engine that cannot even be built (missing or corrupt voice model) hands over to the next now."""
        while True:
            try:
                self._attempt(self.WARMUP_TEXT)
                return
            except Exception as exc:  # noqa: BLE001 - any engine failure is recoverable here
                built = self._engine is not None
                log.debug("TTS warm-up of %s failed (%s); re-initialising", self.engine_name, exc)
                self._reset_engine()
                if built or not self._switch(f"could not start ({exc})"):
                    return

    def _switch(self, why: str) -> bool:
        """Move to the next engine of the chain; False when there is none."""
        if self._level + 1 >= len(self._chain):
            return False
        failed = self.engine_name
        self._level += 1
        self._engine = None
        self._bump("fallbacks")
        log.warning("TTS engine %s %s; speaking with %s from now on", failed, why, self.engine_name)
        return True

    def _synth_utterance(self, text: str, on_chunk: ChunkCallback | None) -> np.ndarray | None:
        """Phrase by phrase (see the module docstring), each handed to `on_chunk` when ready."""
        split = on_chunk is not None and self._cfg.split_phrases and self.engine_name not in WHOLE_ENGINES
        parts = split_phrases(text) if split else [text]
        self._utt_ms = 0.0
        pcms = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            key = (self.engine_name, self._cfg.rate_wpm, self._cfg.voice, part)
            pcm = None if last else self._places.get(key)
            if pcm is not None:
                self._bump("place_cache_hits")
                pcm = pcm.copy()  # writeable: the spatializer caches renderings of read-only arrays (earcons)
            else:
                pcm = self._synth_with_retries(part)
                if pcm is not None and not last:
                    pcm = trim_trailing_silence(pcm, self._sample_rate, PHRASE_PAUSE_MS)
                    if len(self._places) >= PLACE_CACHE_MAX:
                        self._places.clear()
                    kept = pcm.copy()
                    kept.flags.writeable = False
                    self._places[(self.engine_name, *key[1:])] = kept  # the engine that really spoke it
            if pcm is None:
                self._bump("failed")
                log.warning("TTS gave up on %r; alert continues without (the rest of) its speech", part)
                self._emit(on_chunk, None, True)
                return None
            pcms.append(pcm)
            self._emit(on_chunk, pcm, last)
        with self._lock:
            self._stats["succeeded"] += 1
            self._stats["synth_ms_total"] += self._utt_ms
            self._stats["synth_ms_max"] = max(self._stats["synth_ms_max"], self._utt_ms)
        return pcms[0] if len(pcms) == 1 else np.concatenate(pcms)

    @staticmethod
    def _emit(on_chunk: ChunkCallback | None, pcm: np.ndarray | None, last: bool) -> None:
        if on_chunk is None:
            return
        try:
            on_chunk(pcm, last)
        except Exception:  # noqa: BLE001 - a failing consumer must not stop the TTS thread
            log.exception("TTS chunk consumer failed")

    def _synth_with_retries(self, text: str) -> np.ndarray | None:
        """The engine in use with its retries; if it gives up, the next engine of the chain takes over."""
        while True:
            pcm = self._synth_one_engine(text)
            if pcm is not None:
                return pcm
            if not self._switch(f"failed on {text!r}"):
                return None

    def _synth_one_engine(self, text: str) -> np.ndarray | None:
        attempts = 1 + max(0, self._cfg.retries)
        for i in range(attempts):
            if i:
                self._bump("retries")
            t0 = time.perf_counter()
            try:
                pcm = self._attempt(text)
            except Exception as exc:  # noqa: BLE001 - a TTS failure must never stop the run
                built = self._engine is not None
                self._bump("attempt_failures")
                log.debug("TTS attempt %d for %r failed: %s", i + 1, text, exc)
                self._reset_engine()
                if not built and self._level + 1 < len(self._chain):
                    break  # it cannot even be built: retrying only delays the fallback's speech
                continue
            self._utt_ms += (time.perf_counter() - t0) * 1000.0
            return pcm
        log.debug("TTS engine %s gave up on %r after %d attempts", self.engine_name, text, attempts)
        return None

    def _attempt(self, text: str) -> np.ndarray:
        if self._engine is None:
            self._engine = self._chain[self._level][1]()
        self._seq += 1
        path = self._tmp / f"u{self._seq}.wav"
        try:
            self._engine.synth_to_file(text, str(path), self._cfg.rate_wpm, self._cfg.voice)
            x, rate = check_speech(path, text, self._cfg.rate_wpm)
        finally:
            path.unlink(missing_ok=True)
        x = resample(x, rate, self._sample_rate)
        return trim_leading_silence(x, self._sample_rate)

    def _reset_engine(self) -> None:
        self._engine = None  # the factory builds a fresh one on the next attempt
        self._bump("reinits")
