"""`ego360 bench NAME`: micro-benchmarks that print figures (never pass/fail on timing).

Each benchmark is a module exposing `add_arguments(parser)` and `run(args) -> int`; add one by
adding a line to BENCHMARKS. Those modules must import light (heavy imports inside `run`), since
every `ego360` invocation builds all parsers.
"""

from __future__ import annotations

import importlib

# name → (module, one-line help)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "projection": ("ego360.tools.bench.projection", "equirect → cube faces: ours vs py360convert (median ms)"),
    "replay": ("ego360.tools.bench.replay", "the alert path per stage: fps, capture→earcon latency, RSS, side by side"),
    "tracker": ("ego360.tools.bench.tracker", "SAM2 tracker alone per frame: backend, model, size, objects, dtype"),
    "egomotion": ("ego360.tools.bench.egomotion", "ego-motion (heading, speed, head bob) vs a walking scene's pose"),
    "tts": ("ego360.tools.bench.tts", "speech engines: time to first audio, real-time factor, failures per process"),
    "audio": ("ego360.tools.bench.audio", "binaural vs pan per clock hour: ITD, ILD, front/back spectra, WAVs"),
    "soak": ("ego360.tools.bench.soak", "ego360 live on a looping UDP stream for N minutes: RSS, threads, fds, p95"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="run a micro-benchmark and print its figures")
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        bench_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(bench_parser)
        bench_parser.set_defaults(func=module.run)
