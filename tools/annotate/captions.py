"""Object-specific captions for each annotated entity, as the paper prompts its VLM.

The VLM sees follow-views of the entity with its mask boxed in red on frames where it is visible
(oldest first) and one wide view with every entity boxed in its role colour, and answers the
paper's fields (appearance, motion); with no VLM configured (`captioner.backend=template`) the
template captioner writes them from what the masks measure. A VLM failure falls back to the template
for that entity and is logged. The same pictures make the review previews.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from ego360.core.config import CaptionerConfig
from ego360.core.geometry import Mounting, clock_hour, wrap_deg
from ego360.core.packets import Box, Caption, CaptionRequest, Track
from ego360.core.projection import PerspectiveView, mask_centroid_yawpitch
from ego360.models.captioner_template import TemplateCaptioner, describe_appearance
from ego360.models.vlm.views import context_view, follow_view
from ego360.tools.annotate.propagate import EntityPlan, FrameStore
from ego360.tools.scenario.gt import EntityFrameGT, GTFrame

log = logging.getLogger(__name__)

VIEW_PX = 336
VIEW_FOV = 90.0


@dataclass(frozen=True, eq=False)
class CaptionResult:
    captions: dict[int, Caption]
    previews: dict[int, np.ndarray]  # RGB review picture per entity
    vlm_failures: int = 0


def _visits(frames: tuple[GTFrame, ...], entity_id: int) -> list[tuple[int, EntityFrameGT]]:
    return [(fr.frame, r) for fr in frames for r in fr.entities if r.id == entity_id]


def measured_motion(visits: list[tuple[int, EntityFrameGT]]) -> str:
    """Words for what the masks did over the clip (distance trend, sweep around the wearer)."""
    if len(visits) < 2:
        return "seen briefly"
    dist = np.array([r.distance_m for _, r in visits])
    bear = np.array([r.bearing_deg for _, r in visits])
    swept = float(np.sum(np.abs(wrap_deg(np.diff(bear)))))
    k = max(1, len(visits) // 8)
    d0, d1, dmin = float(np.median(dist[:k])), float(np.median(dist[-k:])), float(dist.min())
    if swept > 200:
        return "circles around you"
    if dmin < 0.7 * min(d0, d1) and d0 < 60:
        return "approaches you, then moves away"
    if d1 < 0.7 * d0:
        return "approaches you"
    if d1 > 1.4 * d0:
        return "moves away from you"
    if swept > 40:
        return "passes by"
    return "stays in place"


def _distance_words(d: float) -> str:
    if d >= 60:
        return ""
    if d < 1.0:
        return "within arm's reach"
    return f"about {d:.0f} m"


def _view_at(store: FrameStore, frame: int, rec: EntityFrameGT) -> tuple[np.ndarray, np.ndarray]:
    img = store.get(frame)
    mask = rec.mask()
    yaw, pitch = mask_centroid_yawpitch(mask) or (0.0, 0.0)
    view = PerspectiveView(yaw, max(-80.0, min(80.0, pitch)), VIEW_FOV, out_size=(VIEW_PX, VIEW_PX),
                           equirect_size=img.shape[:2])
    return follow_view(view, img, mask), img


def _tracks(fr: GTFrame, roles: dict[int, str]) -> list[Track]:
    out = []
    for r in fr.entities:
        x0, y0, x1, y1 = r.box
        out.append(Track(r.id, fr.frame, roles.get(r.id, "related"), np.zeros((1, 1), bool),  # type: ignore[arg-type]
                         Box(x0, y0, x1, y1), r.bearing_deg, r.pitch_deg))
    return out


def preview(view: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Follow-view beside the wide view, same height."""
    h = view.shape[0]
    scale = h / context.shape[0]
    ctx = cv2.resize(context, (max(1, round(context.shape[1] * scale)), h), interpolation=cv2.INTER_AREA)
    return np.concatenate([view, ctx], axis=1)


def caption_entities(cfg: CaptionerConfig, store: FrameStore, plans: list[EntityPlan], frames: tuple[GTFrame, ...],
                     mounting: Mounting) -> CaptionResult:
    """One caption and one preview per entity that is visible at least once."""
    from ego360.models.registry import create_captioner

    captioner = create_captioner(cfg)
    template = TemplateCaptioner()
    roles = {p.entity_id: p.role for p in plans}
    by_frame = {fr.frame: fr for fr in frames}
    caps: dict[int, Caption] = {}
    previews: dict[int, np.ndarray] = {}
    failures = 0
    for plan in plans:
        visits = _visits(frames, plan.entity_id)
        if not visits:
            continue
        n = max(1, cfg.max_frames if captioner.is_vlm else 1)
        idx = sorted({int(i) for i in np.linspace(0, len(visits) - 1, min(n, len(visits))).round()})
        best = max(range(len(visits)), key=lambda i: visits[i][1].visible_px)
        views = []
        for i in idx:
            views.append(_view_at(store, *visits[i])[0])
        best_view, best_img = _view_at(store, *visits[best])
        fbest, rbest = visits[best]
        context = context_view(best_img, _tracks(by_frame[fbest], roles))
        previews[plan.entity_id] = preview(best_view, context)
        appearance = plan.text or describe_appearance(best_img, rbest.mask(), plan.kind)
        mid = visits[len(visits) // 2][1]
        request = CaptionRequest(
            entity_id=plan.entity_id, frame_index=visits[-1][0], role=plan.role,  # type: ignore[arg-type]
            kind=plan.kind, bearing_deg=mid.bearing_deg, clock=clock_hour(mid.bearing_deg),
            distance_hint=_distance_words(mid.distance_m), motion_hint=measured_motion(visits),
            appearance_hint=appearance, views=tuple(views), context=context,
        )
        fallback = template.caption(request)
        request = CaptionRequest(**{**request.__dict__, "template": fallback})
        if captioner.is_vlm:
            try:
                caps[plan.entity_id] = captioner.caption(request)
                continue
            except Exception as exc:  # noqa: BLE001  (any backend failure: the template caption stands)
                failures += 1
                log.warning("VLM caption of %s failed (%s); template caption kept", plan.name, exc)
        caps[plan.entity_id] = fallback
    return CaptionResult(caps, previews, failures)
