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
