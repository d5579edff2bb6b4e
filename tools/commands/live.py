"""`ego360 live`: the wearer's mode — a camera or stream, drop-oldest queues, speech to the headphones."""

from __future__ import annotations

import argparse
import threading
import time

from ego360.tools.commands._common import (
    add_config_args,
    add_yaw_offset,
    config_from_args,
    prepare_out_dir,
    print_alerts,
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


def add_control_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--control-port", type=int, default=None, metavar="PORT",
                   help="serve the wearer's control API on http://127.0.0.1:PORT (0 = any free port; "
                        "default: control.port, -1 = off)")
    p.add_argument("--control-token", default=None, metavar="TOKEN",
                   help="the API's token (default: control.token, or a random one printed at start)")


def add_dashboard_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dashboard", action="store_true",
                   help="serve a companion page on the control server (127.0.0.1, token): the stream with "
                        "role-coloured masks, a radar of the entities, the alerts with their sound, stage "
                        "latencies and the wearer's controls")


def open_dashboard(args: argparse.Namespace, cfg, *, live: bool, title: str):
    """(config with the control server on, the run's Dashboard) with --dashboard; (cfg, None) without."""
    if not getattr(args, "dashboard", False):
        return cfg, None
    from ego360.runtime.dashboard import Dashboard, dashboard_config

    cfg = dashboard_config(cfg)
    return cfg, Dashboard(cfg, live=live, title=title)


def session_hooks(dash, out, console) -> dict:
    """run_session's controls callback (prints how to reach them), plus the dashboard's hooks when on."""
    def show(control) -> None:
        print_controls(console, control)
        if dash is not None:
            console.print(f"dashboard: {dash.url}", soft_wrap=True)

    return dash.session_kwargs(out, on_controls=show) if dash is not None else {"on_controls": show}


def print_dashboard(console, dash) -> None:
    if dash is None:
        return
    s = dash.summary()
    console.print(f"dashboard: {s['pages_opened']} page(s) opened, {s['frames_encoded']} of {s['frames_offered']} "
                  f"frames shown (JPEG p50 {s['encode_ms']['p50_ms']} ms), {s['alerts_logged']} alerts logged")


def control_overrides(args: argparse.Namespace) -> list[str]:
    out = []
    if args.control_port is not None:
        out.append(f"control.port={args.control_port}")
    if args.control_token is not None:
        out.append(f"control.token={args.control_token}")
    return out


def print_controls(console, control) -> None:
    """How to reach the controls: the keys when they are read, the API's address and token."""
    from ego360.runtime.control.keys import key_help

    if control.keys is not None:
        console.print(key_help())
    if control.server is not None:
        console.print(f"control API: {control.server.url}/api/state  token: {control.server.token}", soft_wrap=True)


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
