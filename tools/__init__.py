"""Tools on top of the runtime: the `ego360` CLI, the scenario generator, evaluation and benchmarks.

Importing this package plugs the `scenario:NAME` source into `ego360.runtime.sources.open_source`
(the runtime never imports its tools; they register themselves here).
"""

from __future__ import annotations

import inspect

from ego360.core.config import SourceConfig
from ego360.core.errors import InputError
from ego360.runtime.sources import register_scheme


def _open_scenario(name: str, cfg: SourceConfig, realtime: bool, live: bool | None):
    """Lazy import: the renderer is only loaded when a scenario is opened.

    Only the keyword arguments ScenarioSource declares are passed, so either side can grow options
    without breaking the other.
    """
    if not name:
        raise InputError("scenario source needs a name, e.g. scenario:crossing")
    from ego360.tools.scenario.source import ScenarioSource

    offered = {"realtime": realtime, "max_width": cfg.max_width, "cfg": cfg}
    if live is not None:
        offered["live"] = live
    params = inspect.signature(ScenarioSource).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return ScenarioSource(name, **offered)
    names = {p.name for p in params}
    return ScenarioSource(name, **{k: v for k, v in offered.items() if k in names})


register_scheme("scenario:", _open_scenario)
