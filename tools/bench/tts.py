"""Speech engines side by side: `ego360 bench tts --engines pyttsx3,piper --processes 5`.

Each process is fresh because the espeak failures seen in practice are per process start (lost
rate, empty WAV), and because a neural voice's first utterance pays for loading its model. Per engine
and process, through the real TTSWorker path (WAV check, resample, leading-silence trim):
- cold time to first audio: engine built in the process → first phrase's PCM ready (model load included);
- warm time to first audio: request → first PCM handed over for the next phrases, the way the Speaker
  gets it (`on_chunk`): with tts.split_phrases the place phrase ("Behind you, 5 o'clock:"), without it
  the whole alert — when the wearer's speech can start after its earcon;
- repeat time to first audio: the same alerts once more (an entity's next alert names the same place;
  with the split, its place phrase comes from the worker's place cache);
- gap: how long the rest of a split alert was still missing when its place phrase had finished playing
  (0 = the sentence plays without a hole);
- real-time factor: synthesis time of the whole alert / spoken duration (below 1 = faster than speech).
`--split both` (default) runs every process both ways, alternating, so the two share the machine's load.
Printing figures, not asserting them, keeps timing out of the test suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from ego360.core.stats import percentile

PHRASES = (  # what the template captioner says (models/captioner_template.py speech_line)
    "Behind you, 5 o'clock: person approaching.",
    "On your right, 3 o'clock: person crossing close.",
    "Ahead, 12 o'clock: cyclist approaching fast.",
    "On your left, 9 o'clock: person in red top and blue trousers running.",
    "Behind you, 7 o'clock: car approaching, very close.",
)


def _timed(tts, text: str, sample_rate: int) -> tuple[float, float, float | None, float]:
    """(time to first chunk, time to the whole alert, spoken seconds or None, gap s) for one request."""
    chunks: list[tuple[float, int]] = []
    t0 = time.perf_counter()

    def on_chunk(pcm, _last: bool) -> None:
        chunks.append((time.perf_counter(), 0 if pcm is None else len(pcm)))

    fut = tts.submit(text, on_chunk=on_chunk)
    pcm = fut.result(timeout=120)
    total = time.perf_counter() - t0
    if pcm is None or not chunks:
        return total, total, None, 0.0
    gap = 0.0
    for (t_prev, n_prev), (t_next, _n) in zip(chunks, chunks[1:], strict=False):
        gap = max(gap, (t_next - t_prev) - n_prev / sample_rate)  # the next phrase was late by this much
    return chunks[0][0] - t0, total, len(pcm) / sample_rate, max(0.0, gap)


def _one_process(engine: str, sample_rate: int, split: bool) -> dict:
    from ego360.core.config import TTSConfig
    from ego360.runtime.audio.tts import TTSWorker

    tts = TTSWorker(TTSConfig(backend=engine, split_phrases=split), sample_rate, warm_up=False)
    rows = [_timed(tts, p, sample_rate) for p in (PHRASES[0], *PHRASES)]  # the first twice: cold, then warm
    again = [_timed(tts, p.replace(".", " fast."), sample_rate) for p in PHRASES]  # same places, new words
    used = tts.engine_name
    tts.close()
    st = tts.stats
    warm = [r for r in rows[1:] if r[2]]
    return {
        "engine": engine, "split": split, "engine_used": used, "ok": len(warm),
        "failed": st.failed, "retries": st.retries, "reinits": st.reinits, "fallbacks": st.fallbacks,
        "attempt_failures": st.attempt_failures,
        "cold_ttfa_ms": rows[0][0] * 1e3 if rows[0][2] else None,
        "warm_ttfa_ms": [r[0] * 1e3 for r in warm],
        "repeat_ttfa_ms": [r[0] * 1e3 for r in again if r[2]],
        "total_ms": [r[1] * 1e3 for r in warm],
        "gap_ms": [r[3] * 1e3 for r in warm],
        "rtf": [r[1] / r[2] for r in warm],
        "audio_s": [r[2] for r in warm],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engines", default="pyttsx3,piper", help="comma-separated tts.backend values")
    parser.add_argument("--processes", type=int, default=5, help="fresh processes per engine (default 5)")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--split", choices=("both", "on", "off"), default="both",
                        help="tts.split_phrases: on, off, or both alternating (default)")
    parser.add_argument("--out", default="reports/tts", metavar="DIR", help="report folder (default reports/tts)")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def _pct(xs: list[float], q: float) -> float | None:
    v = percentile(xs, q)
    return None if v is None else round(v, 3)


def summarise(engine: str, rows: list[dict]) -> dict:
    def pooled(key: str) -> list[float]:
        return [x for r in rows for x in r[key]]

    warm, rtf = pooled("warm_ttfa_ms"), pooled("rtf")
    cold = [r["cold_ttfa_ms"] for r in rows if r["cold_ttfa_ms"] is not None]
    return {
        "engine": engine, "split": rows[0]["split"], "processes": len(rows), "phrases": len(warm),
        "engine_used": sorted({r["engine_used"] for r in rows}),
        "cold_ttfa_ms_p50": _pct(cold, 50), "warm_ttfa_ms_p50": _pct(warm, 50), "warm_ttfa_ms_p95": _pct(warm, 95),
        "repeat_ttfa_ms_p50": _pct(pooled("repeat_ttfa_ms"), 50),
        "whole_ms_p50": _pct(pooled("total_ms"), 50), "gap_ms_p95": _pct(pooled("gap_ms"), 95),
        "rtf_p50": _pct(rtf, 50), "rtf_p95": _pct(rtf, 95),
        "audio_s_p50": _pct([x for r in rows for x in r["audio_s"]], 50),
        **{k: sum(r[k] for r in rows) for k in ("ok", "failed", "retries", "reinits", "fallbacks", "attempt_failures")},
    }


def run(args: argparse.Namespace) -> int:
    if args.child:
        print(json.dumps(_one_process(args.child, args.sample_rate, args.split == "on")))
        return 0
    summaries = []
    splits = {"both": ("off", "on"), "on": ("on",), "off": ("off",)}[args.split]
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        rows: dict[str, list[dict]] = {s: [] for s in splits}
        for _ in range(args.processes):
            for split in splits:  # alternating, so both modes see the same machine load
                cmd = [sys.executable, "-m", "ego360.tools.bench.tts", "--child", engine,
                       "--sample-rate", str(args.sample_rate), "--split", split]
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                lines = out.stdout.strip().splitlines()
                if out.returncode or not lines:
                    print(f"{engine}: child failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
                    continue
                rows[split].append(json.loads(lines[-1]))
        summaries += [summarise(engine, r) for r in rows.values() if r]
    cols = ("engine", "split", "engine_used", "processes", "phrases", "ok", "failed", "fallbacks", "retries",
            "cold_ttfa_ms_p50", "warm_ttfa_ms_p50", "warm_ttfa_ms_p95", "repeat_ttfa_ms_p50", "whole_ms_p50",
            "gap_ms_p95", "rtf_p50", "rtf_p95", "audio_s_p50")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(s[c]) for c in cols) + " |" for s in summaries]
    table = "\n".join(lines)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tts.json").write_text(json.dumps({"sample_rate": args.sample_rate, "engines": summaries}, indent=1))
    (out_dir / "tts.md").write_text(
        f"# Speech engines: time to first audio and real-time factor\n\n`ego360 bench tts --engines {args.engines} "
        f"--processes {args.processes} --split {args.split}`, {len(PHRASES)} alerts per process after one cold one, "
        f"{args.sample_rate} Hz.\n\n{table}\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
