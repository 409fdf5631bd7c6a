"""The async engines for ``CDS_DATABASE_URL``: SQLite (embedded default, WAL mode) or PostgreSQL.

URLs are normalised to async drivers (``sqlite+aiosqlite``, ``postgresql+asyncpg``). SQLite gets WAL (readers
do not block the writer), ``synchronous=FULL`` (a commit survives a crash: 200 is only sent after it) and a
busy timeout so concurrent writers wait instead of failing.

The hook's suppression read has its own engine (:func:`create_read_engine`) that waits for a lock only as
long as the hook can afford: SQLite ``busy_timeout``, PostgreSQL ``lock_timeout``
(https://www.postgresql.org/docs/15/runtime-config-client.html). The bound is enforced by the database, so
it counts only time spent waiting on the database, never time the request spends waiting for the event
loop under load. Its connections are read-only (``query_only``, ``default_transaction_read_only``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
WRITER_BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={WRITER_BUSY_TIMEOUT_MS}",
)
# SQLITE_BUSY / SQLITE_LOCKED (https://www.sqlite.org/rescode.html); PostgreSQL lock_not_available (55P03),
# query_canceled (57014, statement and lock timeouts) (https://www.postgresql.org/docs/15/errcodes-appendix.html)
SQLITE_LOCK_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED")
POSTGRES_TIMEOUT_STATES = frozenset({"55P03", "57014"})


def async_url(url: str) -> str:
    """``url`` with its async driver (``postgresql://`` -> ``postgresql+asyncpg://``)."""
    parsed = make_url(url)
    driver = ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def _engine(url: str, pragmas: tuple[str, ...], postgres_settings: dict[str, str]) -> AsyncEngine:
    full = async_url(url)
    postgres = make_url(full).get_backend_name() == "postgresql"
    connect_args = {"server_settings": postgres_settings} if postgres and postgres_settings else {}
    engine = create_async_engine(full, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            for pragma in pragmas:
                cursor.execute(pragma)
            cursor.close()

    return engine


def create_engine(url: str) -> AsyncEngine:
    """The engine for writes, feedback and reports: waits up to 10 s for SQLite's write lock."""
    return _engine(url, SQLITE_PRAGMAS, {})


def create_read_engine(url: str, lock_wait_s: float) -> AsyncEngine:
    """A read-only engine whose statements give up after waiting ``lock_wait_s`` for a lock."""
    wait_ms = max(1, round(lock_wait_s * 1000))
    return _engine(
        url,
        (f"PRAGMA busy_timeout={wait_ms}", "PRAGMA query_only=ON"),
        {"lock_timeout": str(wait_ms), "default_transaction_read_only": "on"},
    )


def is_lock_timeout(exc: SQLAlchemyError) -> bool:
    """Whether ``exc`` says the database gave up waiting for a lock (rather than failing otherwise)."""
    cause = getattr(exc, "orig", None)
    sqlite_error = str(getattr(cause, "sqlite_errorname", ""))
    return (
        sqlite_error.startswith(SQLITE_LOCK_ERRORS)
        or getattr(cause, "sqlstate", None) in POSTGRES_TIMEOUT_STATES
    )
