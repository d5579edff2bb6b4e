"""Where alert sounds go: a live sound device, a WAV file on the video timeline, or both.

`SounddeviceSink` keeps ONE PortAudio output stream open for the whole run and pulls from a
`Mixer` in its callback, so starting a sound is just appending an array (no device open per
alert, no blocking on the caller's thread). `FileSink` places every sound at its video time and
writes `alerts.wav` (16-bit stereo) at close — what a replay produces, deterministically. With
`audio.sink = "auto"` and no usable device, `open_sink` logs one warning and keeps the file sink.
"""

from __future__ import annotations

import logging
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ego360.core.config import AudioConfig
from ego360.core.errors import UserError
from ego360.runtime.audio.mixer import Mixer, Timeline
from ego360.runtime.audio.wav import open_wav

log = logging.getLogger(__name__)


class Sink(Protocol):
    def play(
        self, stereo: np.ndarray, video_t: float, priority: int, after: int | None = None, queue: bool = False
    ) -> int: ...
    def interrupt(self, below_priority: int, video_t: float) -> int: ...
    def close(self) -> None: ...


class FileSink:
    """Sounds on the video timeline, streamed into one 16-bit stereo WAV.

    Everything older than `horizon_s` before the newest sound is final (alerts are placed at their own
    frame's time, never further back), so it is written out and dropped: a day-long live run holds at most
    a horizon of audio, not the whole day. A write that fails (a full disk) stops the WAV, is logged once
    and kept in `failed`; sounds still go to the other sinks.

    `max_silence_s` (compact, live): a silence longer than that is written only that long, so a day of
    mostly quiet listening stays megabytes, not gigabytes; the file then no longer runs on the video clock
    (`cut` counts the samples left out)."""

    def __init__(self, path: str | Path, sample_rate: int, horizon_s: float = 30.0,
                 max_silence_s: float | None = None) -> None:
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self._tl = Timeline(self.sample_rate)
        self._closed = False
        self._horizon = int(horizon_s * self.sample_rate)
        self._writer: wave.Wave_write | None = None
        self.written = 0  # samples of the timeline handled (written or, compact, cut)
        self.in_file = 0  # samples in the file
        self.cut = 0  # silent samples left out (compact)
        self._keep = None if max_silence_s is None else max(0, int(round(max_silence_s * self.sample_rate)))
        self._quiet = 0  # compact: silent samples at the end of what was written so far
        self.failed: str | None = None
        try:  # opened at once: the run's open files stay constant (a soak counts them)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = open_wav(self.path, self.sample_rate)  # it owns the file: closed with it, also when dropped
        except OSError as exc:
            self._fail(exc)

    @property
    def compact(self) -> bool:
        """Silences are shortened: the file is not on the video clock."""
        return self._keep is not None

    def _pos(self, video_t: float) -> int:
        return max(self.written, int(round(video_t * self.sample_rate)))

    def play(
        self, stereo: np.ndarray, video_t: float, priority: int, after: int | None = None, queue: bool = False
    ) -> int:
        pos = self._pos(video_t)
        vid = self._tl.add(stereo, pos, priority, after=after, queue=queue)
        self._flush(pos - self._horizon)
        return vid

    def interrupt(self, below_priority: int, video_t: float) -> int:
        return self._tl.interrupt(below_priority, self._pos(video_t))

    def _flush(self, upto: int) -> None:
        """Write samples [written, upto) and forget the voices that ended before `upto`."""
        if upto <= self.written:
            return
        pcm = np.round(self._tl.render(self.written, upto - self.written) * 32767.0).astype("<i2")
        self._tl.drop_before(upto)
        self.written = upto
        if self._keep is not None:
            pcm = self._compact(pcm)
        self.in_file += len(pcm)
        if self.failed is not None or self._writer is None:
            return
        try:
            self._writer.writeframesraw(pcm.tobytes())
        except OSError as exc:
            self._fail(exc)

    def _compact(self, pcm: np.ndarray) -> np.ndarray:
        """`pcm` without the silent samples past `max_silence_s` of each silence (also one that began
        in an earlier flush)."""
        silent = ~pcm.any(axis=1)
        if not silent.any():
            self._quiet = 0
            return pcm
        idx = np.arange(len(pcm))
        last_sound = np.maximum.accumulate(np.where(silent, -1, idx))
        run = np.where(last_sound < 0, idx + 1 + self._quiet, idx - last_sound)  # 1-based place in its silence
        keep = ~silent | (run <= self._keep)
        self._quiet = int(run[-1]) if silent[-1] else 0
        self.cut += int(len(pcm) - keep.sum())
        return pcm[keep]

    def _fail(self, exc: OSError) -> None:
        self.failed = f"{type(exc).__name__}: {exc}"
        log.error("writing %s failed (%s); the WAV stops here, alerts go on", self.path, exc)

    def render(self) -> np.ndarray:
        """The whole run's audio so far (what was written is read back: tests and short runs)."""
        tail = self._tl.render(self.written, max(0, self._tl.last_end - self.written))
        if self.in_file == 0 or not self.path.exists():
            return tail
        fh = getattr(self._writer, "_file", None)
        if fh is not None:
            fh.flush()
        head = np.fromfile(self.path, dtype="<i2", offset=44, count=self.in_file * 2).reshape(-1, 2)
        return np.concatenate([head.astype(np.float32) / 32767.0, tail])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._flush(max(self._tl.last_end, self.written, 1))
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()  # patches the header's sizes
            except OSError as exc:
                self.failed = self.failed or f"{type(exc).__name__}: {exc}"
                log.error("finishing %s failed (%s)", self.path, exc)


