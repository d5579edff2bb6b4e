"""Measurement (not a test): blob ranges vs ground truth on a level and a tilted mount of the same scene,
with and without the mount's tilt given to the motion analysis.

PYTHONPATH=. .venv/bin/python -m tests.models.tilt_ranges SCENARIO SEED PITCH ROLL [--out DIR]
Renders 8 s at 960×480 into DIR (default out/tilt) and prints the median / p25 / p75 ratio of each blob's
range to the GT range of the entity at its bearing (within 5°, GT range < 12 m).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import av
import numpy as np

from ego360.core.geometry import wrap_deg
from ego360.core.packets import FramePacket
from ego360.models.motion import MotionAnalyzer
from ego360.tools.scenario.clip import render_scenario


def ratios(folder: Path, tilt: tuple[float, float]) -> np.ndarray:
    g = json.loads((folder / "gt.json").read_text())
    gtf = {f["frame"]: f for f in g["frames"]}
    m = MotionAnalyzer(512, 30.0, g.get("camera_height_m", 1.6), tilt_deg=tilt)
    out = []
    for i, fr in enumerate(av.open(str(folder / "clip.mp4")).decode(video=0)):
        if i % 2:
            continue
        mf = m.analyze(FramePacket(i, i / g["fps"], 0, fr.to_ndarray(format="rgb24")))
        ents = gtf.get(i, {}).get("entities", [])
        for b in mf.blobs:
            if not ents or not math.isfinite(b.distance_m):
                continue
            e = min(ents, key=lambda e: abs(wrap_deg(e["bearing_deg"] - b.yaw_deg)))
            if abs(wrap_deg(e["bearing_deg"] - b.yaw_deg)) < 5 and e["distance_m"] < 12:
                out.append(b.distance_m / e["distance_m"])
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("seed", type=int)
    ap.add_argument("pitch", type=float)
    ap.add_argument("roll", type=float)
    ap.add_argument("--out", type=Path, default=Path("out/tilt"))
    a = ap.parse_args()
    for p, r, given in ((0.0, 0.0, False), (a.pitch, a.roll, False), (a.pitch, a.roll, True)):
        folder = a.out / f"{a.scenario}_{a.seed}_{p:g}_{r:g}"
        if not (folder / "gt.json").is_file():
            render_scenario(a.scenario, folder, progress=False, seed=a.seed, width=960, height=480, duration_s=8.0,
                            mount_pitch_deg=p, mount_roll_deg=r)
        x = ratios(folder, (p, r) if given else (0.0, 0.0))
        q = np.percentile(x, [50, 25, 75]) if x.size else [float("nan")] * 3
        print(f"{a.scenario} seed {a.seed} mount {p:+g}/{r:+g} tilt {'given' if given else 'not given'}: "
              f"n={x.size} range ratio median ×{q[0]:.2f} p25 ×{q[1]:.2f} p75 ×{q[2]:.2f}")


if __name__ == "__main__":
    main()
