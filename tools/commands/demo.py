"""`ego360 demo`: the whole job on the embedded default — render a scenario, replay it, say what was said."""

from __future__ import annotations

import argparse
from pathlib import Path

from ego360.tools.commands._common import add_config_args, config_from_args, prepare_out_dir, print_alerts


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="render a ground-truth scenario, replay it with spoken alerts, show the outputs",
                       description="No weights, GPU or camera needed.")
    p.add_argument("--scenario", default="stealing", help="scenario name (see `ego360 scenario --list`)")
    p.add_argument("--out", default="out/demo", metavar="DIR", help="output folder (default: out/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=1920, help="equirect width of the rendered clip (height = width/2)")
    p.add_argument("--fast", action="store_true",
                   help="replay as fast as possible (default: paced like a camera, so the latency shown is the "
                        "wearer's)")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ego360.calibration.mounting import resolve_mounting
    from ego360.runtime.session import run_session
    from ego360.runtime.sources import open_source
    from ego360.tools.scenario import render_scenario
    from ego360.tools.scenario.gt import load_gt

    cfg = config_from_args(args, extra=["runner.process_every=2"])
    out = prepare_out_dir(args.out)
    console = Console()
    clip_dir = out / "scenario"
    console.print(f"[bold]1/2[/] rendering scenario '{args.scenario}' (seed {args.seed}) → {clip_dir}")
    render_scenario(args.scenario, clip_dir, seed=args.seed, width=args.width, height=args.width // 2)
    gt = load_gt(clip_dir / "gt.json")
    console.print(f"[bold]2/2[/] replaying {clip_dir / 'clip.mp4'} with the embedded default "
                  f"(trigger={cfg.trigger.backend}, tracker={cfg.tracker.backend}, captioner={cfg.captioner.backend})")
    source = open_source(str(clip_dir / "clip.mp4"), cfg.source, realtime=not args.fast)
    result = run_session(cfg, source, out / "replay", resolve_mounting(cfg.bearings, gt.yaw_offset_deg), live=False)
    for ev in gt.events:
        console.print(f"ground truth: {ev.cls} from frame {ev.start_frame} to {ev.end_frame}")
    print_alerts(console, result)
    video = Path(result.out_dir) / "annotated.mp4"
    console.print(f"open {video} to watch and hear what the wearer heard", soft_wrap=True)
    return 0
