"""The package's import graph, read from the source (ast): no module outside ``vidstyle.cli`` imports
the command line, and no two ``vidstyle`` modules import each other, directly or through others.

Every import counts, also those inside functions (a local import is still an edge: it only moves
the cycle's failure from import time to call time), except those under ``if TYPE_CHECKING:``,
which never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vidstyle", "flow")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that module ``name`` (file ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.add(origin)
            for alias in node.names:  # `from . import cli` imports the module vidstyle.cli
                found.add(f"{origin}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    # An import of a.b.c runs a and a.b first, but their __init__ modules are not this module's
    # dependencies in the sense of a cycle unless named; keep only the modules named.
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path, known) for name, path in found.items()}


def test_the_graph_sees_the_packages():
    edges = graph()
    assert {"vidstyle.render", "vidstyle.engine", "vidstyle.cli", "vidstyle.cli.stylize", "flow.estimate"} <= set(edges)
    assert "vidstyle.render" in edges["vidstyle.pipeline"]  # relative imports resolved
    assert "vidstyle.cli.options" in edges["vidstyle.cli.stylize"]  # `from . import options`


def test_nothing_outside_the_cli_package_imports_it():
    offenders = sorted(f"{name} imports {target}" for name, targets in graph().items() if not name.startswith("vidstyle.cli")
                       for target in targets if target == "vidstyle.cli" or target.startswith("vidstyle.cli."))
    assert offenders == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = walk(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            cycle = walk(start)
            if cycle:
                return cycle
    return None


def test_no_import_cycle_among_the_modules():
    edges = graph()
    # A package's own __init__ importing its submodules (vidstyle.cli importing vidstyle.cli.image)
    # while they import siblings through the package (`from . import options`) is how a package is
    # built, not a cycle between ideas; so within one package, edges to the package itself are dropped.
    for name in edges:
        edges[name] = {t for t in edges[name] if not (name.startswith(t + ".") and (ROOT / t.replace(".", "/") / "__init__.py").is_file())}
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_cycle_finder_finds_cycles(edges, expected):
    assert find_cycle(edges) == expected
