"""The layering contract, checked on the source tree (CI runs it with ruff).

Layers, lowest first; a module may import `ego360` modules of its own layer or below, never above:

    core < calibration < models < runtime < export < tools

Every import counts, also those placed inside functions (a lazy import is still a dependency), and
the graph of files and the graph of packages (folders) must both be free of cycles. Modules stay
under 400 lines.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "calibration", "models", "runtime", "export", "tools")
MAX_LINES = 400


def module_files(root: Path) -> dict[str, Path]:
    """`ego360.<layer>.<...>` module name → file, for every layer folder under `root`."""
    out: dict[str, Path] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(["ego360", *parts])] = path
    return out


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The module of ours an import names (`a.b.c` may be module `a.b` attribute `c`), or None."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path) -> dict[str, set[str]]:
    mods = module_files(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            for name in names:
                if name.startswith("ego360.") and (target := _resolve(name, mods)) and target != mod:
                    graph[mod].add(target)
    return graph


def layer_of(mod: str) -> int:
    return LAYERS.index(mod.split(".")[1])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} ({LAYERS[layer_of(m)]}) imports {t} ({LAYERS[layer_of(t)]})"
                  for m, targets in graph.items() for t in targets if layer_of(t) > layer_of(m))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def package_graph(graph: dict[str, set[str]], root: Path) -> dict[str, set[str]]:
    """Folder → folders it imports from (a package's own `__init__` counts as the folder)."""
    files = module_files(root)

    def pkg(m: str) -> str:
        return m if files[m].name == "__init__.py" else m.rpartition(".")[0]

    out: dict[str, set[str]] = {}
    for m, targets in graph.items():
        out.setdefault(pkg(m), set()).update(pkg(t) for t in targets if pkg(t) != pkg(m))
    return out


def long_modules(root: Path) -> list[str]:
    return sorted(f"{p.relative_to(root)}: {n} lines" for p in module_files(root).values()
                  if (n := len(p.read_text().splitlines())) > MAX_LINES)


def test_no_upward_imports():
    assert upward_imports(import_graph(ROOT)) == []


def test_no_import_cycles_between_files_or_packages():
    graph = import_graph(ROOT)
    assert cycles(graph) == []
    assert cycles(package_graph(graph, ROOT)) == []


def test_modules_stay_under_400_lines():
    assert long_modules(ROOT) == []


def test_every_package_is_installed():
    """The wheel lists its packages by hand (the folders map onto `ego360.*`): a new folder must be
    added to `[tool.setuptools] packages` in pyproject.toml, or it is missing from an install."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"ego360"} | {".".join(["ego360", *p.parent.relative_to(ROOT).parts])
                          for layer in LAYERS for p in (ROOT / layer).rglob("__init__.py")}
    assert sorted(found - listed) == []


def test_nothing_imports_the_old_top_level_names():
    """`runtime`, `models`, … are only ever imported as `ego360.runtime`, `ego360.models`, …"""
    bad = []
    for path in [*module_files(ROOT).values(), *sorted((ROOT / "tests").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in LAYERS]
    assert bad == []


@pytest.mark.parametrize(("where", "planted", "expect"), [
    ("core/errors.py", "from ego360.runtime.pipeline import Runner", "upward"),
    ("models/trigger.py", "def _late():\n    from ego360.tools.cli import main\n", "upward"),
    ("core/rle.py", "from ego360.core.errors import UserError", "cycle"),
])
def test_checker_catches_a_planted_violation(tmp_path, where, planted, expect):
    """The checks above can fail: plant a violation in a copy of the tree and watch it be caught."""
    for layer in LAYERS:
        shutil.copytree(ROOT / layer, tmp_path / layer, ignore=shutil.ignore_patterns("__pycache__", "assets"))
    if expect == "cycle":  # errors → rle as well as rle → errors
        (tmp_path / "core/errors.py").write_text((tmp_path / "core/errors.py").read_text()
                                                + "\nfrom ego360.core.rle import encode_rle  # noqa\n")
    target = tmp_path / where
    target.write_text(target.read_text() + "\n" + planted + "\n")
    graph = import_graph(tmp_path)
    if expect == "upward":
        assert any(line.startswith(where.replace("/", ".").removesuffix(".py").join(("ego360.", "")))
                   for line in upward_imports(graph))
    else:
        assert ["ego360.core.errors", "ego360.core.rle"] in cycles(graph)
