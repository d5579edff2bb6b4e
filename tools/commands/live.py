"""`ego360 live`: the wearer's mode — a camera or stream, drop-oldest queues, speech to the headphones."""

from __future__ import annotations

import argparse
import threading
import time

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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="run on a live 360° camera or stream and speak alerts",
                       description="Live mode: device index, /dev/videoN, a GStreamer pipeline or a stream URL. "
                                   "Reconnects on failure; Ctrl-C stops and writes the summary.")
    p.add_argument("--camera", default="0", metavar="SPEC", help="camera spec (default: 0)")
    p.add_argument("--out", default=None, metavar="DIR", help="log folder (default: out/live-<time>)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    add_control_args(p)
    add_dashboard_arg(p)
    add_yaw_offset(p)
    add_config_args(p)
    p.set_defaults(func=run)


class _TimeLimited:
    """Wraps a live source so `--duration` ends the run like an unplugged camera would — also while the
    source is blocked reconnecting (a timer closes it; closing interrupts its backoff)."""

    def __init__(self, source, seconds: float | None) -> None:
        self.source, self.seconds, self.info = source, seconds, source.info

    def __iter__(self):
        timer = None
        if self.seconds is not None:
            timer = threading.Timer(self.seconds, self.source.close)
            timer.daemon = True
            timer.start()
        try:
            yield from self.source
        finally:
            if timer is not None:
                timer.cancel()

    @property
    def health(self):
        """The wrapped source's damage counters (None for a source without them)."""
        return getattr(self.source, "health", None)

    def close(self) -> None:
        self.source.close()


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ego360.calibration.mounting import resolve_mounting
    from ego360.runtime.session import run_session
    from ego360.runtime.sources import open_source

    cfg = config_from_args(args, extra=["output.annotated_video=false", *control_overrides(args)])
    out = prepare_out_dir(args.out or f"out/live-{time.strftime('%Y%m%d-%H%M%S')}")
    mounting = resolve_mounting(cfg.bearings, args.yaw_offset)
    source = _TimeLimited(open_source(args.camera, cfg.source, live=True), args.duration)
    console = Console()
    console.print(f"live: {source.info.name} {source.info.width}×{source.info.height} @ {source.info.fps:.1f} fps "
                  f"(Ctrl-C to stop)")
    cfg, dash = open_dashboard(args, cfg, live=True, title=source.info.name)
    try:
        result = run_session(cfg, source, out, mounting, live=True, controls=True, **session_hooks(dash, out, console))
    finally:
        if dash is not None:
            dash.close()
    print_alerts(console, result)
    print_dashboard(console, dash)
    return 0
