"""Schema version checks and upgrades (Alembic), used at start-up and by ``calcinosis-cds migrate``.

The service migrates on start when ``CDS_DATABASE_AUTO_MIGRATE`` is on (the development default) and
otherwise refuses to start while the schema is behind, with a message naming the command to run.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine


class SchemaBehindError(RuntimeError):
    """The database schema is older than this code expects."""


def _config() -> Config:
    ini = resources.files("service.store").joinpath("alembic.ini")
    return Config(str(ini))


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def _current(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Any) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def ensure_schema(engine: AsyncEngine, auto_migrate: bool) -> None:
    """Upgrade to head (when allowed) or raise ``SchemaBehindError`` with the command to run."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    if not auto_migrate:
        raise SchemaBehindError(
            f"database schema is at {current or 'nothing'}, this version needs {head}: "
            "run `calcinosis-cds migrate` (or set CDS_DATABASE_AUTO_MIGRATE=true)"
        )
    await upgrade(engine)
