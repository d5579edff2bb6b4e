"""VIEW360 / VIEW360+ anomaly interval lists: `Class_Location_id[_dirs] start end [start end ...]`.

Frames are at 30 fps. The optional suffix gives one direction letter per interval (l = left back,
r = right back, c = centre). The published list has one line whose suffix has more letters than
intervals (`Stealing_Elevator_003_rc 240 260`); it is kept loadable — extra letters are ignored with a
warning and kept in `View360Video.dirs` — because refusing the real file would be worse. Overlapping
intervals also occur in the real file and are kept as given.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ego360.core.errors import InputError

log = logging.getLogger(__name__)

FPS = 30.0
_NAME = re.compile(r"^(?P<cls>[A-Za-z]+)_(?P<loc>[A-Za-z0-9]+)_(?P<vid>\d+)(?:_(?P<dirs>[lrc]+))?$")


@dataclass(frozen=True)
class Interval:
    start: int  # first anomalous frame (30 fps)
    end: int  # last anomalous frame, inclusive
    direction: str | None  # l / r / c, None when the name has no suffix


@dataclass(frozen=True)
class View360Video:
    name: str
    cls: str
    location: str
    vid: str  # zero-padded as in the name, e.g. "026"
    intervals: tuple[Interval, ...]
    dirs: str = ""  # raw direction suffix

    @property
    def fps(self) -> float:
        return FPS


def parse_line(line: str, where: str) -> View360Video:
    """One list line → View360Video; InputError names `where` (file:line) and the problem."""
    tokens = line.split()
    match = _NAME.match(tokens[0])
    if match is None:
        raise InputError(f"{where}: bad video name {tokens[0]!r}; expected Class_Location_id[_dirs], "
                         "dirs made of l/r/c, e.g. Stealing_ATM1_005_r")
    nums = tokens[1:]
    if not nums or len(nums) % 2:
        raise InputError(f"{where}: {tokens[0]} needs frame pairs 'start end', got {len(nums)} number(s)")
    try:
        values = [int(v) for v in nums]
    except ValueError as exc:
        raise InputError(f"{where}: frame numbers must be integers ({exc})") from exc
    dirs = match["dirs"] or ""
    pairs = list(zip(values[::2], values[1::2], strict=True))
    for start, end in pairs:
        if start < 0 or end < start:
            raise InputError(f"{where}: interval {start} {end} must have 0 <= start <= end")
    if dirs and len(dirs) < len(pairs):
        raise InputError(f"{where}: {len(pairs)} intervals but only {len(dirs)} direction letter(s) in {dirs!r}")
    if len(dirs) > len(pairs):
        log.warning("%s: %d direction letters for %d interval(s); using the first", where, len(dirs), len(pairs))
    intervals = tuple(Interval(s, e, dirs[i] if dirs else None) for i, (s, e) in enumerate(pairs))
    return View360Video(tokens[0], match["cls"], match["loc"], match["vid"], intervals, dirs)


def load_intervals(path: str | Path) -> list[View360Video]:
    """Every video in a VIEW360 interval list, in file order (blank lines and `#` comments skipped)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"{p}: VIEW360 interval list not found") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not a UTF-8 text file ({exc.reason})") from exc
    videos: list[View360Video] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        video = parse_line(line, f"{p}:{lineno}")
        if video.name in seen:
            raise InputError(f"{p}:{lineno}: {video.name} already listed on line {seen[video.name]}")
        seen[video.name] = lineno
        videos.append(video)
    if not videos:
        raise InputError(f"{p}: no videos listed")
    return videos
