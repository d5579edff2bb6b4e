"""ego360: the one installed import name.

Why a namespace: the project's folders (`core/`, `calibration/`, `models/`, `runtime/`, `export/`,
`tools/`) have generic names that would collide in site-packages (`models` above all), so they are
installed and imported only as `ego360.core`, `ego360.models`, …  An installed wheel holds them as
real subpackages (see `[tool.setuptools]` in pyproject.toml); from a source checkout (editable install,
or `PYTHONPATH=$PWD` on a bare machine) this `__path__` entry maps the same names onto the folders.
"""
import os as _os

_ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_ROOT, "core", "__init__.py")) and _ROOT not in __path__:
    __path__.append(_ROOT)

__version__ = "0.1.0"
