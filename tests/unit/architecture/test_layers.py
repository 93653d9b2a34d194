"""The layer contract holds on the tree, and the checker catches a wrong import."""

from __future__ import annotations

from pathlib import Path

from tests.unit.architecture.layers import layer_violations, module_cycles

ROOT = Path(__file__).resolve().parents[3]


def test_the_tree_keeps_its_layers() -> None:
    assert layer_violations(ROOT) == []


def test_no_import_cycles_between_modules_of_the_product_and_the_simulator() -> None:
    assert module_cycles(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_lower_layer_importing_a_higher_one_is_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "store/__init__.py": "",
            "store/bad.py": "def f():\n    from pipeline.posture import run_detect\n",
            "pipeline/__init__.py": "",
            "pipeline/posture.py": "from store import bad\n",
        },
    )
    assert layer_violations(root) == [
        "store.bad:2 imports pipeline.posture (store -> pipeline)",
        "store.bad:2 imports pipeline.posture.run_detect (store -> pipeline)",
    ]
    assert module_cycles(root) == [["pipeline.posture", "store.bad"]]


def test_siblings_exports_and_the_simulator_are_held_apart(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "detectors/x.py": "import connectors.http\n",
            "exports/y.py": "from store.db import session_scope\nfrom core.time import as_utc\n",
            "simulator/z.py": "from schemas import catalog\n",
            "workers/w.py": "import simulator.z\nimport tasks.scan\n",
            "tasks/t.py": "from workers import w\n",
        },
    )
    assert layer_violations(root) == [
        "detectors.x:1 imports connectors.http (detectors -> connectors)",
        "exports.y:1 imports store.db (exports -> store)",
        "exports.y:1 imports store.db.session_scope (exports -> store)",
        "simulator.z:1 imports schemas (simulator -> schemas)",
        "simulator.z:1 imports schemas.catalog (simulator -> schemas)",
    ]


def test_a_cycle_inside_the_simulator_is_reported_even_behind_type_checking(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "simulator/__init__.py": "",
            "simulator/world.py": "from simulator.generate import populate\n",
            "simulator/generate.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from simulator.world import World\n"
            ),
        },
    )
    assert module_cycles(root) == [["simulator.generate", "simulator.world"]]
