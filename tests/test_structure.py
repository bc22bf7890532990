"""The package's structure: no import circle, no private name imported across modules.

The import graph is read from the source (``ast``), every ``import`` counted
wherever it stands: at module level, inside a function (a lazy import hides a
circle, it does not remove it), but not under ``if TYPE_CHECKING:``. Importing
``a.b.c`` from outside package ``a.b`` runs ``a/b/__init__.py`` first, so that
import depends on the package too.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pa_envs

ROOT = Path(pa_envs.__file__).parent


def module_files() -> dict[str, Path]:
    """Every module of pa_envs by dotted name (a package by its own name)."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:`` (never run)."""
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return hidden


def imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str, int]]:
    """``(imported module, name or "", line)`` for every pa_envs import in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                # `from package import submodule` imports the submodule, not a name
                found.append(
                    (submodule, "", node.lineno)
                    if submodule in modules
                    else (source, alias.name, node.lineno)
                )
    return [entry for entry in found if entry[0] == "pa_envs" or entry[0].startswith("pa_envs.")]


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> {module it needs: line}, parent packages run on the way included."""
    modules = module_files()
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for module, path in modules.items():
        for target, _, line in imports(module, path, modules):
            parts = target.split(".")
            # Importing a.b.c runs a.b first, unless the importer is inside a.b already.
            for depth in range(2, len(parts) + 1):
                needed = ".".join(parts[:depth])
                inside = module == needed or module.startswith(needed + ".")
                if needed in modules and needed != module and not (depth < len(parts) and inside):
                    graph[module].setdefault(needed, line)
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle of ``graph`` (its modules, the first repeated last), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_sees_lazy_and_parent_package_imports(tmp_path):
    """The checker itself: a function-level import and a package's __init__ both count."""
    graph = import_graph()
    # pa_envs.mechanisms.binding imports pa_envs.core.mechanism: pa_envs.core's __init__ runs first.
    assert "pa_envs.core" in graph["pa_envs.mechanisms.binding"]
    assert "pa_envs.core.mechanism" in graph["pa_envs.mechanisms.binding"]
    # A package's own modules do not depend on their package's __init__ through it.
    assert "pa_envs.mechanisms" not in graph["pa_envs.mechanisms.binding"]
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from pa_envs.core import game\n    from pa_envs.views import _hidden\n")
    found = imports("pa_envs.lazy", source, module_files())
    assert ("pa_envs.core.game", "", 2) in found
    assert ("pa_envs.views", "_hidden", 3) in found


def test_no_import_circle():
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle is not None:
        steps = [f"{a} imports {b} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle)]
        raise AssertionError("import circle:\n  " + "\n  ".join(steps))


def test_no_private_name_imported_across_modules():
    modules = module_files()
    private = [
        f"{module} line {line}: from {source} import {name}"
        for module, path in modules.items()
        for source, name, line in imports(module, path, modules)
        if name.startswith("_") and source != module
    ]
    assert not private, "private names imported across modules:\n  " + "\n  ".join(private)