def _resolve_device(device: str) -> int | str | None:
    if not device:
        return None
    return int(device) if device.strip().isdigit() else device


class SounddeviceSink:
    """One persistent stereo `sounddevice.OutputStream` whose callback renders the mixer."""

    def __init__(self, sample_rate: int, device: str = "", latency: str | float = "low") -> None:
        import sounddevice as sd

        self.sample_rate = int(sample_rate)
        self.mixer = Mixer(self.sample_rate)
        self.status_errors = 0  # underflows etc. reported by PortAudio; counted, never raised
        self._stream = sd.OutputStream(
            samplerate=self.sample_rate,
            channels=2,
            dtype="float32",
            device=_resolve_device(device),
            latency=latency,
            callback=self._callback,
        )
        self._stream.start()

    def _callback(self, outdata: np.ndarray, frames: int, _time, status) -> None:
        if status:
            self.status_errors += 1
        outdata[:] = self.mixer.render(frames)

    def play(
        self, stereo: np.ndarray, video_t: float, priority: int, after: int | None = None, queue: bool = False
    ) -> int:
        if not self._stream.active:  # unplugged headphones: PortAudio stopped the stream under us
            raise OSError("the audio device's stream stopped")
        return self.mixer.add(stereo, priority, after=after, queue=queue)

    def interrupt(self, below_priority: int, video_t: float) -> int:
        return self.mixer.interrupt(below_priority)

    def close(self, drain_timeout_s: float = 10.0) -> None:
        """Let queued sounds finish (bounded), then stop the stream."""
        deadline = time.monotonic() + drain_timeout_s
        while self.mixer.busy() and time.monotonic() < deadline and self._stream.active:
            time.sleep(0.02)
        time.sleep(float(self._stream.latency) + 0.05)  # the last block is still in the device buffer
        self._stream.stop()
        self._stream.close()


class _SilentSink:
    """Stands in for a sound device that went away mid-run."""

    def play(self, stereo: np.ndarray, video_t: float, priority: int, after: int | None = None,
             queue: bool = False) -> int:
        return 0

    def interrupt(self, below_priority: int, video_t: float) -> int:
        return 0

    def close(self) -> None:
        pass


Handle = tuple[int, ...]  # one voice id per sink, in AudioOut.sinks order


