"""TTS reliability/speed figures: `ego360 bench tts --processes 20`.

Each process is fresh because the espeak failures seen in practice are per process start (lost
rate, empty WAV); printing figures, not asserting them, keeps timing out of the test suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

PHRASES = (
    "person approaching at three o'clock, close",
    "car behind you at six o'clock",
    "bicycle at nine",
    "someone is running towards you from the left",
    "person at twelve o'clock",
)


def _one_process(sample_rate: int) -> dict:
    from ego360.core.config import TTSConfig
    from ego360.runtime.audio.tts import TTSWorker

    tts = TTSWorker(TTSConfig(), sample_rate)
    ok = sum(tts.synthesize(p, timeout=60) is not None for p in PHRASES)
    tts.close()
    st = tts.stats
    return {
        "ok": ok,
        "failed": st.failed,
        "retries": st.retries,
        "reinits": st.reinits,
        "attempt_failures": st.attempt_failures,
        "mean_ms": st.synth_ms_mean,
        "max_ms": st.synth_ms_max,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", type=int, default=10, help="fresh processes to start (default 10)")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    if args.child:
        print(json.dumps(_one_process(args.sample_rate)))
        return 0
    rows = []
    for _ in range(args.processes):
        cmd = [sys.executable, "-m", "ego360.tools.bench.tts", "--child", "--sample-rate", str(args.sample_rate)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    total = {k: sum(r[k] for r in rows) for k in ("ok", "failed", "retries", "reinits", "attempt_failures")}
    means = sorted(r["mean_ms"] for r in rows)
    print(f"{args.processes} processes x {len(PHRASES)} phrases @ {args.sample_rate} Hz: {total}")
    print(
        f"synth ms/phrase: median of process means {means[len(means) // 2]:.1f}, "
        f"max {max(r['max_ms'] for r in rows):.1f}; processes with a retry: "
        f"{sum(r['retries'] > 0 for r in rows)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
