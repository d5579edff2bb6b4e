"""`ego360 bench audio`: what the wearer's ears get for each clock hour, measured from the rendered audio.

For every clock hour 1..12 a seeded white-noise burst is placed with `audio.spatial` hrtf and pan, and
the stereo result is measured (ITD, ILD, front/back spectral detail; definitions in
runtime/audio/measure.py). Writes audio.json / audio.md and WAVs of 12/6 and 2/4 o'clock (earcon, then
noise bursts) in both modes, for listening on headphones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ego360.runtime.audio.measure import bearing_of_hour, clock_table, noise_burst
from ego360.runtime.audio.wav import pcm16, write_wav


def demo_sound(spatialize, hour: int, sample_rate: int, earcon_ms: int = 120) -> np.ndarray:
    """Earcon, then three 250 ms noise bursts, all at `hour` — what to listen to on headphones."""
    from ego360.runtime.audio.earcon import make_earcon

    b = bearing_of_hour(hour)
    gap = np.zeros((int(0.15 * sample_rate), 2), np.float32)
    burst = noise_burst(sample_rate, 0.25, seed=hour)
    edge = np.hanning(2 * int(0.01 * sample_rate))
    n = len(edge) // 2
    burst[:n] *= edge[:n]
    burst[-n:] *= edge[n:]
    parts = [spatialize(make_earcon(b, sample_rate, earcon_ms), b, sample_rate), gap]
    for _ in range(3):
        parts += [spatialize(burst, b, sample_rate), gap]
    return np.concatenate(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--out", default="reports/audio", metavar="DIR", help="report folder (default reports/audio)")


def _markdown(tables: dict[str, list[dict]]) -> str:
    lines = ["# Binaural rendering per clock hour", "",
             "ITD > 0: right ear first; ILD > 0: right louder; front/back detail: RMS dB of the trend-removed",
             "spectral difference to the mirror hour (12↔6, 1↔5, 2↔4, 11↔7, 10↔8). `ego360 bench audio`.", ""]
    for mode, rows in tables.items():
        lines += [f"## audio.spatial = {mode}", "",
                  "| hour | bearing ° | ITD µs | Woodworth µs | ILD dB | mirror | front/back detail dB |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            fb = "–" if r["front_back_detail_db"] is None else f"{r['front_back_detail_db']:.2f}"
            lines.append(f"| {r['hour']} | {r['bearing_deg']:.0f} | {r['itd_us']:.0f} | {r['woodworth_itd_us']:.0f} | "
                         f"{r['ild_db']:.1f} | {r['mirror_hour'] or '–'} | {fb} |")
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ego360.core.config import AudioConfig
    from ego360.runtime.audio.spatial import make_spatializer

    sr = int(args.sample_rate)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables, wavs = {}, []
    for mode in ("hrtf", "pan"):
        sp = make_spatializer(AudioConfig(sample_rate=sr, spatial=mode))
        if sp.mode != mode:
            print(f"audio.spatial={mode}: unavailable (fell back to {sp.mode}); skipped")
            continue
        tables[mode] = clock_table(sp, sr)
        for hour in (12, 6, 2, 4):
            path = out / f"{mode}_{hour:02d}oclock.wav"
            write_wav(path, pcm16(demo_sound(sp, hour, sr)), sr)
            wavs.append(str(path))
    (out / "audio.json").write_text(json.dumps({"sample_rate": sr, "tables": tables, "wavs": wavs}, indent=1) + "\n")
    md = _markdown(tables)
    (out / "audio.md").write_text(md + "\nWAVs: " + ", ".join(Path(w).name for w in wavs) + "\n")
    print(md)
    print("wrote", out / "audio.md", "and", len(wavs), "WAVs")
    return 0
