"""Backends by name. Factories import heavy libraries only when chosen, so CPU-only CI imports all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.bearings import Mounting
from runtime.config import CaptionerConfig, Config, TrackerConfig, check_choice


def _classical(cfg: Config, mounting: Mounting) -> Any:
    from models.tracker_classical import ClassicalTracker

    return ClassicalTracker(cfg, mounting=mounting)


def _sam2(cfg: Config, mounting: Mounting) -> Any:
    from models.sam2 import create_tracker

    return create_tracker(cfg.tracker, yaw_offset_deg=mounting.yaw_offset_deg)


TRACKERS: dict[str, Callable[[Config, Mounting], Any]] = {
    "classical": _classical, "sam2-torch": _sam2, "sam2-onnx": _sam2, "sam2-trt": _sam2,
}


def _template(cfg: CaptionerConfig) -> Any:
    from models.captioner_template import TemplateCaptioner

    return TemplateCaptioner()


def _vlm(cfg: CaptionerConfig) -> Any:
    from models.vlm import create_captioner

    return create_captioner(cfg)


CAPTIONERS: dict[str, Callable[[CaptionerConfig], Any]] = {"template": _template, "openai": _vlm, "transformers": _vlm}


def check_backends(tracker: TrackerConfig, captioner: CaptionerConfig) -> None:
    """Fail before any output is written when a backend name is unknown."""
    check_choice("tracker.backend", tracker.backend, TRACKERS)
    check_choice("captioner.backend", captioner.backend, CAPTIONERS)


def create_tracker(cfg: Config, mounting: Mounting) -> Any:
    """The configured tracker; the classical one shares the trigger's motion analysis via `use_motion`."""
    check_choice("tracker.backend", cfg.tracker.backend, TRACKERS)
    return TRACKERS[cfg.tracker.backend](cfg, mounting)


def create_captioner(cfg: CaptionerConfig) -> Any:
    check_choice("captioner.backend", cfg.backend, CAPTIONERS)
    return CAPTIONERS[cfg.backend](cfg)
