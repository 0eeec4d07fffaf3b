"""The package's layering: no import cycles (issue 12), the stages write no files except the
output stage, and the wheel ships its type information."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "extreme3d"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """Dotted module name of a file under the package root."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> package modules it imports anywhere in its body (function-level imports
    included; `from pkg import name` counts pkg, and pkg.name when that is a module)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph[mod] |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                if base in files:
                    graph[mod].add(base)
                graph[mod] |= {f"{base}.{a.name}" for a in node.names
                               if f"{base}.{a.name}" in files}
        graph[mod].discard(mod)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_cycle_finder_finds_a_planted_cycle(tmp_path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "a.py").write_text("from pkg.sub import b\n")
    (root / "sub" / "b.py").write_text("def f():\n    from .. import c\n")
    (root / "c.py").write_text("import pkg.a\n")
    (root / "d.py").write_text("from pkg import a\n")
    graph = import_graph(root)
    assert graph["pkg.d"] == {"pkg", "pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "extreme3d.stages.face" in graph and graph["extreme3d.api"]
    assert cycles(graph) == []


def test_api_and_batch_are_drivers_over_the_stages() -> None:
    graph = import_graph()
    for driver in ("extreme3d.api", "extreme3d.pipeline"):
        assert any(m.startswith("extreme3d.stages.") for m in graph[driver]), driver
    stage_modules = [m for m in graph if m.startswith("extreme3d.stages")]
    for mod in stage_modules:
        assert not graph[mod] & {"extreme3d.api", "extreme3d.pipeline"}, mod


@pytest.mark.parametrize("module", ["prepare", "shape", "bump", "face", "models", "result"])
def test_stages_other_than_outputs_write_no_files(module: str) -> None:
    """Only extreme3d.stages.outputs calls the writers (FaceResult.save delegates to it)."""
    text = (PACKAGE / "stages" / f"{module}.py").read_text()
    for writer in ("atomic_write", "write_text", "write_bytes", "imwrite", "write_ply",
                   "write_params", "write_overlay", "write_preview"):
        assert writer not in text, f"stages/{module}.py calls {writer}"


def test_wheel_ships_type_information() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_core.pyi").is_file()
