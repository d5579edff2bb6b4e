"""Pure metric functions (no I/O), each defined in the README (Evaluation), and per-group aggregation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ego360.core.stats import percentile

ROLE_GROUPS = {"perpetrator": "perpetrator", "victim": "victim/target", "target": "victim/target",
               "related": "related"}
GROUP_ORDER = ("perpetrator", "victim/target", "related")


def clock_error(a: int, b: int) -> int:
    """Circular distance between two clock hours, 0–6."""
    d = abs(int(a) - int(b)) % 12
    return min(d, 12 - d)


def roc_curve(scores: Sequence[float], labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) at every distinct threshold, from (0, 0) to (1, 1); tied scores move together."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], int)
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(1 - y)[last_of_tie]
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    tpr = np.r_[0.0, tp / pos] if pos else np.r_[0.0, np.zeros(len(tp))]
    fpr = np.r_[0.0, fp / neg] if neg else np.r_[0.0, np.zeros(len(fp))]
    return fpr, tpr


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve (trapezoids, ties count half); None when one class is absent."""
    y = np.asarray(labels, dtype=int)
    if y.size == 0 or y.min() == y.max():
        return None
    fpr, tpr = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def harmonic(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return 0.0 if a + b <= 0 else 2.0 * a * b / (a + b)


def mean(values: Iterable[float]) -> float | None:
    vals = list(values)
    return float(sum(vals) / len(vals)) if vals else None


@dataclass(frozen=True)
class EventResult:
    event_id: int
    start_frame: int
    end_frame: int
    recalled: bool
    alert_frame: int | None = None
    delay_s: float | None = None
    dir_gt: str | None = None
    dir_pred: str | None = None
    clock_gt: int | None = None
    clock_pred: int | None = None
    lead_s: float | None = None  # how long before onset the first alert came (0 when at/after onset)
    ttc_s: float | None = None  # time left from the first alert to perpetrator–victim contact (approaches)

    @property
    def clock_err(self) -> int | None:
        if self.clock_gt is None or self.clock_pred is None:
            return None
        return clock_error(self.clock_gt, self.clock_pred)


@dataclass(frozen=True)
class EntityResult:
    entity_id: int
    role: str
    n_frames: int
    iou: float  # 0–1, with the Hungarian partner (0 when none)
    matched: bool
    pred_entity: int | None
    cap: float | None  # 0–100; None = excluded (judge failure / no reference / not scored)
    cap_status: str  # scored | missing (counted 0) | failed | no-reference | unscored
    cap_dims: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipResult:
    name: str
    cls: str
    gt_source: str
    pred_source: str
    fps: float
    scores: tuple[float, ...]
    labels: tuple[int, ...]
    events: tuple[EventResult, ...]
    n_alerts: int
    false_alerts: int
    minutes: float
    has_masks: bool
    entities: tuple[EntityResult, ...] = ()
    n_pred_entities: int = 0
    fpe: int = 0
    fpe_by_role: dict[str, int] = field(default_factory=dict)
    scorer: str | None = None
    judge_calls: int = 0
    judge_failures: int = 0
    judge_retries: int = 0
    id_jumps: int = 0  # steps where one predicted id moved > 45° of bearing and its GT entity did not
    id_steps: int = 0  # consecutive processed-frame steps of predicted ids that were judged


def temporal(clips: Sequence[ClipResult]) -> dict[str, Any]:
    scores = [s for c in clips for s in c.scores]
    labels = [y for c in clips for y in c.labels]
    events = [e for c in clips for e in c.events]
    delays = [e.delay_s for e in events if e.delay_s is not None]
    leads = [e.lead_s for e in events if e.lead_s is not None]
    ttcs = [e.ttc_s for e in events if e.ttc_s is not None]
    minutes = sum(c.minutes for c in clips)
    return {
        "auc": roc_auc(scores, labels),
        "n_frames": len(scores),
        "n_events": len(events),
        "recall": (sum(e.recalled for e in events) / len(events)) if events else None,
        "false_alerts": sum(c.false_alerts for c in clips),
        "minutes": minutes,
        "false_alerts_per_min": (sum(c.false_alerts for c in clips) / minutes) if minutes > 0 else None,
        "delay_median_s": percentile(delays, 50),
        "delay_p95_s": percentile(delays, 95),
        "n_recalled": sum(e.recalled for e in events),
        "n_early": sum(e.recalled and (e.lead_s or 0.0) > 0 for e in events),
        "lead_median_s": percentile(leads, 50),
        "lead_p95_s": percentile(leads, 95),
        "n_ttc": len(ttcs),
        "ttc_median_s": percentile(ttcs, 50),
        "ttc_p5_s": percentile(ttcs, 5),
    }


def direction(clips: Sequence[ClipResult]) -> dict[str, Any]:
    events = [e for c in clips for e in c.events if e.recalled]
    dirs = [e for e in events if e.dir_gt and e.dir_pred]
    errs = [e.clock_err for e in events if e.clock_err is not None]
    return {
        "n_direction": len(dirs),
        "direction_acc": (sum(e.dir_gt == e.dir_pred for e in dirs) / len(dirs)) if dirs else None,
        "n_clock": len(errs),
        "clock_err_mean_h": mean(errs),
        "clock_within_1h": (sum(e <= 1 for e in errs) / len(errs)) if errs else None,
    }


def grounding(clips: Sequence[ClipResult], group: str | None = None) -> dict[str, Any]:
    """Paper-style IoU / FPE / Cap / F_SC over clips with masks, optionally for one role group."""
    masked = [c for c in clips if c.has_masks]
    ents = [e for c in masked for e in c.entities if group is None or ROLE_GROUPS.get(e.role) == group]
    caps = [e.cap for e in ents if e.cap is not None]
    fpe = sum(c.fpe if group is None else c.fpe_by_role.get(group, 0) for c in masked)
    iou = mean(100.0 * e.iou for e in ents)
    cap = mean(caps)
    return {
        "n_videos": len(masked),
        "n_entities": len(ents),
        "matched": sum(e.matched for e in ents),
        "iou": iou,
        "fpe": fpe / len(masked) if masked else None,
        "cap": cap,
        "f_sc": harmonic(cap, iou),
        "cap_scored": sum(e.cap_status == "scored" for e in ents),
        "cap_missing": sum(e.cap_status == "missing" for e in ents),
        "cap_failed": sum(e.cap_status == "failed" for e in ents),
        "cap_no_reference": sum(e.cap_status == "no-reference" for e in ents),
        "id_jumps": sum(c.id_jumps for c in masked) if group is None else None,
        "id_jump_clips": sum(c.id_jumps > 0 for c in masked) if group is None else None,
        "id_steps": sum(c.id_steps for c in masked) if group is None else None,
    }


def summarize(clips: Sequence[ClipResult]) -> dict[str, Any]:
    return {"n_clips": len(clips), **temporal(clips), **direction(clips), **grounding(clips)}


def aggregate(clips: Sequence[ClipResult]) -> dict[str, Any]:
    """Overall, per class and per role figures, JSON-ready (NaN never appears; missing is None)."""
    classes = sorted({c.cls for c in clips})
    out = {
        "overall": summarize(clips),
        "per_class": {k: summarize([c for c in clips if c.cls == k]) for k in classes},
        "per_role": {g: grounding(clips, g) for g in GROUP_ORDER},
        "per_class_role": {k: {g: grounding([c for c in clips if c.cls == k], g) for g in GROUP_ORDER}
                           for k in classes},
        "caption_scoring": {"calls": sum(c.judge_calls for c in clips),
                            "failures": sum(c.judge_failures for c in clips),
                            "retries": sum(c.judge_retries for c in clips)},
    }
    return json_ready(out)


def json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return json_ready(obj.item())
    return obj
