"""Engine, sessions and schema migrations.

One engine per process (and per PID: a prefork child must never reuse its parent's
pool). Commands check that the database is migrated before touching it, so an
unmigrated database produces one actionable line instead of an SQL traceback.
"""

from __future__ import annotations

import ast
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session, create_engine

import schemas.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from core.settings import ConfigurationError, get_settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

_engines: dict[tuple[int, str], Engine] = {}
_lock = threading.Lock()


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def get_engine(url: str | None = None) -> Engine:
    url = normalize_url(url or get_settings().database_url)
    key = (os.getpid(), url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _make_engine(url)
            _engines[key] = engine
        return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    settings = get_settings()
    connect_args: dict[str, Any] = {}
    if settings.database_pooler == "transaction":
        # Each transaction may run on another server connection: psycopg must not prepare
        # statements server-side (it would after 5 runs of one query), and nothing may rely
        # on session state (the code sets none: no SET, advisory locks, LISTEN or temp tables).
        connect_args["prepare_threshold"] = None
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        connect_args=connect_args,
    )


def dispose_engines() -> None:
    """Drop every pooled connection (after fork, in tests, when the URL changes)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url or get_settings().database_url))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; a no-op on a database already there."""
    from alembic import command

    config = alembic_config(url)
    engine = get_engine(url)
    ensure_reachable(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


# ``revision = "0011"`` / ``down_revision = "0006"`` (or None, or a tuple for a merge).
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)


def head_revision() -> str | None:
    """The latest migration, read from the revision files' two assignments (every CLI
    command checks it: Alembic's script loader costs more than the rest of the check); a
    tree that is not one linear head asks Alembic itself."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found: dict[str, str] = {
            m.group(1): m.group(2) for m in _REVISION_LINE.finditer(path.read_text())
        }
        if "revision" not in found:
            continue
        revision = ast.literal_eval(found["revision"])
        down = ast.literal_eval(found.get("down_revision", "None"))
        revisions.add(str(revision))
        parents.update([down] if isinstance(down, str) else (down or ()))
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    return alembic_head_revision()


def alembic_head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str | None = None) -> str | None:
    """The database's revision (None when never migrated)."""
    with get_engine(url).connect() as connection:
        try:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        except ProgrammingError:  # no alembic_version table: never migrated
            return None
        if len(rows) <= 1:
            return str(rows[0][0]) if rows else None
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _unreachable(url: str | None, exc: OperationalError) -> ConfigurationError:
    shown = _safe_url(normalize_url(url or get_settings().database_url))
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
    return ConfigurationError(
        f"cannot reach the database at {shown} ({reason}): check CASB_DATABASE_URL"
    )


def ensure_reachable(url: str | None = None) -> None:
    """Raise ConfigurationError (one line, no traceback) unless the database answers."""
    try:
        with get_engine(url).connect():
            pass
    except OperationalError as exc:
        raise _unreachable(url, exc) from None


def ensure_migrated(url: str | None = None) -> None:
    """Raise ConfigurationError unless the database answers and is at the head revision."""
    shown = _safe_url(normalize_url(url or get_settings().database_url))
    try:
        current = current_revision(url)
    except OperationalError as exc:
        raise _unreachable(url, exc) from None
    if current != head_revision():
        state = "not migrated" if current is None else f"at revision {current}, not the latest"
        raise ConfigurationError(f"the database at {shown} is {state}: run `casb db upgrade`")


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"
