"""The streaming DLP matcher: Hyperscan candidates, then validators and context keywords.

Pure: no I/O, no logging of content. Design (docs/dlp.md, "Design" and "Breadth and speed"):

* One Hyperscan STREAM database per profile set holds the regexes and every keyword. Chunk
  edges are invisible to the engine, so a match that straddles two chunks is reported once.
* Catalogue expressions led by a wide class with no literal (card numbers, IBAN, national
  identifiers) are not in it: one RE2 union of them runs beside the stream over the same
  bytes (``Re2UnionEngine``), which costs a fraction of one Hyperscan automaton per pattern.
* Entries that share a pattern share one engine expression (card brands, SSN/ITIN, ...).
* Start-of-match tracking is per expression. Without it (credential tokens, email, custom
  patterns Hyperscan cannot track) the start is recovered from the history buffer: a
  catalogue token whose literal prefix cannot recur inside it from that prefix's last
  occurrence, another prefixed token from the first of a few occurrences of its prefix where
  it matches up to the end, a token of a few possible widths from ``end - width`` where it
  matches up to the end (widest first), email from its reversed pattern, anything else by
  RE2 (linear in the token's length: an end-anchored search runs RE2's reverse DFA back
  from the match end).
* Expressions whose every entry needs a context keyword are keyword-led: not in the engine;
  each keyword hit marks a region that is searched once the stream has passed it (regions
  far apart stay apart: the bytes between two distant keywords are not searched).
* Python ``re`` runs only the project's catalogue patterns (``BUILTIN_PATTERNS``); a custom
  profile's pattern is matched by the engine and RE2 alone, never by ``re``.
* A stream may carry a deadline, checked between engine events, region searches and
  confirmations: past it the stream stops matching and its result says ``truncated``.
* Candidates wait in ``pending`` until the stream has moved ``horizon`` bytes past their
  start (so every end offset and every context keyword after them has been seen), then, in
  batches (``CONFIRM_BATCH``, and before each move of the history), the text is read from a
  bounded history buffer and confirmed: context window, value extraction, validator, and
  overlap merge per entry.
* Results keep counts and *masked* excerpts only.
* Stage 2's loops (event absorption, region searches, start recovery, ordering and
  confirmation) run compiled where ``_native_stream`` was built (docs/dlp.md, round 9): the
  same results, the same callables called in the same order; the methods below are the
  fallback and the reference.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import re._constants as _sre_const  # pattern structure (3.11+): widths, literal prefixes
import re._parser as _sre_parse
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import re2

from detectors.dlp.engine_cache import compiled_database
from detectors.dlp.masking import mask_value
from detectors.dlp.profiles import (
    BUILTIN_PATTERNS,
    Entry,
    Profile,
    lead_prefix,
    profile_set_version,
)
from detectors.dlp.re2_engine import Re2Engine, Re2UnionEngine, to_re2_pattern
from detectors.dlp.validators import VALIDATORS, is_test_value

# The compiled stage-2 loops (absorption, ordering and confirmation of candidates): same
# results as the Python methods below, which run where the module was not built.
_native_stream: Any
try:
    _native_stream = importlib.import_module("detectors.dlp._native_stream")
except ImportError:  # pragma: no cover - exercised on hosts without a C compiler
    _native_stream = None

try:  # no Linux aarch64 wheel for hyperscan 0.9.x: the RE2 engine covers those hosts
    import hyperscan
except ImportError:  # pragma: no cover - exercised on hosts without the wheel
    hyperscan = None  # type: ignore[assignment]

__all__ = [
    "CHUNK_SIZE",
    "ENGINES",
    "EntryMatch",
    "FileMatch",
    "MatchStream",
    "Policy",
    "compile_policy",
    "resolve_engine",
]

ENGINES = ("hyperscan", "re2")
#: The engine when the caller names none (the process passes its ``CASB_DLP_ENGINE`` setting).
DEFAULT_ENGINE = "auto"

CHUNK_SIZE = 64 * 1024
# Longest span (bytes) whose text is kept for stage 2; longer tokens are still counted when
# their first K bytes validate.
MAX_SPAN = 4096
MAX_EXCERPTS = 3
# A stream's history buffer keeps this much room beyond what it must keep, so it is
# compacted (one move of the kept bytes) once per this many bytes, not on every chunk.
HIST_SLACK = 1024 * 1024
# Zeros a history grows by (a slice of a memoryview copies nothing until it is appended).
_ZEROS = memoryview(bytes(HIST_SLACK))
# Longest token whose start is recovered from its literal prefix (no SOM): 64 KiB.
MAX_REACH = 64 * 1024
_KW_BASE = 1_000_000
# Occurrences of a token's literal prefix tried as its start before RE2 takes over.
_PREFIX_TRIES = 8
# A token whose matches have at most this many distinct widths gets its start by trying each
# (end - width) with an anchored match, not by RE2.
_WIDTH_TRIES = 8
# A stream with a deadline reads the clock once per this many engine events or confirmations.
DEADLINE_EVERY = 64
# Ready candidates are confirmed in batches (before each compaction of the history, or once
# this many are pending): one stage-2 run over many candidates finds its code and data in the
# CPU caches, where one run per chunk finds them evicted by the engine's pass over the chunk.
CONFIRM_BATCH = 256
# Candidates already found when the deadline passes are still confirmed at close, up to this many.
CONFIRM_AFTER_DEADLINE = 4096


@dataclass(frozen=True)
class EntryMatch:
    """Confirmed matches of one entry of one profile in one file (masked excerpts only)."""

    entry_id: str
    entry_name: str
    profile: str
    count: int
    excerpts: tuple[str, ...]
    severity: str = ""

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "entry_id": self.entry_id,
            "entry_name": self.entry_name,
            "profile": self.profile,
            "count": self.count,
            "excerpts": list(self.excerpts),
        }
        if self.severity:
            row["severity"] = self.severity  # "low": e.g. a test-mode key of a real account
        return row


@dataclass(frozen=True)
class FileMatch:
    """The matcher's verdict on one file.

    ``profiles`` lists the profiles whose thresholds are met; ``entries`` the entries of
    those profiles that reached their ``min_count``. Nothing here holds a raw matched value.
    ``truncated`` names why matching stopped early (the stream's deadline), else None: the
    verdict then covers only the first ``bytes_scanned`` bytes.
    """

    profiles: tuple[str, ...]
    entries: tuple[EntryMatch, ...]
    bytes_scanned: int
    policy_version: str
    truncated: str | None = None

    @property
    def matched(self) -> bool:
        return bool(self.profiles)

    def to_evidence(self) -> dict[str, Any]:
        """JSON-ready evidence: profiles, per-entry counts and masked excerpts."""
        evidence: dict[str, Any] = {
            "profiles": list(self.profiles),
            "entries": [e.to_dict() for e in self.entries],
            "match_count": sum(e.count for e in self.entries),
            "bytes_scanned": self.bytes_scanned,
            "policy_version": self.policy_version,
        }
        if self.truncated:
            evidence["truncated"] = self.truncated
        return evidence


@dataclass
class _Expr:
    """One engine expression and the entries that read its candidates."""

    entries: tuple[Entry, ...]
    som: bool
    term: frozenset[int] = frozenset()
    # the leader's bytes: a match whose first byte is not one of them starts one byte later
    # (a consumed leading byte, see ``Entry.leader``); empty when the pattern has none
    lead: frozenset[int] = frozenset()
    # RE2, end-anchored: the leftmost start of a match ending at the event's end
    confirm: re2._Regexp | None = None
    reverse: re.Pattern[bytes] | None = None
    max_width: int = MAX_SPAN
    # > 0 when every entry needs a context keyword: the expression is keyword-led. It is not
    # compiled into the engine at all; each hit of one of its keywords marks a region
    # (window + width around it) that ``search`` scans once the stream has passed it.
    gate_window: int = 0
    search: re.Pattern[bytes] | None = None
    # ``search`` is the pattern without its leading ``\b`` (which keeps Python ``re`` from
    # skipping ahead to the literal that follows it); the boundary is checked per match
    lead_boundary: bool = False
    # no-SOM catalogue expressions led by a literal (open-ended tokens): ``confirm`` looks for
    # the start up to ``reach`` bytes before the end (the literal itself is kept for reference)
    prefix: bytes | None = None
    reach: int = 0
    # the prefix never occurs inside a match: its last occurrence is the start (see
    # _lone_prefix), checked by ``anchored`` (``(?:pattern)\Z``) matched there; else the
    # start is the first occurrence in the window where ``anchored`` matches
    lone: bool = False
    anchored: re.Pattern[bytes] | None = None
    # bytes no match can contain (newline, space): a match ending at ``end`` starts after
    # the last of them, which narrows the window searched for the prefix
    stops: tuple[bytes, ...] = ()
    # every match is one of these widths (widest first, so the first start that matches is
    # the leftmost); ``sized`` (``(?:pattern)\Z``) is matched at each ``end - width``
    widths: tuple[int, ...] = ()
    sized: re.Pattern[bytes] | None = None


@dataclass(frozen=True)
class _Plan:
    """What stage 2 does for one entry, resolved once per policy (no per-candidate hashing
    of the entry, no lookups by name)."""

    entry: Entry
    slot: int  # index of the entry's per-file state
    ctx: tuple[int, ...]  # keyword literal ids, () when the entry needs no context
    window: int
    value_re: re.Pattern[str] | None
    validate: Callable[[str], bool] | None
    skip_test_values: bool


@dataclass(slots=True)
class _EntryState:
    count: int = 0
    last_end: int = -1
    mask_tries: int = 0
    excerpts: list[str] = field(default_factory=list)


def _literal_pattern(word: str) -> bytes:
    """Case-insensitive whole-word literal; ``\\b`` only where the edge is a word char."""
    raw = word.encode("utf-8")
    body = re.escape(raw)
    left = rb"\b" if raw[:1].isalnum() or raw[:1] == b"_" else b""
    right = rb"\b" if raw[-1:].isalnum() or raw[-1:] == b"_" else b""
    return left + body + right


def _max_width(pattern: str, cap: int = MAX_SPAN) -> int:
    """Longest match of ``pattern`` in bytes (capped at ``cap``)."""
    try:
        hi = int(_sre_parse.parse(pattern, 0).getwidth()[1])
    except (re.error, OverflowError, RecursionError):  # pragma: no cover - vetted patterns
        return cap
    return min(hi, cap)


def _literal_prefix(pattern: str) -> bytes | None:
    """The literal bytes every match of ``pattern`` starts with (after a leading ``\\b``),
    if there are at least three; else None."""
    out = bytearray()
    try:
        items = list(_sre_parse.parse(pattern, 0))
    except (re.error, OverflowError, RecursionError):  # pragma: no cover - vetted patterns
        return None
    for op, av in items:
        if op is _sre_const.AT and not out:
            continue
        if op is _sre_const.LITERAL and av < 128:
            out.append(av)
            continue
        break
    return bytes(out) if len(out) >= 3 else None


_ALL_BYTES = frozenset(range(256))
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_CATEGORY_BYTES = {
    name: frozenset(b for b in range(256) if re.fullmatch(rx, bytes([b])))
    for name, rx in (
        ("CATEGORY_DIGIT", rb"\d"),
        ("CATEGORY_NOT_DIGIT", rb"\D"),
        ("CATEGORY_WORD", rb"\w"),
        ("CATEGORY_NOT_WORD", rb"\W"),
        ("CATEGORY_SPACE", rb"\s"),
        ("CATEGORY_NOT_SPACE", rb"\S"),
    )
}


def _class_set(items: Any) -> frozenset[int]:
    """The bytes one ``[...]`` item of a parsed pattern matches (all of them if unsure)."""
    out: set[int] = set()
    negate = False
    for op, av in items:
        if op is _sre_const.LITERAL:
            out.add(av)
        elif op is _sre_const.RANGE:
            out.update(range(av[0], min(av[1], 255) + 1))
        elif op is _sre_const.NEGATE:
            negate = True
        elif op is _sre_const.CATEGORY and str(av) in _CATEGORY_BYTES:
            out |= _CATEGORY_BYTES[str(av)]
        else:
            return _ALL_BYTES
    return _ALL_BYTES - out if negate else frozenset(out)


def _alphabet(items: Any) -> frozenset[int]:
    """Every byte a parsed (sub)pattern can consume (all of them if unsure)."""
    out: set[int] = set()
    for op, av in items:
        if op is _sre_const.AT:
            continue
        if op is _sre_const.LITERAL:
            out.add(av)
        elif op is _sre_const.IN:
            out |= _class_set(av)
        elif op in (_sre_const.MAX_REPEAT, _sre_const.MIN_REPEAT):
            out |= _alphabet(av[2])
        elif op is _sre_const.SUBPATTERN:
            out |= _alphabet(av[3])
        elif op is _sre_const.BRANCH:
            for alt in av[1]:
                out |= _alphabet(alt)
        else:
            return _ALL_BYTES
    return frozenset(out)


def _lone_prefix(pattern: str, prefix: bytes, terminated: bool) -> bool:
    """True when an occurrence of ``prefix`` can never lie inside a match of ``pattern`` that
    starts earlier: a byte of it cannot follow the prefix in any match (the consumed
    terminator aside) and the prefix cannot overlap itself. The start of a match ending at a
    known end is then the last occurrence of the prefix before it, or there is none."""
    if any(prefix[d:] == prefix[: len(prefix) - d] for d in range(1, len(prefix))):
        return False
    try:
        items = [it for it in _sre_parse.parse(pattern, 0) if it[0] is not _sre_const.AT]
    except (re.error, OverflowError, RecursionError):  # pragma: no cover - vetted patterns
        return False
    tail = items[len(prefix) :]
    if terminated:
        if not tail or tail[-1][0] not in (_sre_const.SUBPATTERN, _sre_const.BRANCH):
            return False
        tail = tail[:-1]
    return any(b not in _alphabet(tail) for b in prefix)


def _stop_bytes(pattern: str, terminated: bool) -> tuple[bytes, ...]:
    """Which of newline and space no match of ``pattern`` can contain (its consumed
    terminator aside, which is the match's last byte)."""
    try:
        items = [it for it in _sre_parse.parse(pattern, 0) if it[0] is not _sre_const.AT]
    except (re.error, OverflowError, RecursionError):  # pragma: no cover - vetted patterns
        return ()
    if terminated:
        if not items or items[-1][0] not in (_sre_const.SUBPATTERN, _sre_const.BRANCH):
            return ()
        items = items[:-1]
    alphabet = _alphabet(items)
    return tuple(bytes([b]) for b in b"\n " if b not in alphabet)


def _widths(pattern: str) -> tuple[int, ...]:
    """The byte widths a match of ``pattern`` can have, widest first, when there are at most
    ``_WIDTH_TRIES`` of them (and none is wider than ``MAX_SPAN``); else ()."""
    try:
        lo, hi = _sre_parse.parse(pattern, 0).getwidth()
    except (re.error, OverflowError, RecursionError):  # pragma: no cover - vetted patterns
        return ()
    if hi > MAX_SPAN or hi - lo >= _WIDTH_TRIES:
        return ()
    return tuple(range(hi, lo - 1, -1))


def _boundary_then_literal(pattern: str) -> bool:
    """True when ``pattern`` is ``\\b`` followed by a literal word character: its matches are
    those of the rest that start where the byte before is not a word character."""
    if not pattern.startswith("\\b"):
        return False
    try:
        items = list(_sre_parse.parse(pattern, 0))
    except (re.error, OverflowError, RecursionError):  # pragma: no cover - vetted patterns
        return False
    if len(items) < 2 or items[0] != (_sre_const.AT, _sre_const.AT_BOUNDARY):
        return False
    op, av = items[1]
    return op is _sre_const.LITERAL and av in _WORD_BYTES


def _keyword_search(
    pattern: str, leader: str | None, lead_boundary: bool, flags: int
) -> re.Pattern[bytes]:
    """The Python ``re`` search of a keyword-led expression. A leader's row looks behind
    instead of consuming the leading byte: half the cost of the alternation with ``^``, and
    the match is the token itself."""
    if leader:
        body = pattern.removeprefix(lead_prefix(leader))
        assert body != pattern, "a leader's pattern starts with lead_prefix()"
        return re.compile(f"(?<![{leader}]){body}".encode(), flags)
    pb = pattern.encode()
    return re.compile(pb[2:] if lead_boundary else pb, flags)


def _class_led(pattern: str) -> bool:
    """True when the first thing every match of ``pattern`` consumes (after ``\\b``) is not
    a literal byte: a class, a repeat, a group. Hyperscan has no literal to look for first."""
    try:
        items = list(_sre_parse.parse(pattern, 0))
    except (re.error, OverflowError, RecursionError):  # pragma: no cover - vetted patterns
        return False
    for op, _av in items:
        if op is _sre_const.AT:
            continue
        return op is not _sre_const.LITERAL
    return False


def _set_start_paths(
    expr: _Expr, pattern: str, caseless: bool, builtin: bool, terminated: bool
) -> None:
    """How the stream recovers the start of an event of ``expr`` (compiled without SOM): RE2
    always; for a catalogue pattern also its literal prefix, its few widths or its reversed
    pattern (Python ``re`` runs only catalogue patterns)."""
    pb = pattern.encode()
    expr.confirm = _start_finder(pb, caseless)
    prefix = _literal_prefix(pattern) if builtin and not caseless else None
    if prefix is not None:
        expr.prefix = prefix
        expr.reach = _max_width(pattern, MAX_REACH)
        expr.lone = _lone_prefix(pattern, prefix, terminated)
        expr.stops = _stop_bytes(pattern, terminated)
        expr.anchored = re.compile(b"(?:" + pb + rb")\Z")
    widths = _widths(pattern) if builtin and not caseless and not expr.lone else ()
    # no further back than the RE2 search would look
    reach = expr.reach if expr.prefix is not None else expr.max_width
    widths = tuple(w for w in widths if w <= reach)
    if widths:
        expr.widths = widths
        expr.sized = re.compile(b"(?:" + pb + rb")\Z")
    reverse = {m.reverse_pattern for m in expr.entries} - {None}
    if builtin and len(reverse) == 1:  # custom profiles never set one
        rflags = re.IGNORECASE if caseless else 0
        expr.reverse = re.compile(str(reverse.pop()).encode(), rflags)


def _table(byte_class: frozenset[int]) -> bytes | None:
    """A byte class as a 256-byte membership table, None for the empty class."""
    return bytes(b in byte_class for b in range(256)) if byte_class else None


def _class_bytes(cls: str) -> frozenset[int]:
    rx = re.compile(f"[{cls}]".encode())
    return frozenset(b for b in range(256) if rx.fullmatch(bytes([b])))


class Policy:
    """A compiled profile set. Build with :func:`compile_policy`; thread-safe for scanning
    (each thread gets its own Hyperscan scratch; RE2 objects are immutable).

    ``engine`` picks stage 1 only ("hyperscan" or "re2"); stage 2 (context, validators,
    masking) is the same code for both, so both give the same :class:`FileMatch`."""

    def __init__(self, profiles: Sequence[Profile], engine: str = "hyperscan") -> None:
        if not profiles:
            raise ValueError("a policy needs at least one profile")
        if engine not in ENGINES:
            raise ValueError(f"unknown DLP engine {engine!r}; expected one of {ENGINES}")
        if engine == "hyperscan" and hyperscan is None:
            raise ValueError("the hyperscan engine is not installed on this host; use re2")
        self.engine = engine
        self.profiles: tuple[Profile, ...] = tuple(profiles)
        self.version = profile_set_version(self.profiles)
        self._exprs: dict[int, _Expr] = {}
        self._lit_len: dict[int, int] = {}
        self._word_entries: dict[int, tuple[Entry, ...]] = {}
        self._ctx_ids: dict[Entry, frozenset[int]] = {}
        self._value_re: dict[Entry, re.Pattern[str]] = {}
        self._plans: dict[int, tuple[_Plan, ...]] = {}  # expression or keyword id -> plans

        entries = list(dict.fromkeys(e for p in self.profiles for e in p.entries))
        groups: dict[tuple[str, bool, bool, str | None, str | None], list[Entry]] = {}
        literals: dict[bytes, int] = {}
        word_entries: dict[int, list[Entry]] = {}
        max_window = 0
        for e in entries:
            if e.pattern:
                key = (e.pattern, e.caseless, e.som, e.terminator, e.leader)
                groups.setdefault(key, []).append(e)
            for w in e.words:
                lid = self._literal_id(w, literals)
                word_entries.setdefault(lid, []).append(e)
            if e.keywords:
                self._ctx_ids[e] = frozenset(self._literal_id(k, literals) for k in e.keywords)
                max_window = max(max_window, e.window)
            if e.value_pattern:
                self._value_re[e] = re.compile(e.value_pattern)
        self._word_entries = {k: tuple(v) for k, v in word_entries.items()}
        plan_of = self._entry_plans(entries)

        expressions: list[bytes] = []
        ids: list[int] = []
        soms: list[bool] = []
        caseless_flags: list[bool] = []
        # Hyperscan engine only: catalogue expressions scanned by one RE2 union beside it
        side: list[tuple[bytes, int, int]] = []
        kw_gates: dict[int, set[int]] = {}
        max_reach = 0
        for i, ((pattern, caseless, som, term, leader), members) in enumerate(groups.items()):
            pb = pattern.encode()
            width = min(max(m.max_width for m in members), MAX_SPAN)
            expr = _Expr(tuple(members), som, max_width=width)
            if term:
                expr.term = _class_bytes(term)
            if leader:
                expr.lead = _class_bytes(leader)
            rflags = re.IGNORECASE if caseless else 0
            # Python ``re`` only ever runs the project's own catalogue patterns: a custom
            # profile's pattern stays on the engine path, its start recovered by RE2.
            builtin = pattern in BUILTIN_PATTERNS
            self._exprs[i] = expr
            self._plans[i] = tuple(plan_of[m] for m in members)
            if builtin and all(m.keywords for m in members):
                # keyword-led: found by a bounded search around its keywords, never by the
                # engine (bare digit runs and hex would otherwise be events all over a file)
                expr.gate_window = max(m.window for m in members)
                expr.lead_boundary = _boundary_then_literal(pattern)
                expr.search = _keyword_search(pattern, leader, expr.lead_boundary, rflags)
                expr.max_width = min(width, _max_width(pattern))
                for m in members:
                    for kid in self._ctx_ids[m]:
                        kw_gates.setdefault(kid, set()).add(i)
                continue
            if engine == "hyperscan" and builtin and som and _class_led(pattern):
                # led by a wide class with no literal: an RE2 union scans these for less
                # (see Re2UnionEngine); their starts come out exact
                side.append((b"(?i:" + pb + b")" if caseless else pb, i, _max_width(pattern)))
                continue
            if not som:
                _set_start_paths(expr, pattern, caseless, builtin, bool(term))
                max_reach = max(max_reach, expr.reach)
            parts = {m.engine_patterns for m in members}
            split = parts.pop() if engine == "hyperscan" and builtin and len(parts) == 1 else ()
            for part in split or (pattern,):  # one id for every part: the events are the same
                expressions.append(part.encode())
                ids.append(i)
                soms.append(som)
                caseless_flags.append(caseless)
        # expression or keyword id -> its plans, its consumed terminator's and leader's classes
        self._confirming: dict[int, tuple[tuple[_Plan, ...], frozenset[int], frozenset[int]]] = {
            eid: (plans, *self._consumed_classes(eid)) for eid, plans in self._plans.items()
        }
        self._native_tables()
        max_kw = max(self._lit_len.values(), default=0)
        self._kw_gates = {k: tuple(sorted(v)) for k, v in kw_gates.items()}
        self._max_kw = max_kw
        # A candidate is final once the stream is this far past its start.
        self.horizon = MAX_SPAN + max_window + max_kw + 1
        self.reach = max_reach  # history kept for start recovery by literal prefix
        self._hs: _HsEngine | None = None
        self._re2: Re2Engine | None = None
        self._side: Re2UnionEngine | None = None
        if side:
            self._side = Re2UnionEngine(
                [p for p, _, _ in side], [i for _, i, _ in side], max(w for _, _, w in side)
            )
        if engine != "hyperscan":
            self._re2 = Re2Engine(expressions, ids, caseless_flags, literals, MAX_SPAN)
        elif expressions or literals:  # all of it may be on the RE2 side
            self._hs = _HsEngine(expressions, ids, soms, caseless_flags, literals)

    def _entry_plans(self, entries: list[Entry]) -> dict[Entry, _Plan]:
        """Stage-2 plans of the (distinct) entries; keyword-word entries get theirs here."""
        slots = {e: n for n, e in enumerate(entries)}
        # each profile with its entries' slots, in order, for a stream's result (equal
        # entries of two profiles share one slot, so one state)
        self._profile_slots = tuple(
            (p, tuple((e, slots[e]) for e in p.entries)) for p in self.profiles
        )
        plan_of = {
            e: _Plan(
                e,
                slots[e],
                tuple(sorted(self._ctx_ids.get(e, ()))),
                e.window,
                self._value_re.get(e),
                VALIDATORS[e.validator] if e.validator is not None else None,
                not e.test_values,
            )
            for e in entries
        }
        for lid, members in self._word_entries.items():
            self._plans[lid] = tuple(plan_of[m] for m in members)
        return plan_of

    def _native_tables(self) -> None:
        """What the compiled loops read (``_native_stream``), resolved once per policy: per
        plan (slot, ((keyword id, length), ...), window, value search, validator, skip test
        values, entry, id, mask, mask prefix); byte classes as 256-byte tables (None when
        there is none); the expressions without SOM; keyword-led expressions' regions and
        searches; each expression's start-recovery paths."""
        self._native_confirming = {
            eid: (tuple(self._native_plan(p) for p in plans), _table(term), _table(lead))
            for eid, (plans, term, lead) in self._confirming.items()
        }
        self._nosom = frozenset(i for i, x in self._exprs.items() if not x.som)
        self._gate_info = {
            gid: (x.gate_window, x.max_width) for gid, x in self._exprs.items() if x.gate_window
        }
        self._region_info = {
            gid: (x.max_width, x.search.search, x.lead_boundary)
            for gid, x in self._exprs.items()
            if x.search is not None
        }
        self._native_recovery = {
            i: (
                x,
                x.widths,
                x.sized.match if x.sized is not None else None,
                x.prefix,
                x.reach,
                x.lone,
                x.anchored.match if x.anchored is not None else None,
                x.stops,
            )
            for i, x in self._exprs.items()
            if x.confirm is not None
        }

    def _native_plan(self, plan: _Plan) -> tuple[Any, ...]:
        entry = plan.entry
        return (
            plan.slot,
            tuple((kid, self._lit_len[kid]) for kid in plan.ctx),
            plan.window,
            plan.value_re.search if plan.value_re is not None else None,
            plan.validate,
            plan.skip_test_values,
            entry,
            entry.id,
            entry.mask,
            entry.mask_prefix,
        )

    def _consumed_classes(self, eid: int) -> tuple[frozenset[int], frozenset[int]]:
        """The byte classes of an expression's consumed terminator and leading byte (empty
        for a keyword id, or where the pattern consumes none)."""
        if eid >= _KW_BASE:
            return frozenset(), frozenset()
        expr = self._exprs[eid]
        return expr.term, expr.lead

    def _literal_id(self, word: str, literals: dict[bytes, int]) -> int:
        lit = _literal_pattern(word)
        if lit not in literals:
            lid = _KW_BASE + len(literals)
            literals[lit] = lid
            self._lit_len[lid] = len(word.encode("utf-8"))
        return literals[lit]

    def _new_finder(self, events: list[tuple[int, int, int]]) -> _Finder:
        if self._re2 is not None:
            return self._re2.finder(events)
        side = self._side.finder(events) if self._side is not None else None
        if self._hs is None:
            assert side is not None  # a policy has at least one expression or keyword
            return side
        finder = _HsFinder(self, self._hs, events)
        return finder if side is None else _HybridFinder(finder, side)

    def open_stream(
        self,
        record_spans: bool = False,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        probe: SecretProbe | None = None,
    ) -> MatchStream:
        """Start matching one file; feed it chunks, then ``close()`` for the result.

        ``record_spans`` keeps ``(entry_id, start, end)`` byte offsets of every confirmed
        match in ``MatchStream.spans`` (offsets only, no content; for benchmarks and tests).
        ``deadline`` (a ``clock()`` value) bounds the stream's time: once passed, matching
        stops and the result is ``truncated`` (what was confirmed before it is kept).
        ``probe`` sees the confirmed values of the entries it wants (and must keep none).
        """
        return MatchStream(self, record_spans, deadline, clock, probe)

    def scan(self, chunks: Iterable[bytes]) -> FileMatch:
        """Match a whole file given as an iterable of byte chunks (any sizes)."""
        stream = self.open_stream()
        try:
            for chunk in chunks:
                stream.feed(chunk)
        except BaseException:
            stream.abort()
            raise
        return stream.close()

    def scan_bytes(self, data: bytes, chunk_size: int = CHUNK_SIZE) -> FileMatch:
        """Convenience for in-memory text (tests, small payloads)."""
        return self.scan(data[i : i + chunk_size] for i in range(0, len(data), chunk_size))

    def engine_db(self) -> Any:
        """The raw Hyperscan database (for benchmarks of the engine alone; the expressions
        of the RE2 side pass are not in it: :meth:`engine_scan` runs both)."""
        if self._hs is None:
            raise ValueError("this policy has no Hyperscan database (re2 engine)")
        return self._hs.db

    def engine_scan(self, chunks: Iterable[bytes]) -> int:
        """Stage 1 alone over ``chunks`` (benchmarks): returns the number of raw events."""
        events: list[tuple[int, int, int]] = []
        finder = self._new_finder(events)
        n = 0
        for chunk in chunks:
            finder.feed(chunk)
            n += len(events)
            events.clear()
        finder.close()
        return n + len(events)


class _Finder(Protocol):
    """Stage 1 of one stream: appends ``(id, start, end)`` events to the list it was given.

    ``frontier``: every event whose start lies before it has been delivered (with its final
    end). ``exact_start``: starts are exact for every expression (else the stream recovers
    them for expressions compiled without SOM). ``lag``: the most ``frontier`` may trail the
    bytes fed, which sizes the history buffer."""

    exact_start: bool
    lag: int

    @property
    def frontier(self) -> int: ...

    def feed(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class _HsEngine:
    """One Hyperscan STREAM database: regexes (SOM per expression) plus caseless keywords."""

    def __init__(
        self,
        expressions: list[bytes],
        ids: list[int],
        soms: list[bool],
        caseless: list[bool],
        literals: dict[bytes, int],
    ) -> None:
        assert hyperscan is not None
        flags = [
            (hyperscan.HS_FLAG_SOM_LEFTMOST if som else 0)
            | (hyperscan.HS_FLAG_CASELESS if ci else 0)
            for som, ci in zip(soms, caseless, strict=True)
        ]
        exprs = list(expressions) + list(literals)
        all_ids = list(ids) + list(literals.values())
        flags += [hyperscan.HS_FLAG_CASELESS] * len(literals)
        # Compiled once per host, not per process, when the pipeline installed a store.
        self.db = compiled_database(
            exprs, all_ids, flags, hyperscan.HS_MODE_STREAM | hyperscan.HS_MODE_SOM_HORIZON_LARGE
        )
        self.local = threading.local()
        self.close_lock = threading.Lock()

    def scratch(self) -> Any:
        scratch = getattr(self.local, "scratch", None)
        if scratch is None:
            assert hyperscan is not None
            scratch = hyperscan.Scratch(self.db)
            self.local.scratch = scratch
        return scratch


class _HsFinder:
    """Hyperscan stream mode: chunk edges are invisible, events arrive as soon as they end."""

    exact_start = False
    lag = 0

    def __init__(self, policy: Policy, engine: _HsEngine, events: list[tuple[int, int, int]]):
        append = events.append

        def on_match(eid: int, frm: int, to: int, _flags: int, _ctx: object) -> None:
            append((eid, frm, to))

        # python-hyperscan 0.9.1 does not keep a reference to the handler: hold it here, or
        # the closure is freed and the next callback crashes the interpreter.
        self._on_match = on_match
        self._engine = engine
        self._scratch = engine.scratch()
        self._stream = engine.db.stream(match_event_handler=on_match)
        self._stream.__enter__()
        self._pos = 0

    @property
    def frontier(self) -> int:
        return self._pos

    def feed(self, data: bytes) -> None:
        self._stream.scan(data, scratch=self._scratch)
        self._pos += len(data)

    def close(self) -> None:
        # Stream.close(scratch=...) has swapped PyArg arguments in python-hyperscan 0.9.1 and
        # corrupts memory, so close always uses the database's own scratch, under a lock.
        with self._engine.close_lock:
            self._stream.close()

    abort = close


class _HybridFinder:
    """The Hyperscan stream plus the RE2 side pass over the same bytes, one event list."""

    exact_start = False  # the Hyperscan part has expressions without SOM

    def __init__(self, hs: _HsFinder, side: _Finder) -> None:
        self._hs = hs
        self._side = side
        self.lag = max(hs.lag, side.lag)

    @property
    def frontier(self) -> int:
        return min(self._hs.frontier, self._side.frontier)

    def feed(self, data: bytes) -> None:
        self._hs.feed(data)
        self._side.feed(data)

    def close(self) -> None:
        self._hs.close()
        self._side.close()

    def abort(self) -> None:
        self._hs.abort()
        self._side.abort()


class SecretProbe(Protocol):
    """Sees confirmed values of some entries (e.g. to compare a found key with an inventory).

    It gets the raw value for the duration of the call only and must keep nothing of it but
    what it derives (a key id, counts, a masked form): see detectors/leaked_keys.py.
    """

    def wants(self, entry: Entry) -> bool: ...

    def observe(self, entry: Entry, value: str) -> None: ...


class MatchStream:
    """Incremental matching of one file. Not thread-safe; one per file."""

    def __init__(
        self,
        policy: Policy,
        record_spans: bool = False,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        probe: SecretProbe | None = None,
    ) -> None:
        self._p = policy
        self._probe = probe
        self._deadline = deadline
        self._clock = clock
        self.truncated: str | None = None
        self.spans: list[tuple[str, int, int]] | None = [] if record_spans else None
        self._events: list[tuple[int, int, int]] = []
        self._finder = policy._new_finder(self._events)
        self._exact_start = self._finder.exact_start
        self._open = True
        self._pos = 0
        # hist[:_end] holds the stream's bytes [_base, _pos); the bytes after _end are stale
        # room for the next chunks (appending in place: a bytearray grown at its end and
        # cut at its front reallocates and copies itself on nearly every append)
        self._hist = bytearray()
        self._end = 0
        self._base = 0
        self._keep = max(policy.horizon + MAX_SPAN, policy.reach + 1) + self._finder.lag
        self._trim_at = self._keep + max(self._keep, HIST_SLACK)
        self._pending: dict[tuple[int, int], int] = {}
        # (expression id, end) of events whose start is still to be recovered from the history:
        # recovered in one run before each batch of confirmations (the history does not move
        # in between, and every recovery reads only bytes before its event's end)
        self._unstarted: list[tuple[int, int]] = []
        # keyword id -> end offsets of its recent hits (ascending): bisect finds the nearest
        self._kw_ends: dict[int, list[int]] = {}
        # keyword-led expr -> its regions [lo, hi) of candidate starts still to search, in
        # order and disjoint; each searched when the stream has passed hi + width.
        # ``_searched`` is where each expr's next region may begin.
        self._regions: dict[int, list[list[int]]] = {}
        self._searched: dict[int, int] = {}
        self._furthest: dict[int, int] = {}  # keyword-led expr -> end of its last candidate
        self._state: dict[int, _EntryState] = {}  # by plan slot

    # -- public -----------------------------------------------------------------------------

    @property
    def bytes_scanned(self) -> int:
        return self._pos

    def feed(self, data: bytes) -> None:
        """Match the next chunk (any size, including chunks that split a UTF-8 char)."""
        if not self._open:
            raise RuntimeError("stream is closed")
        if not data or self.truncated:
            return
        if self._deadline is not None and self._past_deadline():
            return
        hist, at = self._hist, self._end
        end = at + len(data)
        if not hist:  # a new stream's first chunk: the buffer is this chunk
            hist += data
        else:
            if end > len(hist):
                self._grow(end)
            with memoryview(hist) as view:  # copied once (a slice assignment copies twice)
                view[at:end] = data
        self._end = end
        self._finder.feed(data)
        self._pos += len(data)
        if self._events:
            self._absorb()
        if self._regions:
            self._search_regions(final=False)
        compact = self._end > self._trim_at
        waiting = len(self._pending) + len(self._unstarted)
        if waiting and (compact or waiting >= CONFIRM_BATCH):
            self._finalize(self._finder.frontier - self._p.horizon)
        if compact:
            cut = self._end - self._keep
            with memoryview(self._hist) as view:  # one move per ~MiB (cut >= keep: no overlap)
                view[: self._keep] = view[cut : self._end]
            self._end = self._keep
            self._base += cut
            limit = self._pos - self._keep
            for ends in self._kw_ends.values():
                if ends and ends[0] < limit:
                    del ends[: bisect_left(ends, limit)]

    def close(self) -> FileMatch:
        """Flush end-of-data matches, confirm what is pending, return the file's result."""
        if self._open:
            self._open = False
            self._finder.close()
            if self._events and not self.truncated:
                self._absorb()
            if self._regions and not self.truncated:
                self._search_regions(final=True)
            self._finalize(self._pos + 1)
        return self._result()

    def abort(self) -> None:
        """Release the engine stream without a result (the file was skipped)."""
        if self._open:
            self._open = False
            self._finder.abort()
            self._events.clear()
            self._pending.clear()
            self._unstarted.clear()
            self._regions.clear()
            self._hist.clear()
            self._end = 0

    # -- internals --------------------------------------------------------------------------

    def _grow(self, end: int) -> None:
        """Give the history room for ``end`` bytes: doubling steps, the last one to its working
        size (a bytearray grown by appends reallocates and copies itself on nearly every chunk).
        The room is filled from one shared block of zeros, so growing allocates no other."""
        hist = self._hist
        work = self._trim_at + CHUNK_SIZE
        room = 2 * len(hist)
        if 2 * room > work:
            room = work
        need = max(end, room) - len(hist)
        hist += _ZEROS[:need] if need <= len(_ZEROS) else bytes(need)

    def _past_deadline(self) -> bool:
        """True (and the stream stops matching) once the deadline has passed."""
        assert self._deadline is not None
        if self._clock() <= self._deadline:
            return False
        self.truncated = "time budget exceeded while matching"
        self._events.clear()
        self._regions.clear()
        return True

    def _absorb(self) -> None:
        p = self._p
        if _native_stream is not None:
            _native_stream.absorb(
                self._events,
                _KW_BASE,
                p._lit_len,
                self._kw_ends,
                p._word_entries,
                p._kw_gates,
                p._gate_info,
                self._regions,
                self._searched,
                None if self._exact_start else p._nosom,
                self._pending,
                self._unstarted,
                self._past_deadline if self._deadline is not None else None,
            )
            return
        exprs = p._exprs
        pending = self._pending
        unstarted = self._unstarted
        timed = self._deadline is not None
        for n, (eid, frm, to) in enumerate(self._events):
            if timed and not n % DEADLINE_EVERY and n and self._past_deadline():
                return
            if eid >= _KW_BASE:
                start = to - p._lit_len[eid]
                ends = self._kw_ends.get(eid)
                if ends is None:
                    self._kw_ends[eid] = [to]
                else:
                    ends.append(to)
                if eid in p._word_entries:
                    pending[(eid, start)] = to
                for gid in p._kw_gates.get(eid, ()):
                    self._mark_region(gid, exprs[gid], start, to)
                continue
            if not exprs[eid].som and not self._exact_start:
                unstarted.append((eid, to))
                continue
            key = (eid, frm)
            if pending.get(key, -1) < to:
                pending[key] = to
        self._events.clear()

    def _mark_region(self, gid: int, expr: _Expr, kw_start: int, kw_end: int) -> None:
        """A keyword of keyword-led expression ``gid`` at [kw_start, kw_end): every candidate
        that could have it in context starts in [kw_start - window - width, kw_end + window).
        A region that does not reach the last one is kept apart from it: the bytes between
        two keywords far apart (a CSV of IDs between two labels) are not searched, since no
        candidate starting there can have either keyword in context."""
        lo = max(kw_start - expr.gate_window - expr.max_width, self._searched.get(gid, 0))
        hi = kw_end + expr.gate_window
        regions = self._regions.get(gid)
        if regions is None:
            self._regions[gid] = [[lo, hi]]
            return
        last = regions[-1]
        if lo > last[1]:
            regions.append([lo, hi])
        elif hi > last[1]:
            last[1] = hi  # regions only grow forward; lo never moves back

    def _search_regions(self, final: bool) -> None:
        """Search the parts of keyword-led regions whose text is complete (every candidate
        starting there has ended, and the byte after it is known); queue their candidates.
        A region still growing keeps its unsearched tail, so none outlives the history."""
        if _native_stream is not None:
            _native_stream.search_regions(
                self._regions,
                final,
                self._pos,
                self._base,
                self._hist,
                self._p._region_info,
                self._searched,
                self._furthest,
                self._pending,
                self._past_deadline if self._deadline is not None else None,
            )
            return
        pos = self._pos
        exprs = self._p._exprs
        base = self._base
        searches = 0
        done = []
        for gid, regions in self._regions.items():
            expr = exprs[gid]
            width = expr.max_width
            while regions:
                region = regions[0]
                lo, hi = region
                stop = hi if final else min(hi, pos - width - 1)
                if stop <= lo:
                    break  # the later regions are not complete either
                self._searched[gid] = stop
                if stop >= hi:
                    del regions[0]
                else:
                    region[0] = stop
                seg_lo = max(base, lo - 1)  # one byte of left context for a leading \b
                seg_hi = min(pos, stop + width + 1)
                if seg_hi > seg_lo:
                    searches = self._search_region(gid, expr, lo, stop, seg_lo, seg_hi, searches)
                    if searches < 0:
                        return  # past the deadline: the regions are dropped with the rest
                if stop < hi:
                    break
            if not regions:
                done.append(gid)
        for gid in done:
            del self._regions[gid]

    def _search_region(
        self, gid: int, expr: _Expr, lo: int, stop: int, seg_lo: int, seg_hi: int, searches: int
    ) -> int:
        """Queue the candidates of ``expr`` starting in [lo, stop), searched in the history
        between ``seg_lo`` and ``seg_hi``; returns the searches made so far, or -1 once the
        deadline has passed."""
        # searched in place: ``pos`` gives a leading \b its left byte, ``endpos`` ends
        # the text where the segment ends (positions below are relative to ``hist``)
        hist, base = self._hist, self._base
        pending = self._pending
        timed = self._deadline is not None
        rx = expr.search
        assert rx is not None
        lead_boundary = expr.lead_boundary
        at, limit, end_at = max(lo, seg_lo) - base, stop - base, seg_hi - base
        furthest = self._furthest.get(gid, -1) - base
        while True:
            if timed and searches and not searches % DEADLINE_EVERY and self._past_deadline():
                return -1
            searches += 1
            m = rx.search(hist, at, end_at)
            if m is None:
                break
            s, e = m.span()
            if s >= limit:
                break
            if lead_boundary and s and hist[s - 1] in _WORD_BYTES:
                at = s + 1  # inside a word: the full pattern's \b fails here
                continue
            if e > furthest:  # as the engine reports it: leftmost start for each end
                key = (gid, base + s)
                if pending.get(key, -1) < base + e:
                    pending[key] = base + e
                furthest = e
            at = s + 1
        self._furthest[gid] = furthest + base
        return searches

    def _recover_start(self, expr: _Expr, end: int) -> int | None:
        assert expr.confirm is not None
        base = self._base
        hi = end - base
        if expr.widths:
            # each width the pattern allows, widest first: the first start where the pattern
            # matches up to ``end`` is the leftmost (RE2 looks no further back than the widest)
            hist, sized = self._hist, expr.sized
            assert sized is not None
            for width in expr.widths:
                if width <= hi and sized.match(hist, hi - width, hi):
                    return end - width
            return None
        if expr.lone:
            assert expr.prefix is not None and expr.anchored is not None
            hist = self._hist
            i = hist.rfind(expr.prefix, max(0, hi - expr.reach), hi)
            if i < 0 or i + len(expr.prefix) >= hi - 1:  # it may end in the terminator byte
                i = -2
            if i >= 0:
                return base + i if expr.anchored.match(hist, i, hi) else None
        elif expr.anchored is not None:
            # every match starts with the prefix: try its occurrences in the window from the
            # left, each an anchored match ending at ``end`` (a few microseconds where RE2's
            # reverse DFA rebuilds states for bounded repeats on every new text); a window
            # crowded with the prefix goes to RE2 below, whose cost does not grow with them
            assert expr.prefix is not None
            hist, prefix, anchored = self._hist, expr.prefix, expr.anchored
            lo = max(0, hi - expr.reach)
            for stop in expr.stops:  # the last byte may be a consumed terminator
                lo = max(lo, hist.rfind(stop, lo, hi - 1) + 1)
            i = hist.find(prefix, lo, hi)
            tries = 0
            while i >= 0 and tries < _PREFIX_TRIES:
                if anchored.match(hist, i, hi):
                    return base + i
                tries += 1
                i = hist.find(prefix, i + 1, hi)
            if i < 0:
                return None
        return self._recover_tail(expr, end)

    def _recover_tail(self, expr: _Expr, end: int) -> int | None:
        """The start by the reversed pattern or RE2 (the paths above found none)."""
        assert expr.confirm is not None
        base = self._base
        hi = end - base
        if expr.prefix is None and expr.reverse is not None:
            lo = max(0, hi - expr.max_width)
            # one anchored, greedy attempt on the reversed text: its end is the leftmost start
            r = expr.reverse.match(self._hist[hi - 1 : lo - 1 if lo else None : -1])
            if r is not None:
                return end - r.end()
        # RE2, end-anchored: its reversed program runs back from the end and stops where no
        # match can start any more, so the cost is the token's length, not the window's. The
        # view (no copy) keeps one byte left of the window so a leading \b sees its neighbour.
        width = expr.reach if expr.prefix is not None else expr.max_width
        lo = max(0, hi - width)
        ctx = 1 if lo > 0 else 0
        view = memoryview(self._hist)[lo - ctx : hi]
        try:
            m = expr.confirm.search(view, ctx)
            start = -1 if m is None else m.start()
        finally:
            view.release()
        return None if start < 0 else base + lo - ctx + start

    def _recover_starts(self) -> None:
        if _native_stream is not None:
            _native_stream.recover_starts(
                self._unstarted,
                self._p._native_recovery,
                self._recover_tail,
                self._hist,
                self._base,
                self._pending,
            )
            return
        exprs = self._p._exprs
        pending = self._pending
        recover = self._recover_start
        for eid, end in self._unstarted:
            start = recover(exprs[eid], end)
            if start is not None and pending.get((eid, start), -1) < end:
                pending[(eid, start)] = end
        self._unstarted.clear()

    def _finalize(self, limit: int) -> None:
        if self._unstarted:
            self._recover_starts()
        if _native_stream is not None:
            timed = self._deadline is not None and not self.truncated
            _native_stream.finalize(
                self._pending,
                limit,
                CONFIRM_AFTER_DEADLINE if self.truncated else -1,
                self._past_deadline if timed else None,
                self._p._native_confirming,
                self._hist,
                self._base,
                self._kw_ends,
                self._state,
                _EntryState,
                self.spans,
                self._probe,
                is_test_value,
                mask_value,
            )
            return
        ready = sorted(
            (start, eid, end) for (eid, start), end in self._pending.items() if start <= limit
        )
        if self.truncated:  # only at close: confirm the earliest candidates already found
            del ready[CONFIRM_AFTER_DEADLINE:]
        timed = self._deadline is not None and not self.truncated
        for n, (start, eid, end) in enumerate(ready):
            if timed and n and not n % DEADLINE_EVERY and self._past_deadline():
                return
            del self._pending[(eid, start)]
            self._confirm(eid, start, end)

    def _blank_line_between(self, kw_start: int, kw_end: int, start: int, end: int) -> bool:
        """True when a blank line separates a keyword from a candidate: a label's context
        ends with its paragraph (a CSV row two lines below ``Passport No: …`` is no passport)."""
        if kw_end <= start:
            a, b = kw_end, start
        elif kw_start >= end:
            a, b = end, kw_start
        else:
            return False
        base = self._base
        # one byte more on each side: a candidate's consumed terminator or leading byte may
        # be the newline next to the gap (a keyword's own bytes are never one)
        a, b = max(a - 1, base) - base, max(b + 1, base) - base
        hist = self._hist
        return hist.find(b"\n\n", a, b) >= 0 or hist.find(b"\n\r\n", a, b) >= 0

    def _in_context(self, plan: _Plan, start: int, end: int) -> bool:
        """True when one of ``plan``'s keywords is hit within its window of the candidate
        (and no blank line lies between them)."""
        lo, hi = start - plan.window, end + plan.window
        kw_ends = self._kw_ends
        lit_len = self._p._lit_len
        for kid in plan.ctx:
            ends = kw_ends.get(kid)
            if not ends or ends[-1] <= lo:
                continue
            # the first hit ending after `lo` has the smallest start of those that do
            i = bisect_right(ends, lo)
            n = lit_len[kid]
            while i < len(ends) and ends[i] - n < hi:
                if not self._blank_line_between(ends[i] - n, ends[i], start, end):
                    return True
                i += 1
        return False

    def _confirm(self, eid: int, start: int, end: int) -> None:
        plans, term, lead = self._p._confirming[eid]
        base = self._base
        s = start if start > base else base
        e = end if end < s + MAX_SPAN else s + MAX_SPAN
        hist = self._hist
        if term and e > s and hist[e - 1 - base] not in term:
            e -= 1
        if lead and e > s and hist[s - base] not in lead:
            s += 1  # a consumed leading byte (the match is not at the start of the text)
        if e <= s:
            return
        text = hist[s - base : e - base].decode("utf-8", "replace")
        state = self._state
        # verdicts on ``text`` shared by the plans of one candidate (entries of one pattern
        # often share a validator): validator -> verdict; is_test_value(text) once
        verdicts: dict[Callable[[str], bool], bool] = {}
        test_text: bool | None = None
        for plan in plans:
            st = state.get(plan.slot)
            if st is not None and start < st.last_end:
                continue  # overlaps a match already counted for this entry
            if plan.ctx and not self._in_context(plan, start, end):
                continue  # none of its keywords within `window` bytes of the candidate
            value = text
            if plan.value_re is not None:
                m = plan.value_re.search(text)
                if m is None:
                    continue
                value = m.group(1)
            validate = plan.validate
            if validate is not None:
                ok = verdicts.get(validate) if value is text else None
                if ok is None:
                    try:
                        ok = bool(validate(value))
                    except Exception:  # a validator bug must not leak the value via a traceback
                        ok = False
                    if value is text:
                        verdicts[validate] = ok
                if not ok:
                    continue
            if plan.skip_test_values:
                if value is not text:
                    if is_test_value(value):
                        continue
                else:
                    if test_text is None:
                        test_text = is_test_value(text)
                    if test_text:
                        continue  # a published test value; reported only when the profile asks
            entry = plan.entry
            if self._probe is not None and self._probe.wants(entry):
                # a probe bug must not leak the value via a traceback
                with contextlib.suppress(Exception):
                    self._probe.observe(entry, value)
            if st is None:
                st = state[plan.slot] = _EntryState()
            st.count += 1
            st.last_end = e
            if self.spans is not None:
                self.spans.append((entry.id, s, e))
            if len(st.excerpts) < MAX_EXCERPTS and st.mask_tries < 8 * MAX_EXCERPTS:
                st.mask_tries += 1
                masked = mask_value(value, entry.mask, entry.mask_prefix)
                if masked not in st.excerpts:
                    st.excerpts.append(masked)

    def _result(self) -> FileMatch:
        state = self._state
        if not state:
            # Nothing counted for any entry, and every profile needs at least one: the
            # usual answer for clean text, without walking every entry of every profile.
            return FileMatch((), (), self._pos, self._p.version, self.truncated)
        matched_profiles: list[str] = []
        rows: list[EntryMatch] = []
        for profile, entry_slots in self._p._profile_slots:
            hits = []
            for entry, slot in entry_slots:
                st = state.get(slot)
                if st is not None and st.count >= entry.min_count:
                    hits.append(
                        EntryMatch(
                            entry.id,
                            entry.name,
                            profile.name,
                            st.count,
                            tuple(st.excerpts),
                            entry.severity,
                        )
                    )
            if len(hits) >= profile.min_distinct_entries:
                matched_profiles.append(profile.name)
                rows.extend(hits)
        return FileMatch(
            tuple(matched_profiles), tuple(rows), self._pos, self._p.version, self.truncated
        )


def _start_finder(pattern: bytes, caseless: bool) -> re2._Regexp:
    """RE2 program for ``pattern`` anchored at the end of its input.

    Unanchored at the start and anchored at the end, RE2 runs its reversed program backwards
    from the end and returns the leftmost start: linear in the window, whatever the pattern
    (Python ``re`` backtracks exponentially on stacked variable repeats). Bytes are LATIN1 so
    offsets are byte offsets."""
    opts = re2.Options()
    opts.encoding = re2.Options.Encoding.LATIN1
    opts.log_errors = False
    body = to_re2_pattern(pattern)
    if caseless:
        body = b"(?i:" + body + b")"
    return re2.compile(b"(?:" + body + rb")\z", opts)


_CACHE: dict[tuple[str, str], Policy] = {}
_CACHE_LOCK = threading.Lock()
_COMPILE_LOCK = threading.Lock()
_CACHE_MAX = 32


def resolve_engine(engine: str | None = None) -> str:
    """The stage-1 engine to use: ``engine`` (the process's ``CASB_DLP_ENGINE`` setting,
    passed down by the caller) if given, else ``DEFAULT_ENGINE``.

    ``auto`` (the default) means Hyperscan where it is importable, else RE2 (Linux aarch64
    has no hyperscan 0.9 wheel). Asking for ``hyperscan`` where it is missing is an error
    rather than a silent switch, so a misconfigured host is noticed."""
    choice = (engine or DEFAULT_ENGINE).strip().lower()
    if choice == "auto":
        return "hyperscan" if hyperscan is not None else "re2"
    if choice not in ENGINES:
        raise ValueError(f"the DLP engine must be auto, hyperscan or re2, not {choice!r}")
    if choice == "hyperscan" and hyperscan is None:
        raise ValueError("hyperscan is not installed on this host; use auto or re2")
    return choice


def compile_policy(profiles: Iterable[Profile], engine: str | None = None) -> Policy:
    """Compile (or fetch from the in-process cache, keyed by profile-set version and
    engine) a policy. ``engine``: see :func:`resolve_engine`."""
    plist = tuple(profiles)
    version = profile_set_version(plist)
    key = (version, resolve_engine(engine))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
    # One compile per process: threads that miss together (a worker's first scans start at
    # once) wait for it instead of each compiling the same set (about a CPU second each).
    with _COMPILE_LOCK:
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
        policy = Policy(plist, key[1])
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.pop(next(iter(_CACHE)))
            return _CACHE.setdefault(key, policy)
