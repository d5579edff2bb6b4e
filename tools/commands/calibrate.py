"""`ego360 calibrate`: write or show the camera mounting calibration (yaw offset, pitch, roll, height).

Values are given by hand, or estimated from a clip with `--auto CLIP`; the file is written
atomically so a crash never leaves a half-written calibration that would silently rotate every
spoken bearing or scale every distance.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="write (or --show) the camera mounting calibration: yaw offset, pitch, roll, height")
    parser.add_argument("--yaw-offset", type=float, metavar="DEG",
                        help="camera yaw at which the wearer's straight ahead appears (wearer yaw = camera yaw − DEG)")
    parser.add_argument("--pitch", type=float, default=None, metavar="DEG",
                        help="camera tilt, positive = tilted up (default 0, or the estimate with --auto)")
    parser.add_argument("--roll", type=float, default=None, metavar="DEG",
                        help="camera roll, positive = right side down (default 0, or the estimate with --auto)")
    parser.add_argument("--height-m", type=float, default=None, metavar="H",
                        help="camera height above the ground in metres, used for every distance (default 1.6)")
    parser.add_argument("--auto", metavar="CLIP",
                        help="estimate pitch and roll (from vertical edges) and height (from a walk, or people "
                             "walking by) over the first 30 s of a clip and print them with their uncertainty; "
                             "with --out also write them (--pitch/--roll/--height-m given by hand win)")
    parser.add_argument("--out", metavar="PATH", help="file to write (default $XDG_CONFIG_HOME/ego360/mounting.toml)")
    parser.add_argument("--show", nargs="?", const="", default=None, metavar="PATH",
                        help="print the calibration in PATH (default file if PATH is omitted) and exit")
    parser.set_defaults(func=run)


def _describe(path, m) -> str:
    return (f"{path}: yaw_offset_deg = {m.yaw_offset_deg:g}, pitch_deg = {m.pitch_deg:g}, "
            f"roll_deg = {m.roll_deg:g}, height_m = {m.height_m:g}")


def run(args: argparse.Namespace) -> int:
    from ego360.calibration.mounting import default_path, load_mounting, save_mounting
    from ego360.core.errors import ConfigError
    from ego360.core.geometry import Mounting

    if args.show is not None:
        if args.yaw_offset is not None or args.out:
            raise ConfigError("--show only reads; drop --yaw-offset/--out, or drop --show to write")
        path = args.show or default_path()
        print(_describe(path, load_mounting(path)))
        return 0
    if args.height_m is not None and not 0.0 < args.height_m <= 5.0:
        raise ConfigError(f"--height-m {args.height_m:g}: the camera's height above the ground must be in (0, 5] "
                          "metres, e.g. --height-m 1.6 worn, 0.8 on a table")
    for name, value in (("--pitch", args.pitch), ("--roll", args.roll)):
        if value is not None and not -90.0 <= value <= 90.0:
            raise ConfigError(f"{name} {value:g} is outside [-90, 90] degrees (e.g. -10: tilted down)")
    if args.auto:
        from ego360.tools.autocal import auto_calibrate

        return auto_calibrate(args.auto, args.yaw_offset or 0.0, args.out, args.pitch, args.roll, args.height_m)
    if args.yaw_offset is None and args.height_m is None:
        raise ConfigError("nothing to do: give --yaw-offset DEG and/or --height-m H to write a calibration, "
                          "--auto CLIP to estimate one, or --show to read one")
    m = Mounting(float(args.yaw_offset or 0.0), float(args.pitch or 0.0), float(args.roll or 0.0),
                 1.6 if args.height_m is None else float(args.height_m))
    written = save_mounting(args.out or default_path(), m)
    print("wrote " + _describe(written, load_mounting(written)))
    return 0
