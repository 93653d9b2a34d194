"""The CLI's text helpers: user-written strings are plain, printable text."""

from __future__ import annotations

import io

from rich.console import Console

from workers.cli.common import SafeTable, clean_text, styled


def render(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=True, color_system=None).print(renderable)
    return out.getvalue()


def test_clean_text_removes_every_control_and_bidi_character() -> None:
    assert clean_text("a\x1b[31mb\x07c\rd\ne\u202ef\x9bg") == "a [31mb c d e f g"
    assert clean_text(None) == ""


def test_safe_table_cells_are_never_markup() -> None:
    table = SafeTable()
    table.add_column("name")
    table.add_row("[/bold] [link=https://e.example]x[/link] \x1b]8;;https://e\x1b\\y")
    text = render(table)
    assert "[/bold]" in text and "[link=https://e.example]x[/link]" in text
    assert "\x1b]8" not in text


def test_styled_keeps_the_clis_markup_and_inerts_the_values() -> None:
    text = styled("added [bold]{}[/] to {}", "[red]x[/]", "\x1b[2Jy")
    assert text.plain == "added [red]x[/] to  [2Jy"
    assert any(span.style == "bold" for span in text.spans)
