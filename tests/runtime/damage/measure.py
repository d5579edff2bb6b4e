"""Closing-note measurement for issue 14 item 0 (not a test): per scenario, `ego360 replay` of the clip vs
the live session over UDP joined mid-stream, without and with 5 % of datagrams dropped, with the live
policy as configured (drop-oldest). Prints one row per run: alerts, clock error against the ground truth
and against the replay, alerts from damaged frames, the source's damage counters, capture→earcon p50/p95.

    PYTHONPATH=. .venv/bin/python -m tests.runtime.damage.measure --width 960 --out /tmp/ego360-damage \\
        collide stealing glancing threaten throw traffic teasing
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tests.runtime.damage.harness import Replay, clock_err, gt_clock, render, replay_alerts, run_live


def _row(name: str, cond: str, clip: Path, alerts: list[dict], replay: Replay, extra: dict) -> dict:
    gt_errs = [clock_err(a["clock"], c) for a in alerts if (c := gt_clock(clip, a["t"])) is not None]
    rp_errs = [replay.clock_err(a["clock"], a["t"]) for a in alerts] if replay else []
    return {"scenario": name, "run": cond, "alerts": len(alerts),
            "first_t": round(alerts[0]["t"], 2) if alerts else None,
            "clocks": [a["clock"] for a in alerts], "max_err_gt_h": max(gt_errs, default=None),
            "max_err_replay_h": max(rp_errs, default=None),
            "from_damaged": sum(bool(a.get("damaged")) for a in alerts), **extra}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", nargs="+")
    ap.add_argument("--width", type=int, default=960)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ego360-damage"))
    ap.add_argument("--drop", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--join-s", type=float, default=0.8)
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--sender-args", default="", help="extra ffmpeg encoder options, e.g. '-ps 1200'")
    ap.add_argument("--tag", default="", help="suffix of the output folders (several configurations side by side)")
    ap.add_argument("--runs", default="join,loss", help="which live runs: join (no loss), loss (--drop)")
    args = ap.parse_args()
    rows = []
    for name in args.scenarios:
        clip = render(name, args.out / f"{name}-{args.width}", args.seconds, args.width)
        replay = replay_alerts(clip, args.out / f"{name}-{args.width}-replay")
        rows.append(_row(name, "replay", clip, replay.alerts, replay, {}))
        runs = {"join": ("live-join", 0.0), "loss": (f"live-join-loss{args.drop:g}", args.drop)}
        for cond, drop in (runs[k] for k in args.runs.split(",")):
            run = run_live(clip, args.out / f"{name}-{args.width}-{cond}{args.tag}", drop=drop,
                           join_s=args.join_s, seed=args.seed, sets=tuple(args.sets),
                           sender=tuple(args.sender_args.split()))
            h = run.summary["source_health"]
            lat = np.asarray(run.latencies_ms)
            rows.append(_row(name, cond, clip, run.alerts, replay, {
                "joined_at_s": round(h["pts_origin_s"] or 0.0, 2), "decoded": h["frames_decoded"],
                "delivered": h["frames_delivered"], "delivered_damaged": h["delivered_damaged"],
                "skipped": h["frames_decoded"] - h["frames_delivered"], "processed": run.frames,
                "dropped_datagrams": run.datagrams_dropped,
                "rewarms": run.summary["stage_counters"]["trigger"]["rewarms"],
                "key_frames": h.get("key_frames"), "clean_keys": h.get("clean_key_frames"),
                "converged": h.get("converged"), "large_repairs": h.get("large_repairs"),
                "earcon_p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
                "earcon_p95_ms": round(float(np.percentile(lat, 95)), 1) if lat.size else None}))
        print(json.dumps(rows[-1 - len(args.runs.split(",")):], indent=None), flush=True)
    (args.out / f"rows-{args.width}{args.tag}.json").write_text(json.dumps(rows, indent=1))
    for r in rows:
        print(" | ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
