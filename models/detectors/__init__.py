"""Trained detectors on cube faces: what an entity *is* (person, vehicle, bicycle, animal, object).

Motion alone cannot find a person who stands still, nor tell a person from a pole the walking wearer
passes. The detectors here run on the six cube faces of the equirect (or only the faces where
something happens), off the frame loop, and their boxes come back as equirect boxes with wearer
bearings and a distance from the foot point (see `cube.py` and `service.py`). Backends are chosen by
name in `ego360.models.registry.DETECTORS`; heavy imports stay inside the backends.
"""
