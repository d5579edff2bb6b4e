"""`ego360 eval PRED_DIR... --gt GT... --out REPORT_DIR`: the paper's metrics over replays."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="score replays against ground truth (temporal, direction, grounding, captions)",
        description="Score replay outputs (events.jsonl) against gt.json files or VIEW360 interval lists; "
                    "writes metrics.json, report.md and PNG plots into --out. Metrics: see the README.",
    )
    p.add_argument("pred_dirs", nargs="+", metavar="PRED_DIR",
                   help="replay output dir(s) holding events.jsonl (with --replay: scenario dirs to replay first)")
    p.add_argument("--replay", action="store_true",
                   help="inputs are folders with clip.mp4 + gt.json: replay each (in the worker or Ray task) "
                        "into REPORT_DIR/replays/NAME, then score it")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for --replay (repeatable)")
    p.add_argument("--yaw-offset", type=float, default=None, metavar="DEG", help="mounting yaw offset for --replay")
    p.add_argument("--gt", nargs="+", default=None, metavar="GT",
                   help="gt.json files or dirs holding one, and/or VIEW360 interval lists (paired by name, "
                        "else by position)")
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="report directory (created)")
    p.add_argument("--grace-s", type=float, default=1.0, help="alert grace after an event's end (default 1.0 s)")
    p.add_argument("--lead-window", type=float, default=3.0, metavar="S",
                   help="an alert up to S seconds before an event's onset that points at its perpetrator recalls "
                        "it with a negative delay (a warning given in time; default 3.0; 0 = --strict-window)")
    p.add_argument("--lead-bearing-tol", type=float, default=45.0, metavar="DEG",
                   help="how close (degrees) an early alert's bearing must be to the perpetrator's GT bearing "
                        "(default 45)")
    p.add_argument("--strict-window", action="store_true",
                   help="the old definition: only alerts in [onset, end + grace] recall an event (= --lead-window 0)")
    p.add_argument("--contact-radius", type=float, default=0.5, metavar="M",
                   help="perpetrator–victim distance that counts as contact, for the time to contact left at the "
                        "first alert (default 0.5 m)")
    p.add_argument("--iou-threshold", type=float, default=0.5, help="mean IoU a match needs (default 0.5)")
    p.add_argument("--iou-window", choices=("all", "event"), default="all",
                   help="GT frames scored for IoU: all frames of the entity, or only inside events")
    p.add_argument("--scorer", choices=("auto", "judge", "embedding", "token-f1", "none"), default="auto",
                   help="caption scorer (auto: judge with --judge-url, else the offline embedding model)")
    p.add_argument("--judge-url", default="", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--judge-model", default="", help="model name sent to the judge")
    p.add_argument("--judge-key-env", default="EGO360_JUDGE_API_KEY",
                   help="env var holding the judge API key (never logged)")
    p.add_argument("--judge-retries", type=int, default=3, help="retries per judge call (default 3)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPUs, ≤ clips)")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run each clip as a Ray task on this cluster ('auto', 'ray://host:10001', or 'local')")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace):
    from ego360.core.errors import ConfigError
    from ego360.tools.evaluation.clip import EvalSettings
    from ego360.tools.evaluation.judge import ScorerSpec

    if not 0.0 < args.iou_threshold <= 1.0:
        raise ConfigError(f"--iou-threshold {args.iou_threshold}: must be in (0, 1]")
    if args.grace_s < 0:
        raise ConfigError(f"--grace-s {args.grace_s}: must be ≥ 0")
    if args.lead_window < 0:
        raise ConfigError(f"--lead-window {args.lead_window}: must be ≥ 0 seconds (0 = --strict-window)")
    if not 0.0 <= args.lead_bearing_tol <= 180.0:
        raise ConfigError(f"--lead-bearing-tol {args.lead_bearing_tol}: must be in [0, 180] degrees")
    if args.contact_radius <= 0:
        raise ConfigError(f"--contact-radius {args.contact_radius}: must be > 0 metres")
    if args.scorer == "judge" and not (args.judge_url and args.judge_model):
        raise ConfigError("--scorer judge needs --judge-url and --judge-model")
    if args.judge_url and not args.judge_model:
        raise ConfigError("--judge-url needs --judge-model (the model name the endpoint serves)")
    spec = None if args.scorer == "none" else ScorerSpec(
        kind=args.scorer, url=args.judge_url, model=args.judge_model, key_env=args.judge_key_env,
        retries=max(0, args.judge_retries))
    return EvalSettings(grace_s=args.grace_s, iou_threshold=args.iou_threshold, iou_window=args.iou_window,
                        scorer=spec, lead_window_s=0.0 if args.strict_window else args.lead_window,
                        lead_bearing_tol_deg=args.lead_bearing_tol, contact_radius_m=args.contact_radius)


def run(args: argparse.Namespace) -> int:
    from ego360.core.errors import ConfigError
    from ego360.tools.evaluation.io import pair_inputs
    from ego360.tools.evaluation.metrics import aggregate
    from ego360.tools.evaluation.parallel import ClipTask, run_tasks
    from ego360.tools.evaluation.report import write_report

    settings = _settings(args)
    if args.replay:
        from ego360.core.config import load_config
        from ego360.tools.evaluation.replay_task import replay_and_evaluate, scenario_tasks

        load_config(None, args.overrides)  # bad keys fail here, not in every worker
        tasks = scenario_tasks(list(args.pred_dirs), Path(args.out), tuple(args.overrides), args.yaw_offset,
                               settings)
        clips = run_tasks(tasks, fn=replay_and_evaluate, workers=args.workers, ray_address=args.ray)
    else:
        if not args.gt:
            raise ConfigError("--gt is required unless --replay is given (then each folder holds its gt.json)")
        pairs = pair_inputs(list(args.pred_dirs), list(args.gt))
        tasks = [ClipTask(str(p), g, settings) for p, g in pairs]
        clips = run_tasks(tasks, workers=args.workers, ray_address=args.ray)
    metrics = aggregate(clips)
    scorers = sorted({c.scorer for c in clips if c.scorer})
    metrics = {"format": "ego360-eval/1", "scorer": ", ".join(scorers) if scorers else None,
               "settings": {"grace_s": settings.grace_s, "iou_threshold": settings.iou_threshold,
                            "iou_window": settings.iou_window, "scorer_requested": args.scorer,
                            "judge_model": args.judge_model or None, "lead_window_s": settings.lead_window_s,
                            "lead_bearing_tol_deg": settings.lead_bearing_tol_deg,
                            "contact_radius_m": settings.contact_radius_m},
               **metrics}
    out = Path(args.out)
    write_report(out, metrics, clips)
    o = metrics["overall"]

    def fmt(v, scale=1.0):
        return "—" if v is None else f"{v * scale:.1f}"

    print(f"ego360 eval: {len(clips)} clip(s) → {out}/report.md, metrics.json and plots")
    print(f"  AUC {fmt(o['auc'], 100)}  recall {fmt(o['recall'], 100)} %  FA/min {fmt(o['false_alerts_per_min'])}  "
          f"delay p50 {fmt(o['delay_median_s'])} s  dir acc {fmt(o['direction_acc'], 100)} %  "
          f"IoU {fmt(o['iou'])}  FPE {fmt(o['fpe'])}  Cap {fmt(o['cap'])}  F_SC {fmt(o['f_sc'])}  "
          f"(scorer: {metrics['scorer'] or 'none'})")
    return 0
