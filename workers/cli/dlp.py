"""`casb dlp profile add|list|show|remove` and `casb dlp scan-file`: DLP profiles from the shell.

Custom profiles are vetted when added (a regex the engine cannot compile, or one that could
run away, exits 2 with the reason and writes nothing). ``scan-file`` runs the same
extraction and matcher as the fleet on a local file and prints the masked verdict, so an
operator can try a profile before attaching it to tenants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from core.errors import UserError
from detectors.dlp.profiles import PREDEFINED, Profile
from store import dlp as dlp_store
from workers.cli.common import (
    SafeTable,
    TableFormat,
    clean_text,
    console,
    db_session,
    print_json,
    print_rows,
    styled,
)

dlp_app = typer.Typer(help="DLP profiles and one-off file checks.", no_args_is_help=True)
profile_app = typer.Typer(
    help="Predefined and custom DLP profiles (attach with `casb tenant update --dlp-profile`).",
    no_args_is_help=True,
)


def parse_regex_option(raw: str, min_count: int) -> dict[str, Any]:
    """``'Employee ID=\\bEMP-[0-9]{6}\\b'`` -> ``{"name", "pattern", "min_count"}``."""
    name, sep, pattern = raw.partition("=")
    if not sep or not name.strip() or not pattern:
        raise UserError(
            f"bad --regex {name.strip()[:40]!r}...: write it as 'ENTRY NAME=PATTERN' "
            "(quote it for the shell)"
        )
    return {"name": name.strip(), "pattern": pattern, "min_count": min_count}


def _entry_rows(profile: Profile) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "name": e.name,
            "pattern": e.pattern or None,
            "words": list(e.words),
            "validator": e.validator,
            "context_keywords": list(e.keywords),
            "context_window": e.window,
            "min_count": e.min_count,
        }
        for e in profile.entries
    ]


def _summary(info: dlp_store.ProfileInfo, *, detail: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": info.name,
        "type": "predefined" if info.predefined else "custom",
        "description": info.description,
        "entries": len(info.profile.entries),
        "min_distinct_entries": info.profile.min_distinct_entries,
        "ocr": info.profile.ocr,
        "include_test_values": info.profile.include_test_values,
        "used_by": list(info.used_by),
    }
    if detail:
        row["entries"] = _entry_rows(info.profile)
    return row


@profile_app.command("add")
def add(
    name: str = typer.Argument(..., help="Profile name (not a predefined one)."),
    regex: list[str] = typer.Option(
        None,
        "--regex",
        metavar="'ENTRY NAME=PATTERN'",
        help="A regex entry (repeatable). Bounded patterns only: no lookaround, no `.*`.",
    ),
    keyword: list[str] = typer.Option(
        None, "--keyword", metavar="WORD", help="A keyword or phrase (repeatable, whole word)."
    ),
    min_count: int = typer.Option(
        1, "--min-count", min=1, help="Matches of one regex entry needed in a file."
    ),
    description: str = typer.Option("", "--description", help="What the profile is for."),
    ocr: bool = typer.Option(
        False,
        "--ocr",
        help="Also read images by OCR (image files, images in PDF/docx/pptx) for tenants "
        "using this profile; needs Tesseract on the DLP workers.",
    ),
    include_test_values: bool = typer.Option(
        False,
        "--include-test-values",
        help="Also report published test values (network test cards, documentation keys); "
        "skipped by default. Stored with the profile.",
    ),
    base: str = typer.Option(
        None,
        "--from-predefined",
        metavar="PROFILE",
        help="Reuse a predefined profile's entries under this name (e.g. to switch on "
        "--include-test-values for them).",
    ),
) -> None:
    """Add a custom profile; it is compiled and vetted now, never at scan time."""
    entries = [parse_regex_option(raw, min_count) for raw in regex or []]
    if base is not None and base not in PREDEFINED:
        raise UserError(f"--from-predefined {base!r} is not a predefined profile")
    with db_session() as session:
        info = dlp_store.add_profile(
            session,
            name,
            entries,
            keyword or [],
            description,
            ocr=ocr,
            include_test_values=include_test_values,
            base=base,
        )
    console.print(
        styled(
            "added DLP profile [bold]{}[/] ({} entr"
            f"{'y' if len(info.profile.entries) == 1 else 'ies'}"
            f"{', images read by OCR' if info.profile.ocr else ''}); attach it with "
            "`casb tenant update TENANT --dlp-profile {}`",
            info.name,
            len(info.profile.entries),
            repr(info.name),
        ),
        highlight=False,
    )


@profile_app.command("list")
def list_(fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f")) -> None:
    """Every profile: predefined first, then custom ones, with the tenants using each."""
    with db_session() as session:
        rows = [_summary(i) for i in dlp_store.list_profiles(session)]
    print_rows(
        rows,
        as_json=fmt is TableFormat.json,
        title=f"{len(rows)} DLP profile(s)",
        columns=("Name", "Type", "Entries", "OCR", "Used by", "Description"),
        cells=lambda row: (
            row["name"],
            row["type"],
            str(row["entries"]),
            "yes" if row["ocr"] else "-",
            ", ".join(row["used_by"]) or "-",
            row["description"] or "-",
        ),
    )


@profile_app.command("show")
def show(
    name: str = typer.Argument(...),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f"),
) -> None:
    """One profile's entries: patterns or words, validators, context keywords, counts."""
    with db_session() as session:
        row = _summary(dlp_store.get_profile(session, name), detail=True)
    if fmt is TableFormat.json:
        print_json(row)
        return
    rule = (
        "any entry reaching its count"
        if row["min_distinct_entries"] == 1
        else f"at least {row['min_distinct_entries']} distinct entries reaching their counts"
    )
    detail = styled("[bold]{}[/] ({}): matches a file on {}", row["name"], row["type"], rule)
    if row["ocr"]:
        detail.append("; images are read by OCR")
    if row["description"]:
        detail.append("\n" + clean_text(row["description"]))
    if row["used_by"]:
        detail.append("\nused by: " + clean_text(", ".join(row["used_by"])))
    console.print(
        detail,
        highlight=False,
    )
    table = SafeTable()
    for column in ("Entry", "Name", "Pattern / words", "Validator", "Context", "Min"):
        table.add_column(column, overflow="fold")
    for e in row["entries"]:
        context = ", ".join(e["context_keywords"])
        table.add_row(
            e["id"],
            e["name"],
            e["pattern"] or ", ".join(e["words"]),
            e["validator"] or "-",
            f"{context} ({e['context_window']} B)" if context else "-",
            str(e["min_count"]),
        )
    console.print(table)


