"""The streaming DLP matcher: Hyperscan candidates, then validators and context keywords.

Pure: no I/O, no logging of content. Design (measured in reference/dlp-bench.md):

* One Hyperscan STREAM database per profile set holds every regex and every keyword. Chunk
  edges are invisible to the engine, so a match that straddles two chunks is reported once.
* Entries that share a pattern share one engine expression (card brands, SSN/ITIN, ...).
* Start-of-match tracking is per expression; for the few without it (email) the start is
  recovered with a bounded ``re`` search over the history buffer.
* Candidates wait in ``pending`` until the stream has moved ``horizon`` bytes past their
  start (so every end offset and every context keyword after them has been seen), then the
  text is read from a bounded history buffer and confirmed: context window, value extraction,
  validator, and overlap merge per entry.
* Results keep counts and *masked* excerpts only.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import hyperscan

from detectors.dlp.masking import mask_value
from detectors.dlp.profiles import Entry, Profile, profile_set_version
from detectors.dlp.validators import VALIDATORS

__all__ = ["CHUNK_SIZE", "EntryMatch", "FileMatch", "MatchStream", "Policy", "compile_policy"]

CHUNK_SIZE = 64 * 1024
# Longest span (bytes) whose text is kept for stage 2; longer tokens are still counted when
# their first K bytes validate.
MAX_SPAN = 4096
MAX_EXCERPTS = 3
_KW_BASE = 1_000_000


@dataclass(frozen=True)
class EntryMatch:
    """Confirmed matches of one entry of one profile in one file (masked excerpts only)."""

    entry_id: str
    entry_name: str
    profile: str
    count: int
    excerpts: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "entry_name": self.entry_name,
            "profile": self.profile,
            "count": self.count,
            "excerpts": list(self.excerpts),
        }


@dataclass(frozen=True)
class FileMatch:
    """The matcher's verdict on one file.

    ``profiles`` lists the profiles whose thresholds are met; ``entries`` the entries of
    those profiles that reached their ``min_count``. Nothing here holds a raw matched value.
    """

    profiles: tuple[str, ...]
    entries: tuple[EntryMatch, ...]
    bytes_scanned: int
    policy_version: str

    @property
    def matched(self) -> bool:
        return bool(self.profiles)

    def to_evidence(self) -> dict[str, Any]:
        """JSON-ready evidence: profiles, per-entry counts and masked excerpts."""
        return {
            "profiles": list(self.profiles),
            "entries": [e.to_dict() for e in self.entries],
            "match_count": sum(e.count for e in self.entries),
            "bytes_scanned": self.bytes_scanned,
            "policy_version": self.policy_version,
        }


@dataclass
class _Expr:
    """One engine expression and the entries that read its candidates."""

    entries: tuple[Entry, ...]
    som: bool
    term: frozenset[int] = frozenset()
    confirm: re.Pattern[bytes] | None = None
    reverse: re.Pattern[bytes] | None = None
    max_width: int = MAX_SPAN
    # > 0 when every entry needs a context keyword: candidates with no keyword nearby are
    # parked (cheaply) and only promoted if a keyword shows up within this many bytes.
    gate_window: int = 0


@dataclass
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


def _class_bytes(cls: str) -> frozenset[int]:
    rx = re.compile(f"[{cls}]".encode())
    return frozenset(b for b in range(256) if rx.fullmatch(bytes([b])))


class Policy:
    """A compiled profile set. Build with :func:`compile_policy`; thread-safe for scanning
    (each thread gets its own Hyperscan scratch)."""

    def __init__(self, profiles: Sequence[Profile]) -> None:
        if not profiles:
            raise ValueError("a policy needs at least one profile")
        self.profiles: tuple[Profile, ...] = tuple(profiles)
        self.version = profile_set_version(self.profiles)
        self._exprs: dict[int, _Expr] = {}
        self._lit_len: dict[int, int] = {}
        self._word_entries: dict[int, tuple[Entry, ...]] = {}
        self._ctx_ids: dict[Entry, frozenset[int]] = {}
        self._value_re: dict[Entry, re.Pattern[str]] = {}
        self._local = threading.local()
        self._close_lock = threading.Lock()

        entries = list(dict.fromkeys(e for p in self.profiles for e in p.entries))
        groups: dict[tuple[str, bool, bool, str | None], list[Entry]] = {}
        literals: dict[bytes, int] = {}
        word_entries: dict[int, list[Entry]] = {}
        max_window = 0
        for e in entries:
            if e.pattern:
                groups.setdefault((e.pattern, e.caseless, e.som, e.terminator), []).append(e)
            for w in e.words:
                lid = self._literal_id(w, literals)
                word_entries.setdefault(lid, []).append(e)
            if e.keywords:
                self._ctx_ids[e] = frozenset(self._literal_id(k, literals) for k in e.keywords)
                max_window = max(max_window, e.window)
            if e.value_pattern:
                self._value_re[e] = re.compile(e.value_pattern)
        self._word_entries = {k: tuple(v) for k, v in word_entries.items()}

        expressions: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        kw_gates: dict[int, set[int]] = {}
        for i, ((pattern, caseless, som, term), members) in enumerate(groups.items()):
            pb = pattern.encode()
            width = min(max(m.max_width for m in members), MAX_SPAN)
            expr = _Expr(tuple(members), som, max_width=width)
            if term:
                expr.term = _class_bytes(term)
            if not som:
                rflags = re.IGNORECASE if caseless else 0
                expr.confirm = re.compile(b"(?:" + pb + rb")\Z", rflags)
                reverse = {m.reverse_pattern for m in members} - {None}
                if len(reverse) == 1:
                    expr.reverse = re.compile(str(reverse.pop()).encode(), rflags)
            if all(m.keywords for m in members):
                expr.gate_window = max(m.window for m in members)
                for m in members:
                    for kid in self._ctx_ids[m]:
                        kw_gates.setdefault(kid, set()).add(i)
            self._exprs[i] = expr
            expressions.append(pb)
            ids.append(i)
            flags.append(
                (hyperscan.HS_FLAG_SOM_LEFTMOST if som else 0)
                | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
            )
        for lit, lid in literals.items():
            expressions.append(lit)
            ids.append(lid)
            flags.append(hyperscan.HS_FLAG_CASELESS)
        max_kw = max(self._lit_len.values(), default=0)
        self._kw_gates = {k: tuple(sorted(v)) for k, v in kw_gates.items()}
        self._max_kw = max_kw
        # A candidate is final once the stream is this far past its start.
        self.horizon = MAX_SPAN + max_window + max_kw + 1
        self._db = hyperscan.Database(
            mode=hyperscan.HS_MODE_STREAM | hyperscan.HS_MODE_SOM_HORIZON_LARGE
        )
        self._db.compile(expressions=expressions, ids=ids, flags=flags)

    def _literal_id(self, word: str, literals: dict[bytes, int]) -> int:
        lit = _literal_pattern(word)
        if lit not in literals:
            lid = _KW_BASE + len(literals)
            literals[lit] = lid
            self._lit_len[lid] = len(word.encode("utf-8"))
        return literals[lit]

    def _scratch(self) -> hyperscan.Scratch:
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._db)
            self._local.scratch = scratch
        return scratch

    def open_stream(self, record_spans: bool = False) -> MatchStream:
        """Start matching one file; feed it chunks, then ``close()`` for the result.

        ``record_spans`` keeps ``(entry_id, start, end)`` byte offsets of every confirmed
        match in ``MatchStream.spans`` (offsets only, no content; for benchmarks and tests).
        """
        return MatchStream(self, record_spans)

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

    def engine_db(self) -> hyperscan.Database:
        """The raw Hyperscan database (for benchmarks of the engine alone)."""
        return self._db


class MatchStream:
    """Incremental matching of one file. Not thread-safe; one per file."""

    def __init__(self, policy: Policy, record_spans: bool = False) -> None:
        self._p = policy
        self.spans: list[tuple[str, int, int]] | None = [] if record_spans else None
        self._events: list[tuple[int, int, int]] = []
        append = self._events.append

        def on_match(eid: int, frm: int, to: int, _flags: int, _ctx: object) -> None:
            append((eid, frm, to))

        # python-hyperscan 0.9.1 does not keep a reference to the handler: hold it here, or
        # the closure is freed and the next callback crashes the interpreter.
        self._on_match = on_match
        self._scratch = policy._scratch()
        self._stream = policy._db.stream(match_event_handler=on_match)
        self._stream.__enter__()
        self._open = True
        self._pos = 0
        self._hist = bytearray()
        self._base = 0
        self._keep = policy.horizon + MAX_SPAN
        self._pending: dict[tuple[int, int], int] = {}
        # keyword id -> end offsets of its recent hits (ascending): bisect finds the nearest
        self._kw_ends: dict[int, list[int]] = {}
        self._gate_seen: dict[int, int] = {}  # gated expr -> end of its latest keyword hit
        self._parked: dict[int, deque[tuple[int, int]]] = {}
        self._state: dict[Entry, _EntryState] = {}

    # -- public -----------------------------------------------------------------------------

    @property
    def bytes_scanned(self) -> int:
        return self._pos

    def feed(self, data: bytes) -> None:
        """Match the next chunk (any size, including chunks that split a UTF-8 char)."""
        if not self._open:
            raise RuntimeError("stream is closed")
        if not data:
            return
        self._hist += data
        self._stream.scan(data, scratch=self._scratch)
        self._pos += len(data)
        if self._events:
            self._absorb()
        if self._pending:
            self._finalize(self._pos - self._p.horizon)
        if len(self._hist) > 2 * self._keep:
            cut = len(self._hist) - self._keep
            del self._hist[:cut]
            self._base += cut
            limit = self._pos - self._keep
            for ends in self._kw_ends.values():
                if ends and ends[0] < limit:
                    del ends[: bisect_left(ends, limit)]

    def close(self) -> FileMatch:
        """Flush end-of-data matches, confirm what is pending, return the file's result."""
        if self._open:
            self._open = False
            self._close_engine_stream()
            if self._events:
                self._absorb()
            self._finalize(self._pos + 1)
        return self._result()

    def abort(self) -> None:
        """Release the engine stream without a result (the file was skipped)."""
        if self._open:
            self._open = False
            self._close_engine_stream()
            self._events.clear()
            self._pending.clear()
            self._hist.clear()

    # -- internals --------------------------------------------------------------------------

    def _close_engine_stream(self) -> None:
        # Stream.close(scratch=...) has swapped PyArg arguments in python-hyperscan 0.9.1 and
        # corrupts memory, so close always uses the database's own scratch, under a lock.
        with self._p._close_lock:
            self._stream.close()

    def _absorb(self) -> None:
        p = self._p
        exprs = p._exprs
        pending = self._pending
        gate_seen = self._gate_seen
        for eid, frm, to in self._events:
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
                    gate_seen[gid] = to
                    parked = self._parked.get(gid)
                    if parked:
                        reach = start - exprs[gid].gate_window
                        for pstart, pend in parked:
                            if pend > reach and pending.get((gid, pstart), -1) < pend:
                                pending[(gid, pstart)] = pend
                        parked.clear()
                continue
            expr = exprs[eid]
            if not expr.som:
                found = self._recover_start(expr, to)
                if found is None:
                    continue
                frm = found
            if expr.gate_window and gate_seen.get(eid, -1) <= frm - expr.gate_window:
                parked = self._parked.get(eid)
                if parked is None:
                    parked = self._parked[eid] = deque()
                parked.append((frm, to))
                continue
            key = (eid, frm)
            if pending.get(key, -1) < to:
                pending[key] = to
        self._events.clear()
        # Parked candidates that no future keyword can reach are dropped.
        stale_before = self._pos - self._p._max_kw
        for gid, parked in self._parked.items():
            window = exprs[gid].gate_window
            while parked and parked[0][1] + window < stale_before:
                parked.popleft()

    def _recover_start(self, expr: _Expr, end: int) -> int | None:
        assert expr.confirm is not None
        lo = max(self._base, end - expr.max_width)
        window = bytes(self._hist[lo - self._base : end - self._base])
        if expr.reverse is not None:
            # one anchored, greedy attempt on the reversed text: its end is the leftmost start
            r = expr.reverse.match(window[::-1])
            if r is not None:
                return end - r.end()
        m = expr.confirm.search(window)
        return lo + m.start() if m else None

    def _finalize(self, limit: int) -> None:
        ready = sorted(
            (start, eid, end) for (eid, start), end in self._pending.items() if start <= limit
        )
        for start, eid, end in ready:
            del self._pending[(eid, start)]
            self._confirm(eid, start, end)

    def _has_context(self, entry: Entry, start: int, end: int) -> bool:
        lo, hi = start - entry.window, end + entry.window
        lit_len = self._p._lit_len
        for kid in self._p._ctx_ids[entry]:
            ends = self._kw_ends.get(kid)
            if ends:
                # the first hit ending after `lo` has the smallest start of those that do
                i = bisect_right(ends, lo)
                if i < len(ends) and ends[i] - lit_len[kid] < hi:
                    return True
        return False

    def _confirm(self, eid: int, start: int, end: int) -> None:
        if eid >= _KW_BASE:
            entries = self._p._word_entries[eid]
            term: frozenset[int] = frozenset()
        else:
            expr = self._p._exprs[eid]
            entries, term = expr.entries, expr.term
        base = self._base
        s = max(start, base)
        e = min(end, s + MAX_SPAN)
        if term and e > s and self._hist[e - 1 - base] not in term:
            e -= 1
        if e <= s:
            return
        text = self._hist[s - base : e - base].decode("utf-8", "replace")
        for entry in entries:
            st = self._state.get(entry)
            if st is not None and start < st.last_end:
                continue  # overlaps a match already counted for this entry
            if entry.keywords and not self._has_context(entry, start, end):
                continue
            value = text
            vre = self._p._value_re.get(entry)
            if vre is not None:
                m = vre.search(text)
                if m is None:
                    continue
                value = m.group(1)
            if entry.validator is not None:
                try:
                    ok = VALIDATORS[entry.validator](value)
                except Exception:  # a validator bug must not leak the value via a traceback
                    ok = False
                if not ok:
                    continue
            if st is None:
                st = self._state[entry] = _EntryState()
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
        matched_profiles: list[str] = []
        rows: list[EntryMatch] = []
        for profile in self._p.profiles:
            hits = []
            for entry in profile.entries:
                st = self._state.get(entry)
                if st is not None and st.count >= entry.min_count:
                    hits.append(
                        EntryMatch(entry.id, entry.name, profile.name, st.count, tuple(st.excerpts))
                    )
            if len(hits) >= profile.min_distinct_entries:
                matched_profiles.append(profile.name)
                rows.extend(hits)
        return FileMatch(tuple(matched_profiles), tuple(rows), self._pos, self._p.version)


_CACHE: dict[str, Policy] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 32


def compile_policy(profiles: Iterable[Profile]) -> Policy:
    """Compile (or fetch from the in-process cache, keyed by profile-set version) a policy."""
    plist = tuple(profiles)
    version = profile_set_version(plist)
    with _CACHE_LOCK:
        cached = _CACHE.get(version)
        if cached is not None:
            return cached
    policy = Policy(plist)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        return _CACHE.setdefault(version, policy)
