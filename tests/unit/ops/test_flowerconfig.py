"""flowerconfig.format_task: ids stay visible, everything else is dropped or scrubbed."""

from __future__ import annotations

from pathlib import Path
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


def _example_flower_credentials() -> str:
    example = Path(flowerconfig.__file__).with_name(".env.example").read_text()
    (value,) = [
        line.split("=", 1)[1]
        for line in example.splitlines()
        if line.startswith("FLOWER_BASIC_AUTH=")
    ]
    return value


def test_basic_auth_is_required() -> None:
    for missing in (None, "", [], [""], " , "):
        problem = flowerconfig.basic_auth_problem(missing)
        assert problem is not None and "FLOWER_BASIC_AUTH is not set" in problem


def test_the_example_password_is_refused_without_echoing_it() -> None:
    example = _example_flower_credentials()
    problem = flowerconfig.basic_auth_problem(example)
    assert problem is not None and "example password" in problem
    password = example.split(":", 1)[1]
    assert password not in problem
    # also as one of several users, and in the list form Flower parses the option into
    assert flowerconfig.basic_auth_problem(["ops:Str0ng-pass", "admin:change-me-too"])


def test_malformed_credentials_are_refused() -> None:
    for bad in ("admin", "admin:", ":secret-pass", ["ops:good-pass", "nobody"]):
        problem = flowerconfig.basic_auth_problem(bad)
        assert problem is not None and "user:password" in problem, bad


def test_real_credentials_pass() -> None:
    assert flowerconfig.basic_auth_problem("ops:Zq3-long-random-password") is None
    assert flowerconfig.basic_auth_problem(["ops:one-pass", "audit:two-pass"]) is None
    assert flowerconfig.basic_auth_problem("ops:pass:with:colons") is None
