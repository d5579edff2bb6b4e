"""Feeds the asynchronous VLM captioner from the frame loop without ever waiting on it.

Per entity it keeps a short sequence of small follow-view crops (entity in a red box) — crops, not
frames, so nothing the size of a panorama is kept — and submits a request once the sequence is
long enough, then again every `resubmit_s` of video while the entity is tracked. View centres are
quantised so perspective lookup tables come from the projection cache instead of being rebuilt.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import numpy as np

from ego360.core.config import CaptionerConfig
from ego360.core.packets import CaptionRequest, Track

_QUANT_DEG = 10.0
_VIEW_PX = 256
_FOV_DEG = 90.0


class VlmFeed:
    def __init__(self, cfg: CaptionerConfig, async_captioner: Any, resubmit_s: float = 2.0) -> None:
        self.cfg = cfg
        self.vlm = async_captioner
        self.resubmit_s = resubmit_s
        self.crops: dict[int, collections.deque[np.ndarray]] = {}
        self.last_submit: dict[int, float] = {}

    def _crop(self, image: np.ndarray, track: Track) -> np.ndarray | None:
        from ego360.core.projection import PerspectiveView, mask_centroid_yawpitch
        from ego360.models.vlm.views import follow_view

        centre = mask_centroid_yawpitch(track.mask)
        if centre is None:
            return None
        yaw, pitch = (round(v / _QUANT_DEG) * _QUANT_DEG for v in centre)
        h, w = image.shape[:2]
        view = PerspectiveView(float(yaw), float(np.clip(pitch, -60, 60)), _FOV_DEG, out_size=(_VIEW_PX, _VIEW_PX),
                               equirect_size=(h, w))
        return follow_view(view, image, track.mask)

    def observe(self, image: np.ndarray, video_t: float, tracks: list[Track], requests: dict[int, CaptionRequest]
                ) -> None:
        """Called once per processed frame with the template requests of the tracked entities."""
        from ego360.models.vlm.views import context_view

        live = [t for t in tracks if t.mask.any()]
        for track in live:
            crop = self._crop(image, track)
            if crop is None:
                continue
            seq = self.crops.setdefault(track.entity_id, collections.deque(maxlen=max(1, self.cfg.max_frames - 1)))
            seq.append(crop)
            due = video_t - self.last_submit.get(track.entity_id, -1e9) >= self.resubmit_s
            request = requests.get(track.entity_id)
            if request is None or not due or len(seq) < min(3, seq.maxlen):
                continue
            self.last_submit[track.entity_id] = video_t
            self.vlm.submit(dataclasses.replace(request, views=tuple(seq), context=context_view(image, live)))

    def forget(self, entity_id: int) -> None:
        self.crops.pop(entity_id, None)
        self.last_submit.pop(entity_id, None)
        self.vlm.forget(entity_id)
