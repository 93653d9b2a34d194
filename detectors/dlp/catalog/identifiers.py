"""The identifier catalogue: national, tax, health and financial identifiers, as data.

Each row is ``ident(id, name, profiles, regex, validator, **options)``; ``profiles`` says
which predefined profiles carry the entry (``F`` Financial Information, ``N`` Social
Security, Insurance, Tax, and Identifier Numbers, ``P`` PII). Check digits are verified by the
named validator (``checks.py``). Identifiers that are bare digit runs (or otherwise look like
any reference number) need a keyword nearby; those entries are keyword-led: the matcher looks
for their shape only around their keywords, so they cost the engine nothing elsewhere.
Identifiers with a distinctive printed layout and a check digit stand alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IDENTIFIER_ROWS", "ident"]


def ident(
    id_: str, name: str, profiles: str, regex: str, validator: str, **opts: Any
) -> dict[str, Any]:
    return {"id": id_, "name": name, "profiles": profiles, "regex": regex,
            "validator": validator, **opts}  # fmt: skip


def _ctx(*words: str, window: int = 64) -> dict[str, Any]:
    return {"keywords": tuple(words), "window": window}


# Word bytes and the separators of dates and grouped numbers.
_NOT_IN_NUMBER = "A-Za-z0-9_/-"

# Shared shapes: entries with the same regex share one search.
D8_17 = r"\b[0-9]{8,17}\b"
D9 = r"\b[0-9]{3}[- ]?[0-9]{3}[- ]?[0-9]{3}\b"
D10 = r"\b[0-9]{3}[- ]?[0-9]{3}[- ]?[0-9]{4}\b"
D11 = r"\b[0-9]{11}\b"
D12 = r"\b[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}\b"
D13 = r"\b[0-9]{13}\b"

IDENTIFIER_ROWS: tuple[dict[str, Any], ...] = (
    # -- financial ----------------------------------------------------------------------------
    ident("us_bank_account", "US Bank Account Number", "F", D8_17, "account_number",
          mask="digits", **_ctx("account number", "account no", "acct", "bank account",
                                "checking account", "savings account", "account #", "dda")),
    ident("mx_clabe", "MX CLABE (Bank)", "F", r"\b[0-9]{18}\b", "mx_clabe", mask="digits",
          **_ctx("clabe", "cuenta", "transferencia", "spei", window=96)),
    # a code is not part of a dashed or slashed number (a date, a card's digit group): the
    # bytes around it are outside the class below, consumed and trimmed (``lead``, ``cls``)
    ident("card_cvv", "Generic CVV Card Number", "F", r"[0-9]{3,4}", "cvv", mask="generic",
          cls=_NOT_IN_NUMBER, lead=_NOT_IN_NUMBER,
          **_ctx("cvv", "cvv2", "cvc", "cvc2", "cid", "security code", "card verification",
                 window=16)),
    ident("bitcoin_address", "Bitcoin Wallet", "F",
          r"\b(?:bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})\b",
          "bitcoin_address", mask="generic",
          **_ctx("bitcoin", "btc", "wallet", "address", "satoshi", "send to", window=128)),
    ident("ethereum_address", "Ethereum Wallet", "F", r"\b0x[0-9a-fA-F]{40}\b",
          "ethereum_address", mask="generic",
          **_ctx("ethereum", "eth", "wallet", "erc20", "erc-20", "metamask", "usdt", "usdc",
                 window=128)),
    # -- United States ------------------------------------------------------------------------
    ident("us_ein", "US Employer Identification Number", "N", r"\b[0-9]{2}-[0-9]{7}\b", "us_ein",
          mask="digits", **_ctx("ein", "employer identification", "fein", "tax id", "tin")),
    ident("us_npi", "US National Provider Identifier", "N", r"\b[12][0-9]{9}\b", "us_npi",
          mask="digits", **_ctx("npi", "national provider", "provider id")),
    ident("us_dea", "US DEA Registration Number", "N", r"\b[A-Za-z][A-Za-z9][0-9]{7}\b", "us_dea",
          mask="generic", **_ctx("dea", "dea number", "dea registration", "dea#")),
    ident("us_drivers_license", "US Driver's License Number", "P",
          r"\b[A-Z]{0,2}[0-9]{6,13}\b", "drivers_license", mask="generic",
          **_ctx("driver's license", "drivers license", "driver license", "driver's licence",
                 "driving licence", "dl#", "dl no", "dl number", "license number", "lic#")),
    # -- Europe ---------------------------------------------------------------------------------
    ident("es_dni", "Spain DNI/NIF", "N", r"\b[0-9]{8}[- ]?[A-Za-z]\b", "es_dni",
          mask="generic", **_ctx("dni", "nif", "documento nacional", "d.n.i.", "identidad")),
    ident("es_nie", "Spain NIE", "N", r"\b[XYZxyz][- ]?[0-9]{7}[- ]?[A-Za-z]\b", "es_nie",
          mask="generic", **_ctx("nie", "extranjero", "n.i.e.", "foreigner")),
    ident("it_codice_fiscale", "Italy Fiscal Code", "N",
          r"\b[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{2}[A-Za-z]"
          r"[0-9LMNP-Vlmnp-v]{3}[A-Za-z]\b", "it_codice_fiscale", mask="generic"),
    ident("de_tax_id", "Germany Tax ID", "N", r"\b[0-9]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{3}\b",
          "de_tax_id", mask="digits",
          **_ctx("steuer-id", "steuerid", "steuer id", "steuerliche identifikationsnummer",
                 "identifikationsnummer", "idnr", "tax id", "steueridentifikationsnummer")),
    ident("fr_nir", "France Social Security Number", "N",
          r"\b[1278][ .]?[0-9]{2}[ .]?[0-9]{2}[ .]?(?:[0-9]{2}|2[ABab])[ .]?[0-9]{3}[ .]?"
          r"[0-9]{3}[ .]?[0-9]{2}\b", "fr_nir", mask="generic",
          **_ctx("sécurité sociale", "securite sociale", "nir", "insee", "numéro de sécu",
                 "social security", "carte vitale", "n° ss", window=96)),
    ident("fr_siren", "France SIREN/SIRET", "N",
          r"\b[0-9]{3} ?[0-9]{3} ?[0-9]{3}(?: ?[0-9]{5})?\b", "fr_siren", mask="digits",
          **_ctx("siren", "siret", "rcs", "n° siret")),
    ident("nl_bsn", "Netherlands BSN", "N", D9, "nl_bsn", mask="digits",
          **_ctx("bsn", "burgerservicenummer", "sofinummer", "citizen service number")),
    ident("be_national_number", "Belgium National Number", "N",
          r"\b[0-9]{2}[. ]?[0-9]{2}[. ]?[0-9]{2}[- ]?[0-9]{3}[. ]?[0-9]{2}\b",
          "be_national_number", mask="digits",
          **_ctx("rijksregisternummer", "numéro national", "national number", "insz", "niss",
                 "registre national")),
    ident("pl_pesel", "Poland National ID (PESEL)", "N", D11, "pl_pesel", mask="digits",
          **_ctx("pesel")),
    ident("se_personnummer", "Sweden Personal Identity Number", "N",
          r"\b(?:19|20)?[0-9]{6}[-+]?[0-9]{4}\b", "se_personnummer", mask="digits",
          **_ctx("personnummer", "personal identity number", "samordningsnummer", "pnr")),
    ident("fi_hetu", "Finland Personal Identity Code", "N",
          r"\b[0-3][0-9][01][0-9]{3}[-+A-FU-Ya-fu-y][0-9]{3}[0-9A-FHJ-NPR-Ya-fhj-npr-y]\b",
          "fi_hetu", mask="generic",
          **_ctx("hetu", "henkilötunnus", "henkilotunnus", "personal identity code", "sotu",
                 "personbeteckning")),
    ident("dk_cpr", "Denmark Personal ID (CPR)", "N", r"\b[0-3][0-9][01][0-9]{3}-?[0-9]{4}\b",
          "dk_cpr", mask="digits", **_ctx("cpr", "cpr-nr", "cpr-nummer", "personnummer")),
    ident("no_fodselsnummer", "Norway National Identity Number", "N", D11, "no_fodselsnummer",
          mask="digits", **_ctx("fødselsnummer", "fodselsnummer", "personnummer", "d-nummer",
                                "national identity number")),
    ident("pt_nif", "Portugal Tax ID (NIF)", "N", D9, "pt_nif", mask="digits",
          **_ctx("nif", "contribuinte", "número fiscal", "numero fiscal", "nipc")),
    ident("ie_pps", "Ireland Tax ID (PPS)", "N", r"\b[0-9]{7}[A-Wa-w][ABHWabhw]?\b", "ie_pps",
          mask="generic", **_ctx("pps", "ppsn", "personal public service", "rsi")),
    ident("hr_oib", "Croatia Personal ID (OIB)", "N", D11, "hr_oib", mask="digits",
          **_ctx("oib", "osobni identifikacijski")),
    ident("bg_egn", "Bulgaria Uniform Civil Number (EGN)", "N", r"\b[0-9]{10}\b", "bg_egn",
          mask="digits", **_ctx("egn", "егн", "uniform civil number")),
    ident("uk_passport", "UK Passport Number", "N", D9, "uk_passport", mask="digits",
          **_ctx("uk passport", "british passport", "hm passport", "passport number",
                 "passport no")),
    # -- Asia-Pacific ---------------------------------------------------------------------------
    ident("in_aadhaar", "India Aadhaar", "N", D12, "in_aadhaar", mask="digits",
          **_ctx("aadhaar", "aadhar", "uidai", "आधार", window=96)),
    ident("in_pan", "India PAN Card", "N", r"\b[A-Z]{3}[ABCFGHLJPT][A-Z][0-9]{4}[A-Z]\b", "in_pan",
          mask="generic", **_ctx("pan", "permanent account number", "income tax", "pan card",
                                 "pan no")),
    ident("sg_nric", "Singapore NRIC", "N", r"\b[STFGstfg][0-9]{7}[A-Za-z]\b", "sg_nric",
          mask="generic"),
    ident("au_medicare", "Australia Medicare", "N",
          r"\b[2-6][0-9]{3} ?[0-9]{5} ?[0-9](?:[ -]?[1-9])?\b", "au_medicare", mask="digits",
          **_ctx("medicare", "medicare card", "medicare number")),
    ident("au_abn", "Australia Business Number (ABN)", "N",
          r"\b[1-9][0-9] ?[0-9]{3} ?[0-9]{3} ?[0-9]{3}\b", "au_abn", mask="digits",
          **_ctx("abn", "australian business number", "business number")),
    ident("au_acn", "Australia Company Number (ACN)", "N", D9, "au_acn", mask="digits",
          **_ctx("acn", "australian company number", "company number")),
    ident("nz_ird", "NZ Tax (IRD)", "N", r"\b[0-9]{2,3}[- ]?[0-9]{3}[- ]?[0-9]{3}\b", "nz_ird",
          mask="digits", **_ctx("ird", "inland revenue", "ird number", "gst number")),
    ident("hk_hkid", "Hong Kong Identity Card", "N", r"\b[A-Za-z]{1,2}[0-9]{6}\([0-9Aa]\)",
          "hk_hkid", mask="generic"),
    ident("tw_national_id", "Taiwan National Identification Number", "N",
          r"\b[A-Za-z][12][0-9]{8}\b", "tw_national_id", mask="generic",
          **_ctx("身分證", "身份證", "national id", "id no", "identification number")),
    ident("kr_rrn", "Korea Resident Registration Number", "N",
          r"\b[0-9]{2}[01][0-9][0-3][0-9]-?[1-8][0-9]{6}\b", "kr_rrn", mask="digits",
          **_ctx("주민등록번호", "rrn", "resident registration", "주민번호")),
    ident("cn_resident_id", "China ID Card", "N", r"\b[1-8][0-9]{16}[0-9Xx]\b", "cn_resident_id",
          mask="generic"),
    ident("jp_my_number", "Japan My Number (Person)", "N", D12, "jp_my_number", mask="digits",
          **_ctx("マイナンバー", "my number", "個人番号", "mynumber", window=96)),
    ident("th_national_id", "Thai Identity Card Number", "N",
          r"\b[1-8][ -]?[0-9]{4}[ -]?[0-9]{5}[ -]?[0-9]{2}[ -]?[0-9]\b", "th_national_id",
          mask="digits", **_ctx("บัตรประชาชน", "thai id", "national id", "citizen id",
                                "เลขประจำตัวประชาชน")),
    # -- Americas, Africa -------------------------------------------------------------------------
    ident("br_cpf", "Brazil CPF", "N", r"\b[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}\b", "br_cpf",
          mask="digits", **_ctx("cpf", "cadastro de pessoas", "contribuinte")),
    ident("br_cnpj", "Brazil CNPJ", "N", r"\b[0-9]{2}\.[0-9]{3}\.[0-9]{3}/[0-9]{4}-[0-9]{2}\b",
          "br_cnpj", mask="digits"),
    ident("cl_rut", "Chile National ID (RUT)", "N",
          r"\b[0-9]{1,2}\.?[0-9]{3}\.?[0-9]{3}-[0-9Kk]\b", "cl_rut", mask="generic",
          **_ctx("rut", "run", "rol único", "rol unico", "cédula", "cedula")),
    ident("za_id", "South Africa ID Number", "N", D13, "za_id", mask="digits",
          **_ctx("id number", "identity number", "rsa id", "south african id", "id no")),
)  # fmt: skip
