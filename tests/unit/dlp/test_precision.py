"""Precision rules of single entries: each with the values it keeps and the look-alikes it
drops, on both engines and through the full predefined policy."""

from __future__ import annotations

import pytest

from detectors.dlp.checks import uuid_key_ok
from detectors.dlp.matcher import Policy, compile_policy
from detectors.dlp.profiles import PREDEFINED

POLICIES = {engine: compile_policy(PREDEFINED.values(), engine) for engine in ("hyperscan", "re2")}


def _found(policy: Policy, text: str, entry_id: str) -> list[str]:
    data = text.encode()
    stream = policy.open_stream(record_spans=True)
    stream.feed(data)
    stream.close()
    assert stream.spans is not None
    return [data[s:e].decode() for eid, s, e in stream.spans if eid == entry_id]


# -- UUID-shaped secrets: the standard variant ------------------------------------------------

V4 = "3f2c8a4e-9b1d-4c6a-a2e5-7d9f0b3c6e81"


def test_uuid_key_keeps_every_standard_variant_digit() -> None:
    for digit in "89ab":
        assert uuid_key_ok(V4[:19] + digit + V4[20:])
        assert uuid_key_ok((V4[:19] + digit + V4[20:]).upper())


@pytest.mark.parametrize("digit", "01234567cdef")
def test_uuid_key_drops_a_uuid_shape_outside_the_standard_variant(digit: str) -> None:
    assert not uuid_key_ok(V4[:19] + digit + V4[20:])


@pytest.mark.parametrize("engine", sorted(POLICIES))
@pytest.mark.parametrize(
    ("entry_id", "line"),
    [
        ("heroku_api_key_legacy", "HEROKU_API_KEY={v}"),
        ("scaleway_secret_key", "SCW_SECRET_KEY={v}"),
        ("opsgenie_api_key", "Authorization: GenieKey {v}"),
        ("postmark_server_token", "X-Postmark-Server-Token: {v}"),
    ],
)
def test_labelled_uuid_keys_and_their_random_hex_neighbours(
    engine: str, entry_id: str, line: str
) -> None:
    """The labelled key counts; a random-hex id shaped like a UUID (variant digit 3) on the
    next line, inside the keyword's window, does not."""
    neighbour = "b81d31bb-5ab8-2b2a-3ef4-ddc845031904"
    text = line.format(v=V4) + f'\n{{"id": "{neighbour}"}}\n'
    assert _found(POLICIES[engine], text, entry_id) == [V4]


# -- card verification codes: not part of a date or a grouped number ---------------------------


@pytest.mark.parametrize("engine", sorted(POLICIES))
@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Card exp 04/29, CVV: 632\n", ["632"]),
        ("CVV: 123.", ["123"]),
        ("cvc=4321, thanks", ["4321"]),
        ("CVV:987", ["987"]),
        ("security code (741)", ["741"]),
        ("cvv 852", ["852"]),
    ],
)
def test_cvv_in_its_usual_spellings(engine: str, text: str, codes: list[str]) -> None:
    assert _found(POLICIES[engine], text, "card_cvv") == codes


@pytest.mark.parametrize("engine", sorted(POLICIES))
@pytest.mark.parametrize(
    ("text", "codes"),
    [
        # a log line's year right after the code: the year is not a second code
        ("CVV: 632\n\n2026-11-26T12:40:41Z INFO", ["632"]),
        ("CVV 4111-1111-1111-1111", []),
        ("cvv (12/2029)", []),
        ("CVV: 555-0199", []),
        ("cvv 123abc", []),
        ("cvv abc123", []),
    ],
)
def test_cvv_is_not_part_of_a_date_or_a_grouped_number(
    engine: str, text: str, codes: list[str]
) -> None:
    assert _found(POLICIES[engine], text, "card_cvv") == codes


# -- context keywords: a blank line ends a keyword's context -----------------------------------


@pytest.mark.parametrize("engine", sorted(POLICIES))
@pytest.mark.parametrize(
    ("entry_id", "text", "values"),
    [
        ("us_passport", "Passport No: 561234987\n", ["561234987"]),
        ("us_passport", "Passport No:\n561234987\n", ["561234987"]),  # the next line
        ("us_bank_account", "account number,amount\n934667894455,12.00\n", ["934667894455"]),
        ("us_drivers_license", "X4818789 (driver's license)\n", ["X4818789"]),
        ("pt_nif", "NIF:\r\n274308525\r\n", ["274308525"]),
    ],
)
def test_a_keyword_vouches_for_values_in_its_paragraph(
    engine: str, entry_id: str, text: str, values: list[str]
) -> None:
    assert _found(POLICIES[engine], text, entry_id) == values


@pytest.mark.parametrize("engine", sorted(POLICIES))
@pytest.mark.parametrize(
    ("entry_id", "text", "values"),
    [
        # CSV rows of ids after a blank line, below and above a labelled value
        ("us_passport", "Passport No: 561234987\n\n420045698,region,55946.95\n", ["561234987"]),
        (
            "uk_passport",
            "486450912,draft,63424.81\n\nUK passport number: 504561212\n",
            ["504561212"],
        ),
        (
            "us_bank_account",
            "Bank account number: 934667894455\n\n178321223,review\n",
            ["934667894455"],
        ),
        ("us_drivers_license", "Driver's license: X4818789\n\n778058187,north\n", ["X4818789"]),
        ("pt_nif", "NIF: 274308525\r\n\r\n804638225,report\r\n", ["274308525"]),
        ("us_passport", "passport\n\n561234987\n", []),
    ],
)
def test_a_blank_line_ends_a_keywords_context(
    engine: str, entry_id: str, text: str, values: list[str]
) -> None:
    assert _found(POLICIES[engine], text, entry_id) == values


@pytest.mark.parametrize("engine", sorted(POLICIES))
def test_a_blank_line_ends_the_context_of_a_token_with_consumed_edges(engine: str) -> None:
    """The blank line's first or last newline is the token's consumed terminator or leading
    byte: still a blank line between the keyword and the token."""
    token = "-x7Q" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7d"  # 44 bytes, led by "-"
    assert len(token) == 44
    policy = POLICIES[engine]
    assert _found(policy, f"ibm\n{token}\n", "ibm_cloud_api_key") == [token]
    assert _found(policy, f"ibm\n\n{token}\n", "ibm_cloud_api_key") == []
    assert _found(policy, f"{token}\n\nibm\n", "ibm_cloud_api_key") == []
