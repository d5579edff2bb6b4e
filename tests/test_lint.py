"""The codebase stays ruff-clean (style rules in pyproject.toml), and `import ego360` stays light."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff not installed (it is in the dev extra)")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]


def test_cli_help_imports_no_heavy_libraries():
    code = ("import sys; from ego360.tools.cli import build_parser; build_parser(); "
            "import ego360.models.registry, ego360.models.vlm; "
            "heavy = [m for m in ('torch', 'sam2', 'tensorrt', 'transformers', 'onnxruntime') if m in sys.modules]; "
            "print(','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"heavy modules imported at CLI start-up: {proc.stdout}"
