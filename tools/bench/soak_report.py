"""Figures of a soak run (`ego360 bench soak`): RSS at 1/6, 1/2 and the end of the run (5/15/30 min for
30 min), RSS growth after the warm-up (the first sixth), capture→earcon p95 per sixth of the run (5-minute
windows for 30 min), threads and open files at start and end, and whether the outputs were finalised.
Written as soak.json, soak.md and soak.png; medians over a window rather than single samples, so one
garbage-collection spike does not read as growth."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ego360.core.stats import percentile


def _window(samples: list[dict], lo: float, hi: float, key: str) -> list[float]:
    return [s[key] for s in samples if lo <= s["t"] <= hi]


def _at(samples: list[dict], t: float) -> dict | None:
    before = [s for s in samples if s["t"] <= t]
    return before[-1] if before else None


def _pct(values: list[float], q: float) -> float | None:
    """`q` as a fraction (0.95), rounded to 0.1 ms."""
    v = percentile(values, q * 100.0)
    return None if v is None else round(v, 1)


def summarise(run: Any) -> dict[str, Any]:
    """The figures of a SoakRun (see the module docstring)."""
    samples = run.samples
    total_s = samples[-1]["t"] if samples else 0.0
    planned_s = run.minutes * 60.0
    warm_s = planned_s / 6.0
    window_s = min(300.0, planned_s / 6.0)
    span = max(30.0, planned_s / 30.0)  # the window a median is taken over (60 s of a 30-minute run)
    marks = {f"{round(m, 2):g}": _at(samples, m * 60.0) for m in (run.minutes / 6, run.minutes / 2, run.minutes)}
    rss_warm = _window(samples, warm_s, warm_s + span, "rss_mb")
    rss_end = _window(samples, total_s - span, total_s, "rss_mb")
    growth = None
    if rss_warm and rss_end and total_s > warm_s + span:
        growth = round(100.0 * (statistics.median(rss_end) / statistics.median(rss_warm) - 1.0), 2)
    started = next((s for s, (_t, n) in zip(samples, run.frames, strict=False) if n > 0),
                   samples[0] if samples else None)
    windows = []
    n_windows = max(1, int(round(total_s / window_s))) if window_s > 0 else 1
    frames = dict(run.frames)
    for i in range(n_windows):
        lo, hi = i * window_s, (i + 1) * window_s
        lat = [a["latency_ms"] for a in run.alerts if lo <= a["t"] < hi or (i == n_windows - 1 and a["t"] >= hi)]
        f_lo = max((n for t, n in frames.items() if t <= lo), default=0)
        f_hi = max((n for t, n in frames.items() if t <= hi), default=f_lo)
        windows.append({"from_min": round(lo / 60, 2), "to_min": round(min(hi, total_s) / 60, 2), "alerts": len(lat),
                         "p50_ms": _pct(lat, 0.5), "p95_ms": _pct(lat, 0.95), "max_ms": _pct(lat, 1.0),
                         "processed_fps": round((f_hi - f_lo) / max(1e-9, min(hi, total_s) - lo), 2)})
    after_warm = _window(samples, warm_s, total_s, "rss_mb")
    end = samples[-1] if samples else None
    summary = run.summary or {}
    return {
        "minutes_planned": run.minutes, "minutes_run": round(total_s / 60.0, 2), "width": run.width,
        "rate": run.rate, "sent_fps": run.fps, "samples": len(samples),
        "rss_mb_at_min": {k: (v["rss_mb"] if v else None) for k, v in marks.items()},
        "rss_mb_after_warmup_median": statistics.median(rss_warm) if rss_warm else None,
        "rss_mb_end_median": statistics.median(rss_end) if rss_end else None,
        "rss_growth_after_warmup_pct": growth, "rss_mb_max_after_warmup": max(after_warm) if after_warm else None,
        "threads": {"start": started and started["threads"], "warm": (_at(samples, warm_s) or {}).get("threads"),
                    "end": end and end["threads"], "max": max((s["threads"] for s in samples), default=None)},
        "fds": {"start": started and started["fds"], "warm": (_at(samples, warm_s) or {}).get("fds"),
                "end": end and end["fds"], "max": max((s["fds"] for s in samples), default=None)},
        "latency_windows": windows,
        "latency_all": {"alerts": len(run.alerts), "p50_ms": _pct([a["latency_ms"] for a in run.alerts], 0.5),
                        "p95_ms": _pct([a["latency_ms"] for a in run.alerts], 0.95),
                        "max_ms": _pct([a["latency_ms"] for a in run.alerts], 1.0)},
        "exit_code": run.exit_code, "stop_s": run.stop_s, "outputs": run.outputs, "log_counts": run.log_counts,
        "live_summary": {k: summary.get(k) for k in ("frames_read", "frames_processed", "frames_dropped",
                                                      "processed_fps", "stopped_by", "output_failures",
                                                      "source_error", "peak_rss_mb")},
    }


def write_report(folder: Path, run: Any, figures: dict[str, Any], plot: bool = True) -> Path:
    """soak.json (figures + raw samples), soak.md, and soak.png when `plot`; returns the markdown's path."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = {k: v for k, v in asdict(run).items() if k != "summary"}
    (folder / "soak.json").write_text(json.dumps({"figures": figures, "raw": raw}, indent=1))
    md = folder / "soak.md"
    md.write_text(markdown(figures))
    if plot and run.samples:
        _plot(folder / "soak.png", run, figures)
    return md


