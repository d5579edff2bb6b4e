"""Run per-clip work in parallel: a local process pool by default, Ray tasks on a cluster with --ray.

The task function is pluggable (`fn(pred_dir, gt, settings) -> ClipResult`, picklable, defined at
module level) so a replay-then-evaluate callable can run in the same slot as plain scoring.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ego360.core.errors import UserError
from ego360.tools.evaluation.clip import EvalSettings, evaluate_clip
from ego360.tools.evaluation.io import ClipGT
from ego360.tools.evaluation.metrics import ClipResult

log = logging.getLogger(__name__)

TaskFn = Callable[[str, ClipGT, EvalSettings], ClipResult]


@dataclass(frozen=True)
class ClipTask:
    pred_dir: str
    gt: ClipGT
    settings: EvalSettings
    extra: tuple[Any, ...] = ()  # further arguments of the task function (e.g. the clip to replay first)


def default_workers(n_tasks: int) -> int:
    return max(1, min(n_tasks, os.cpu_count() or 1, 8))


def run_tasks(tasks: Sequence[ClipTask], fn: TaskFn = evaluate_clip, workers: int | None = None,
              ray_address: str | None = None) -> list[ClipResult]:
    """Results in task order. workers=1 runs inline (debuggable, no pickling)."""
    if not tasks:
        return []
    if ray_address:
        return _run_ray(tasks, fn, ray_address)
    n = workers or default_workers(len(tasks))
    if n <= 1 or len(tasks) == 1:
        return [fn(t.pred_dir, t.gt, t.settings, *t.extra) for t in tasks]
    with ProcessPoolExecutor(max_workers=min(n, len(tasks))) as pool:
        futures = [pool.submit(fn, t.pred_dir, t.gt, t.settings, *t.extra) for t in tasks]
        return [f.result() for f in futures]


def connect_ray(address: str) -> Any:
    """The `ray` module, connected to `address` (`local` starts one here); one-line UserError when Ray
    is not installed or the cluster cannot be reached. Shared by `ego360 eval` and `ego360 annotate`."""
    try:
        import ray
    except ImportError:
        raise UserError('--ray needs Ray: pip install "ray[default]"') from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        except ConnectionError as exc:
            raise UserError(f"--ray {address}: cannot connect to a Ray cluster ({exc}); start one with "
                            "`ray start --head` or pass --ray local") from None
    return ray


def _run_ray(tasks: Sequence[ClipTask], fn: TaskFn, address: str) -> list[ClipResult]:
    """One Ray task per clip. Paths must be readable on the workers (a shared file system); the
    judge's API key is read from the env var on the worker, never shipped in task arguments."""
    ray = connect_ray(address)
    remote: Any = ray.remote(fn)
    refs = [remote.remote(t.pred_dir, t.gt, t.settings, *t.extra) for t in tasks]
    return list(ray.get(refs))
