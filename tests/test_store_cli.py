"""Schema management and the report command, through the real console script."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.store.engine import create_engine
from service.store.models import Base
from service.store.schema import current_revision, head_revision, upgrade

SCRIPT = Path(sys.executable).parent / "calcinosis-cds"


def run(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CDS_DATABASE_URL": database_url, **env}
    return subprocess.run(
        [SCRIPT, *args], env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def test_migrations_match_the_models(database_url: str) -> None:
    async def differences() -> list[object]:
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: list(compare_metadata(MigrationContext.configure(sync), Base.metadata))
                )
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []


def test_serve_refuses_a_schema_that_is_behind_with_a_clear_message(database_url: str) -> None:
    result = run("serve", database_url=database_url, CDS_DATABASE_AUTO_MIGRATE="false")
    assert result.returncode == 2
    assert "run `calcinosis-cds migrate`" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_brings_the_schema_to_head(database_url: str) -> None:
    result = run("migrate", database_url=database_url)
    assert (result.returncode, result.stdout.strip()) == (0, "calcinosis-cds: database schema is up to date")

    async def revision() -> str | None:
        engine = create_engine(database_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(revision()) == head_revision()


def test_unreachable_database_is_a_clear_error_not_a_traceback() -> None:
    result = run("migrate", database_url="postgresql://nobody@127.0.0.1:9/none")
    assert result.returncode == 2
    assert "database postgresql is not usable" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_command_prints_json_and_writes_a_chart(database_url: str, tmp_path: Path) -> None:
    assert run("migrate", database_url=database_url).returncode == 0
    chart = tmp_path / "acceptance.png"
    result = run(
        "report", "--format", "json", "--since", "2026-01-01", "--plot", str(chart), database_url=database_url
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["rules"], report["since"]) == ([], "2026-01-01")
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
