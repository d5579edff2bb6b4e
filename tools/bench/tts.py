"""Speech engines side by side: `ego360 bench tts --engines pyttsx3,piper --processes 5`.

Each process is fresh because the espeak failures seen in practice are per process start (lost
rate, empty WAV), and because a neural voice's first utterance pays for loading its model. Per engine
and process, through the real TTSWorker path (WAV check, resample, leading-silence trim):
- cold time to first audio: engine built in the process → first phrase's PCM ready (model load included);
- warm time to first audio: request → PCM ready for the next phrases (the worker hands whole
  utterances to the mixer, so this is when the wearer's speech can start after its earcon);
- real-time factor: synthesis time / spoken duration (below 1 = faster than speech).
Printing figures, not asserting them, keeps timing out of the test suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PHRASES = (
    "person approaching at three o'clock, close",
    "car behind you at six o'clock",
    "bicycle at nine",
    "someone is running towards you from the left",
    "person at twelve o'clock",
)


def _one_process(engine: str, sample_rate: int) -> dict:
    from ego360.core.config import TTSConfig
    from ego360.runtime.audio.tts import TTSWorker

    tts = TTSWorker(TTSConfig(backend=engine), sample_rate, warm_up=False)
    rows = []
    for p in (PHRASES[0], *PHRASES):  # the first phrase twice: once cold, then warm like the others
        t0 = time.perf_counter()
        pcm = tts.synthesize(p, timeout=120)
        dt = time.perf_counter() - t0
        rows.append((dt, None if pcm is None else len(pcm) / sample_rate))
    used = tts.engine_name
    tts.close()
    st = tts.stats
    warm = [(dt, d) for dt, d in rows[1:] if d]
    return {
        "engine": engine, "engine_used": used, "ok": sum(d is not None for _, d in rows[1:]),
        "failed": st.failed, "retries": st.retries, "reinits": st.reinits, "fallbacks": st.fallbacks,
        "attempt_failures": st.attempt_failures,
        "cold_ttfa_ms": rows[0][0] * 1e3 if rows[0][1] else None,
        "warm_ttfa_ms": [dt * 1e3 for dt, _ in warm],
        "rtf": [dt / d for dt, d in warm],
        "audio_s": [d for _, d in warm],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engines", default="pyttsx3,piper", help="comma-separated tts.backend values")
    parser.add_argument("--processes", type=int, default=5, help="fresh processes per engine (default 5)")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--out", default="reports/tts", metavar="DIR", help="report folder (default reports/tts)")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def _pct(xs: list[float], q: float) -> float | None:
    import numpy as np

    return round(float(np.percentile(xs, q)), 3) if xs else None


def summarise(engine: str, rows: list[dict]) -> dict:
    warm = [x for r in rows for x in r["warm_ttfa_ms"]]
    rtf = [x for r in rows for x in r["rtf"]]
    cold = [r["cold_ttfa_ms"] for r in rows if r["cold_ttfa_ms"] is not None]
    return {
        "engine": engine, "processes": len(rows), "phrases": len(warm),
        "engine_used": sorted({r["engine_used"] for r in rows}),
        "cold_ttfa_ms_p50": _pct(cold, 50), "warm_ttfa_ms_p50": _pct(warm, 50), "warm_ttfa_ms_p95": _pct(warm, 95),
        "rtf_p50": _pct(rtf, 50), "rtf_p95": _pct(rtf, 95),
        "audio_s_p50": _pct([x for r in rows for x in r["audio_s"]], 50),
        **{k: sum(r[k] for r in rows) for k in ("ok", "failed", "retries", "reinits", "fallbacks", "attempt_failures")},
    }


def run(args: argparse.Namespace) -> int:
    if args.child:
        print(json.dumps(_one_process(args.child, args.sample_rate)))
        return 0
    summaries = []
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        rows = []
        for _ in range(args.processes):
            cmd = [sys.executable, "-m", "ego360.tools.bench.tts", "--child", engine,
                   "--sample-rate", str(args.sample_rate)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            lines = out.stdout.strip().splitlines()
            if out.returncode or not lines:
                print(f"{engine}: child failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
                continue
            rows.append(json.loads(lines[-1]))
        if rows:
            summaries.append(summarise(engine, rows))
    cols = ("engine", "engine_used", "processes", "phrases", "ok", "failed", "fallbacks", "retries",
            "cold_ttfa_ms_p50", "warm_ttfa_ms_p50", "warm_ttfa_ms_p95", "rtf_p50", "rtf_p95", "audio_s_p50")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(s[c]) for c in cols) + " |" for s in summaries]
    table = "\n".join(lines)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tts.json").write_text(json.dumps({"sample_rate": args.sample_rate, "engines": summaries}, indent=1))
    (out_dir / "tts.md").write_text(
        f"# Speech engines: time to first audio and real-time factor\n\n`ego360 bench tts --engines {args.engines} "
        f"--processes {args.processes}`, {len(PHRASES)} phrases per process after one cold phrase, "
        f"{args.sample_rate} Hz.\n\n{table}\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
