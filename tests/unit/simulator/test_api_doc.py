"""docs/openai-api.md lists every route the simulator serves, so the page cannot fall behind."""

from __future__ import annotations

from pathlib import Path

from simulator.app import create_app
from simulator.world import World

DOC = Path(__file__).resolve().parents[3] / "docs" / "openai-api.md"


def _served_paths() -> set[str]:
    app = create_app(World.generate(tenants=1, seed=0, size="tiny"))
    return {route.path for route in app.routes}  # type: ignore[attr-defined]


def _undocumented(doc_text: str, paths: set[str]) -> list[str]:
    return sorted(path for path in paths if f"{path}`" not in doc_text)


def test_every_served_route_is_documented() -> None:
    assert _undocumented(DOC.read_text(encoding="utf-8"), _served_paths()) == []


def test_a_route_missing_from_the_page_is_reported() -> None:
    text = DOC.read_text(encoding="utf-8").replace("/organization/invites`", "/x`")
    assert _undocumented(text, _served_paths()) == ["/openai/v1/organization/invites"]