@profile_app.command("entries")
def entries(
    profile: list[str] = typer.Option(
        None, "--profile", "-p", help="Only this predefined profile (repeatable)."
    ),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f"),
) -> None:
    """Every predefined detection entry: id, profile, validator, whether it needs context."""
    from detectors.dlp.profiles import entry_rows

    names = list(dict.fromkeys(profile or []))
    unknown = [n for n in names if n not in PREDEFINED]
    if unknown:
        raise UserError(f"unknown predefined profile(s): {', '.join(map(repr, unknown))}")
    rows = entry_rows([PREDEFINED[n] for n in names] if names else None)
    print_rows(
        rows,
        as_json=fmt is TableFormat.json,
        title=f"{len(rows)} predefined DLP entries",
        columns=("Entry", "Name", "Profile", "Validator", "Context", "Severity"),
        cells=lambda row: (
            row["id"],
            row["name"],
            row["profile"],
            row["validator"] or "-",
            "yes" if row["context"] else "no",
            row["severity"],
        ),
    )


@profile_app.command("remove")
def remove(name: str = typer.Argument(...)) -> None:
    """Delete a custom profile (refused while a tenant uses it)."""
    with db_session() as session:
        dlp_store.remove_profile(session, name)
    console.print(styled("removed DLP profile [bold]{}[/]", name), highlight=False)


@dlp_app.command("scan-file")
def scan_file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    profile: list[str] = typer.Option(
        None, "--profile", "-p", help="Profile name (repeatable; default: every predefined one)."
    ),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f"),
    ocr: bool = typer.Option(
        False,
        "--ocr",
        help="Read images by OCR (on anyway when a chosen profile has OCR on).",
    ),
    include_test_values: bool = typer.Option(
        False, "--include-test-values", help="Also report published test values."
    ),
) -> None:
    """Extract and match one local file; print the masked verdict (nothing is stored).

    Exactly the fleet's verdict: a file read only in part that matched nothing is
    ``skipped`` (``truncated`` or ``ocr_unavailable``), never clean.
    """
    from core.settings import get_settings
    from detectors.dlp.document import CLEAN, SKIPPED, ocr_engine_for, scan_document
    from detectors.dlp.extract import OcrEngine
    from detectors.dlp.matcher import compile_policy
    from pipeline.common import extract_limits

    names = list(dict.fromkeys(profile or list(PREDEFINED)))
    if all(n in PREDEFINED for n in names):
        profiles = [PREDEFINED[n] for n in names]  # no database needed
    else:
        with db_session() as session:
            profiles = dlp_store.resolve_profiles(session, names)
    if include_test_values:
        profiles = [p.with_test_values() for p in profiles]
    policy = compile_policy(profiles, get_settings().dlp_engine)
    engine = OcrEngine() if ocr else ocr_engine_for(profiles)
    with path.open("rb") as fh:
        verdict = scan_document(path.name, fh, policy, extract_limits(), engine)
    result: dict[str, Any] = {
        "file": path.name,
        "profiles_checked": names,
        "ocr_enabled": engine is not None,
        "outcome": verdict.outcome,
    }
    if verdict.outcome == SKIPPED:
        result |= {"reason": verdict.reason, "detail": verdict.detail}
        if verdict.match is not None:
            result["bytes_scanned"] = verdict.match.bytes_scanned
        result |= verdict.extraction()
    elif verdict.outcome == CLEAN:
        assert verdict.match is not None
        result |= {**verdict.match.to_evidence(), **verdict.extraction()}
    else:
        result |= verdict.evidence()
    if fmt is TableFormat.json:
        print_json(result)
        return
    if result["outcome"] == SKIPPED:
        console.print(
            styled("{}: skipped ({}) {}", path.name, result["reason"], result["detail"]),
            highlight=False,
        )
        return
    if result["outcome"] == CLEAN:
        console.print(
            styled("{}: clean ({} bytes of text scanned)", path.name, result["bytes_scanned"]),
            highlight=False,
        )
        return
    console.print(
        styled("{}: [bold red]matched[/] {}", path.name, ", ".join(result["profiles"])),
        highlight=False,
    )
    if result.get("truncated"):
        console.print(
            styled("(part of the file was not read: {})", result["truncated"]), highlight=False
        )
    table = SafeTable()
    for column in ("Profile", "Entry", "Count", "From OCR", "Masked excerpts"):
        table.add_column(column, overflow="fold")
    for e in result["entries"]:
        excerpts = Text("\n".join(clean_text(x) for x in e["excerpts"]))
        table.add_row(
            e["profile"],
            e["entry_name"],
            str(e["count"]),
            str(e.get("ocr_count", 0)),
            excerpts,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    dlp_app.add_typer(profile_app, name="profile")
    app.add_typer(dlp_app, name="dlp")
