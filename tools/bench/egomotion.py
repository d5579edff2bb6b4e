"""`ego360 bench egomotion`: the ego-motion estimate against a walking scenario's true wearer pose.

Why a benchmark and not only a test: the figures (heading, speed, head-bob pitch/roll errors, cost per
frame) are what a reader compares across seeds, sizes and machines; the unit tests pin the solver.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="walk_street", help="a walking scenario (default walk_street)")
    parser.add_argument("--seed", type=int, default=201)
    parser.add_argument("--width", type=int, default=960, help="equirect width rendered (default 960)")
    parser.add_argument("--every", type=int, default=2, help="process every Nth frame (default 2)")
    parser.add_argument("--out", default="reports/egomotion", metavar="DIR")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ego360.core.errors import InputError
    from ego360.core.packets import FramePacket
    from ego360.models.motion import MotionAnalyzer
    from ego360.tools.scenario import build_scene

    sc = build_scene(args.scenario, seed=args.seed, width=args.width, height=args.width // 2)
    if sc.wearer is None:
        raise InputError(f"{args.scenario}: not a walking scenario; pick one of `ego360 scenario --list` walk_*")
    m = MotionAnalyzer(512, 30.0, sc.pose(0).height_m)
    rows, cost = [], []
    for i in range(0, sc.num_frames, args.every):
        img, _ = sc.render_frame(i)
        t0 = time.perf_counter()
        mf = m.analyze(FramePacket(i, i / sc.fps, 0, img))
        cost.append(time.perf_counter() - t0)
        p, p0 = sc.pose(i), sc.pose(max(0, i - args.every))
        v = math.hypot(p.x - p0.x, p.z - p0.z) / (args.every / sc.fps) if i else 0.0
        rows.append((p.heading_deg, mf.ego_yaw_deg, v, mf.ego.speed_mps, p.pitch_deg, mf.ego.pitch_deg,
                     p.roll_deg, mf.ego.roll_deg))
    r = np.asarray(rows, float)
    head = (r[:, 1] - r[0, 1]) - (r[:, 0] - r[0, 0])
    figures = {
        "scenario": args.scenario, "seed": args.seed, "width": args.width, "frames": len(rows),
        "heading_err_max_deg": round(float(np.abs(head).max()), 3),
        "speed_err_median_mps": round(float(np.median(np.abs(r[:, 2] - r[:, 3]))), 3),
        "pitch_err_median_deg": round(float(np.median(np.abs(r[:, 4] - r[:, 5]))), 3),
        "roll_err_median_deg": round(float(np.median(np.abs(r[:, 6] - r[:, 7]))), 3),
        "motion_analysis_ms_p50": round(float(np.median(cost)) * 1e3, 1),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "egomotion.json").write_text(json.dumps(figures, indent=1) + "\n")
    lines = ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in figures.items()]
    (out / "egomotion.md").write_text("# ego-motion vs the true wearer pose\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0
