"""The ``calcinosis-cds`` command line.

* ``serve [--host H] [--port P]``: the HTTP service (settings from ``CDS_*`` environment variables);
* ``migrate``: bring the database (``CDS_DATABASE_URL``) to the current schema;
* ``report [--format table|json|csv] [--since YYYY-MM-DD] [--plot FILE.png]``: cards issued, accepted,
  overridden (with reasons) and suppressed, per rule.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from service.app import create_app
from service.observability import configure_json_logging
from service.settings import Settings
from service.store.engine import create_engine
from service.store.schema import SchemaBehindError, ensure_schema

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calcinosis-cds", description="CDS Hooks service for calcinosis cutis risk"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the HTTP service (settings from CDS_* environment variables)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands.add_parser("migrate", help="upgrade the database schema (CDS_DATABASE_URL) to this version")
    report = commands.add_parser("report", help="cards issued, accepted, overridden and suppressed, per rule")
    report.add_argument("--format", default="table", choices=["table", "json", "csv"])
    report.add_argument("--since", type=date.fromisoformat, help="only from this date (YYYY-MM-DD, UTC)")
    report.add_argument("--plot", type=Path, help="also write a PNG chart of acceptance over time")
    return parser


def _fail(message: str) -> int:
    print(f"calcinosis-cds: {message}", file=sys.stderr)
    return EXIT_USAGE


async def _schema(settings: Settings, migrate: bool) -> None:
    engine = create_engine(settings.database_url)
    try:
        await ensure_schema(engine, migrate)
    finally:
        await engine.dispose()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_json_logging(args.log_level)
    asyncio.run(_schema(settings, settings.migrates_on_start))
    # server_header=False: no "server: uvicorn" banner; log_config=None: uvicorn logs through our handler.
    app = create_app(settings)
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level, server_header=False, log_config=None
    )
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from service.report import run_report  # matplotlib is only imported when a report is made

    print(run_report(settings.database_url, args.format, args.since, args.plot))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        return _fail(f"refusing to start, invalid settings:\n{exc}")
    try:
        if args.command == "serve":
            return _serve(args, settings)
        if args.command == "migrate":
            asyncio.run(_schema(settings, migrate=True))
            print("calcinosis-cds: database schema is up to date")
            return 0
        return _report(args, settings)
    except SchemaBehindError as exc:
        return _fail(str(exc))
    except (SQLAlchemyError, OSError) as exc:
        return _fail(
            f"database {settings.database_url.split('://')[0]} is not usable: {type(exc).__name__}: {exc}"
        )


if __name__ == "__main__":
    sys.exit(main())
