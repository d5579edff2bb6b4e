"""`structure.run_bottoms`: every foreground pixel knows the lowest row of its vertical run (its ground contact)."""

from __future__ import annotations

import numpy as np

from ego360.models.structure import run_bottoms


def test_runs_end_at_their_lowest_pixel_column_by_column():
    fg = np.array([[1, 0, 1],
                   [1, 1, 0],
                   [0, 1, 1],
                   [1, 1, 1],
                   [1, 0, 0]], bool)
    expected = np.array([[1, -1, 0],
                         [1, 3, -1],
                         [-1, 3, 3],
                         [4, 3, 3],
                         [4, -1, -1]])
    np.testing.assert_array_equal(run_bottoms(fg), expected)


def test_matches_a_direct_scan_on_random_masks():
    rng = np.random.default_rng(3)
    fg = rng.random((40, 30)) < 0.4
    got = run_bottoms(fg)
    for x in range(fg.shape[1]):
        for y in range(fg.shape[0]):
            if not fg[y, x]:
                assert got[y, x] == -1
                continue
            end = y
            while end + 1 < fg.shape[0] and fg[end + 1, x]:
                end += 1
            assert got[y, x] == end
