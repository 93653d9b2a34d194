"""The layer contract of the product packages, checked on the source (imports at any depth).

Bottom to top: ``schemas`` <- ``core`` <- ``detectors`` | ``connectors`` <- ``store`` <-
``pipeline`` <- ``tasks`` | ``workers``. A package imports only packages of lower layers (and
itself); the two middle siblings never import each other; ``tasks`` and ``workers`` form the
top layer together (tasks use the Celery app, the CLI sends tasks). ``exports`` renders from
``schemas`` and ``core`` only (any layer above ``detectors`` may use it). ``simulator`` imports
nothing of the product (only the CLI imports it). On top of the layers, no two modules of the
product or of the simulator may import each other, directly or through others.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

LAYER = {
    "schemas": 0,
    "core": 1,
    "detectors": 2,
    "connectors": 2,
    "store": 3,
    "pipeline": 4,
    "tasks": 5,
    "workers": 5,
}
SAME_LAYER_ALLOWED = {("tasks", "workers"), ("workers", "tasks")}
ONLY = {"exports": {"schemas", "core"}, "simulator": set()}
PACKAGES = set(LAYER) | set(ONLY)


@dataclass(frozen=True)
class Import:
    module: str
    line: int
    target: str


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    for package in sorted(PACKAGES):
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imports_of(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield Import(module, node.lineno, target)
            for alias in node.names:  # ``from pkg import module`` names a module too
                yield Import(module, node.lineno, f"{target}.{alias.name}")


def layer_violations(root: Path) -> list[str]:
    problems = []
    for module, path in modules(root):
        source = module.split(".")[0]
        for imp in imports_of(module, path):
            target = imp.target.split(".")[0]
            if target not in PACKAGES or target == source:
                continue
            if source in ONLY:
                allowed = target in ONLY[source]
            elif target == "exports":  # renders from the bottom layers: a sibling of detectors
                allowed = LAYER[source] > LAYER["detectors"]
            elif target == "simulator":  # the CLI serves it and the demo scans it
                allowed = source == "workers"
            else:
                allowed = LAYER[target] < LAYER[source] or (source, target) in SAME_LAYER_ALLOWED
            if not allowed:
                problems.append(f"{module}:{imp.line} imports {imp.target} ({source} -> {target})")
    return sorted(set(problems))


def module_cycles(root: Path, packages: Iterable[str] = PACKAGES) -> list[list[str]]:
    """Strongly connected groups of modules (size > 1) in the graph of all imports."""
    chosen = set(packages)
    found = [(m, p) for m, p in modules(root) if m.split(".")[0] in chosen]
    known = {module for module, _ in found}
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in found:
        for imp in imports_of(module, path):
            target = imp.target
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module and not module.startswith(f"{target}."):
                graph[module].add(target)
    return [sorted(c) for c in _strongly_connected(known, graph) if len(c) > 1]


def _strongly_connected(nodes: Iterable[str], graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            result.append(group)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return result
