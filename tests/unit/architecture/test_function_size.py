"""No function outside ``bench/`` is longer than ``MAX_LINES``: the product packages, the
simulator, the migrations and the tests themselves.

A function's length is the span of its ``def`` (decorators excluded) to its last line, nested
functions and classes included: a long function does not get shorter by hiding a closure.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAX_LINES = 120
PACKAGES = (
    "schemas",
    "core",
    "detectors",
    "connectors",
    "exports",
    "store",
    "pipeline",
    "tasks",
    "workers",
    "simulator",
    "migrations",
    "tests",
)


def _functions(path: Path) -> Iterator[tuple[str, int, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            yield node.name, node.lineno, end - node.lineno + 1


def long_functions(
    root: Path, packages: tuple[str, ...] = PACKAGES, limit: int = MAX_LINES
) -> list[str]:
    """``pkg/module.py:LINE name (N lines)`` for every function over ``limit`` lines."""
    out = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for name, line, length in _functions(path):
                if length > limit:
                    out.append(f"{path.relative_to(root)}:{line} {name} ({length} lines)")
    return out


def test_no_function_outside_bench_is_over_the_limit() -> None:
    assert long_functions(ROOT) == []


def _body(lines: int) -> str:
    return "".join(f"        x{i} = {i}\n" for i in range(lines))


def test_a_long_function_is_reported(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "ok.py").write_text("def short():\n    return 1\n")
    # A method of exactly the limit passes; one line more is reported, nested or not.
    (tmp_path / "store" / "long.py").write_text(
        "class C:\n"
        f"    def fits(self):\n{_body(MAX_LINES - 1)}"
        f"    def too_long(self):\n{_body(MAX_LINES)}"
    )
    assert long_functions(tmp_path, ("store",)) == [
        f"store/long.py:{MAX_LINES + 2} too_long ({MAX_LINES + 1} lines)"
    ]
    assert long_functions(tmp_path, ("store",), limit=MAX_LINES + 1) == []
