"""Another process holding a lock on the service's database, for the storage-under-load tests.

SQLite: a Python child process opens the file and holds ``BEGIN EXCLUSIVE`` with a pending write (in WAL mode
readers still get through; writers wait), or, with ``readers_blocked``, first switches to
``locking_mode=EXCLUSIVE`` so that even readers get ``database is locked``. PostgreSQL: a ``psql`` child
process holds ``LOCK TABLE`` (``EXCLUSIVE``: reads pass, writes wait; ``ACCESS EXCLUSIVE``: reads wait too).
The lock is released when the context ends.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.engine import make_url

HISTORY_TABLES = ("card_history", "suppressions", "feedback")
PSQL = "/usr/lib/postgresql/15/bin/psql"
READY = "locked"

SQLITE_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "readers-blocked":
    connection.execute("PRAGMA locking_mode=EXCLUSIVE")
connection.execute("BEGIN EXCLUSIVE")
connection.execute("DELETE FROM card_history WHERE id < 0")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def _sqlite_holder(path: str, readers_blocked: bool) -> list[str]:
    mode = "readers-blocked" if readers_blocked else "writers-blocked"
    return [sys.executable, "-c", SQLITE_HOLDER, path, mode]


def _psql_holder(database_url: str) -> list[str]:
    url = make_url(database_url)
    return [
        PSQL,
        "-X",
        "-q",
        "-At",
        "-h",
        str(url.host),
        "-p",
        str(url.port),
        "-U",
        str(url.username),
        "-d",
        str(url.database),
    ]


@contextmanager
def held_lock(
    database_url: str, *, readers_blocked: bool, tables: Sequence[str] = HISTORY_TABLES
) -> Iterator[None]:
    """Hold a lock on ``database_url`` from another process until the block ends.

    ``tables`` applies to PostgreSQL only (SQLite locks the whole file).
    """
    sqlite = database_url.startswith("sqlite")
    command = (
        _sqlite_holder(str(make_url(database_url).database), readers_blocked)
        if sqlite
        else _psql_holder(database_url)
    )
    holder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        if not sqlite:
            mode = "ACCESS EXCLUSIVE" if readers_blocked else "EXCLUSIVE"
            holder.stdin.write(f"BEGIN; LOCK TABLE {', '.join(tables)} IN {mode} MODE; SELECT '{READY}';\n")
            holder.stdin.flush()
        line = holder.stdout.readline().strip()
        assert line == READY, f"the lock holder did not take the lock: {line!r}"
        yield
    finally:
        holder.stdin.write("\n" if sqlite else "ROLLBACK;\n")
        holder.stdin.close()
        holder.wait(timeout=30)
