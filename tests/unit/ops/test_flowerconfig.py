"""flowerconfig.format_task: ids stay visible, everything else is dropped or scrubbed."""

from __future__ import annotations

from types import SimpleNamespace

import flowerconfig

KEY = "sk-proj-" + "Xy12" * 10


def _task(**kw: object) -> SimpleNamespace:
    base: dict[str, object] = {
        "args": "()",
        "kwargs": "{}",
        "result": None,
        "exception": None,
        "traceback": None,
    }
    base.update(kw)
    return SimpleNamespace(**base)


def test_ids_are_kept() -> None:
    t = flowerconfig.format_task(_task(args="(12,)", kwargs="{'trigger': 'manual', 'scan_id': 7}"))
    assert t.args == "(12,)"
    assert t.kwargs == "{'trigger': 'manual', 'scan_id': 7}"
    t = flowerconfig.format_task(_task(args="[3, 'file-abc123', [1, 2]]"))
    assert t.args == "(3, 'file-abc123', [1, 2])"


def test_everything_else_is_dropped() -> None:
    t = flowerconfig.format_task(
        _task(
            args=f"(1, '{KEY}', {{'users': [1, 2]}}, 'some free text with spaces')",
            kwargs=f"{{'api_key': '{KEY}', 'tenant_id': 5, 'note': 'x', 'scan_id': 'Bearer abc'}}",
            result=f"{{'ok': True, 'echo': '{KEY}'}}",
            exception=f"AuthError('Authorization: Bearer {KEY}')",
        )
    )
    text = f"{t.args}{t.kwargs}{t.result}{t.exception}"
    assert KEY not in text and "Bearer abc" not in text and "free text" not in text
    assert t.args == "(1, …, …, …)"
    assert t.kwargs == "{'api_key': …, 'tenant_id': 5, 'note': …, 'scan_id': …}"
    assert "[REDACTED]" in t.result and "'ok': True" in t.result


def test_unparsable_and_non_string_inputs() -> None:
    assert flowerconfig.format_task(_task(args="(1, <object at 0x1>)")).args == "(…)"
    assert (
        flowerconfig.format_task(_task(args=(4, 5), kwargs={"tenant_id": 4})).kwargs
        == "{'tenant_id': 4}"
    )
    assert flowerconfig.format_task(_task(args="", kwargs="")).args == "()"
