"""`ego360 probe SPEC`: what a source really delivers (size, fps, frame count, read speed).

Cameras negotiate their own size and rate; probing before a run shows whether the pipeline will get
what the user thinks it will, and whether decoding alone already eats the frame budget.
"""

from __future__ import annotations

import argparse
import time

from ego360.tools.commands._common import add_config_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "probe", help="open a source and print its resolution, fps, frame count and read speed")
    parser.add_argument("spec", metavar="SPEC",
                        help="video file, image folder, camera index, /dev/videoN, stream URL or scenario:NAME")
    parser.add_argument("--frames", type=int, default=100, metavar="N",
                        help="frames to read for the speed test (default 100)")
    parser.add_argument("--realtime", action="store_true", help="pace a clip to its fps while reading")
    add_config_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ego360.core.config import load_config
    from ego360.core.errors import InputError
    from ego360.runtime.sources import open_source

    if args.frames < 1:
        raise InputError(f"--frames {args.frames}: must be at least 1")
    cfg = load_config(args.config, args.overrides)
    t_open = time.perf_counter()
    with open_source(args.spec, cfg.source, realtime=args.realtime) as source:
        open_s = time.perf_counter() - t_open
        info = source.info
        count = "unknown (live)" if info.num_frames is None else str(info.num_frames)
        print(f"source:      {info.name} ({type(source).__name__}{', live' if info.live else ''})")
        print(f"resolution:  {info.width}x{info.height}")
        print(f"fps:         {info.fps:.3f}")
        print(f"frames:      {count}")
        print(f"open time:   {open_s * 1000:.0f} ms")
        n, last_t, t0 = 0, 0.0, time.perf_counter()
        for packet in source:
            n, last_t = n + 1, packet.video_t
            if n >= args.frames:
                break
        elapsed = time.perf_counter() - t0
    speed = n / elapsed if elapsed > 0 else float("inf")
    print(f"read:        {n} frames in {elapsed:.2f} s = {speed:.1f} fps "
          f"({speed / info.fps:.2f}x realtime), last video_t {last_t:.3f} s")
    stats = getattr(source, "stats", None)
    if stats is not None:
        print(f"stats:       {stats}")
    return 0
