"""The one registry of model backends: triggers, trackers and captioners, chosen by name.

Why one table: the config validates every `*.backend` against these names before any output is
written, errors list the valid names, and adding a backend is one line here. Factories import heavy
libraries (torch, sam2, onnxruntime, tensorrt, transformers) only when chosen, so a CPU-only
machine imports this module and every name in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ego360.core.config import CaptionerConfig, Config, DetectorConfig, TrackerConfig, TriggerConfig, check_choice
from ego360.core.geometry import Mounting
from ego360.core.interfaces import Captioner, Tracker

if TYPE_CHECKING:
    from ego360.models.motion import MotionAnalyzer


# ---------------------------------------------------------------- triggers
def _motion_trigger(cfg: TriggerConfig, mounting: Mounting | None, **kwargs: Any) -> Any:
    from ego360.models.trigger import MotionTrigger

    return MotionTrigger(cfg, mounting, **kwargs)


def _onnx_trigger(cfg: TriggerConfig, mounting: Mounting | None, **kwargs: Any) -> Any:
    from ego360.models.trigger import OnnxTrigger

    return OnnxTrigger(cfg, mounting, **kwargs)


TRIGGERS: dict[str, Callable[..., Any]] = {"motion": _motion_trigger, "onnx": _onnx_trigger}


# ---------------------------------------------------------------- trackers
def _classical(cfg: Config, mounting: Mounting, motion: Any = None) -> Any:
    from ego360.models.tracker_classical import ClassicalTracker

    return ClassicalTracker(cfg, mounting=mounting, motion=motion)


def _sam2(backend: str) -> Callable[[Config, Mounting], Any]:
    """A SAM2 follow-view tracker whose per-object streams run on `backend` (torch, onnx, trt)."""

    def factory(cfg: Config, mounting: Mounting, motion: Any = None) -> Any:  # SAM2 needs no motion analysis
        from importlib import import_module

        from ego360.models.sam2.follow import FollowViewTracker

        stream_factory = import_module(f"ego360.models.sam2.backend_{backend}").stream_factory
        t = cfg.tracker
        return FollowViewTracker(stream_factory(t), view_size=t.view_size, fov_deg=t.view_fov_deg,
                                 yaw_offset_deg=mounting.yaw_offset_deg)

    return factory


TRACKERS: dict[str, Callable[..., Any]] = {
    "classical": _classical, "sam2-torch": _sam2("torch"), "sam2-onnx": _sam2("onnx"), "sam2-trt": _sam2("trt"),
}


# ---------------------------------------------------------------- captioners
def _template(cfg: CaptionerConfig) -> Any:
    from ego360.models.captioner_template import TemplateCaptioner

    return TemplateCaptioner()


def _openai(cfg: CaptionerConfig) -> Any:
    from ego360.models.vlm.openai_backend import OpenAICaptioner

    return OpenAICaptioner(cfg)


def _transformers(cfg: CaptionerConfig) -> Any:
    from ego360.models.vlm.hf_backend import TransformersCaptioner

    return TransformersCaptioner(cfg)


CAPTIONERS: dict[str, Callable[[CaptionerConfig], Any]] = {
    "template": _template, "openai": _openai, "transformers": _transformers,
}

# ---------------------------------------------------------------- detectors (cube faces, off the frame loop)
def _no_detector(cfg: DetectorConfig) -> None:
    return None


def _blazepose(cfg: DetectorConfig) -> Any:
    from ego360.models.detectors.blazepose import BlazePoseDetector

    return BlazePoseDetector(cfg.model_dir, cfg.min_score, cfg.threads)


def _onnx_detector(layout: str) -> Callable[[DetectorConfig], Any]:
    def factory(cfg: DetectorConfig) -> Any:
        from ego360.models.detectors.onnx_layouts import OnnxDetector

        return OnnxDetector(cfg.onnx_path, layout, cfg.classes, cfg.min_score, cfg.iou, cfg.providers)

    return factory


DETECTORS: dict[str, Callable[[DetectorConfig], Any]] = {
    "none": _no_detector, "blazepose": _blazepose, "onnx-yolox": _onnx_detector("yolox"),
    "onnx-yolo": _onnx_detector("yolo"), "onnx-detr": _onnx_detector("detr"),
}

REGISTRY: dict[str, dict[str, Callable[..., Any]]] = {"trigger": TRIGGERS, "tracker": TRACKERS, "captioner": CAPTIONERS,
                                                      "detector": DETECTORS}


def check_backends(tracker: TrackerConfig, captioner: CaptionerConfig, trigger: TriggerConfig | None = None) -> None:
    """Fail before any output is written when a backend name is unknown."""
    check_choice("tracker.backend", tracker.backend, TRACKERS)
    check_choice("captioner.backend", captioner.backend, CAPTIONERS)
    if trigger is not None:
        check_choice("trigger.backend", trigger.backend, TRIGGERS)


def create_trigger(cfg: TriggerConfig, mounting: Mounting | None = None, **kwargs: Any) -> Any:
    """The configured trigger; unknown name → ConfigError listing the valid names."""
    check_choice("trigger.backend", cfg.backend, TRIGGERS)
    return TRIGGERS[cfg.backend](cfg, mounting, **kwargs)


def create_tracker(cfg: Config, mounting: Mounting, motion: MotionAnalyzer | None = None) -> Tracker:
    """The configured tracker (classical, or SAM2 on PyTorch / ONNX Runtime / TensorRT). The classical
    one shares `motion` (the analysis the trigger computes for the same frames) and feeds back what
    it holds, so the background model does not learn a person who stops."""
    check_choice("tracker.backend", cfg.tracker.backend, TRACKERS)
    return TRACKERS[cfg.tracker.backend](cfg, mounting, motion)


def create_captioner(cfg: CaptionerConfig) -> Captioner:
    """A blocking captioner; the alert stage runs a VLM one through the deadline-bounded async helper."""
    check_choice("captioner.backend", cfg.backend, CAPTIONERS)
    return CAPTIONERS[cfg.backend](cfg)


def create_detector(cfg: DetectorConfig) -> Any:
    """The configured image detector (an `ego360.models.detectors.base.ImageDetector`), or None for
    `none`; unknown name → ConfigError listing the valid names, missing model → one-line ModelError."""
    check_choice("detector.backend", cfg.backend, DETECTORS)
    return DETECTORS[cfg.backend](cfg)