class AudioOut:
    """Fan-out to the open sinks; `play` returns a handle that a later sound can follow."""

    def __init__(self, sinks: list[Sink], file_sink: FileSink | None = None, device_sink: Sink | None = None) -> None:
        self.sinks = sinks
        self.file_sink = file_sink
        self.device_sink = device_sink
        self.device_lost: str | None = None

    def play(
        self, stereo: np.ndarray, video_t: float, priority: int, after: Handle | None = None, queue: bool = False
    ) -> Handle:
        return tuple(
            self._guard(i, s.play, stereo, video_t, priority, after=None if after is None else after[i], queue=queue)
            for i, s in enumerate(self.sinks)
        )

    def interrupt(self, below_priority: int, video_t: float) -> int:
        return max((self._guard(i, s.interrupt, below_priority, video_t) for i, s in enumerate(self.sinks)), default=0)

    def _guard(self, i: int, call: Callable[..., int], *args, **kwargs) -> int:
        """A sound device that fails mid-run (unplugged) is reported once and replaced by a silent sink
        in place (handles keep their positions); the WAV and the other sinks go on."""
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - PortAudioError, OSError, ...
            if self.sinks[i] is not self.device_sink:
                raise
            log.error("audio device gone (%s); going on without it%s", exc,
                      f", writing {self.file_sink.path}" if self.file_sink is not None else "")
            self.device_lost = f"{type(exc).__name__}: {exc}"
            self.sinks[i] = _SilentSink()
            try:
                self.device_sink.close()
            except Exception:  # noqa: BLE001 - it is gone already
                pass
            return 0

    def close(self) -> None:
        for s in self.sinks:
            try:
                s.close()
            except Exception as exc:  # noqa: BLE001 - closing one sink must not lose the WAV
                log.warning("closing audio sink %s failed: %s", type(s).__name__, exc)


DeviceFactory = Callable[[int, str], Sink]


def _default_device_factory(sample_rate: int, device: str) -> Sink:
    return SounddeviceSink(sample_rate, device)


def open_sink(
    cfg: AudioConfig, wav_path: str | Path | None = None, device_factory: DeviceFactory | None = None,
    live: bool = False,
) -> AudioOut:
    """Sinks for `cfg.sink`, plus a FileSink whenever `wav_path` is given (replay always passes one);
    `cfg.wav` "auto" writes it compact when `live`.

    "auto": try the device; without one, log a single warning and go on file-only.
    "sounddevice": the device was asked for explicitly, so failing to open it is a UserError.
    "file": file only (needs `wav_path`). "none": device off; a given `wav_path` is still written.
    """
    factory = device_factory or _default_device_factory
    compact = cfg.wav == "compact" or (cfg.wav == "auto" and live)
    file_sink = (FileSink(wav_path, cfg.sample_rate, max_silence_s=cfg.wav_max_silence_s if compact else None)
                 if wav_path is not None else None)
    if cfg.sink == "file" and file_sink is None:
        raise UserError("audio.sink=file needs an output folder for alerts.wav; use audio.sink=auto or none")
    device_sink: Sink | None = None
    if cfg.sink in ("auto", "sounddevice"):
        try:
            device_sink = factory(cfg.sample_rate, cfg.device)
        except Exception as exc:  # noqa: BLE001 - PortAudioError, OSError, missing libportaudio ...
            if cfg.sink == "sounddevice":
                raise UserError(
                    f"cannot open audio device {cfg.device or 'default'!r} ({exc}); "
                    "use audio.sink=auto or file, or set audio.device"
                ) from None
            where = f"writing {wav_path}" if file_sink else "alerts will be silent"
            log.warning("no audio output device (%s); %s", str(exc).splitlines()[0] if str(exc) else exc, where)
    sinks: list[Sink] = [s for s in (device_sink, file_sink) if s is not None]
    return AudioOut(sinks, file_sink=file_sink, device_sink=device_sink)
