"""`ego360 bench replay CLIP`: where each millisecond goes, per configuration, side by side.

Each configuration runs in its own spawned process so peak RSS (and CUDA memory) belong to it alone;
configurations are compared as ratios in the same run because absolute times on shared machines
drift. Output: bench.json, bench.md and PNGs (stacked per-stage bars, capture→earcon latency CDF).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

STAGES = ("decode", "trigger", "tracker", "alerts", "output")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("clip", metavar="CLIP", help="video file, image folder or scenario:NAME")
    p.add_argument("--out", default="reports/bench", metavar="DIR", help="report folder (default reports/bench)")
    p.add_argument("--compare", action="append", default=[], metavar="OVERRIDES",
                   help="a configuration to compare, as comma-separated key=value (repeatable); "
                        "the plain config is always the baseline")
    p.add_argument("--label", action="append", default=[], help="names for --compare configurations")
    p.add_argument("--no-paced", action="store_true",
                   help="skip the second, camera-paced run of each configuration (it gives the capture→earcon "
                        "latency the wearer would get; the first run, as fast as possible, gives throughput)")
    p.add_argument("--yaw-offset", type=float, default=None, metavar="DEG")
    p.add_argument("--config", metavar="TOML")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


class _Tegrastats:
    """Power and GPU load on a Jetson, sampled while a configuration runs (absent elsewhere)."""

    _POWER = re.compile(r"(VDD_IN|POM_5V_IN)\s+(\d+)mW")
    _GPU = re.compile(r"GR3D_FREQ\s+(\d+)%")

    def __init__(self) -> None:
        self.power_mw: list[int] = []
        self.gpu_pct: list[int] = []
        self._proc = None
        exe = shutil.which("tegrastats")
        if exe:
            self._proc = subprocess.Popen([exe, "--interval", "500"], stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            if m := self._POWER.search(line):
                self.power_mw.append(int(m.group(2)))
            if m := self._GPU.search(line):
                self.gpu_pct.append(int(m.group(1)))

    def stop(self) -> dict[str, Any] | None:
        if self._proc is None:
            return None
        self._proc.terminate()
        self._proc.wait(5)
        mean = lambda v: round(sum(v) / len(v), 1) if v else None  # noqa: E731
        return {"power_mw_mean": mean(self.power_mw), "gpu_load_pct_mean": mean(self.gpu_pct)}


def _child(clip: str, cfg_path: str | None, overrides: list[str], yaw_offset: float | None, out_dir: str,
           counter: Any, result_q: Any, paced: bool) -> None:
    """One configuration, in its own process."""
    try:
        from ego360.calibration.mounting import resolve_mounting
        from ego360.core.config import load_config
        from ego360.runtime.session import run_session
        from ego360.runtime.sources import open_source

        cfg = load_config(cfg_path, overrides + ["output.annotated_video=false", "audio.sink=file"])
        source = open_source(clip, cfg.source, realtime=paced or cfg.runner.realtime)

        def tick(_work: Any) -> None:
            with counter.get_lock():
                counter.value += 1

        teg = _Tegrastats()
        result = run_session(cfg, source, Path(out_dir), resolve_mounting(cfg.bearings, yaw_offset), progress=tick,
                             cuda_sync=True)
        summary = dict(result.summary)
        summary["alert_latencies_ms"] = result.alert_latencies_ms
        summary["frame_latencies_ms"] = result.frame_latencies_ms
        summary["tegrastats"] = teg.stop()
        summary["cuda"] = _cuda_figures()
        summary["budget_ms"] = 1000.0 * cfg.runner.process_every / max(1e-6, source.info.fps)
        result_q.put(("ok", summary))
    except Exception as exc:  # reported by the parent as this configuration's failure
        result_q.put(("error", f"{type(exc).__name__}: {exc}"))


def _cuda_figures() -> dict[str, float] | None:
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    torch.cuda.synchronize()
    return {"max_allocated_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}


def _run_config(args: argparse.Namespace, overrides: list[str], label: str, total: int | None, progress,
                paced: bool) -> dict:
    ctx = mp.get_context("spawn")
    counter, result_q = ctx.Value("i", 0), ctx.Queue()
    out_dir = tempfile.mkdtemp(prefix="ego360-bench-")
    proc = ctx.Process(target=_child, args=(args.clip, args.config, overrides, args.yaw_offset, out_dir, counter,
                                            result_q, paced))
    proc.start()
    task = progress.add_task(label, total=total)
    status, payload = None, None
    while status is None:
        progress.update(task, completed=counter.value)
        try:
            status, payload = result_q.get(timeout=0.25)
        except Exception:  # queue.Empty: still running
            if not proc.is_alive():
                status, payload = "error", f"process exited with code {proc.exitcode}"
    proc.join()
    progress.update(task, completed=counter.value)
    shutil.rmtree(out_dir, ignore_errors=True)
    return {"label": label, "overrides": overrides, "status": status,
            **({"summary": payload} if status == "ok" else {"error": payload})}


DETECTOR_STAGE = "detector (off-loop)"


def _add_detector_row(result: dict[str, Any]) -> None:
    """The cube-face detector runs in its own thread, so the runner's stages do not see it: its cost
    joins the stage table as one more row, its mean spread over the processed frames (what it takes
    from the CPU per frame) and its p50/p95 per detection run (how stale its answers can be)."""
    s = result.get("summary") or {}
    det = s.get("detector") or {}
    if not det.get("runs"):
        return
    frames = max(1, int(s.get("frames_processed") or 1))
    s.setdefault("stages", []).append({
        "name": DETECTOR_STAGE, "count": det["runs"], "mean_ms": round(det["ms_total"] / frames, 2),
        "p50_ms": det["ms_per_run_p50"], "p95_ms": det["ms_per_run_p95"], "p99_ms": None, "dropped": det["late"]})


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ego360.core.config import load_config
    from ego360.runtime.sources import open_source
    from ego360.tools.bench.report import headline, write_report

    base = list(args.overrides)
    configs = [("baseline", base)]
    for i, spec in enumerate(args.compare):
        extra = [s for s in spec.split(",") if s.strip()]
        label = args.label[i] if i < len(args.label) else spec
        configs.append((label, base + extra))
    for _, ov in configs:  # reject bad keys before spending minutes
        load_config(args.config, ov)
    cfg = load_config(args.config, base)
    with open_source(args.clip, cfg.source) as probe:
        frames = probe.info.num_frames
    total = frames // cfg.runner.process_every if frames else None
    console = Console()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        results = []
        for label, ov in configs:
            fast = _run_config(args, ov, f"{label} (fast)", total, progress, paced=False)
            fast["label"] = label
            if not args.no_paced and fast["status"] == "ok":
                paced = _run_config(args, ov, f"{label} (paced)", total, progress, paced=True)
                if paced["status"] == "ok":
                    fast["paced"] = {k: paced["summary"][k] for k in ("alert_latencies_ms", "frame_latencies_ms",
                                                                      "frames_dropped", "alerts")}
            results.append(fast)
    out = Path(args.out)
    for r in results:
        _add_detector_row(r)
    write_report(results, out, clip=args.clip)
    console.print(headline(results))
    console.print(f"report: {out / 'bench.md'}, {out / 'bench.json'}, {out / 'stages.png'}, {out / 'latency_cdf.png'}")
    return 0 if all(r["status"] == "ok" for r in results) else 1

