"""Encryption of tenant credentials at rest (Fernet), and their redacted hints."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from core.settings import KEYGEN_HINT, Cipher, ConfigurationError


def encrypt_secret(fernet: Cipher, secret: SecretStr) -> str:
    return fernet.encrypt(secret.get_secret_value().encode()).decode("ascii")


def decrypt_secret(fernet: Cipher, token: str) -> SecretStr:
    try:
        return SecretStr(fernet.decrypt(token.encode("ascii")).decode())
    except InvalidToken:
        raise ConfigurationError(
            "a stored tenant credential cannot be decrypted with CASB_SECRET_KEY "
            "(the key changed?): give the old key as CASB_SECRET_KEY_PREVIOUS and run "
            f"`casb keys rotate`, or re-enter the tenant's keys; {KEYGEN_HINT}"
        ) from None


def is_current(primary: Fernet, token: str) -> bool:
    """True when ``token`` is already encrypted under the primary key."""
    try:
        primary.decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


def reencrypt(cipher: Cipher, primary: Fernet, token: str) -> str:
    """``token`` re-encrypted under the primary key (decrypted with any key ``cipher`` knows)."""
    plaintext = cipher.decrypt(token.encode("ascii"))
    return primary.encrypt(plaintext).decode("ascii")


def redact_key(secret: SecretStr) -> str:
    """``sk-admin…ab12``: enough to tell keys apart, never enough to use one."""
    value = secret.get_secret_value()
    prefix = ""
    for candidate in ("sk-admin-", "sk-proj-", "sk-svcacct-", "sk-"):
        if value.startswith(candidate):
            prefix = candidate.rstrip("-")
            break
    tail = value[-4:] if len(value) >= 16 else ""
    return f"{prefix}…{tail}" if prefix or tail else "…"
