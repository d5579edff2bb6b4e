"""Shared pieces of the pipeline commands (replay, live, demo, bench replay)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ego360.core.config import Config, load_config
from ego360.core.errors import InputError


def add_yaw_offset(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yaw-offset", type=float, default=None, metavar="DEG",
                        help="camera mounting yaw offset; overrides the calibration file and config")


def config_from_args(args: argparse.Namespace, extra: list[str] | None = None) -> Config:
    overrides = list(extra or []) + list(getattr(args, "overrides", []) or [])
    return load_config(getattr(args, "config", None), overrides)


def prepare_out_dir(path: str | Path) -> Path:
    """Refuse a file where a folder is expected; the folder itself is made only once inputs are valid."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; pass a folder for the outputs")
    return out


def print_alerts(console: Console, result: Any) -> None:
    """What the wearer heard, in order, with where to find the files."""
    table = Table(title=f"alerts spoken ({len(result.alerts)})")
    for col in ("frame", "entity", "clock", "bearing", "latency ms", "text"):
        table.add_column(col)
    for a in result.alerts:
        table.add_row(str(a["frame"]), str(a["entity_id"]), str(a["clock"]), f"{a['bearing_deg']:+.0f}°",
                      f"{a['latency_ms']:.1f}", a["text"])
    console.print(table)
    s = result.summary
    console.print(
        f"frames read {s['frames_read']}, processed {s['frames_processed']}, dropped {s['frames_dropped']}; "
        f"{s['processed_fps']:.1f} processed frames/s; peak RSS {s['peak_rss_mb']:.0f} MB"
    )
    for name in ("events.jsonl", "alerts.wav", "annotated.mp4", "summary.json"):
        path = result.out_dir / name
        if path.exists():
            console.print(f"  {path}", soft_wrap=True)


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The shared --config/--set pair, for every command that runs the pipeline."""
    parser.add_argument("--config", metavar="TOML", help="configuration file (TOML)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one config value, e.g. --set tracker.backend=classical (repeatable)",
    )


def add_control_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--control-port", type=int, default=None, metavar="PORT",
                   help="serve the wearer's control API on http://127.0.0.1:PORT (0 = any free port; "
                        "default: control.port, -1 = off)")
    p.add_argument("--control-token", default=None, metavar="TOKEN",
                   help="the API's token (default: control.token, or a random one printed at start); "
                        "one that starts with '-' is given as --control-token=TOKEN")


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
