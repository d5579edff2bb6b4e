"""Replay a clip, then score it — one unit of work for the process pool or a Ray task.

Module-level and picklable so `run_tasks` can ship it to a worker process or a Ray cluster; the
replay writes the usual outputs (events.jsonl, alerts.wav) into `pred_dir` on the worker.
"""

from __future__ import annotations

from pathlib import Path

from ego360.tools.evaluation.clip import EvalSettings, evaluate_clip
from ego360.tools.evaluation.io import ClipGT
from ego360.tools.evaluation.metrics import ClipResult


def replay_and_evaluate(pred_dir: str, gt: ClipGT, settings: EvalSettings, clip: str,
                        overrides: tuple[str, ...] = (), yaw_offset: float | None = None) -> ClipResult:
    from ego360.calibration.mounting import resolve_mounting
    from ego360.core.config import load_config
    from ego360.runtime.session import run_session
    from ego360.runtime.sources import open_source

    cfg = load_config(None, ["output.annotated_video=false", "audio.sink=file", *overrides])
    source = open_source(clip, cfg.source)
    run_session(cfg, source, Path(pred_dir), resolve_mounting(cfg.bearings, yaw_offset))
    return evaluate_clip(pred_dir, gt, settings)


def scenario_tasks(scenario_dirs: list[str], out: Path, overrides: tuple[str, ...], yaw_offset: float | None,
                   settings: EvalSettings) -> list:
    """`ego360 eval --replay DIR...`: each DIR holds clip.mp4 + gt.json (as `ego360 scenario` writes)."""
    from ego360.core.errors import InputError
    from ego360.tools.evaluation.io import load_gt_json
    from ego360.tools.evaluation.parallel import ClipTask

    tasks = []
    for d in map(Path, scenario_dirs):
        clip = d / "clip.mp4"
        if not clip.is_file() or not (d / "gt.json").is_file():
            raise InputError(f"{d}: --replay needs folders holding clip.mp4 and gt.json (from `ego360 scenario`)")
        pred = out / "replays" / d.name
        tasks.append(ClipTask(str(pred), load_gt_json(d), settings, (str(clip), overrides, yaw_offset)))
    return tasks
