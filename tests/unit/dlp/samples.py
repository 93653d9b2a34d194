"""Generators of true samples and near misses for every predefined DLP entry.

Check digits are computed here independently of detectors.dlp.validators (and a few widely
published valid examples are used as-is), so a validator bug shows up as a failing test.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from collections.abc import Callable

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"


class Gen:
    """Seeded generator of random tokens and checksum-valid numbers."""

    def __init__(self, seed: int = 7) -> None:
        self.r = random.Random(seed)

    def tok(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(string.digits) for _ in range(n))

    @staticmethod
    def luhn_digit(partial: str) -> str:
        total = 0
        for i, ch in enumerate(reversed(partial)):
            d = int(ch)
            if i % 2 == 0:  # these positions are doubled once the check digit is appended
                d = d * 2 - 9 if d * 2 > 9 else d * 2
            total += d
        return str((10 - total % 10) % 10)

    def card(self, prefix: str, length: int) -> str:
        body = prefix + self.digits(length - len(prefix) - 1)
        return body + self.luhn_digit(body)

    def iban_de(self) -> str:
        bban = "37040044" + self.digits(10)
        num = int("".join(str(int(c, 36)) for c in bban + "DE00"))
        check = 98 - num % 97
        raw = f"DE{check:02d}{bban}"
        return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))

    def jwt(self) -> str:
        def enc(obj: object) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        header = enc({"alg": "HS256", "typ": "JWT"})
        payload = enc({"sub": self.digits(8), "name": "Ada", "iat": 1_700_000_000})
        return f"{header}.{payload}.{self.tok(43, B64URL)}"


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def crc_token(g: Gen, prefix: str) -> str:
    """GitHub/npm token: prefix, 30 random base62 chars, CRC32 of them in 6 base62 chars."""
    body = g.tok(30)
    n, check = zlib.crc32(body.encode()), ""
    while n:
        n, d = divmod(n, 62)
        check = _B62[d] + check
    return prefix + body + check.rjust(6, "0")


def pypi_token(g: Gen) -> str:
    """A PyPI API token: ``pypi-`` + base64url of a v2 macaroon for pypi.org."""
    ident = json.dumps({"version": 1, "permissions": "user"}).encode()
    raw = b"\x02\x01\x08pypi.org\x02" + bytes([len(ident)]) + ident
    raw += b"\x00\x00\x06\x20" + bytes(g.r.getrandbits(8) for _ in range(32))
    return "pypi-" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def group(s: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    out, i = [], 0
    for n in sizes:
        out.append(s[i : i + n])
        i += n
    return sep.join(out)


Samples = dict[str, tuple[str, str, str]]


def _adder(s: Samples) -> Callable[[str, str, str, str], None]:
    def add(eid: str, template: str, value: str, miss: str) -> None:
        s[eid] = (template.format(v=value), value, miss)

    return add


def entry_samples(g: Gen) -> dict[str, tuple[str, str, str]]:
    """entry id -> (text with a true sample, the raw value, text with near misses only)."""
    s: dict[str, tuple[str, str, str]] = {}
    for section in (
        _credential_samples,
        _token_samples,
        _financial_samples,
        _national_id_samples,
        _pii_samples,
    ):
        section(g, s)
    # every other catalogue entry: its first generated positive and all its negatives
    from tests.unit.dlp.corpus import NEGATIVE_SPACER, Rand, catalog_cases

    for eid, cases in catalog_cases(Rand(g.r.getrandbits(32))).items():
        if eid not in s:
            text, value = cases.positives[0]
            s[eid] = (text, value, NEGATIVE_SPACER.join(cases.negatives))
    return s


def _credential_samples(g: Gen, s: Samples) -> None:
    """Credentials: keys and tokens beside their placeholder look-alikes."""
    add = _adder(s)
    add(
        "openai_api_key",
        "OPENAI_API_KEY={v}\n",
        "sk-proj-" + g.tok(74, B64URL) + "T3BlbkFJ" + g.tok(74, B64URL),
        "OPENAI_API_KEY=sk-proj-your-api-key-here-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    )
    add(
        "aws_access_key_id",
        "aws_access_key_id = {v}\n",
        "AKIA" + g.tok(16, string.ascii_uppercase + string.digits),
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
    )
    add(
        "aws_secret_access_key",
        'aws_secret_access_key = "{v}"\n',
        g.tok(40, B64),
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
        f"unlabelled {g.tok(40, B64)} blob\n",
    )
    add(
        "gcp_api_key",
        'key: "{v}"\n',
        "AIza" + g.tok(35, B64URL),
        'key: "AIzaxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\n',
    )
    add(
        "gcp_service_account_key",
        '{{"type": "service_account", "private_key_id": "{v}"}}\n',
        g.tok(40, HEX),
        '{"type": "service_account", "private_key_id": "' + "0" * 40 + '"}\n',
    )
    add(
        "google_oauth_token",
        "Authorization: Bearer {v}\n",
        "ya29." + g.tok(60, B64URL),
        "Authorization: Bearer ya29.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    )
    add(
        "azure_client_secret",
        "AZURE_CLIENT_SECRET={v}\n",
        g.tok(3) + "8Q~" + g.tok(34, ALNUM + "_~.-"),
        f"AZURE_CLIENT_SECRET={g.tok(3)}8Q~{g.tok(12)}\nAZURE_CLIENT_SECRET={g.tok(3)}Q~{g.tok(34)}\n",
    )
    add(
        "azure_storage_account_key",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={v};\n",
        g.tok(86, B64) + "==",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + "A" * 86 + "==;\n",
    )
    add(
        "github_pat_classic",
        "token: {v}\n",
        crc_token(g, "ghp_"),
        "token: ghp_" + "x" * 36 + "\n",
    )
    add(
        "github_pat_fine_grained",
        "GH_TOKEN={v}\n",
        "github_pat_" + g.tok(22) + "_" + g.tok(59),
        "GH_TOKEN=github_pat_" + "X" * 82 + "\n",
    )
    add("github_oauth_token", "oauth {v}\n", crc_token(g, "gho_"), "oauth gho_" + "0" * 36 + "\n")
    add("github_app_token", "app {v}\n", crc_token(g, "ghs_"), "app ghs_" + "x" * 36 + "\n")


def _token_samples(g: Gen, s: Samples) -> None:
    """Service tokens (chat, payment, messaging and the like) beside their look-alikes."""
    add = _adder(s)
    add(
        "gitlab_pat",
        "PRIVATE-TOKEN: {v}\n",
        "glpat-" + g.tok(20, B64URL),
        "PRIVATE-TOKEN: glpat-xxxxxxxxxxxxxxxxxxxx\n",
    )
    add(
        "slack_token",
        "SLACK_BOT_TOKEN={v}\n",
        f"xoxb-{g.digits(12)}-{g.digits(13)}-{g.tok(24)}",
        "SLACK_BOT_TOKEN=xoxb-your-token-here-xxxxxxxxx\n",
    )
    add(
        "slack_webhook",
        "webhook: {v}\n",
        "https://hooks.slack.com/services/T"
        + g.tok(10, string.ascii_uppercase + string.digits)
        + "/B"
        + g.tok(10, string.ascii_uppercase + string.digits)
        + "/"
        + g.tok(24),
        "webhook: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
    )
    add(
        "discord_webhook",
        "hook={v}\n",
        f"https://discord.com/api/webhooks/{g.digits(18)}/{g.tok(68, B64URL)}",
        "hook=https://discord.com/api/webhooks/000000000000000000/" + "x" * 68 + "\n",
    )
    add(
        "stripe_secret_key",
        "stripe.api_key = '{v}'\n",
        "sk_live_" + g.tok(24),
        "stripe.api_key = 'sk_live_" + "x" * 24 + "'\nstripe_live = 'sk_live_" + g.tok(12) + "'\n",
    )
    add(
        "stripe_restricted_key",
        "STRIPE_RK={v}\n",
        "rk_live_" + g.tok(30),
        "STRIPE_RK=rk_live_" + "0" * 30 + "\n",
    )
    add(
        "private_key",
        "{v}\n" + g.tok(64, B64) + "\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + g.tok(58, B64),
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "x" * 64 + "\n",
    )
    add(
        "jwt",
        "Authorization: Bearer {v}\n",
        g.jwt(),
        "token eyJub3RhbGciOiJ4In0.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz\n",
    )
    add(
        "npm_token",
        "//registry.npmjs.org/:_authToken={v}\n",
        crc_token(g, "npm_"),
        "npm_" + "x" * 36,
    )
    add(
        "pypi_token",
        "password = {v}\n",
        pypi_token(g),
        "password = pypi-AgEIcHlwaS5vcmcxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    )
    add(
        "sendgrid_api_key",
        "SENDGRID_API_KEY={v}\n",
        f"SG.{g.tok(22, B64URL)}.{g.tok(43, B64URL)}",
        "SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    )
    add("twilio_api_key", "TWILIO_API_KEY={v}\n", "SK" + g.tok(32, HEX), "SK" + "0" * 32 + "\n")
    add(
        "anthropic_api_key",
        "ANTHROPIC_API_KEY={v}\n",
        "sk-ant-api03-" + g.tok(93, B64URL),
        "ANTHROPIC_API_KEY=sk-ant-api03-" + "x" * 93 + "\n",
    )
    add(
        "huggingface_token",
        "HF_TOKEN={v}\n",
        "hf_" + g.tok(34, string.ascii_letters),
        "HF_TOKEN=hf_" + "x" * 34 + "\n",
    )


def _financial_samples(g: Gen, s: Samples) -> None:
    """Cards, bank and routing numbers."""
    add = _adder(s)
    # -- financial ------------------------------------------------------------------------
    for eid, prefix, length, sizes in (
        ("card_visa", "4", 16, (4, 4, 4, 4)),
        ("card_mastercard", "53", 16, (4, 4, 4, 4)),
        ("card_amex", "37", 15, (4, 6, 5)),
        ("card_diners", "36", 14, (4, 6, 4)),
        ("card_unionpay", "6212", 16, (4, 4, 4, 4)),
        ("card_discover", "6011", 16, (4, 4, 4, 4)),
        ("card_jcb", "3530", 16, (4, 4, 4, 4)),
    ):
        number = g.card(prefix, length)
        bad = number[:-1] + str((int(number[-1]) + 1) % 10)
        add(
            eid,
            "Card on file: {v} exp 04/29\n",
            group(number, sizes),
            f"Card: {group(bad, sizes)}\n",
        )
    s["card_visa"] = (
        s["card_visa"][0],
        s["card_visa"][1],
        s["card_visa"][2] + "Test card 4111 1111 1111 1111 and 4242424242424242\n",
    )
    iban = g.iban_de()
    bad_iban = iban[:2] + f"{(int(iban[2:4]) + 1) % 100:02d}" + iban[4:]
    add("iban", "Pay to IBAN {v} by Friday\n", iban, f"Pay to IBAN {bad_iban} by Friday\n")
    add(
        "us_aba_routing",
        "Bank routing number: {v}, account 000123456789\n",
        "021000021",
        "Bank routing number: 021000022\n" + "." * 300 + "\nreference 021000021 unlabelled\n",
    )
    add(
        "swift_bic",
        "SWIFT/BIC: {v}\n",
        "DEUTDEFF500",
        "SWIFT code: ABCDXX12\n" + "." * 300 + "\nDEUTDEFF500 unlabelled\n",
    )


def _national_id_samples(g: Gen, s: Samples) -> None:
    """National identifiers."""
    add = _adder(s)
    # -- national identifiers -------------------------------------------------------------
    add(
        "us_ssn",
        "Employee SSN: {v}\n",
        "536-22-7789",
        "SSN: 666-22-7789, 078-05-1120, 536-00-7789, 900-12-3456\n",
    )
    add("us_itin", "ITIN: {v}\n", "912-78-1234", "ITIN: 912-45-1234\n")
    sin = g.card("13", 9)
    bad_sin = sin[:-1] + str((int(sin[-1]) + 1) % 10)
    add("ca_sin", "SIN: {v}\n", group(sin, (3, 3, 3)), f"SIN: {group(bad_sin, (3, 3, 3))}\n")
    add("uk_nino", "NI number: {v}\n", "JG 10 37 59 A", "NI number: GB 10 37 59 A\n")
    add("uk_nhs", "NHS number {v}\n", "943 476 5919", "NHS number 943 476 5918\n")
    add("au_tfn", "TFN: {v}\n", "123 456 782", "TFN: 123 456 781\n")


def _pii_samples(g: Gen, s: Samples) -> None:
    """Contact details."""
    add = _adder(s)
    # -- PII ------------------------------------------------------------------------------
    add(
        "email",
        "Contact: {v}\n",
        "maria.gonzalez@northwind-traders.com",
        "Contact: user@example.com or admin@mail.example.org\n",
    )
    add("us_phone", "Call {v} today\n", "(415) 867-5309", "Call (211) 867-5309 or 415-555-0123\n")
    add("us_passport", "Passport No: {v}\n", "561234987", "Passport No: 111111111\n")
