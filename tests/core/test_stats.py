"""core/stats.py: the one percentile definition (numpy linear interpolation, NaN dropped, no data → none)."""

from __future__ import annotations

import math

import pytest

from ego360.core.stats import percentile, percentiles


def test_percentile_interpolates_linearly_between_ranks():
    assert percentile([0.1, 0.2, 0.3, 1.0], 50) == pytest.approx(0.25)
    assert percentile([0.1, 0.2, 0.3, 1.0], 95) == pytest.approx(0.3 + 0.85 * 0.7)  # rank 2.85
    assert percentile([4.0], 99) == 4.0
    assert percentile([], 50) is None and percentile([math.nan], 50) is None


def test_percentiles_keys_rounding_and_nan():
    vals = [10.0, 20.0, math.nan, 30.0, 40.0]  # NaN = no measurement, dropped
    assert percentiles(vals) == pytest.approx({"p50": 25.0, "p95": 38.5, "p99": 39.7})
    assert percentiles(vals, qs=(5, 99.9), ndigits=1) == {"p5": 11.5, "p99.9": 40.0}
    assert percentiles([1 / 3, 2 / 3], qs=(50,), ndigits=2) == {"p50": 0.5}
    assert percentiles([]) == {} and percentiles([math.nan]) == {}
