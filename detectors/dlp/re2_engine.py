"""Stage 1 of the DLP matcher on RE2, for hosts without a Hyperscan wheel (Linux aarch64).

Pure: no I/O. It yields the same candidate events as the Hyperscan stream so the shared
stage 2 in ``matcher.py`` gives the same :class:`FileMatch`:

* RE2 has no stream mode, so a chunk+overlap driver scans ``carry + new bytes`` and owns
  the match starts in ``[lo, hi)`` with ``hi = len - K`` (``K`` = the longest span stage 2
  reads, 4 KiB); the next carry starts ``L`` bytes before ``hi`` so ``\\b`` sees its left
  neighbour. Every start is owned by exactly one buffer: a straddling match is found once.
  A match that runs into the end of a non-final buffer may still grow, so ownership stops
  at its start and it is rescanned with more data (up to ``DEFER_CAP`` bytes).
* Hyperscan reports every pattern independently (no leftmost-first shadowing across
  patterns), so each expression is searched on its own, leftmost-longest, in LATIN1 (byte)
  mode; an ``re2.Set`` pass first says which expressions occur in the buffer at all.
  Hyperscan's SOM-leftmost events are emulated by resuming one byte after each start and
  keeping a start only when it reaches past every earlier match of that expression.
* Keywords are one alternation of byte-exact, ASCII-caseless, whole-word literals; the
  shorter keywords that share a start with a hit are recovered from a prefix table, so every
  keyword occurrence is reported as Hyperscan does.
* Dialect: RE2's ``\\s`` lacks ``\\v``; patterns are rewritten to Hyperscan's class.
"""

from __future__ import annotations

import re

import re2

__all__ = [
    "DEFER_CAP",
    "OVERLAP_LEFT",
    "Re2Engine",
    "Re2Finder",
    "Re2UnionEngine",
    "Re2UnionFinder",
    "to_re2_pattern",
]

OVERLAP_LEFT = 8  # bytes kept before ``hi`` in the next carry (left context for \b)
BATCH = 64 * 1024  # scan once at least this much new data is buffered (tiny chunks)
DEFER_CAP = 64 * 1024  # longest match kept growing across buffers before it is cut
UNION_BATCH = 16 * 1024  # Re2UnionFinder: scan once this much new data is buffered
RE2_MAX_MEM = 64 << 20  # per compiled regex; memory is allocated lazily, as the DFA grows
_WORD = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_SPACE_CLASS = r"\t\n\x0b\x0c\r "


