"""metrics.json, report.md (tables shaped like VIEW360+ Tables 2–4) and PNG plots, written atomically.

Every file is first written into a hidden temp dir inside REPORT_DIR and then moved into place with
os.replace, metrics.json last, so a reader never sees a half-written report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ego360.tools.evaluation.metrics import GROUP_ORDER, ROLE_GROUPS, ClipResult, json_ready, roc_curve, summarize

PLOTS = ("roc.png", "delay_hist.png", "clock_error_hist.png", "iou_per_role.png")


def _f(v: Any, scale: float = 1.0, digits: int = 1) -> str:
    return "—" if v is None else f"{v * scale:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def _lead_setting(settings: dict[str, Any]) -> str:
    lead = settings.get("lead_window_s") or 0.0
    if lead <= 0:
        return "strict window (no credit for alerts before onset)"
    return (f"lead window {lead} s at bearing ±{settings.get('lead_bearing_tol_deg')}°; "
            f"contact radius {settings.get('contact_radius_m')} m")


def markdown(metrics: dict[str, Any]) -> str:
    rows_by_class = [*metrics["per_class"].items(), ("**All**", metrics["overall"])]
    lines = ["# ego360 evaluation", "",
             f"Caption scorer: **{metrics['scorer'] or 'none'}**. Clips: {metrics['overall']['n_clips']}. "
             f"Grace {metrics['settings']['grace_s']} s; match IoU ≥ {metrics['settings']['iou_threshold']}; "
             f"IoU frames: {metrics['settings']['iou_window']}; {_lead_setting(metrics['settings'])}. "
             "Definitions: the README (Evaluation).", ""]
    j = metrics["caption_scoring"]
    if j["calls"]:
        lines += [f"Caption scorer calls: {j['calls']}, failed after retries: {j['failures']} (excluded from Cap, "
                  f"never scored 0), retries: {j['retries']}.", ""]
    lines += ["## Temporal and direction (cf. Table 2)", ""]
    lines += _table(
        ["Class", "Clips", "Events", "AUC %", "Recall %", "FA/min", "Delay med s", "Delay p95 s", "Dir acc %",
         "Clock err h", "±1 h %"],
        [[k, str(m["n_clips"]), str(m["n_events"]), _f(m["auc"], 100), _f(m["recall"], 100),
          _f(m["false_alerts_per_min"], 1, 2), _f(m["delay_median_s"], 1, 2), _f(m["delay_p95_s"], 1, 2),
          _f(m["direction_acc"], 100), _f(m["clock_err_mean_h"], 1, 2), _f(m["clock_within_1h"], 100)]
         for k, m in rows_by_class])
    lines += ["## Warnings given in time", "",
              "Delay < 0: the first alert came before the labelled onset. Lead: how long before onset (0 when "
              "at or after it). TTC left: from the first alert to perpetrator–victim contact, for events "
              "with contact.", ""]
    lines += _table(
        ["Class", "Events", "Recalled", "Early", "Lead med s", "Lead p95 s", "With contact", "TTC left med s",
         "TTC left p5 s"],
        [[k, str(m["n_events"]), str(m["n_recalled"]),
          str(m["n_early"]), _f(m["lead_median_s"], 1, 2), _f(m["lead_p95_s"], 1, 2), str(m["n_ttc"]),
          _f(m["ttc_median_s"], 1, 2), _f(m["ttc_p5_s"], 1, 2)]
         for k, m in rows_by_class])
    lines += ["## Grounding per class (cf. Table 3)", ""]
    lines += _table(
        ["Class", "Videos", "Entities", "Matched", "IoU", "FPE", "Cap", "F_SC", "Cap failed", "Cap missing",
         "ID jumps >45° (clips)"],
        [[k, str(m["n_videos"]), str(m["n_entities"]), str(m["matched"]), _f(m["iou"]), _f(m["fpe"], 1, 2),
          _f(m["cap"]), _f(m["f_sc"]), str(m["cap_failed"]), str(m["cap_missing"]),
          f"{m['id_jumps']} ({m['id_jump_clips']}) of {m['id_steps']} steps"]
         for k, m in rows_by_class if m["n_videos"]])
    lines += ["## Grounding per role (cf. Table 4)", ""]
    lines += _table(
        ["Role", "Entities", "Matched", "IoU", "FPE", "Cap", "F_SC"],
        [[g, str(m["n_entities"]), str(m["matched"]), _f(m["iou"]), _f(m["fpe"], 1, 2), _f(m["cap"]), _f(m["f_sc"])]
         for g, m in metrics["per_role"].items()])
    header = ["Class"] + [f"{g} {k}" for g in GROUP_ORDER[:2] for k in ("IoU", "Cap", "F_SC")]
    rows = [[k] + [_f(by_role[g][x]) for g in GROUP_ORDER[:2] for x in ("iou", "cap", "f_sc")]
            for k, by_role in metrics["per_class_role"].items()]
    lines += ["### Per class and role", ""] + _table(header, rows)
    lines += ["## Plots", "", *(f"![{p}]({p})" for p in PLOTS), ""]
    return "\n".join(lines)


def _plots(tmp: Path, clips: Sequence[ClipResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [s for c in clips for s in c.scores]
    labels = [y for c in clips for y in c.labels]
    events = [e for c in clips for e in c.events]
    specs = {
        "roc.png": ("ROC of the trigger score (frame level)", "false positive rate", "true positive rate"),
        "delay_hist.png": ("Alert delay after onset (< 0: warned before onset)", "delay (s)", "events"),
        "clock_error_hist.png": ("Clock-hour error of the first alert", "error (hours)", "events"),
        "iou_per_role.png": ("Mean mask IoU per GT entity, by role", "role", "IoU (0–100)"),
    }
    for name, (title, xl, yl) in specs.items():
        fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
        if name == "roc.png" and len(set(labels)) == 2:
            fpr, tpr = roc_curve(scores, labels)
            ax.plot(fpr, tpr, lw=2)
            ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        elif name == "delay_hist.png" and any(e.delay_s is not None for e in events):
            ax.hist([e.delay_s for e in events if e.delay_s is not None], bins=20)
        elif name == "clock_error_hist.png" and any(e.clock_err is not None for e in events):
            ax.hist([e.clock_err for e in events if e.clock_err is not None], bins=range(0, 8), align="left")
        elif name == "iou_per_role.png" and any(c.entities for c in clips):
            data = {g: [100 * e.iou for c in clips for e in c.entities if ROLE_GROUPS.get(e.role) == g]
                    for g in GROUP_ORDER}
            data = {g: v for g, v in data.items() if v}
            ax.boxplot(list(data.values()), tick_labels=list(data))
            ax.set_ylim(0, 105)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set(title=title, xlabel=xl, ylabel=yl)
        fig.tight_layout()
        fig.savefig(tmp / name)
        plt.close(fig)


def clip_record(c: ClipResult) -> dict[str, Any]:
    return {"name": c.name, "class": c.cls, "gt": c.gt_source, "pred": c.pred_source, "fps": c.fps,
            "n_alerts": c.n_alerts, "n_pred_entities": c.n_pred_entities, "fpe_by_role": c.fpe_by_role,
            "metrics": summarize([c]),
            "events": [{**asdict(e), "clock_err": e.clock_err} for e in c.events],
            "entities": [asdict(e) for e in c.entities]}


def write_report(out_dir: Path, metrics: dict[str, Any], clips: Sequence[ClipResult]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".eval-tmp-", dir=out_dir))
    try:
        _plots(tmp, clips)
        (tmp / "report.md").write_text(markdown(metrics), encoding="utf-8")
        full = json_ready({**metrics, "clips": [clip_record(c) for c in clips]})
        (tmp / "metrics.json").write_text(json.dumps(full, indent=2), encoding="utf-8")
        written = []
        for name in (*PLOTS, "report.md", "metrics.json"):
            os.replace(tmp / name, out_dir / name)
            written.append(out_dir / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
