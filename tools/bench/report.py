"""Report of `ego360 bench replay`: JSON for machines, markdown + PNG for people."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.stats import percentile

TTS_STAGE = "tts (off-loop)"


def _stage_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [dict(s) for s in summary["stages"]]
    tts = ((summary.get("alerts") or {}).get("speaker") or {}).get("tts") or {}
    if tts.get("succeeded"):
        mean = tts["synth_ms_total"] / tts["succeeded"]
        rows.append({"name": TTS_STAGE, "count": tts["succeeded"], "mean_ms": round(mean, 2), "p50_ms": None,
                     "p95_ms": None, "p99_ms": tts.get("synth_ms_max"), "dropped": 0})
    budget = summary.get("budget_ms") or 0.0
    for r in rows:
        r["budget_share"] = round((r.get("mean_ms") or 0.0) / budget, 3) if budget else None
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def _latency_source(r: dict[str, Any]) -> dict[str, Any]:
    """Latency comes from the camera-paced run when there is one (a fast run measures queueing)."""
    return r.get("paced") or r["summary"]


def _config_line(r: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    s = r["summary"]
    lat = _latency_source(r)
    fps = s.get("processed_fps", 0.0)
    line = {"label": r["label"], "processed_fps": fps, "latency_from": "paced" if "paced" in r else "fast",
            "earcon_p50_ms": percentile(lat.get("alert_latencies_ms", []), 50),
            "earcon_p95_ms": percentile(lat.get("alert_latencies_ms", []), 95),
            "frame_p95_ms": percentile(lat.get("frame_latencies_ms", []), 95),
            "peak_rss_mb": s.get("peak_rss_mb"), "dropped": s.get("frames_dropped")}
    if base is not None and base.get("processed_fps"):
        line["fps_ratio_vs_baseline"] = round(fps / base["processed_fps"], 3)
    return line


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ok = [r for r in results if r["status"] == "ok"]
    base = _config_line(ok[0], None) if ok else None
    return [_config_line(r, base) for r in ok]


def headline(results: list[dict[str, Any]]) -> str:
    lines = []
    for c in summarise(results):
        lines.append(f"{c['label']}: {c['processed_fps']:.1f} processed frames/s, "
                     f"capture→earcon ({c['latency_from']}) p50 "
                     f"{_fmt(c['earcon_p50_ms'])} ms / p95 {_fmt(c['earcon_p95_ms'])} ms, peak RSS "
                     f"{_fmt(c['peak_rss_mb'])} MB" + (f", ×{c['fps_ratio_vs_baseline']} fps vs baseline"
                                                         if "fps_ratio_vs_baseline" in c else ""))
    lines += [f"{r['label']}: FAILED ({r['error']})" for r in results if r["status"] != "ok"]
    return "\n".join(lines)


def _markdown(results: list[dict[str, Any]], clip: str) -> str:
    out = [f"# ego360 bench replay — {clip}", "",
           "Throughput and per-stage times come from a run reading frames as fast as possible; latencies from a "
           "second run paced to the clip's fps like a camera (unless --no-paced).", "",
           "| config | processed fps | ×baseline | capture→earcon p50 | p95 |"
           " frame p95 | peak RSS MB | dropped |", "|---|---|---|---|---|---|---|---|"]
    for c in summarise(results):
        out.append(f"| {c['label']} | {c['processed_fps']:.2f} | {_fmt(c.get('fps_ratio_vs_baseline', 1.0))} | "
                   f"{_fmt(c['earcon_p50_ms'])} | {_fmt(c['earcon_p95_ms'])} | {_fmt(c['frame_p95_ms'])} | "
                   f"{_fmt(c['peak_rss_mb'])} | {c['dropped']} |")
    for r in results:
        if r["status"] != "ok":
            out += ["", f"**{r['label']} failed:** {r['error']}"]
            continue
        s = r["summary"]
        out += ["", f"## {r['label']} ({', '.join(r['overrides']) or 'defaults'})", "",
                f"Frame budget {s.get('budget_ms', 0):.1f} ms; CUDA: {s.get('cuda') or 'n/a'}; "
                f"tegrastats: {s.get('tegrastats') or 'n/a'}", "",
                "| stage | count | p50 ms | p95 ms | p99 ms | share of budget |", "|---|---|---|---|---|---|"]
        for row in _stage_rows(s):
            out.append(f"| {row['name']} | {row.get('count')} | {_fmt(row.get('p50_ms'))} | {_fmt(row.get('p95_ms'))}"
                       f" | {_fmt(row.get('p99_ms'))} | {_fmt(row.get('budget_share'))} |")
    return "\n".join(out) + "\n"


def _plots(results: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if r["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(7, 4))
    names = [s["name"] for s in ok[0]["summary"]["stages"]] if ok else []
    bottom = np.zeros(len(ok))
    for name in names:
        vals = np.array([next((s["mean_ms"] for s in r["summary"]["stages"] if s["name"] == name), 0.0) for r in ok])
        ax.bar([r["label"] for r in ok], vals, bottom=bottom, label=name)
        bottom += vals
    ax.set_ylabel("mean ms per processed frame")
    ax.set_title("per-stage latency (stages run in parallel threads)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "stages.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in ok:
        for key, style in (("alert_latencies_ms", "-"), ("frame_latencies_ms", ":")):
            v = np.sort([x for x in _latency_source(r).get(key, []) if x == x])
            if v.size:
                ax.step(v, np.arange(1, v.size + 1) / v.size, style, label=f"{r['label']} {key.split('_')[0]}")
    ax.set_xlabel("ms from capture")
    ax.set_ylabel("CDF")
    ax.set_title("capture→earcon (alert) and capture→frame done (frame)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "latency_cdf.png", dpi=100)
    plt.close(fig)


def write_report(results: list[dict[str, Any]], out: Path, *, clip: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {"clip": clip, "configs": summarise(results), "runs": results}
    tmp = out / "bench.json.partial"
    tmp.write_text(json.dumps(data, indent=1, default=float))
    os.replace(tmp, out / "bench.json")
    (out / "bench.md").write_text(_markdown(results, clip))
    _plots(results, out)