def to_re2_pattern(pattern: bytes) -> bytes:
    """Rewrite the Hyperscan/PCRE dialect bits RE2 reads differently (``\\s`` and ``\\S``)."""
    text = pattern.decode("latin-1")
    out: list[str] = []
    i, in_class = 0, False
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "s":
                out.append(_SPACE_CLASS if in_class else f"[{_SPACE_CLASS}]")
            elif nxt == "S" and not in_class:
                out.append(f"[^{_SPACE_CLASS}]")
            else:
                out.append(text[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            if text[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if text[i + 1 : i + 2] == "]":  # a leading ] is a literal
                out.append("]")
                i += 1
        elif c == "]" and in_class:
            in_class = False
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out).encode("latin-1")


def _options() -> re2.Options:
    opts = re2.Options()
    opts.encoding = re2.Options.Encoding.LATIN1
    opts.longest_match = True
    opts.log_errors = False
    # The default 8 MiB DFA budget is exhausted by the catalogue's keyword alternation and
    # RE2 then falls back to its NFA (10-40x slower); 64 MiB keeps the lazy DFA warm.
    opts.max_mem = RE2_MAX_MEM
    return opts


def _keyword_regex(raw: bytes) -> bytes:
    """ASCII-only caseless literal (Hyperscan's HS_FLAG_CASELESS), whole word at word edges.

    RE2's own ``(?i)`` in LATIN1 mode would also fold bytes 0xC0-0xFE, which are pieces of
    UTF-8 characters here, so letters are spelled out as ``[aA]`` classes."""
    parts = []
    for b in raw:
        ch = chr(b)
        if ch.isascii() and ch.isalpha():
            parts.append(f"[{ch.lower()}{ch.upper()}]")
        elif ch.isascii() and ch.isalnum():
            parts.append(ch)
        else:
            parts.append(f"\\x{b:02x}")
    left = r"\b" if raw[:1] and raw[0] in _WORD else ""
    right = r"\b" if raw[-1:] and raw[-1] in _WORD else ""
    return (left + "".join(parts) + right).encode("ascii")


class Re2Engine:
    """Compiled RE2 objects of one policy (immutable, shared by all streams and threads)."""

    def __init__(
        self,
        expressions: list[bytes],
        ids: list[int],
        caseless: list[bool],
        literals: dict[bytes, int],
        max_span: int,
    ) -> None:
        opts = _options()
        self.k = max_span
        self.expr_ids = frozenset(ids)
        self.set = re2.Set.SearchSet(opts)
        # Set index -> (expression id or -1 for the keyword alternation, compiled regex)
        self.members: list[tuple[int, re2._Regexp]] = []
        for pattern, eid, ci in zip(expressions, ids, caseless, strict=True):
            body = to_re2_pattern(pattern)
            if ci:
                body = b"(?i:" + body + b")"
            self.set.Add(body)
            self.members.append((eid, re2.compile(body, opts)))
        # keyword literal id -> its raw bytes, grouped by lowercase bytes for prefix lookup
        self.kw_by_lower: dict[bytes, list[tuple[int, bool]]] = {}
        self.kw_lengths: list[int] = []
        if literals:
            raws: list[bytes] = []
            for lit, lid in literals.items():
                raw = _unescape_literal(lit)
                raws.append(raw)
                right_word = raw[-1] in _WORD
                self.kw_by_lower.setdefault(raw.lower(), []).append((lid, right_word))
            self.kw_lengths = sorted({len(r) for r in raws})
            alternation = b"|".join(sorted({_keyword_regex(r) for r in raws}))
            self.set.Add(alternation)
            self.members.append((-1, re2.compile(alternation, opts)))
        self.set.Compile()

    def finder(self, events: list[tuple[int, int, int]]) -> Re2Finder:
        return Re2Finder(self, events)


def _unescape_literal(lit: bytes) -> bytes:
    """The raw keyword bytes back from matcher._literal_pattern (``\\b`` + re.escape)."""
    body = lit
    if body.startswith(rb"\b"):
        body = body[2:]
    if body.endswith(rb"\b") and not body.endswith(rb"\\b"):
        body = body[:-2]
    return re.sub(rb"\\(.)", rb"\1", body, flags=re.DOTALL)


class Re2Finder:
    """One stream's chunk+overlap driver (see the module docstring)."""

    exact_start = True

    def __init__(self, engine: Re2Engine, events: list[tuple[int, int, int]]) -> None:
        self._e = engine
        self._events = events
        self._buf = bytearray()
        self._base = 0  # absolute offset of _buf[0]
        self._own = 0  # absolute: events with a start below this were delivered
        self._maxend: dict[int, int] = {}  # expression id -> furthest end delivered
        self.lag = engine.k + BATCH + DEFER_CAP + OVERLAP_LEFT

    @property
    def frontier(self) -> int:
        return self._own

    def feed(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) - (self._own - self._base) >= self._e.k + BATCH:
            self._run(final=False)

    def close(self) -> None:
        self._run(final=True)
        self._buf.clear()

    def abort(self) -> None:
        self._buf.clear()

    def _run(self, final: bool) -> None:
        eng = self._e
        buf = self._view()
        n = len(buf)
        base = self._base
        lo = self._own - base
        stop = n if final else n - eng.k
        if stop <= lo:
            return
        found: list[tuple[int, int, int]] = []
        stop = self._scan(buf, lo, stop, final, found)
        kept = [(eid, s, e) for eid, s, e in found if s < stop]
        kept.sort(key=lambda ev: (ev[2], ev[0]))
        for eid, s, e in kept:
            if eid in eng.expr_ids and e + base > self._maxend.get(eid, -1):
                self._maxend[eid] = e + base
            self._events.append((eid, s + base, e + base))
        self._own = base + stop
        if not final:
            cut = max(0, stop - OVERLAP_LEFT)
            del self._buf[:cut]
            self._base = base + cut

    def _view(self) -> bytes:
        return bytes(self._buf)

    def _scan(
        self, buf: bytes, lo: int, stop: int, final: bool, found: list[tuple[int, int, int]]
    ) -> int:
        """Events of every expression starting in ``[lo, stop)`` into ``found``; returns the
        new ``stop`` (lowered to the start of a match that may still grow)."""
        eng = self._e
        hits = eng.set.Match(buf) if buf else None  # None, not [], when nothing matches
        for idx in sorted(hits or ()):
            eid, rx = eng.members[idx]
            if eid < 0:
                stop = self._keywords(rx, buf, lo, stop, final, found)
            else:
                stop = self._regex(eid, rx, buf, lo, stop, final, found)
        return stop

    def _regex(
        self,
        eid: int,
        rx: re2._Regexp,
        buf: bytes,
        lo: int,
        stop: int,
        final: bool,
        found: list[tuple[int, int, int]],
    ) -> int:
        n = len(buf)
        furthest = self._maxend.get(eid, -1) - self._base
        pos = lo
        while pos < stop:
            m = rx.search(buf, pos, n)
            if m is None:
                break
            s, e = m.span()
            if s >= stop:
                break
            if e == n and not final and n - s <= DEFER_CAP:
                return s  # may still grow: rescan from its start with more data
            if e > furthest:  # Hyperscan reports a start only if it is leftmost for some end
                found.append((eid, s, e))
                furthest = e
            pos = s + 1
        return stop

    def _keywords(
        self,
        rx: re2._Regexp,
        buf: bytes,
        lo: int,
        stop: int,
        final: bool,
        found: list[tuple[int, int, int]],
    ) -> int:
        eng = self._e
        n = len(buf)
        pos = lo
        while pos < stop:
            m = rx.search(buf, pos, n)
            if m is None:
                break
            s, e = m.span()
            if s >= stop:
                break
            if e == n and not final:
                return s
            text = buf[s:e].lower()
            for length in eng.kw_lengths:
                if length > e - s:
                    break
                cands = eng.kw_by_lower.get(text[:length])
                if not cands:
                    continue
                end = s + length
                boundary = end >= n or buf[end] not in _WORD
                for lid, right_word in cands:
                    if not right_word or boundary:
                        found.append((lid, s, end))
            pos = s + 1
        return stop


class Re2UnionEngine:
    """A few expressions scanned by RE2 beside the Hyperscan stream.

    Hyperscan runs a pattern led by a wide class with no literal factor (bare digit or letter
    runs with separators: card numbers, IBANs, national identifiers) as an automaton that is
    active on nearly every byte, one per pattern; RE2 runs all of them as one lazily built
    DFA, which costs about a third as much. One search of the union finds the next position
    where any of them starts; each expression is then matched anchored at that position
    only, which yields the same events as searching each expression on its own.
    """

    def __init__(self, expressions: list[bytes], ids: list[int], max_width: int) -> None:
        opts = _options()
        bodies = [to_re2_pattern(p) for p in expressions]
        self.union = re2.compile(b"|".join(b"(?:" + b + b")" for b in bodies), opts)
        self.members = [(eid, re2.compile(b, opts)) for b, eid in zip(bodies, ids, strict=True)]
        self.k = max_width + 1  # a start below len - k has all of its match and next byte
        self.expr_ids = frozenset(ids)
        # which expressions match at a position, in one call: on the next k bytes alone, so a
        # leading \b may pass without its left byte (a superset); each is then matched in place
        self.at = re2.Set.MatchSet(opts)
        for b in bodies:
            self.at.Add(b)
        self.at.Compile()

    def finder(self, events: list[tuple[int, int, int]]) -> Re2UnionFinder:
        return Re2UnionFinder(self, events)


class Re2UnionFinder(Re2Finder):
    """The chunk+overlap driver of :class:`Re2Finder` over a :class:`Re2UnionEngine`.

    Its expressions are short, so it scans as soon as ``UNION_BATCH`` new bytes are buffered
    (the stream's history, sized by ``lag``, stays small) and reads its buffer in place."""

    def __init__(self, engine: Re2UnionEngine, events: list[tuple[int, int, int]]) -> None:
        super().__init__(engine, events)  # type: ignore[arg-type]  # duck-typed engine
        self._u = engine
        # unscanned bytes: < k + UNION_BATCH before a scan, then < 2k (k kept, k deferred)
        self.lag = 2 * engine.k + UNION_BATCH + OVERLAP_LEFT

    def feed(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) - (self._own - self._base) >= self._u.k + UNION_BATCH:
            self._run(final=False)

    def _view(self) -> bytes:
        return self._buf  # type: ignore[return-value]  # RE2 reads the bytearray in place

    def _scan(
        self, buf: bytes, lo: int, stop: int, final: bool, found: list[tuple[int, int, int]]
    ) -> int:
        n = len(buf)
        base = self._base
        furthest = {eid: self._maxend.get(eid, -1) - base for eid in self._u.expr_ids}
        search = self._u.union.search
        members = self._u.members
        at = self._u.at.Match
        k = self._u.k
        pos = lo
        while pos < stop:
            m = search(buf, pos, n)
            if m is None:
                break
            s = m.start()
            if s >= stop:
                break
            which = at(buf[s : s + k]) or ()
            for i in sorted(which):
                eid, rx = members[i]
                if len(which) == 1:  # the union's leftmost-longest match is this one's
                    e = m.end()
                else:
                    mm = rx.match(buf, s, n)
                    if mm is None:
                        continue
                    e = mm.end()
                if e == n and not final and n - s <= DEFER_CAP:
                    return s  # may still grow: rescan from its start with more data
                if e > furthest[eid]:  # leftmost start for some end, as Hyperscan reports
                    found.append((eid, s, e))
                    furthest[eid] = e
            pos = s + 1
        return stop
