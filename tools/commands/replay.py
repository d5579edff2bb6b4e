"""`ego360 replay CLIP --out DIR`: the alert path over a recorded clip (or image folder / scenario)."""

from __future__ import annotations

import argparse

from ego360.tools.commands._common import (
    add_config_args,
    add_control_args,
    add_dashboard_arg,
    add_yaw_offset,
    config_from_args,
    control_overrides,
    open_dashboard,
    prepare_out_dir,
    print_alerts,
    print_dashboard,
    session_hooks,
)

PAGE_WAIT_S = 30.0  # with --dashboard, the replay starts when the page opens (or after this long)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a clip through trigger, tracker, captions and spoken alerts",
                       description="Replay a recorded clip (video file, image folder or scenario:NAME) offline; "
                                   "writes events.jsonl, alerts.wav and annotated.mp4 into --out.")
    p.add_argument("clip", metavar="CLIP", help="video file, image folder, or scenario:NAME")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--realtime", action="store_true", help="pace frames to the clip fps (default: as fast as possible)")
    add_control_args(p)
    add_dashboard_arg(p)
    add_yaw_offset(p)
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ego360.calibration.mounting import resolve_mounting
    from ego360.runtime.session import run_session
    from ego360.runtime.sources import open_source

    cfg = config_from_args(args, extra=control_overrides(args))
    out = prepare_out_dir(args.out)
    mounting = resolve_mounting(cfg.bearings, args.yaw_offset)
    source = open_source(args.clip, cfg.source, realtime=args.realtime or cfg.runner.realtime, live=False)
    console = Console(stderr=True)
    cfg, dash = open_dashboard(args, cfg, live=False, title=source.info.name)
    status = f"replaying {args.clip} …"
    if dash is not None:
        source = dash.gate(source, PAGE_WAIT_S)
        status = f"replaying {args.clip} once the dashboard page is open (or in {PAGE_WAIT_S:.0f} s) …"
    try:
        with console.status(status):
            result = run_session(cfg, source, out, mounting, live=False, controls=True,
                                 **session_hooks(dash, out, console))
    finally:
        if dash is not None:
            dash.close()
    print_alerts(Console(), result)
    print_dashboard(Console(), dash)
    return 0
