"""How damaged are the frames a loss policy lets through? (measurement, not a test; issue 14 item 0)

The live runs say which alerts came out; this says why, frame by frame and without the timing noise of a
loaded machine. Each clip is encoded as the harness's sender does (MPEG-4 in MPEG-TS, `-q:v 5`, plus the
given sender options), cut into 1316-byte datagrams, a seeded share of them dropped, and decoded with
PyAV as `AvReader` does (key flag; corrupt flag from the frame or a corrupt packet before it). Every
frame goes through `DamageGuard` with each policy; a frame it delivers as not damaged is compared with
the loss-free decode of the same stream: the share of pixels off by more than 30 grey levels is the
damage an alert could come from.

    PYTHONPATH=. .venv/bin/python -m tests.runtime.damage.picture_damage --width 1920 \\
        --sender-args='-ps 1200' collide stealing threaten glancing teasing
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
from pathlib import Path

import numpy as np

from tests.runtime.damage.harness import FFMPEG, render

DATAGRAM = 1316
ERR_LEVEL = 30


def encode(clip: Path, sender: list[str]) -> bytes:
    cmd = [FFMPEG, "-v", "error", "-i", str(clip), "-c:v", "mpeg4", "-q:v", "5", *sender, "-an",
           "-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts", "-"]
    return subprocess.run(cmd, capture_output=True, check=True, stdin=subprocess.DEVNULL).stdout


def drop(ts: bytes, share: float, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(ts[i:i + DATAGRAM] for i in range(0, len(ts), DATAGRAM) if rng.random() >= share)


def decode(ts: bytes) -> list[tuple[float, bool, bool, np.ndarray]]:
    import av

    container = av.open(io.BytesIO(ts), format="mpegts")
    stream = container.streams.video[0]
    frames, pending = [], False
    for packet in container.demux(stream):
        pending = pending or packet.is_corrupt
        try:
            decoded = stream.decode(packet)
        except av.FFmpegError:
            pending = True
            continue
        for f in decoded:
            frames.append((round(float(f.pts * f.time_base), 4), bool(f.key_frame), bool(f.is_corrupt) or pending,
                           f.to_ndarray(format="rgb24")))
            pending = False
    container.close()
    return frames


def main() -> None:
    from ego360.runtime.sources.damage import DamageGuard

    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", nargs="+")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--drop", type=float, default=0.05)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--sender-args", default="")
    ap.add_argument("--out", type=Path, default=Path("/tmp/ego360-damage"))
    args = ap.parse_args()
    totals: dict[str, list[float]] = {"strict": [], "converge": []}
    frames_total = 0
    for name in args.scenarios:
        clip = render(name, args.out / f"{name}-{args.width}", 5.0, args.width) / "clip.mp4"
        ts = encode(clip, args.sender_args.split())
        clean = {t: img for t, _, _, img in decode(ts)}
        for seed in (int(s) for s in args.seeds.split(",")):
            lossy = decode(drop(ts, args.drop, seed))
            frames_total += len(lossy)
            keys = [(k, c) for _, k, c, _ in lossy if k]
            for policy in totals:
                guard = DamageGuard(30.0, policy=policy)
                errs = []
                for t, key, corrupt, img in lossy:
                    d = guard.decide(img, pts=t, capture_t=t, key=key, corrupt=corrupt)
                    if d.deliver and not d.damaged and t in clean:
                        errs.append(float((np.abs(img.astype(np.int16) - clean[t]).max(axis=2) > ERR_LEVEL).mean()))
                totals[policy] += errs
                e = np.asarray(errs)
                print(f"{name} seed {seed} {policy:8}: key frames {len(keys)} (whole {sum(not c for _, c in keys)}), "
                      f"frames {len(lossy)}, delivered clean {e.size}, of them >0.5 % pixels wrong "
                      f"{int((e > 0.005).sum())}, worst {e.max() if e.size else 0:.4f}", flush=True)
    for policy, errs in totals.items():
        e = np.asarray(errs)
        print(f"ALL {policy}: delivered clean {e.size} of {frames_total} frames; >0.5 % of pixels wrong: "
              f"{int((e > 0.005).sum())}; >2 %: {int((e > 0.02).sum())}; worst {e.max() if e.size else 0:.4f}")


if __name__ == "__main__":
    main()
