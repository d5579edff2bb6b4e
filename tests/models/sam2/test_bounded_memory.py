"""Bounded memory of the streaming tracker on a long stream (64-pixel model, CPU): after warm-up the
kept state is exactly constant, the number of live tensors does not grow and RSS stays flat. The full
2,000-frame run is `slow` (~5 min on one core); a 120-frame variant runs in CI."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.usefixtures("one_thread")]
WARMUP = 40  # > 16 frames: pointer window and memory slots are full


def _rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _live_tensors() -> int:
    import torch

    def is_tensor(o: object) -> bool:
        try:  # dead weak proxies left by other tests in the same process raise on isinstance
            return isinstance(o, torch.Tensor)
        except ReferenceError:
            return False

    gc.collect()
    return sum(1 for o in gc.get_objects() if is_tensor(o))


def _long_stream(frames: int, random_sam2) -> dict:
    if not os.path.exists(f"/proc/{os.getpid()}/statm"):
        pytest.skip("RSS is read from /proc (Linux)")
    from ego360.models.sam2.streaming import SAM2StreamTracker

    model = random_sam2(size=64)
    tracker = SAM2StreamTracker(model, max_cond_frames=8)
    rng = np.random.default_rng(0)
    imgs = [(rng.random((48, 64, 3)) * 255).astype(np.uint8) for _ in range(4)]
    tracker.add_object(0, imgs[0], 1, box=(5, 5, 20, 20))
    tracker.add_object(0, imgs[0], 2, mask=np.ones((48, 64), bool))
    sizes, rss, live = [], {}, {}
    for f in range(1, frames + 1):
        tracker.track(imgs[f % 4])
        sizes.append(tracker.state_size())
        if f in (WARMUP, frames):
            rss[f], live[f] = _rss_mib(), _live_tensors()
    return {"sizes": sizes, "rss": rss, "live": live, "tracker": tracker, "model": model}


def _check(run: dict, frames: int, max_rss_growth_mib: float) -> None:
    sizes, rss, live = run["sizes"], run["rss"], run["live"]
    growth = rss[frames] - rss[WARMUP]
    print(f"{frames} frames: state {sizes[-1]}, live tensors {live[WARMUP]} -> {live[frames]}, "
          f"RSS {rss[WARMUP]:.1f} -> {rss[frames]:.1f} MiB (+{growth:.2f})")
    assert all(s == sizes[WARMUP] for s in sizes[WARMUP:])
    assert sizes[-1]["frames"] == 2 * run["model"].max_obj_ptrs_in_encoder  # 1 cond + 15 pointer frames each
    assert live[frames] <= live[WARMUP]
    assert growth < max_rss_growth_mib


def test_memory_is_flat_over_120_frames(random_sam2):
    _check(_long_stream(120, random_sam2), 120, max_rss_growth_mib=8.0)


@pytest.mark.slow
def test_memory_is_flat_over_2000_frames(random_sam2):
    # a leak of one frame's memory (features, pointer, low-res mask: ~6 KiB per object) would add ~23 MiB
    _check(_long_stream(2000, random_sam2), 2000, max_rss_growth_mib=8.0)