def markdown(f: dict[str, Any]) -> str:
    rss = ", ".join(f"{k} min {v} MB" for k, v in f["rss_mb_at_min"].items())
    lines = [
        f"# Soak: {f['minutes_run']} of {f['minutes_planned']:g} min, {f['width']} px, {f['rate']:g}× "
        f"({f['sent_fps']:g} fps sent)", "",
        f"- RSS: {rss}; after warm-up (median) {f['rss_mb_after_warmup_median']} MB → end "
        f"{f['rss_mb_end_median']} MB: growth {f['rss_growth_after_warmup_pct']} % "
        f"(max {f['rss_mb_max_after_warmup']} MB)",
        f"- threads start/warm/end/max: {f['threads']['start']}/{f['threads']['warm']}/{f['threads']['end']}/"
        f"{f['threads']['max']}; open fds: {f['fds']['start']}/{f['fds']['warm']}/{f['fds']['end']}/{f['fds']['max']}",
        f"- capture→earcon over the run: {f['latency_all']['alerts']} alerts, p50 {f['latency_all']['p50_ms']} ms, "
        f"p95 {f['latency_all']['p95_ms']} ms, max {f['latency_all']['max_ms']} ms",
        f"- stop: exit code {f['exit_code']} after {f['stop_s']} s; outputs {json.dumps(f['outputs'])}",
        f"- log lines: {json.dumps(f['log_counts'])}",
        f"- live summary: {json.dumps(f['live_summary'])}", "",
        "| window (min) | alerts | p50 ms | p95 ms | max ms | processed fps |", "|---|---|---|---|---|---|",
    ]
    for w in f["latency_windows"]:
        lines.append(f"| {w['from_min']}–{w['to_min']} | {w['alerts']} | {w['p50_ms']} | {w['p95_ms']} | "
                     f"{w['max_ms']} | {w['processed_fps']} |")
    return "\n".join(lines) + "\n"


def _plot(path: Path, run: Any, f: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = [s for s in run.samples if s["rss_mb"] > 0]
    t = [s["t"] / 60 for s in samples]
    fig, (ax1, ax3, ax2) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    ax1.plot(t, [s["rss_mb"] for s in samples], color="tab:blue")
    ax1.set_ylabel("RSS (MB)")
    ax3.plot(t, [s["threads"] for s in samples], label="threads", color="tab:green")
    ax3.plot(t, [s["fds"] for s in samples], label="open fds", color="tab:orange")
    ax3.set_ylabel("count")
    ax3.legend(loc="center right")
    ax2.scatter([a["t"] / 60 for a in run.alerts], [a["latency_ms"] for a in run.alerts], s=6, alpha=0.5,
                label="alert capture→earcon")
    for w in f["latency_windows"]:
        if w["p95_ms"] is not None:
            ax2.hlines(w["p95_ms"], w["from_min"], w["to_min"], colors="tab:red")
    ax2.set_ylabel("ms (red: p95 per window)")
    ax2.set_xlabel("minutes")
    ax1.set_title(f"ego360 live soak: {f['width']} px, {f['rate']:g}× frame rate")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
