"""Measure `ego360 calibrate --auto` against ground truth: render scenario clips with a camera mounted
at a known tilt, estimate, and print true vs estimated pitch, roll and height with the printed sd.

    python -m ego360.tools.autocal.measure --scenario walk_street --seeds 31 32 33 --pitch 5 --roll -4 \\
        --out /tmp/autocal

Clips are rendered once into --out (name_seed_pitch_roll/) and reused; the table is markdown.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def measure(scenario: str, seed: int, pitch: float, roll: float, out: Path, width: int, duration: float) -> str:
    from ego360.tools.autocal import estimate
    from ego360.tools.scenario.clip import render_scenario
    from ego360.tools.scenario.gt import load_gt

    folder = out / f"{scenario}_{seed}_{pitch:g}_{roll:g}_{width}"
    if not (folder / "gt.json").is_file():
        render_scenario(scenario, folder, progress=False, seed=seed, width=width, height=width // 2,
                        duration_s=duration, mount_pitch_deg=pitch, mount_roll_deg=roll)
    gt = load_gt(folder / "gt.json")
    a = estimate(str(folder / "clip.mp4"))
    true_h = gt.camera_height_m if gt.camera_height_m is not None else 1.6
    est_h = f"{a.height_m:.2f} ± {a.height_sd_m:.2f} ({a.height_method})" if a.height_method != "none" else "—"
    tilt = (f"{a.pitch_deg:+.2f} ± {a.pitch_sd_deg:.2f} | {a.roll_deg:+.2f} ± {a.roll_sd_deg:.2f} | "
            f"{a.pitch_deg - gt.mount_pitch_deg:+.2f} | {a.roll_deg - gt.mount_roll_deg:+.2f}"
            if math.isfinite(a.pitch_sd_deg) else "— | — | — | —")
    return (f"| {scenario} | {seed} | {gt.mount_pitch_deg:+g} | {gt.mount_roll_deg:+g} | {tilt} | "
            f"{true_h:.2f} | {est_h} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", nargs="+", default=["walk_street"])
    p.add_argument("--seeds", type=int, nargs="+", default=[31, 32, 33])
    p.add_argument("--pitch", type=float, default=5.0)
    p.add_argument("--roll", type=float, default=-4.0)
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=Path("out/autocal"))
    args = p.parse_args(argv)
    print("| scenario | seed | true pitch | true roll | est. pitch ± sd | est. roll ± sd | pitch err | roll err "
          "| true height | est. height ± sd |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.scenario:
        for seed in args.seeds:
            print(measure(name, seed, args.pitch, args.roll, args.out, args.width, args.duration), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
