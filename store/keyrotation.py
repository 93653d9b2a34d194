"""Re-encrypt every stored secret under the current ``CASB_SECRET_KEY``.

A rotation: every process gets the new key as ``CASB_SECRET_KEY`` and the old one as
``CASB_SECRET_KEY_PREVIOUS`` (both decrypt, only the new one encrypts), then ``casb keys
rotate`` rewrites each token still under an old key, a batch of rows per transaction, each row
locked while it is rewritten. A token already under the new key is left alone, so the command
is idempotent and an interrupted run resumes where it stopped. When it reports nothing left
under an old key, ``CASB_SECRET_KEY_PREVIOUS`` can go.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Column
from sqlmodel import Session, SQLModel, select

from core.settings import Cipher
from schemas.tables import Tenant
from store.crypto import is_current, reencrypt

# Every table with encrypted columns: (model, label column, encrypted columns).
ENCRYPTED: list[tuple[type[SQLModel], str, tuple[str, ...]]] = [
    (Tenant, "slug", ("admin_key_enc", "compliance_key_enc")),
]


@dataclass
class RotationReport:
    rotated: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=list)  # "table:label.column", never a value

    @property
    def remaining(self) -> int:
        return len(self.unreadable)


def rotate_secrets(
    session_factory: Callable[[], AbstractContextManager[Session]],
    cipher: Cipher,
    primary: Fernet,
    *,
    batch_size: int = 100,
    dry_run: bool = False,
) -> RotationReport:
    """Rewrite every token not under ``primary``; ``dry_run`` only counts."""
    report = RotationReport()
    for model, label, columns in ENCRYPTED:
        id_column: Column = model.__table__.c.id  # type: ignore[attr-defined]
        last_id = 0
        while True:
            with session_factory() as session:
                query = select(model).where(id_column > last_id).order_by(id_column)
                query = query.limit(batch_size)
                if not dry_run:
                    query = query.with_for_update()
                rows = list(session.exec(query).all())
                for row in rows:
                    _rotate_row(row, label, columns, cipher, primary, report, dry_run)
                    if not dry_run:
                        session.add(row)
            if len(rows) < batch_size:
                break
            last_id = int(rows[-1].id)  # type: ignore[attr-defined]
    return report


def _rotate_row(
    row: SQLModel,
    label: str,
    columns: tuple[str, ...],
    cipher: Cipher,
    primary: Fernet,
    report: RotationReport,
    dry_run: bool,
) -> None:
    for column in columns:
        token = getattr(row, column)
        if not token:
            continue
        if is_current(primary, token):
            report.current += 1
            continue
        try:
            fresh = reencrypt(cipher, primary, token)
        except InvalidToken:
            table = row.__tablename__
            report.unreadable.append(f"{table}:{getattr(row, label)}.{column}")
            continue
        report.rotated += 1
        if not dry_run:
            setattr(row, column, fresh)
