"""The precision report as files: `precision_report.json`, `precision_report.md` and a plot, written to
`<export folder>/report/` (beside the graphs they describe, so a folder carries its own evidence)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ego360.export.precision_report import PrecisionReport

REPORT_DIR = "report"


def to_dict(r: PrecisionReport) -> dict[str, Any]:
    def clean(x: Any) -> Any:
        return None if isinstance(x, float) and math.isnan(x) else x

    return {
        "folder": str(r.folder), "config": r.config, "image_size": r.image_size, "frames": r.frames,
        "threads": r.threads, "notes": list(r.notes),
        "graphs": [asdict(g) for g in r.graphs],
        "tracks": [{"precision": t.precision, "mean_iou": t.mean, "min_iou": t.min, "per_frame": list(t.ious)}
                   for t in r.tracks],
        "costs": [{k: clean(v) for k, v in asdict(c).items()} for c in r.costs],
        "heldout": None if r.heldout is None else {"reference": r.heldout.reference,
                                                   "rows": [asdict(x) for x in r.heldout.rows]},
    }


def _f(x: float | None, fmt: str = ".4f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def markdown(r: PrecisionReport) -> str:
    lines = [f"# SAM2 precision report: {r.config} @ {r.image_size}", "", *[f"- {n}" for n in r.notes], "",
             "## End to end (every graph at the precision; int8 = INT8 image encoder + FP16 rest)", "",
             "| precision | frames | mean mask IoU vs fp32 | min mask IoU |", "|---|---:|---:|---:|"]
    lines += [f"| {t.precision} | {len(t.ious)} | {_f(t.mean)} | {_f(t.min)} |" for t in r.tracks]
    lines += ["", "## Per graph (outputs on the inputs the FP32 tracker fed it; clip tracked with only this graph "
              "swapped)", "",
              "| graph | precision | max abs err | mean abs err | fp32 max abs | min cosine | decoder mask IoU | "
              "track IoU mean | track IoU min |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g in r.graphs:
        lines.append(f"| {g.graph} | {g.precision} | {g.max_abs:.3g} | {g.mean_abs:.3g} | {g.ref_max_abs:.3g} | "
                     f"{g.min_cosine:.6f} | {_f(g.decoder_mask_iou)} | {_f(g.track_iou_mean)} | "
                     f"{_f(g.track_iou_min)} |")
    if r.heldout is not None:
        lines += ["", "## Held-out calibration views (centred box prompt, one frame each)", "", "```",
                  r.heldout.table(), "```"]
    lines += ["", f"## Size and CPU latency (ONNX Runtime CPU, {r.threads} threads, median)", "",
              "| graph | precision | MiB | ms |", "|---|---|---:|---:|"]
    lines += [f"| {c.graph} | {c.precision} | {c.bytes / 2**20:.1f} | {_f(c.cpu_ms, '.1f')} |" for c in r.costs]
    return "\n".join(lines) + "\n"


def plot(r: PrecisionReport, path: Path) -> Path | None:
    """Per-frame mask IoU of each precision's track, and per-graph swapped-track IoU; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for t in r.tracks:
        a.plot(range(len(t.ious)), t.ious, marker="o", label=t.precision)
    a.set(xlabel="frame", ylabel="mask IoU vs fp32", title="end to end", ylim=(0, 1.02))
    a.legend()
    rows = [g for g in r.graphs if g.track_iou_mean is not None]
    labels = [f"{g.graph}\n{g.precision}" for g in rows]
    b.barh(range(len(rows)), [g.track_iou_min for g in rows], color="tab:orange", label="min")
    b.set_yticks(range(len(rows)), labels, fontsize=7)
    b.set(xlabel="min mask IoU vs fp32 (only this graph swapped)", xlim=(0, 1.02), title="per graph")
    fig.suptitle(f"{r.config} @ {r.image_size}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(r: PrecisionReport, out_dir: Path | None = None) -> Path:
    """Write JSON, markdown and the plot; returns the markdown path."""
    out = Path(out_dir) if out_dir is not None else Path(r.folder) / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / "precision_report.json").write_text(json.dumps(to_dict(r), indent=2))
    md = out / "precision_report.md"
    md.write_text(markdown(r))
    plot(r, out / "precision_report.png")
    return md
