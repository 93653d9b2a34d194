"""DLP profiles: what to look for. Pure data plus the checks that admit a custom regex.

A :class:`Profile` is a named set of :class:`Entry` objects. An entry is one detection type: a
regex in the portable subset (no lookaround, no backreferences; the same text compiles in
Hyperscan, RE2 and Python ``re``), an optional stage-2 validator (named, see
``validators.VALIDATORS``), optional context keywords that must occur within ``window`` bytes
of the candidate, and a ``min_count`` threshold.

The predefined profiles carry Cloudflare's names so that users can port their policies.
Custom profiles are built with :func:`custom_profile`, which rejects at *add time* any regex the
engine cannot compile, that matches the empty string, or that could run away.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import re._constants as _sre_const  # regex parser internals (3.11+), for add-time checks
import re._parser as _sre_parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

try:  # no Linux aarch64 wheel for hyperscan 0.9.x; the matcher then runs on RE2
    import hyperscan
except ImportError:  # pragma: no cover - exercised on hosts without the wheel
    hyperscan = None  # type: ignore[assignment]

from detectors.dlp.catalog.credentials import CREDENTIAL_ROWS
from detectors.dlp.catalog.identifiers import D9, D10, IDENTIFIER_ROWS
from detectors.dlp.validators import VALIDATORS

__all__ = [
    "BUILTIN_PATTERNS",
    "CREDENTIALS",
    "FINANCIAL",
    "MATCHER_VERSION",
    "MAX_CUSTOM_WIDTH",
    "NATIONAL_IDS",
    "PII",
    "PREDEFINED",
    "Entry",
    "Profile",
    "ProfileError",
    "custom_profile",
    "entry_rows",
    "lead_prefix",
    "predefined_profile",
    "profile_set_version",
]

# Bumped whenever matcher or validator behaviour changes, so cached results are invalidated.
MATCHER_VERSION = "dlp-matcher/3"

# Upper bound on the width of a custom pattern (bytes). Bounded width keeps the stage-2
# re-confirmation window small, which is what makes a backtracking confirm safe.
MAX_CUSTOM_WIDTH = 1024
MAX_PATTERN_LEN = 1024
MAX_KEYWORDS = 200
MAX_CUSTOM_ENTRIES = 25


class ProfileError(ValueError):
    """A profile or one of its entries is invalid; the message says what to change."""


@dataclass(frozen=True)
class Entry:
    """One detection type.

    ``pattern`` is matched on UTF-8 bytes. When ``terminator`` is set, the pattern ends with a
    *consumed* terminator (``(?:[^cls]|$)``) and the matcher trims that byte afterwards; this
    keeps Hyperscan from reporting one event per byte of an open-ended token.
    When ``leader`` is set (a class, like ``terminator``), the pattern starts with a
    *consumed* leading byte (``(?:^|[^cls])``: a byte outside the class or the start of the
    text) and the matcher trims that byte too: the token then starts where the byte before
    is not of its class, which ``\\b`` cannot say for a class holding ``-``.
    ``value_pattern`` (a Python regex with one group) extracts the secret from a span that
    also holds its label (``aws_secret_access_key = ...``); validators and masks see the
    value. ``words`` makes this a word-list entry: each word is a match in itself.
    ``som`` False means Hyperscan does not track the start (expensive for patterns led by a
    wide class, like email); the start is recovered from the history: for a catalogue
    pattern led by a literal, from that literal's leftmost occurrence; when
    ``reverse_pattern`` is given (a regex for the match read backwards, greedy at its far
    end), with one anchored match on the reversed window; else by an end-anchored RE2 search.
    ``severity`` ``"low"`` marks evidence of lesser weight (a test-mode key of a real
    account). ``test_values`` True reports published test/documentation values (network test
    cards, documentation keys), which are skipped otherwise; profiles set it on their entries.
    ``engine_patterns`` (catalogue entries only): patterns whose union is ``pattern``, each
    led by a literal, that the Hyperscan database holds in its place under the same id. A
    pattern led by a small class with no literal keeps an automaton live on every byte; split
    by its leading bytes, each part has a literal Hyperscan looks for first.
    """

    id: str
    name: str
    pattern: str = ""
    validator: str | None = None
    keywords: tuple[str, ...] = ()
    window: int = 0
    min_count: int = 1
    caseless: bool = False
    som: bool = True
    terminator: str | None = None
    value_pattern: str | None = None
    mask: str = "secret"
    mask_prefix: int = 0
    words: tuple[str, ...] = ()
    max_width: int = 4096
    reverse_pattern: str | None = None
    severity: str = ""
    test_values: bool = False
    engine_patterns: tuple[str, ...] = ()
    leader: str | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.name:
            raise ProfileError("an entry needs an id and a name")
        if bool(self.pattern) == bool(self.words):
            raise ProfileError(f"entry {self.id!r}: give either a pattern or a word list")
        if self.validator is not None and self.validator not in VALIDATORS:
            raise ProfileError(f"entry {self.id!r}: unknown validator {self.validator!r}")
        if self.keywords and self.window <= 0:
            raise ProfileError(f"entry {self.id!r}: context keywords need a window > 0")
        if self.min_count < 1:
            raise ProfileError(f"entry {self.id!r}: min_count must be at least 1")
        if self.severity not in ("", "low"):
            raise ProfileError(f"entry {self.id!r}: severity must be empty or 'low'")

    def __hash__(self) -> int:
        # Entries key the matcher's per-file state; hashing all fields on every candidate was
        # measurable, so the hash is computed once (fields are immutable).
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f) for f in self.__dataclass_fields__))
            object.__setattr__(self, "_hash", cached)
        return cached

    def signature(self) -> dict[str, Any]:
        """Everything about this entry that changes what matches (for versioning)."""
        return {
            "id": self.id,
            "name": self.name,
            "pattern": self.pattern,
            "validator": self.validator,
            "keywords": sorted(k.lower() for k in self.keywords),
            "window": self.window,
            "min_count": self.min_count,
            "caseless": self.caseless,
            "som": self.som,
            "terminator": self.terminator,
            "value_pattern": self.value_pattern,
            "mask": self.mask,
            "mask_prefix": self.mask_prefix,
            "words": sorted(w.lower() for w in self.words),
            "max_width": self.max_width,
            "reverse_pattern": self.reverse_pattern,
            "severity": self.severity,
            "test_values": self.test_values,
            "engine_patterns": list(self.engine_patterns),
            "leader": self.leader,
        }


@dataclass(frozen=True)
class Profile:
    """A named set of entries. It matches a file when at least ``min_distinct_entries`` of
    its entries reach their own ``min_count``. ``include_test_values`` makes every entry report
    published test values too (see :func:`with_test_values`)."""

    name: str
    entries: tuple[Entry, ...]
    description: str = ""
    min_distinct_entries: int = 1
    predefined: bool = False
    #: read images by OCR (image files and images inside documents) for tenants using it
    ocr: bool = False
    include_test_values: bool = False
    _ids: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if any(e.test_values != self.include_test_values for e in self.entries):
            flag = self.include_test_values
            entries = tuple(
                e if e.test_values == flag else dataclasses.replace(e, test_values=flag)
                for e in self.entries
            )
            object.__setattr__(self, "entries", entries)
        if not self.name.strip():
            raise ProfileError("a profile needs a name")
        if not self.entries:
            raise ProfileError(f"profile {self.name!r} has no entries")
        ids = [e.id for e in self.entries]
        if len(set(ids)) != len(ids):
            raise ProfileError(f"profile {self.name!r} has duplicate entry ids")
        if not 1 <= self.min_distinct_entries <= len(self.entries):
            raise ProfileError(f"profile {self.name!r}: min_distinct_entries out of range")

    def with_test_values(self, include: bool = True) -> Profile:
        """This profile, reporting (or not) published test values."""
        if include == self.include_test_values:
            return self
        return dataclasses.replace(self, include_test_values=include)

    def signature(self) -> dict[str, Any]:
        sig: dict[str, Any] = {
            "name": self.name,
            "include_test_values": self.include_test_values,
            "min_distinct_entries": self.min_distinct_entries,
            "entries": [e.signature() for e in sorted(self.entries, key=lambda e: e.id)],
        }
        if self.ocr:  # a new verdict is due when OCR is switched on (images were unread)
            sig["ocr"] = True
        return sig


#: Versions already computed in this process, by profile tuple (profiles are immutable).
_VERSIONS: dict[tuple[Profile, ...], str] = {}
_VERSIONS_MAX = 64


def profile_set_version(profiles: Iterable[Profile]) -> str:
    """Stable hash of everything that changes matching: patterns, validators, keywords,
    thresholds, the matcher version and the Hyperscan version. Order-independent.

    Used as a cache key: a file whose bytes and profile-set version are unchanged need not be
    matched again. Remembered per profile tuple: hashing the full set costs milliseconds, and
    every DLP batch asks for it more than once.
    """
    plist = tuple(profiles)
    known = _VERSIONS.get(plist)
    if known is None:
        known = _profile_set_version(plist)
        if len(_VERSIONS) >= _VERSIONS_MAX:
            _VERSIONS.clear()
        _VERSIONS[plist] = known
    return known


def _profile_set_version(profiles: tuple[Profile, ...]) -> str:
    doc = {
        "matcher": MATCHER_VERSION,
        "engine": f"hyperscan-{getattr(hyperscan, '__version__', '?')}",
        "profiles": sorted(
            (p.signature() for p in profiles), key=lambda s: json.dumps(s, sort_keys=True)
        ),
    }
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return "v1-" + hashlib.sha256(blob).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# Predefined entries
# --------------------------------------------------------------------------------------------


def _terminated(regex: str, cls: str) -> str:
    """Open-ended token followed by a consumed terminator: Hyperscan reports every end of a
    greedy repeat, so an unterminated token would raise one event per extra character
    (docs/dlp.md). ``cls`` is the body's character class; a class written ``^...`` is a
    negated body class, whose terminator is then one of the listed characters."""
    if cls.startswith("^"):
        return f"{regex}(?:[{cls[1:]}]|$)"
    return f"{regex}(?:[^{cls}]|$)"


def lead_prefix(lead: str) -> str:
    """A consumed leading byte: one outside the class ``lead``, or the start of the text. The
    mirror of :func:`_terminated`'s terminator, for tokens whose first byte may be ``-``
    (no ``\\b`` before it); ``Entry.leader`` is ``lead``."""
    return f"(?:^|[^{lead}])"


_ROW_OPTIONS = ("keywords", "window", "mask", "mask_prefix", "severity", "caseless", "som")


# Credential tokens are compiled without start-of-match tracking: their events are rare, and
# the start is recovered from the token's literal prefix in the history (or a bounded search),
# which is much cheaper than SOM across two hundred expressions (docs/dlp.md, "Breadth and
# speed").
def _max_width(pattern: str) -> int:
    return int(_sre_parse.parse(pattern, 0).getwidth()[1])


def _entry_from_row(row: Mapping[str, Any], token: bool = False) -> Entry:
    """An :class:`Entry` from a catalogue row (``catalog/credentials.py``,
    ``catalog/identifiers.py``). ``token``: a credential row (compiled without SOM)."""
    cls = row.get("cls", "")
    lead = row.get("lead")

    def terminated(regex: str) -> str:
        # ``ends``: the regex already ends in its own terminator (``credentials._capped``)
        if lead:
            regex = lead_prefix(lead) + regex
        return _terminated(regex, cls) if cls and not row.get("ends") else regex

    pattern = terminated(row["regex"])
    opts = {k: row[k] for k in _ROW_OPTIONS if k in row}
    if token and "som" not in opts and not opts.get("keywords"):
        opts["som"] = False
        opts["max_width"] = min(_max_width(pattern), 4096)
    return Entry(
        row["id"],
        row["name"],
        pattern,
        validator=row["validator"],
        terminator=cls or None,
        value_pattern=row.get("value"),
        engine_patterns=tuple(terminated(part) for part in row.get("engine", ())),
        leader=lead,
        **opts,
    )


# Shared candidate shapes: entries with the same pattern share one engine expression (the
# nine- and ten-digit shapes are the catalog's own strings, so catalog rows share them too).
CARD_PATTERN = r"\b[2-6][0-9](?:[ -]?[0-9]){11,17}\b"
SSN_PATTERN = r"\b[0-9]{3}[- .][0-9]{2}[- .][0-9]{4}\b"
NINE_DIGIT_PATTERN = D9
ABA_PATTERN = r"\b(?:[0-9]{9}|[0-9]{4}[- ][0-9]{4}[- ][0-9])\b"
TEN_DIGIT_PATTERN = D10
IBAN_PATTERN = r"\b[A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?\b"
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,4}[A-Za-z]{2,24}\b"
EMAIL_REVERSED = (
    r"[A-Za-z]{2,24}\.(?:[A-Za-z0-9-]{1,63}\.){0,3}[A-Za-z0-9-]{1,63}@[A-Za-z0-9._%+-]{1,64}"
)
PHONE_PATTERN = (
    r"(?:\+1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|\b[2-9][0-9]{2}[.-])[2-9][0-9]{2}[.-][0-9]{4}\b"
)
E164_PATTERN = r"\+[1-9][0-9]{7,14}\b"

_CREDENTIAL_ENTRIES: tuple[Entry, ...] = tuple(
    _entry_from_row(r, token=True) for r in CREDENTIAL_ROWS
)
_IDENTIFIER_ENTRIES: dict[str, tuple[Entry, ...]] = {
    key: tuple(_entry_from_row(r) for r in IDENTIFIER_ROWS if key in r["profiles"]) for key in "FNP"
}

_CARD_ENTRIES: tuple[Entry, ...] = tuple(
    Entry(
        f"card_{brand}",
        f"{label} Card Number",
        CARD_PATTERN,
        validator=f"card_{brand}",
        mask="card",
    )
    for brand, label in (
        ("visa", "Visa"),
        ("mastercard", "Mastercard"),
        ("amex", "American Express"),
        ("diners", "Diners Club"),
        ("unionpay", "Union Pay"),
        ("discover", "Discover"),
        ("jcb", "JCB"),
    )
)

_FINANCIAL_ENTRIES: tuple[Entry, ...] = (
    *_CARD_ENTRIES,
    Entry("iban", "IBAN", IBAN_PATTERN, validator="iban", mask="iban"),
    Entry(
        "us_aba_routing",
        "United States ABA Routing Number",
        ABA_PATTERN,
        validator="aba_routing",
        keywords=("routing", "aba", "rtn", "routing number", "routing no", "transit number"),
        window=128,
        mask="digits",
    ),
    Entry(
        "swift_bic",
        "SWIFT",
        r"\b[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b",
        validator="swift_bic",
        keywords=("swift", "bic", "swift code", "swift/bic", "bic code"),
        window=64,
        mask="generic",
    ),
    *_IDENTIFIER_ENTRIES["F"],
)

_US_SSN = Entry(
    "us_ssn", "United States SSN Numeric Detection", SSN_PATTERN, validator="us_ssn", mask="digits"
)
_US_ITIN = Entry("us_itin", "US ITIN", SSN_PATTERN, validator="us_itin", mask="digits")

_NATIONAL_ID_ENTRIES: tuple[Entry, ...] = (
    _US_SSN,
    _US_ITIN,
    Entry(
        "ca_sin",
        "Canada Social Insurance Number",
        NINE_DIGIT_PATTERN,
        validator="ca_sin",
        keywords=("sin", "social insurance", "assurance sociale", "nas", "s.i.n."),
        window=128,
        mask="digits",
    ),
    Entry(
        "uk_nino",
        "United Kingdom National Insurance Number",
        r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b",
        validator="uk_nino",
        mask="generic",
        caseless=True,
    ),
    Entry(
        "uk_nhs",
        "UK NHS Number",
        TEN_DIGIT_PATTERN,
        validator="uk_nhs",
        keywords=("nhs", "national health service", "nhs number", "nhs no"),
        window=128,
        mask="digits",
    ),
    Entry(
        "au_tfn",
        "Australia Tax File Number",
        NINE_DIGIT_PATTERN,
        validator="au_tfn",
        keywords=("tfn", "tax file number", "tax file no"),
        window=128,
        mask="digits",
    ),
    *_IDENTIFIER_ENTRIES["N"],
)

_PII_ENTRIES: tuple[Entry, ...] = (
    Entry(
        "email",
        "Email Address",
        EMAIL_PATTERN,
        validator="email",
        som=False,
        mask="email",
        max_width=64 + 1 + 4 * 64 + 24,
        reverse_pattern=EMAIL_REVERSED,
    ),
    Entry("us_phone", "US Phone Number", PHONE_PATTERN, validator="us_phone", mask="digits"),
    Entry(
        "intl_phone",
        "International Phone Number (E.164)",
        E164_PATTERN,
        validator="e164_phone",
        mask="digits",
    ),
    _US_SSN,
    _US_ITIN,
    Entry(
        "us_passport",
        "US Passport Number",
        r"\b[A-Z0-9][0-9]{8}\b",
        validator="us_passport",
        keywords=("passport", "passport no", "passport number"),
        window=64,
        mask="digits",
    ),
    *_IDENTIFIER_ENTRIES["P"],
    *_CARD_ENTRIES,
)

CREDENTIALS = Profile(
    "Credentials and Secrets",
    _CREDENTIAL_ENTRIES,
    "Cloud, SaaS and AI API keys and tokens, webhooks and private key blocks.",
    predefined=True,
)
FINANCIAL = Profile(
    "Financial Information",
    _FINANCIAL_ENTRIES,
    "Payment card numbers (Luhn + IIN), IBAN (mod-97), US ABA routing (checksum, in context), "
    "SWIFT/BIC (in context).",
    predefined=True,
)
NATIONAL_IDS = Profile(
    "Social Security, Insurance, Tax, and Identifier Numbers",
    _NATIONAL_ID_ENTRIES,
    "US SSN and ITIN, Canada SIN, UK NINO and NHS number, Australia TFN.",
    predefined=True,
)
PII = Profile(
    "Personally Identifiable Information (PII)",
    _PII_ENTRIES,
    "Contact data and personal identifiers. Matches when at least two distinct kinds occur in "
    "the same file (a lone email address is too common to be a finding).",
    min_distinct_entries=2,
    predefined=True,
)

PREDEFINED: Mapping[str, Profile] = {p.name: p for p in (CREDENTIALS, FINANCIAL, NATIONAL_IDS, PII)}

# The patterns the project wrote (every predefined entry's). The matcher may run these through
# Python ``re`` (keyword-led search, start recovery by literal prefix); any other pattern, such
# as a custom profile's, is matched by the engines and RE2 only, which run in linear time.
BUILTIN_PATTERNS: frozenset[str] = frozenset(
    e.pattern for p in PREDEFINED.values() for e in p.entries if e.pattern
)


def entry_rows(profiles: Iterable[Profile] | None = None) -> list[dict[str, Any]]:
    """One row per (profile, entry): what ``casb dlp profile entries`` and docs/dlp.md list.

    ``context`` is True when the entry only counts with one of its keywords nearby."""
    rows = []
    for profile in PREDEFINED.values() if profiles is None else profiles:
        for e in profile.entries:
            rows.append(
                {
                    "id": e.id,
                    "name": e.name,
                    "profile": profile.name,
                    "validator": e.validator,
                    "context": bool(e.keywords),
                    "severity": e.severity or "normal",
                }
            )
    return rows


def predefined_profile(name: str) -> Profile:
    """The predefined profile with this exact (Cloudflare) name; ProfileError if unknown."""
    try:
        return PREDEFINED[name]
    except KeyError:
        known = ", ".join(repr(n) for n in PREDEFINED)
        raise ProfileError(f"no predefined profile {name!r}; known: {known}") from None


# --------------------------------------------------------------------------------------------
# Custom profiles
# --------------------------------------------------------------------------------------------

_REPEATS = {_sre_const.MAX_REPEAT, _sre_const.MIN_REPEAT}
_POSSESSIVE = getattr(_sre_const, "POSSESSIVE_REPEAT", None)


def _walk_pattern(items: Any, inside_repeat: bool, name: str) -> None:
    """Reject constructs that the engine lacks or that make a confirm step backtrack."""
    for op, av in items:
        if op in (_sre_const.ASSERT, _sre_const.ASSERT_NOT):
            raise ProfileError(f"entry {name!r}: lookahead/lookbehind is not supported")
        if op in (_sre_const.GROUPREF, _sre_const.GROUPREF_EXISTS):
            raise ProfileError(f"entry {name!r}: backreferences and conditionals are not supported")
        if op == getattr(_sre_const, "ATOMIC_GROUP", None) or (
            _POSSESSIVE is not None and op == _POSSESSIVE
        ):
            raise ProfileError(
                f"entry {name!r}: atomic groups and possessive quantifiers are not supported"
            )
        if op in _REPEATS:
            lo, hi, sub = av
            if hi == _sre_const.MAXREPEAT:
                raise ProfileError(
                    f"entry {name!r}: unbounded repeat (+, * or {{n,}}) is not allowed; "
                    "write a bounded repeat such as {1,64}"
                )
            if inside_repeat and lo != hi:
                raise ProfileError(
                    f"entry {name!r}: nested variable quantifiers (like (a{{1,5}}){{1,5}}) can "
                    "backtrack badly; flatten the pattern"
                )
            _walk_pattern(sub, inside_repeat or hi > 1, name)
        elif op == _sre_const.SUBPATTERN:
            _walk_pattern(av[-1], inside_repeat, name)
        elif op == _sre_const.BRANCH:
            for branch in av[1]:
                _walk_pattern(branch, inside_repeat, name)


def _hs_compile_check(pattern: bytes, name: str) -> bool:
    """Compile alone in stream mode. Returns whether SOM tracking is possible."""
    # both engines must accept it, so a profile saved on one host compiles on any other
    _re2_compile_check(pattern, name)
    if hyperscan is None:
        return True
    last: Exception | None = None
    for som in (True, False):
        db = hyperscan.Database(mode=hyperscan.HS_MODE_STREAM | hyperscan.HS_MODE_SOM_HORIZON_LARGE)
        try:
            db.compile(
                expressions=[pattern], ids=[0], flags=[hyperscan.HS_FLAG_SOM_LEFTMOST if som else 0]
            )
            return som
        except hyperscan.error as exc:
            last = exc
            if "too large" not in str(exc).lower():
                break
    raise ProfileError(f"entry {name!r}: the matching engine rejects this regex: {last}")


def _re2_compile_check(pattern: bytes, name: str) -> bool:
    """Where Hyperscan is absent the RE2 engine must accept the pattern instead."""
    import re2

    from detectors.dlp.re2_engine import to_re2_pattern

    opts = re2.Options()
    opts.encoding = re2.Options.Encoding.LATIN1
    opts.log_errors = False
    try:
        re2.compile(to_re2_pattern(pattern), opts)
    except re2.error as exc:
        # RE2 quotes the offending fragment after the colon; say what is wrong, not the text
        reason = str(exc).split(":", 1)[0].strip("b'\" ")
        raise ProfileError(
            f"entry {name!r}: the matching engine rejects this regex ({reason})"
        ) from None
    return True


def _check_regex(name: str, pattern: str) -> bool:
    if not pattern:
        raise ProfileError(f"entry {name!r}: the pattern is empty")
    if len(pattern.encode()) > MAX_PATTERN_LEN:
        raise ProfileError(f"entry {name!r}: pattern longer than {MAX_PATTERN_LEN} bytes")
    if not pattern.isascii():
        raise ProfileError(
            f"entry {name!r}: only ASCII regexes are supported; put non-ASCII words in keywords"
        )
    try:
        parsed = _sre_parse.parse(pattern, 0)
        re.compile(pattern.encode())
    except (re.error, OverflowError, RecursionError) as exc:
        raise ProfileError(f"entry {name!r}: invalid regex: {exc}") from None
    _walk_pattern(parsed, False, name)
    lo, hi = parsed.getwidth()
    if lo == 0:
        raise ProfileError(f"entry {name!r}: the regex can match the empty string")
    if hi > MAX_CUSTOM_WIDTH:
        raise ProfileError(
            f"entry {name!r}: the regex can match up to {hi} bytes; the limit is {MAX_CUSTOM_WIDTH}"
        )
    return _hs_compile_check(pattern.encode(), name)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s[:48] or "entry"


def custom_profile(
    name: str,
    regex_entries: Sequence[Mapping[str, Any]],
    keywords: Sequence[str] = (),
    description: str = "",
    ocr: bool = False,
    include_test_values: bool = False,
) -> Profile:
    """Build and vet a custom profile (``ocr``: read images by OCR for tenants using it).

    ``regex_entries`` items are ``{"name": str, "pattern": str, "min_count": int = 1}``.
    ``keywords`` become one word-list entry (case-insensitive, whole word): each occurrence is
    a match. Raises :class:`ProfileError` with an actionable message for any regex that
    Hyperscan cannot compile, that can match the empty string, uses lookaround or
    backreferences, has an unbounded repeat or nested variable quantifiers, or is wider than
    :data:`MAX_CUSTOM_WIDTH` bytes. The pattern text never appears in the messages.
    """
    name = name.strip()
    if not name or len(name) > 128:
        raise ProfileError("profile name must be 1-128 characters")
    if name in PREDEFINED:
        raise ProfileError(f"{name!r} is a predefined profile name; choose another")
    if len(regex_entries) > MAX_CUSTOM_ENTRIES:
        raise ProfileError(f"at most {MAX_CUSTOM_ENTRIES} regex entries per profile")
    entries: list[Entry] = []
    seen: set[str] = set()
    for item in regex_entries:
        ename = str(item.get("name", "")).strip()
        if not ename:
            raise ProfileError("every regex entry needs a name")
        pattern = item.get("pattern")
        if not isinstance(pattern, str):
            raise ProfileError(f"entry {ename!r}: pattern must be a string")
        min_count = item.get("min_count", 1)
        if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
            raise ProfileError(f"entry {ename!r}: min_count must be a positive integer")
        som = _check_regex(ename, pattern)
        eid = "custom_" + _slug(ename)
        if eid in seen:
            raise ProfileError(f"two entries are named {ename!r}")
        seen.add(eid)
        entries.append(
            Entry(eid, ename, pattern, min_count=min_count, som=som, mask="generic",
                  max_width=MAX_CUSTOM_WIDTH)
        )  # fmt: skip
    words = tuple(dict.fromkeys(k.strip() for k in keywords if k.strip()))
    if len(words) > MAX_KEYWORDS:
        raise ProfileError(f"at most {MAX_KEYWORDS} keywords per profile")
    for w in words:
        if len(w) < 2 or len(w) > 128:
            raise ProfileError("keywords must be 2-128 characters long")
    if words:
        entries.append(Entry("custom_keywords", "Keywords", words=words, mask="generic"))
    if not entries:
        raise ProfileError("a custom profile needs at least one regex entry or keyword")
    return Profile(
        name,
        tuple(entries),
        description,
        ocr=bool(ocr),
        include_test_values=include_test_values,
    )
