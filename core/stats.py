"""Percentiles, defined once: latency reports, bench reports and `ego360 eval` all quote p50/p95/p99,
and a figure must mean the same thing wherever it is printed.

Definition: numpy's default linear interpolation between closest ranks (so p50 of [1, 2, 3, 4] is
2.5). NaN entries are dropped first — a NaN is "no measurement", and one would otherwise turn every
percentile into NaN. No data gives None / {} rather than a made-up 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def _clean(values: Iterable[float]) -> np.ndarray:
    arr = np.asarray(list(values), dtype=np.float64).ravel()
    return arr[~np.isnan(arr)]


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0–100) of `values`, None when there is no (non-NaN) value."""
    arr = _clean(values)
    return float(np.percentile(arr, q)) if arr.size else None


def percentiles(values: Iterable[float], qs: Sequence[float] = (50, 95, 99),
                ndigits: int | None = None) -> dict[str, float]:
    """{"p50": …, "p95": …, "p99": …} for `qs` (keys "p" + q as written, e.g. "p99.9"); {} on no data.

    `ndigits` rounds each value (reports keep 2–3 decimals of milliseconds; None keeps full precision).
    """
    arr = _clean(values)
    if not arr.size:
        return {}
    out = {}
    for q, v in zip(qs, np.percentile(arr, list(qs)), strict=True):
        out[f"p{q:g}"] = round(float(v), ndigits) if ndigits is not None else float(v)
    return out
