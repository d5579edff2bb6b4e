"""`ego360 eval`: temporal, direction and grounding metrics of replays against ground truth.

Kept import-light: numpy/pycocotools/scipy load with the submodules that need them, matplotlib only
when the report is drawn, and sentence-transformers only when the offline caption scorer is used.
"""
