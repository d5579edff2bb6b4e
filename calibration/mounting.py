"""The mounting calibration file: where it lives, how it is read, how it is written.

`Mounting` itself (the conversion maths) lives in `ego360.core.geometry`, which imports nothing
of ours; this module is the layer above it that touches the disk. The file is a tiny TOML document
with a version field, written atomically (temp file + rename) so a crash or a full disk never leaves
a half-written calibration behind.
"""

from __future__ import annotations

import math
import os
import tempfile
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ego360.core.errors import ConfigError
from ego360.core.geometry import DEFAULT_CAMERA_HEIGHT_M, Mounting

FORMAT_VERSION = 1
KEYS = ("yaw_offset_deg", "pitch_deg", "roll_deg", "height_m")
MAX_HEIGHT_M = 5.0  # higher than a wearer or a table could hold it: a typo


def default_path() -> Path:
    """`$XDG_CONFIG_HOME/ego360/mounting.toml`, falling back to `~/.config/ego360/mounting.toml`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ego360" / "mounting.toml"


def _check(path: Path, values: dict[str, object]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in KEYS:
        value = values.get(key, DEFAULT_CAMERA_HEIGHT_M if key == "height_m" else 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"calibration file {path}: {key} = {value!r} is not a finite number; "
                              "rewrite it with `ego360 calibrate`")
        out[key] = float(value)
    for key in ("pitch_deg", "roll_deg"):
        if not -90.0 <= out[key] <= 90.0:
            raise ConfigError(f"calibration file {path}: {key} = {out[key]} is outside [-90, 90]; "
                              "rewrite it with `ego360 calibrate`")
    if not 0.0 < out["height_m"] <= MAX_HEIGHT_M:
        raise ConfigError(f"calibration file {path}: height_m = {out['height_m']:g} must be in (0, {MAX_HEIGHT_M:g}] "
                          "metres (the camera above the ground); rewrite it with `ego360 calibrate --height-m H`")
    return out


def read_values(path: str | Path) -> dict[str, float]:
    """The three mounting angles from a calibration file, or a one-line ConfigError saying what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"calibration file {p} not found; create it with `ego360 calibrate --yaw-offset DEG`")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"calibration file {p} is not valid TOML ({exc}); rewrite it with `ego360 calibrate`")\
            from None
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise ConfigError(f"calibration file {p} has version {version!r}, expected {FORMAT_VERSION}; "
                          "rewrite it with `ego360 calibrate`")
    unknown = sorted(set(data) - set(KEYS) - {"version"})
    if unknown:
        raise ConfigError(f"calibration file {p}: unknown key(s) {', '.join(unknown)}; valid keys: "
                          f"version, {', '.join(KEYS)}")
    return _check(p, data)


def render_values(values: dict[str, float]) -> str:
    """The file's text; `repr` of a float round-trips exactly through TOML."""
    lines = ["# ego360 camera mounting calibration (see ego360.core.geometry.Mounting for the conventions)",
             f"version = {FORMAT_VERSION}"]
    lines += [f"{key} = {float(values.get(key, 0.0))!r}" for key in KEYS]
    return "\n".join(lines) + "\n"


def write_values(path: str | Path, values: dict[str, float]) -> Path:
    """Write atomically: a temp file in the same folder, fsync, then rename over the target."""
    p = Path(path)
    checked = _check(p, dict(values))
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write calibration file {p} ({exc.strerror}); choose another path with --out")\
            from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render_values(checked))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write calibration file {p} ({exc.strerror}); choose another path with --out")\
            from None
    return p


def load_mounting(path: str | Path | None = None) -> Mounting:
    """Read a calibration file (default: `calibration.mounting.default_path()`); ConfigError if bad."""
    return Mounting(**read_values(path if path else default_path()))


def save_mounting(path: str | Path | None, m: Mounting) -> Path:
    """Write atomically; returns the path written."""
    return write_values(path if path else default_path(), asdict(m))


def resolve_mounting(bearings_cfg: Any, cli_yaw_offset: float | None = None) -> Mounting:
    """Per-field precedence: CLI `--yaw-offset` > non-zero config value > calibration file > zero.

    A config value of exactly 0 counts as "not set" (the config default), so a calibration file is
    never hidden by an untouched config. `bearings.calibration_file` names the file explicitly (it
    must then exist); otherwise the default path is used only if present.
    """
    explicit = str(getattr(bearings_cfg, "calibration_file", "") or "")
    path = Path(explicit).expanduser() if explicit else default_path()
    from_file = load_mounting(path) if explicit or path.is_file() else Mounting()
    values = asdict(from_file)
    for key in ("yaw_offset_deg", "pitch_deg", "roll_deg"):
        cfg_value = float(getattr(bearings_cfg, key, 0.0) or 0.0)
        if cfg_value != 0.0:
            values[key] = cfg_value
    if cli_yaw_offset is not None:
        values["yaw_offset_deg"] = float(cli_yaw_offset)
    return Mounting(**values)
