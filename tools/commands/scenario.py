"""`ego360 scenario`: render a ground-truth 360° clip (clip.mp4 + gt.json) from the scenario library.

Synthetic clips are the only data whose truth (masks, bearings, event frames) is exact, so tests,
the demo and `ego360 eval` all start here.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("scenario", help="render a synthetic 360° clip with exact ground truth")
    parser.add_argument("name", nargs="?", metavar="NAME", help="scenario name (see --list), or compose (see below)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--out", metavar="DIR", help="output folder for clip.mp4 and gt.json")
    parser.add_argument("--seed", type=int, default=0, help="jitters bearings and colours (default 0)")
    parser.add_argument("--width", type=int, default=1920, help="equirect width (default 1920)")
    parser.add_argument("--height", type=int, default=None, help="equirect height (default width/2)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate (default 30)")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="clip length in s (default 8)")
    parser.add_argument("--ego-yaw-rate", type=float, default=None, metavar="DPS",
                        help="wearer turning rate in deg/s (default: the scenario's own, usually 0)")
    parser.add_argument("--yaw-offset", type=float, default=0.0, metavar="DEG",
                        help="camera mounting yaw offset (camera yaw = wearer yaw + offset)")
    parser.add_argument("--noise", type=float, default=None, metavar="X",
                        help="sensor noise std, fraction of 255 (default: the scenario's own; walking scenes 0.012)")
    parser.add_argument("--flicker", type=float, default=0.0, metavar="X", help="per-frame brightness jitter (±X)")
    parser.add_argument("--mount-pitch", type=float, default=0.0, metavar="DEG",
                        help="camera mounted pitched up by DEG (negative: down), recorded in gt.json (default 0)")
    parser.add_argument("--mount-roll", type=float, default=0.0, metavar="DEG",
                        help="camera mounted rolled right side down by DEG, recorded in gt.json (default 0)")
    parser.add_argument("--background", default=None, metavar="PATH|procedural",
                        help="equirect background image, or 'procedural' (default: street panorama if present)")
    comp = parser.add_argument_group("compose (ego360 scenario compose --video FILE --yaw DEG --fov DEG --out DIR)")
    comp.add_argument("--video", metavar="FILE", help="perspective video to place into a 360° frame")
    comp.add_argument("--yaw", type=float, default=None, metavar="DEG",
                      help="bearing of the video's centre, -180..180 (0 = ahead, 90 = right)")
    comp.add_argument("--pitch", type=float, default=0.0, metavar="DEG", help="elevation of its centre (default 0)")
    comp.add_argument("--fov", type=float, default=60.0, metavar="DEG", help="horizontal field of view (default 60)")
    comp.add_argument("--panorama", default=None, metavar="IMG",
                      help="equirect image behind it (default: the bundled street panorama)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ego360.core.errors import UserError
    from ego360.tools.scenario.library import SCENARIOS, list_scenarios

    if args.list:
        _print_table(list_scenarios())
        return 0
    if args.name == "compose":
        return _compose(args)
    if args.video is not None:
        raise UserError("--video is for `ego360 scenario compose --video FILE --yaw DEG --fov DEG --out DIR`")
    if not args.name:
        raise UserError(f"give a scenario NAME or --list; valid: {', '.join(SCENARIOS)}")
    if args.name not in SCENARIOS:
        raise UserError(f"unknown scenario {args.name!r}; valid: {', '.join(SCENARIOS)}")
    if not args.out:
        raise UserError("--out DIR is required, e.g. ego360 scenario stealing --out runs/stealing")
    for flag, v in (("--mount-pitch", args.mount_pitch), ("--mount-roll", args.mount_roll)):
        if not -45.0 <= v <= 45.0:
            raise UserError(f"{flag} {v:g} is outside ±45°; give the mount's tilt in degrees, e.g. {flag} -8")
    from ego360.tools.scenario.clip import render_scenario

    height = args.height if args.height is not None else args.width // 2
    out = render_scenario(args.name, args.out, seed=args.seed, width=args.width, height=height, fps=args.fps,
                          duration_s=args.duration, ego_yaw_rate_dps=args.ego_yaw_rate, yaw_offset_deg=args.yaw_offset,
                          noise=args.noise, flicker=args.flicker, background=args.background,
                          mount_pitch_deg=args.mount_pitch, mount_roll_deg=args.mount_roll)
    print(f"wrote {out / 'clip.mp4'} and {out / 'gt.json'}")
    return 0


def _compose(args: argparse.Namespace) -> int:
    from ego360.core.errors import UserError

    if not args.video or args.yaw is None or not args.out:
        raise UserError("compose needs --video FILE --yaw DEG --out DIR (and optionally --fov, --pitch, --panorama), "
                        "e.g. ego360 scenario compose --video clip.mp4 --yaw 60 --fov 60 --out runs/real")
    from ego360.tools.scenario.compose import compose

    out = compose(args.video, args.out, yaw=args.yaw, fov=args.fov, pitch=args.pitch, panorama=args.panorama,
                  width=args.width, duration_s=args.duration)
    print(f"wrote {out / 'clip.mp4'} and {out / 'compose.json'}")
    return 0


def _print_table(infos) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ego360 scenarios")
    for col in ("name", "class", "description"):
        table.add_column(col)
    for info in infos:
        table.add_row(info.name, info.cls, info.description)
    Console().print(table)
