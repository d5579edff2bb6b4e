"""Closing-note figures of the dashboard's frame path on this CPU (not a test: numbers, not pass/fail).

  .venv/bin/python -m tests.runtime.dashboard.measure [--width 1920] [--frames 200]

- `offer_us`: what the pipeline's last stage pays per frame for the dashboard (the drop-oldest hand-off);
- `encode_ms`: the dashboard thread's overlay drawing + JPEG encoding of one frame (the scenario street
  panorama, shifted per frame) at 960 px wide, with two role-coloured masks; at the default 8 fps its CPU
  share is about encode_ms × 8 / 1000 of one core.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

import ego360.tools.scenario as scenario
from ego360.core.packets import Box, EntityUpdate, FramePacket, Track, TriggerResult, Work
from ego360.runtime.dashboard.frames import FrameFeed, _Pending


def frames(width: int, n: int) -> list[Work]:
    h = width // 2
    street = cv2.imread(str(Path(scenario.__file__).parent / "assets" / "street_equirect_1920x960.jpg"))
    base = cv2.resize(cv2.cvtColor(street, cv2.COLOR_BGR2RGB), (width, h), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        tracks = []
        for k, role in enumerate(("perpetrator", "victim")):
            mask = np.zeros((h, width), bool)
            x0 = (i * 7 + k * width // 3) % (width - 200)
            mask[h // 3: h // 3 + 200, x0: x0 + 120] = True
            tracks.append(Track(k + 1, i, role, mask, Box(x0, h // 3, x0 + 120, h // 3 + 200), 0.0, 0.0))
        out.append(Work(FramePacket(i, i / 30, time.monotonic_ns(), np.roll(base, i * 3, axis=1)),
                        TriggerResult(i, 0.8, None, "approach", "onset"), EntityUpdate(i, tuple(tracks), (), (), ())))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    works = frames(args.width, args.frames)
    feed = FrameFeed(width=960)
    offer = []
    for w in works:
        t0 = time.perf_counter_ns()
        feed.offer(w)
        offer.append((time.perf_counter_ns() - t0) / 1e3)
    encode, sizes = [], []
    for w in works:
        p = w.packet
        item = _Pending(p.image, w.entities.tracks, {}, 0.8, p.video_t, p.capture_ns, p.frame_index)
        t0 = time.perf_counter()
        sizes.append(len(feed.encode(item)))
        encode.append((time.perf_counter() - t0) * 1e3)
    def pct(v: list[float]) -> dict[str, float]:
        return {"p50": round(float(np.percentile(v, 50)), 3), "p95": round(float(np.percentile(v, 95)), 3)}

    print(json.dumps({"input": f"{args.width}x{args.width // 2}", "out_width": feed.width, "frames": args.frames,
                      "offer_us": pct(offer), "encode_ms": pct(encode),
                      "jpeg_kb": round(float(np.mean(sizes)) / 1024, 1),
                      "cpu_share_at_8fps": round(float(np.percentile(encode, 50)) * 8 / 1000, 3)}, indent=1))


if __name__ == "__main__":
    main()
