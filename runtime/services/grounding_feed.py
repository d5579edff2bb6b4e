"""Grounding mode (the paper's VLM+SAM2 baseline): at onset the VLM names the perpetrator and the
victim/target by boxes in views around the trigger's bearing; those boxes seed the tracker.

The request runs on the shared deadline helper (`ego360.core.deadline`) so the frame loop — and the
first alert, which comes from the motion proposals — never waits; a late, failed or empty answer
simply seeds nothing. Malformed boxes and boxes outside every view are dropped and counted (`stats`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ego360.core.config import CaptionerConfig
from ego360.core.deadline import DeadlineWorker
from ego360.core.geometry import Mounting
from ego360.core.packets import Seed
from ego360.models.vlm.base import Backend

log = logging.getLogger(__name__)
VIEW_OFFSETS_DEG = (-60.0, 0.0, 60.0)  # three 90° views: 210° around the trigger's bearing
VIEW_PX = 448  # a multiple of 28, so a Qwen server's own resize is an identity


@dataclass
class GroundingStats:
    requested: int = 0
    answered: int = 0
    failed: int = 0
    late: int = 0
    boxes: int = 0
    dropped: int = 0
    seeded: int = 0


class GroundingFeed:
    def __init__(self, cfg: CaptionerConfig, backend: Backend, mounting: Mounting) -> None:
        self.cfg = cfg
        self.backend = backend
        self.mounting = mounting
        self.stats = GroundingStats()
        self._worker: DeadlineWorker[int, Any] = DeadlineWorker(cfg.deadline_s, 1, name="ego360-grounding")

    def _views(self, image: np.ndarray, bearing_deg: float) -> list[Any]:
        from ego360.core.projection import PerspectiveView

        h, w = image.shape[:2]
        cam_yaw, _ = self.mounting.wearer_to_camera(bearing_deg, 0.0)
        return [PerspectiveView(float(cam_yaw) + off, 0.0, 90.0, out_size=(VIEW_PX, VIEW_PX), equirect_size=(h, w))
                for off in VIEW_OFFSETS_DEG]

    def _ask(self, images: list[np.ndarray], views: list[Any], size: tuple[int, int]) -> Any:
        from ego360.models.vlm.grounding import box_units, ground
        from ego360.models.vlm.prompt import GROUNDING_SCHEMA, SYSTEM_PROMPT, Prompt, build_grounding_prompt

        units = box_units(self.cfg.box_format, self.cfg.model or self.cfg.model_dir)
        text = build_grounding_prompt(len(images), "0-1000 relative units" if units == "rel1000" else
                                      "absolute pixels of each image")
        completion = self.backend.complete(Prompt(system=SYSTEM_PROMPT, parts=(*images, text)), GROUNDING_SCHEMA,
                                           timeout_s=self.cfg.deadline_s)
        return ground(completion.text, views, list(completion.sent_sizes), list(completion.model_sizes), units, size)

    def on_onset(self, image: np.ndarray, bearing_deg: float | None, frame_index: int) -> None:
        """Called on the entity thread at onset; rendering three views is the only work done here."""
        if bearing_deg is None or self._worker.busy():
            return
        views = self._views(image, bearing_deg)
        images = [v.render(image) for v in views]
        self.stats.requested += 1
        size = image.shape[:2]
        self._worker.submit(frame_index, lambda: self._ask(images, views, size))

    def poll(self) -> list[Seed]:
        """Seeds that arrived (once), or [] while pending / after a failure or a late answer."""
        results = self._worker.poll()
        c = self._worker.counts()
        self.stats.failed, self.stats.late = c.failed, c.late
        out: list[Seed] = []
        for frame, result in results:
            self.stats.answered += 1
            self.stats.boxes += len(result.boxes)
            self.stats.dropped += result.dropped
            out += [Seed(b.label, b.box, frame) for b in result.boxes]
        return out

    def summary(self) -> dict[str, int]:
        return dataclasses.asdict(self.stats)

    def close(self) -> None:
        self._worker.close(timeout_s=0.0)
