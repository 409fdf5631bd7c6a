"""The ``calcinosis-cds`` command line.

* ``serve [--host H] [--port P]``: the HTTP service (settings from ``CDS_*`` environment variables);
* ``migrate``: bring the database (``CDS_DATABASE_URL``) to the current schema;
* ``report [--format table|json|csv] [--since YYYY-MM-DD] [--plot FILE.png]``: cards issued, accepted,
  overridden (with reasons) and suppressed, per rule;
* ``load-demo --fhir-server URL [--token T] [--wait S]``: the demo patients into any FHIR R4 server;
* ``check --fhir-server URL --patient ID [--hook HOOK --draft FILE.json ...] [--service-url URL
  [--sign-key FILE --issuer ISS]] [--json] [--no-prefetch]``: play the EHR;
* ``dev-keys [--out-dir DIR] [--issuer ISS] [--service-url URL]``: a development key pair for ``check
  --sign-key``, and the settings that make the service trust it.
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

from service.api.app import StartupDataError, create_app
from service.api.hooks import HOOKS
from service.api.observability import configure_json_logging
from service.api.server import server_config
from service.auth.client_token import DEFAULT_ISSUER, TokenSigner, make_dev_keys
from service.cli.check import check, read_drafts, render
from service.cli.sandbox import SandboxError, load_demo
from service.cli.workers import run_workers
from service.settings import Settings
from service.settings_errors import settings_problems
from service.store.engine import create_engine
from service.store.schema import SchemaBehindError, ensure_schema

EXIT_USAGE = 2


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calcinosis-cds",
        description="CDS Hooks service for calcinosis cutis risk",
        epilog="Settings are CDS_* environment variables (README: Settings). "
        "'calcinosis-cds COMMAND --help' describes each command.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the HTTP service (settings from CDS_* environment variables)",
        description="Run the HTTP service in the foreground until Ctrl-C (other commands need a second "
        "terminal). Settings come from CDS_* environment variables; a bad one stops the start, named.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes sharing the port (default 1; README: Performance says how many)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="JSON log lines on stderr from this level (default info)",
    )
    commands.add_parser(
        "migrate",
        help="upgrade the database schema (CDS_DATABASE_URL) to this version",
        description="Upgrade the database at CDS_DATABASE_URL to this version's schema (Alembic).",
    )
    report = commands.add_parser(
        "report",
        help="cards issued, accepted, overridden and suppressed, per rule",
        description="Cards issued, accepted, overridden (by reason) and suppressed, per rule and version, "
        "from the database at CDS_DATABASE_URL.",
    )
    report.add_argument(
        "--format", default="table", choices=["table", "json", "csv"], help="output format (default table)"
    )
    report.add_argument(
        "--since", type=_day, metavar="YYYY-MM-DD", help="only from this date (midnight UTC) on"
    )
    report.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.png",
        help="also write a PNG chart of weekly acceptance (needs the report extra: "
        "pip install 'calcinosis-cds[report]')",
    )
    load = commands.add_parser(
        "load-demo",
        help="load the demo patients into a FHIR R4 server (PUT, idempotent)",
        description="Load the demo patients (service/demo/catalog.json) into a FHIR R4 server, one "
        "transaction of PUTs each, with dates relative to today; loading again changes nothing.",
    )
    load.add_argument(
        "--fhir-server", required=True, metavar="URL", help="FHIR base URL, e.g. http://localhost:8090/fhir"
    )
    load.add_argument("--token", help="bearer token for the FHIR server")
    load.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for the server to answer (default 0)"
    )
    check = commands.add_parser(
        "check",
        help="play the EHR: call the hook for a patient and show the cards",
        description="Play the EHR: build the hook's request (patient-view, or an order hook with draft "
        "orders from files), run the service's prefetch templates against the FHIR server, call the service "
        "on that hook and print the cards.",
    )
    check.add_argument(
        "--hook",
        choices=sorted(HOOKS),
        default="patient-view",
        help="the hook to call (default patient-view)",
    )
    check.add_argument(
        "--draft",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.json",
        help="a draft order (e.g. a MedicationRequest) for order-select/order-sign; repeat for several",
    )
    check.add_argument(
        "--fhir-server", required=True, metavar="URL", help="FHIR base URL holding the patient"
    )
    check.add_argument("--patient", required=True, metavar="ID", help="Patient id, e.g. demo-crest")
    check.add_argument(
        "--service-url", metavar="URL", help="a running service (default: this code, in-process)"
    )
    check.add_argument("--token", help="bearer token for the FHIR server (also passed as fhirAuthorization)")
    check.add_argument("--json", action="store_true", help="print the raw CDS Hooks response")
    check.add_argument(
        "--no-prefetch", action="store_true", help="send no prefetch: the service fetches itself"
    )
    check.add_argument(
        "--sign-key",
        type=Path,
        metavar="FILE.jwk",
        help="sign each call with this private JWK (a service requiring JWTs; see dev-keys)",
    )
    check.add_argument("--issuer", metavar="ISS", help="the iss of the signed calls (with --sign-key)")
    keys = commands.add_parser(
        "dev-keys",
        help="make a development key pair for check --sign-key, and print the matching settings",
        description="Write a new EC P-384 key pair (ES384): FOLDER/signing-key.jwk (private) and "
        "FOLDER/jwks.json (public), and print the CDS_* settings that make the service trust it and the "
        "check command that signs with it. Development only; existing files are never overwritten.",
    )
    keys.add_argument(
        "--out-dir", type=Path, default=Path("dev-keys"), metavar="FOLDER", help="default ./dev-keys"
    )
    keys.add_argument("--issuer", default=DEFAULT_ISSUER, metavar="ISS", help=f"default {DEFAULT_ISSUER}")
    keys.add_argument(
        "--service-url",
        default="http://127.0.0.1:8080",
        metavar="URL",
        help="the service's URL, its CDS_PUBLIC_BASE_URL (default http://127.0.0.1:8080)",
    )
    return parser


def _day(text: str) -> date:
    """``--since``: a calendar date, with a message a person can act on."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: expected YYYY-MM-DD, e.g. 2026-01-31"
        ) from None


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
    app = create_app(settings)  # the data is checked first: a typo stops here, before the database
    asyncio.run(_schema(settings, settings.migrates_on_start))
    config = server_config(app, settings, args.host, args.port, args.log_level)
    if args.workers > 1:
        return run_workers(config, args.workers)
    uvicorn.Server(config).run()
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from service.cli.report_render import PlotUnavailableError, run_report

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
    if (args.sign_key is None) != (args.issuer is None):
        raise SandboxError("--sign-key and --issuer go together")
    if args.sign_key and not args.service_url:
        raise SandboxError("--sign-key signs calls to a running service: give its --service-url")
    signer = TokenSigner.from_file(args.sign_key, args.issuer) if args.sign_key else None
    drafts = read_drafts(args.draft, args.hook, args.patient)
    response = asyncio.run(
        check(
            args.fhir_server,
            args.patient,
            args.service_url,
            args.token,
            not args.no_prefetch,
            signer,
            args.hook,
            drafts,
        )
    )
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(json.dumps(response, indent=2, ensure_ascii=False) if args.json else render(response, color))
    return 0


def _dev_keys(args: argparse.Namespace) -> int:
    print(make_dev_keys(args.out_dir, args.issuer, args.service_url))
    return 0


SANDBOX_COMMANDS = {"load-demo": _load_demo, "check": _check, "dev-keys": _dev_keys}


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
    except StartupDataError as exc:
        return _fail(f"invalid data: {exc}")
    except (SQLAlchemyError, OSError) as exc:
        return _fail(
            f"database {settings.database_url.split('://')[0]} is not usable: {type(exc).__name__}: {exc}"
        )


if __name__ == "__main__":
    sys.exit(main())
