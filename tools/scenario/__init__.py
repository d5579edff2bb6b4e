"""Ground-truth 360° scenario generator: ray-cast equirect clips with exact per-entity masks.

Two kinds of scene: the original standing/turning wearer in a world at infinity, and scenes with
depth (`walk_*`, `table_people`): a walking wearer with head bob (wearer.py) over a textured ground
plane among static structures (world.py), whose parallax is exact because everything lives in world
coordinates and the camera moves through it. `compose.py` places real perspective footage into a
360° frame instead.

Public API: `list_scenarios`, `build_scene`, `render_scenario`, `load_gt`, `ScenarioSource`
(import it from `ego360.tools.scenario.source`), `ego360.tools.scenario.compose.compose`/`load_compose`,
and the VIEW360 interval loader in `ego360.tools.scenario.view360`.
"""

from ego360.tools.scenario.clip import render_scenario
from ego360.tools.scenario.gt import EntityFrameGT, GroundTruth, GTEntity, GTEvent, GTFrame, WearerPoseGT, load_gt
from ego360.tools.scenario.library import ScenarioInfo, build_scene, list_scenarios
from ego360.tools.scenario.render import Scene

__all__ = [
    "EntityFrameGT", "GTEntity", "GTEvent", "GTFrame", "GroundTruth", "ScenarioInfo", "Scene", "build_scene",
    "WearerPoseGT", "list_scenarios", "load_gt", "render_scenario",
]
