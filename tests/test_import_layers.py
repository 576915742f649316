"""The packages' imports, read from the source: no cycle, and no layer reaches up.

A unit is a top-level package, or a sub-package of ``nas``. Every import counts, at
the top of a module or inside a function (a deferred import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("search_spaces", "scaling", "nas", "experiments")

# Lowest first. A unit may import only from lower layers: specs know nothing of torch,
# statistics and run bookkeeping know nothing of networks' training, and the CLI is on top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("search_spaces",),
    ("scaling",),
    ("nas.stats", "nas.runs", "nas.report", "nas.data", "nas.models"),
    ("nas.evaluate", "nas.latency", "nas.predict"),
    ("nas.search", "nas.supernet", "nas.coefficients", "nas.rank_check"),
    ("nas.curves",),
    ("nas",),  # the package's re-exports of the most used names
    ("experiments",),
)
LAYER_OF = {unit: index for index, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "nas" and len(parts) > 1 and not parts[1].startswith("_"):
        return f"nas.{parts[1]}"
    return parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = module.split(".")[: len(module.split(".")) - node.level + is_package]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def unit_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> {imported unit: [the modules that import it]}."""
    graph: dict[str, dict[str, list[str]]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            source = unit_of(module)
            edges = graph.setdefault(source, {})
            for name in imported(tree, module, path.name == "__init__.py"):
                target = unit_of(name)
                if target != source:
                    edges.setdefault(target, []).append(module)
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = 1
        path.append(unit)
        for target in sorted(graph.get(unit, {})):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[unit] = 2
        return None

    for unit in sorted(graph):
        if unit not in state and (cycle := visit(unit)):
            return cycle
    return None


def test_every_unit_has_a_layer():
    unknown = sorted(set(unit_graph()) - set(LAYER_OF))
    assert not unknown, f"place {unknown} in LAYERS"


def test_no_import_cycle():
    cycle = find_cycle(unit_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_unit_imports_its_own_layer_or_above():
    upward = [
        f"{source} imports {target} (in {', '.join(sorted(set(modules)))})"
        for source, edges in unit_graph().items()
        for target, modules in edges.items()
        if LAYER_OF.get(target, -1) >= LAYER_OF.get(source, -1)
    ]
    assert not upward, "\n".join(upward)


def test_the_checks_see_a_cycle_and_a_deferred_import():
    graph = {"a": {"b": ["a.x"]}, "b": {"c": ["b.y"]}, "c": {"a": ["c.z"]}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    tree = ast.parse("def f():\n    from nas.search import x\nfrom . import _y\n")
    assert imported(tree, "nas.latency._validate", False) == {"nas.search", "nas.latency"}
