"""The ``calcinosis-cds`` command line.

* ``serve [--host H] [--port P]``: the HTTP service (settings from ``CDS_*`` environment variables);
* ``migrate``: bring the database (``CDS_DATABASE_URL``) to the current schema;
* ``report [--format table|json|csv] [--since YYYY-MM-DD] [--plot FILE.png]``: cards issued, accepted,
  overridden (with reasons) and suppressed, per rule;
* ``load-demo --fhir-server URL [--token T] [--wait S]``: the demo patients into any FHIR R4 server;
* ``check --fhir-server URL --patient ID [--service-url URL] [--json] [--no-prefetch]``: play the EHR.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import uvicorn
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.exc import SQLAlchemyError

from service.app import create_app
from service.check import check, render
from service.observability import configure_json_logging
from service.sandbox import SandboxError, load_demo
from service.settings import Settings
from service.settings_errors import settings_problems
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
    load = commands.add_parser(
        "load-demo", help="load the demo patients into a FHIR R4 server (PUT, idempotent)"
    )
    load.add_argument("--fhir-server", required=True, help="FHIR base URL, e.g. http://localhost:8090/fhir")
    load.add_argument("--token", help="bearer token for the FHIR server")
    load.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for the server to answer (default 0)"
    )
    check = commands.add_parser("check", help="play the EHR: call the hook for a patient and show the cards")
    check.add_argument("--fhir-server", required=True, help="FHIR base URL holding the patient")
    check.add_argument("--patient", required=True, help="Patient id, e.g. demo-crest")
    check.add_argument("--service-url", help="a running service (default: this code, in-process)")
    check.add_argument("--token", help="bearer token for the FHIR server (also passed as fhirAuthorization)")
    check.add_argument("--json", action="store_true", help="print the raw CDS Hooks response")
    check.add_argument(
        "--no-prefetch", action="store_true", help="send no prefetch: the service fetches itself"
    )
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
    from service.report import PlotUnavailableError, run_report

    try:
        print(run_report(settings.database_url, args.format, args.since, args.plot))
    except PlotUnavailableError as exc:
        return _fail(str(exc))
    return 0


def _load_demo(args: argparse.Namespace) -> int:
    count = asyncio.run(load_demo(args.fhir_server, args.token, args.wait))
    print(f"calcinosis-cds: loaded {count} demo patients into {args.fhir_server}")
    return 0


def _check(args: argparse.Namespace) -> int:
    response = asyncio.run(
        check(args.fhir_server, args.patient, args.service_url, args.token, not args.no_prefetch)
    )
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(json.dumps(response, indent=2, ensure_ascii=False) if args.json else render(response, color))
    return 0


SANDBOX_COMMANDS = {"load-demo": _load_demo, "check": _check}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, SettingsError) as exc:
        for problem in settings_problems(exc, Settings.model_fields):
            print(f"calcinosis-cds: invalid setting: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.command in SANDBOX_COMMANDS:
        try:
            return SANDBOX_COMMANDS[args.command](args)
        except SandboxError as exc:
            print(f"calcinosis-cds: {exc}", file=sys.stderr)
            return 1
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
