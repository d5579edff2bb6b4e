"""`ego360 bench projection`: cube-face projection, ours vs py360convert, in the same process.

Reports the median of N warm calls (tables already built), checks the outputs are identical, and
prints a rich table. Heavy imports stay inside `run` so building the CLI parser stays cheap.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_IMAGE = Path(__file__).resolve().parents[2] / "shared" / "data" / "street_equirect_3840x1920.jpg"
SIZES = ((1920, 960), (3840, 1920))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=20, metavar="N", help="timed calls per case (default 20)")
    parser.add_argument("--face-w", type=int, default=512, metavar="PX", help="cube face size (default 512)")
    parser.add_argument("--image", metavar="PATH",
                        help=f"equirect image to project (default {DEFAULT_IMAGE.name}, random noise if absent)")


def paired_median_ms(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median ms of each function, calls interleaved so a busy machine slows all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, acc in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return [statistics.median(t) * 1000.0 for t in times]


def _load(path: str | None):
    import cv2
    import numpy as np

    from ego360.core.errors import InputError

    p = Path(path) if path else DEFAULT_IMAGE
    img = cv2.imread(str(p), cv2.IMREAD_COLOR) if p.is_file() else None
    if img is None:
        if path:
            raise InputError(f"cannot read image {p}; pass a readable equirect image with --image")
        return np.random.default_rng(0).integers(0, 256, (1920, 3840, 3), dtype=np.uint8), "random noise"
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB), p.name


def bench_case(img, face_w: int, repeats: int) -> dict[str, float | None]:
    """Timings for one input size; py360convert figures are None when it is not installed."""
    import numpy as np

    from ego360.core.projection import Cubemap

    t0 = time.perf_counter()
    cube = Cubemap(face_w, img.shape[:2])
    ours_out = cube.faces(img)
    first_ms = (time.perf_counter() - t0) * 1000.0
    try:
        import py360convert
    except ImportError:
        return {"first": first_ms, "ours": paired_median_ms([lambda: cube.faces(img)], repeats)[0],
                "ref": None, "diff": None}

    def ref_call():
        return py360convert.e2c(img, face_w, mode="bilinear", cube_format="list")

    ref_out = np.stack(ref_call())
    ours, ref = paired_median_ms([lambda: cube.faces(img), ref_call], repeats)
    diff = float(np.abs(ours_out.astype(np.int16) - ref_out.astype(np.int16)).max())
    return {"first": first_ms, "ours": ours, "ref": ref, "diff": diff}


def run(args: argparse.Namespace) -> int:
    import cv2
    from rich.console import Console
    from rich.table import Table

    from ego360.core.errors import UserError

    if args.repeats < 1 or args.face_w < 2:
        raise UserError("--repeats must be ≥ 1 and --face-w ≥ 2")
    base, name = _load(args.image)
    table = Table(title=f"equirect → 6×{args.face_w}² cube faces, median of {args.repeats} ({name}, "
                        f"cv2 threads {cv2.getNumThreads()})")
    for col in ("input", "ours ms", "py360convert ms", "speed-up", "max |diff|", "first call ms"):
        table.add_column(col, justify="right")
    for w, h in SIZES:
        img = base if base.shape[:2] == (h, w) else cv2.resize(base, (w, h), interpolation=cv2.INTER_AREA)
        r = bench_case(img, args.face_w, args.repeats)
        ref = "n/a (not installed)" if r["ref"] is None else f"{r['ref']:.2f}"
        ratio = "n/a" if r["ref"] is None else f"{r['ref'] / r['ours']:.2f}×"
        diff = "n/a" if r["diff"] is None else f"{r['diff']:g}"
        table.add_row(f"{w}×{h}", f"{r['ours']:.2f}", ref, ratio, diff, f"{r['first']:.1f}")
    Console().print(table)
    return 0
