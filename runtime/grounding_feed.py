"""Grounding mode (the paper's VLM+SAM2 baseline): at onset the VLM names the perpetrator and the
victim/target by boxes in views around the trigger's bearing; those boxes seed the tracker.

The request runs on one worker thread so the frame loop — and the first alert, which comes from the
motion proposals — never waits; a late, failed or empty answer simply seeds nothing. Malformed boxes
and boxes outside every view are dropped and counted (`stats`).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.bearings import Mounting
from runtime.config import CaptionerConfig

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


@dataclass(frozen=True)
class Seed:
    """A VLM box in equirect pixels with the role the VLM gave it."""

    role: str
    box: Any  # runtime.packets.Box (x1 may exceed W across the seam)
    frame_index: int


class GroundingFeed:
    def __init__(self, cfg: CaptionerConfig, backend: Any, mounting: Mounting) -> None:
        self.cfg = cfg
        self.backend = backend
        self.mounting = mounting
        self.stats = GroundingStats()
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ego360-grounding")
        self._job: tuple[cf.Future, float, int] | None = None

    def _views(self, image: np.ndarray, bearing_deg: float) -> list[Any]:
        from runtime.projection import PerspectiveView

        h, w = image.shape[:2]
        cam_yaw, _ = self.mounting.wearer_to_camera(bearing_deg, 0.0)
        return [PerspectiveView(float(cam_yaw) + off, 0.0, 90.0, out_size=(VIEW_PX, VIEW_PX), equirect_size=(h, w))
                for off in VIEW_OFFSETS_DEG]

    def _ask(self, images: list[np.ndarray], views: list[Any], size: tuple[int, int]) -> Any:
        from models.vlm.grounding import box_units, ground
        from models.vlm.prompt import GROUNDING_SCHEMA, SYSTEM_PROMPT, Prompt, build_grounding_prompt

        units = box_units(self.cfg.box_format, self.cfg.model or self.cfg.model_dir)
        text = build_grounding_prompt(len(images), "0-1000 relative units" if units == "rel1000" else
                                      "absolute pixels of each image")
        completion = self.backend.complete(Prompt(system=SYSTEM_PROMPT, parts=(*images, text)), GROUNDING_SCHEMA,
                                           timeout_s=self.cfg.deadline_s)
        return ground(completion.text, views, list(completion.sent_sizes), list(completion.model_sizes), units, size)

    def on_onset(self, image: np.ndarray, bearing_deg: float | None, frame_index: int) -> None:
        """Called on the entity thread at onset; rendering three views is the only work done here."""
        if bearing_deg is None or self._job is not None:
            return
        views = self._views(image, bearing_deg)
        images = [v.render(image) for v in views]
        self.stats.requested += 1
        fut = self._pool.submit(self._ask, images, views, image.shape[:2])
        self._job = (fut, time.monotonic() + self.cfg.deadline_s, frame_index)

    def poll(self) -> list[Seed]:
        """Seeds that arrived (once), or [] while pending / after a failure."""
        if self._job is None:
            return []
        fut, deadline, frame = self._job
        if not fut.done():
            if time.monotonic() > deadline:
                self.stats.late += 1
                fut.cancel()
                self._job = None
            return []
        self._job = None
        try:
            result = fut.result()
        except Exception as exc:  # VLMError, HTTP, parse: the motion proposals stay in charge
            self.stats.failed += 1
            log.info("grounding request failed: %s", exc)
            return []
        self.stats.answered += 1
        self.stats.boxes += len(result.boxes)
        self.stats.dropped += result.dropped
        return [Seed(b.label, b.box, frame) for b in result.boxes]

    def summary(self) -> dict[str, int]:
        return dataclasses.asdict(self.stats)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
