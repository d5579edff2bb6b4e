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

log = logging.getLogger(__name__)


class Sink(Protocol):
    def play(
        self, stereo: np.ndarray, video_t: float, priority: int, after: int | None = None, queue: bool = False
    ) -> int: ...
    def interrupt(self, below_priority: int, video_t: float) -> int: ...
    def close(self) -> None: ...


class FileSink:
    """Sounds on the video timeline, written as one 16-bit stereo WAV at close."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self._tl = Timeline(self.sample_rate)
        self._closed = False

    def _pos(self, video_t: float) -> int:
        return max(0, int(round(video_t * self.sample_rate)))

    def play(
        self, stereo: np.ndarray, video_t: float, priority: int, after: int | None = None, queue: bool = False
    ) -> int:
        return self._tl.add(stereo, self._pos(video_t), priority, after=after, queue=queue)

    def interrupt(self, below_priority: int, video_t: float) -> int:
        return self._tl.interrupt(below_priority, self._pos(video_t))

    def render(self) -> np.ndarray:
        return self._tl.render(0, self._tl.last_end)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        pcm = np.round(self.render() * 32767.0).astype("<i2")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(self.path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(pcm.tobytes())


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


Handle = tuple[int, ...]  # one voice id per sink, in AudioOut.sinks order


class AudioOut:
    """Fan-out to the open sinks; `play` returns a handle that a later sound can follow."""

    def __init__(self, sinks: list[Sink], file_sink: FileSink | None = None, device_sink: Sink | None = None) -> None:
        self.sinks = sinks
        self.file_sink = file_sink
        self.device_sink = device_sink

    def play(
        self, stereo: np.ndarray, video_t: float, priority: int, after: Handle | None = None, queue: bool = False
    ) -> Handle:
        return tuple(
            s.play(stereo, video_t, priority, after=None if after is None else after[i], queue=queue)
            for i, s in enumerate(self.sinks)
        )

    def interrupt(self, below_priority: int, video_t: float) -> int:
        return max((s.interrupt(below_priority, video_t) for s in self.sinks), default=0)

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
    cfg: AudioConfig, wav_path: str | Path | None = None, device_factory: DeviceFactory | None = None
) -> AudioOut:
    """Sinks for `cfg.sink`, plus a FileSink whenever `wav_path` is given (replay always passes one).

    "auto": try the device; without one, log a single warning and go on file-only.
    "sounddevice": the device was asked for explicitly, so failing to open it is a UserError.
    "file": file only (needs `wav_path`). "none": device off; a given `wav_path` is still written.
    """
    factory = device_factory or _default_device_factory
    file_sink = FileSink(wav_path, cfg.sample_rate) if wav_path is not None else None
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
