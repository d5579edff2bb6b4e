"""`ego360 eval --replay`: replay + scoring per clip, in worker processes or as Ray tasks."""

from __future__ import annotations

import json

import pytest

from ego360.tools.cli import main
from ego360.tools.evaluation.clip import EvalSettings
from ego360.tools.evaluation.judge import ScorerSpec
from ego360.tools.evaluation.parallel import run_tasks
from ego360.tools.evaluation.replay_task import replay_and_evaluate, scenario_tasks

SMALL = ["--width", "512", "--height", "256", "--duration", "4"]
OVERRIDES = ("runner.process_every=2", "tts.backend=none")


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    root = tmp_path_factory.mktemp("scen")
    for name in ("stealing", "normal_passersby"):
        assert main(["scenario", name, "--out", str(root / name), *SMALL]) == 0
    return [str(root / "stealing"), str(root / "normal_passersby")]


def test_cli_replays_then_scores(scenarios, tmp_path):
    out = tmp_path / "report"
    args = ["eval", *scenarios, "--replay", "--out", str(out), "--workers", "1", "--scorer", "token-f1"]
    for o in OVERRIDES:
        args += ["--set", o]
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert (out / "replays" / "stealing" / "events.jsonl").exists()
    assert (out / "replays" / "normal_passersby" / "events.jsonl").exists()
    assert m["overall"]["n_clips"] == 2
    assert (out / "report.md").exists() and (out / "roc.png").exists()


def test_replay_needs_scenario_folders(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--replay", "--out", str(tmp_path / "r")]) == 2
    assert "clip.mp4 and gt.json" in capsys.readouterr().err


def test_ray_tasks_replay_and_score_like_local_processes(scenarios, tmp_path):
    ray = pytest.importorskip("ray")
    settings = EvalSettings(scorer=ScorerSpec(kind="token-f1"))
    local = run_tasks(scenario_tasks(scenarios, tmp_path / "local", OVERRIDES, None, settings),
                      fn=replay_and_evaluate, workers=1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_tasks(scenario_tasks(scenarios, tmp_path / "ray", OVERRIDES, None, settings),
                           fn=replay_and_evaluate, ray_address="local")
    finally:
        ray.shutdown()
    assert (tmp_path / "ray" / "replays" / "stealing" / "events.jsonl").exists()
    key = [(r.name, r.events, r.n_alerts, r.false_alerts, r.fpe) for r in local]
    assert [(r.name, r.events, r.n_alerts, r.false_alerts, r.fpe) for r in remote] == key
