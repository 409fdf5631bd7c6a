"""The benchmark suite: the service against the floor, in one run, on one machine.

Run: ``bash scripts/bench`` (installs what it needs, then runs this module). Starts the Medplum test FHIR
server, ``calcinosis-cds serve`` and the floor app (``bench.floor``) as their own processes on loopback -
with ``--before REF``, also the service as it was at git revision REF, for a before/after from one run -
then measures, in this order:

1. hook latency, full prefetch, at 10 / 100 / 1,000 / 10,000 Observations, every app alternating call by
   call on keep-alive connections, p50 and p95: first the headline, a chart that draws two cards (the demo
   dialysis patient, ``bench.workload.card_chart``), then a chart that draws none;
2. throughput: 16 concurrent connections (wrk) on the two-card chart at 100 Observations, the apps
   alternating in rounds;
3. memory: each service's RSS idle (before any call) and after the runs above, and its peak;
4. FHIR fallback: every prefetch query timed alone against the test FHIR server, then the hook with no
   prefetch (the service fetches all keys concurrently); as is, and with network latency injected;
5. workers: the throughput run again with ``serve --workers`` 1, 2 and 4 (and the floor with as many
   workers), each started fresh, to say how many a deployment on this machine should run.

Every call carries its own ``hookInstance``, so nothing can answer from a cache keyed by the body. Prints
the machine (CPU, cores, load average), the tables and every target of issue 16 as met or missed, and
writes everything to ``bench/results/<UTC time>.json``; the exit status is 0 either way - a missed target is
a finding, not a crash.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import workload
from bench.client import KeepAliveClient, interleaved
from bench.fallback import fallback_costs
from bench.load import Throughput, throughput
from bench.report import print_report
from terminology.knowledge import load_knowledge
from tests.servers import FhirTestServer, ServerProcess, ServiceProcess, free_port

SERVICE_ID = "calcinosis-cutis-risk"
ROOT = Path(__file__).parents[1]
RESULTS = Path(__file__).with_name("results")
SIZES = (10, 100, 1_000, 10_000)
# Calls per size (each for every app): fewer for big bodies, enough for a stable p95.
CALLS = {10: 400, 100: 400, 1_000: 150, 10_000: 25}
WARMUP = {10: 20, 100: 20, 1_000: 10, 10_000: 3}
THROUGHPUT_SIZE = 100
CONNECTIONS = 16
CARD_CHART_CARDS = 2
WORKER_COUNTS = (1, 2, 4)


@dataclass(frozen=True)
class App:
    """One server under test; ``pid`` is None for the floor (its memory is not a target)."""

    name: str
    url: str
    pid: int | None


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes), from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def rss_kib(pid: int) -> dict[str, int]:
    """Resident memory (VmRSS) and peak (VmHWM) of ``pid`` and its worker processes, summed."""
    total = {"rss_kib": 0, "peak_kib": 0}
    for member in _tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                total["rss_kib" if name == "VmRSS" else "peak_kib"] += int(value.split()[0])
    return total


def floor_process(workers: int = 1) -> ServerProcess:
    port = free_port()
    command = [sys.executable, "-m", "bench.floor", "--port", str(port), "--workers", str(workers)]
    return ServerProcess(command, port, dict(os.environ), None)


@contextmanager
def service_at(revision: str, log_file: Path) -> Iterator[ServiceProcess]:
    """``calcinosis-cds serve`` as it was at git ``revision`` (its files exported to a temporary folder, run
    with this virtualenv's packages), with the default settings and log level."""
    with tempfile.TemporaryDirectory(prefix="cds-before-") as folder:
        archive = subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", "-C", str(ROOT), "archive", revision],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)  # noqa: S603, S607
        program = (sys.executable, "-m", "service.cli.main")
        with ServiceProcess({"PYTHONPATH": folder}, log_file, "info", program=program) as service:
            yield service


def charts(kind: str, now: dt.datetime, sizes: tuple[int, ...] = SIZES) -> dict[int, bytes]:
    """The request body at each size: ``card`` (two cards drawn) or ``plain`` (no card)."""
    if kind == "card":
        return {
            n: workload.hook_request(workload.card_chart(n, now), None, None, workload.CARD_PATIENT)
            for n in sizes
        }
    return {
        n: workload.hook_request(workload.full_prefetch(workload.observations(n)), None, None) for n in sizes
    }


def latency_table(apps: list[App], bodies: dict[int, bytes], scale: float) -> list[dict[str, Any]]:
    """Per size: every app's latency on the same body, calls alternating between the apps."""
    clients = [KeepAliveClient(f"{app.url}/cds-services/{SERVICE_ID}") for app in apps]
    rows = []
    try:
        for size, body in bodies.items():
            cards = {
                app.name: len(orjson.loads(c.call(body))["cards"])
                for app, c in zip(apps, clients, strict=True)
            }
            calls = max(5, round(CALLS[size] * scale))
            print(f"  {size:>6} observations, cards {cards}: {len(body) / 1024:,.0f} KiB, {calls} calls each")
            measured = interleaved(clients, [body] * len(apps), calls, WARMUP[size])
            rows.append(
                {
                    "observations": size,
                    "body_kib": len(body) / 1024,
                    "cards": cards,
                    "latency": {app.name: asdict(m) for app, m in zip(apps, measured, strict=True)},
                }
            )
    finally:
        for client in clients:
            client.close()
    return rows


def throughput_runs(apps: list[App], body: bytes, seconds: int) -> dict[str, Any]:
    """Two alternating rounds each, so every app sees the same drift of the machine."""
    rounds: dict[str, list[Throughput]] = {app.name: [] for app in apps}
    for _ in range(2):
        for app in apps:
            url = f"{app.url}/cds-services/{SERVICE_ID}"
            rounds[app.name].append(throughput(url, body, CONNECTIONS, seconds))
    totals: dict[str, Any] = {
        name: {
            "requests": sum(r.requests for r in runs),
            "seconds": sum(r.seconds for r in runs),
            "errors": sum(r.errors for r in runs),
            "per_second": sum(r.requests for r in runs) / sum(r.seconds for r in runs),
            "p50_ms": max(r.p50_ms for r in runs),
            "p99_ms": max(r.p99_ms for r in runs),
        }
        for name, runs in rounds.items()
    }
    return totals | {"observations": THROUGHPUT_SIZE, "connections": CONNECTIONS}


def worker_runs(body: bytes, seconds: int, logs: Path) -> list[dict[str, Any]]:
    """Throughput of the service and the floor with 1, 2 and 4 worker processes, one round each."""
    rows = []
    for workers in WORKER_COUNTS:
        print(f"  {workers} worker(s)", flush=True)
        log = logs / f"service-{workers}-workers.log"
        with (
            ServiceProcess(log_file=log, log_level="info", workers=workers) as service,
            floor_process(workers) as floor,
        ):
            measured = {
                name: throughput(f"{url}/cds-services/{SERVICE_ID}", body, CONNECTIONS, seconds)
                for name, url in (("service", service.url), ("floor", floor.url))
            }
        rows.append(
            {"workers": workers}
            | {name: asdict(t) | {"per_second": t.per_second} for name, t in measured.items()}
        )
    return rows


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def measure(apps: list[App], fhir: FhirTestServer, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    services = [app for app in apps if app.pid is not None]
    idle = {app.name: rss_kib(app.pid) for app in services if app.pid}
    print("hook latency, full prefetch, sequential keep-alive calls (apps alternating)")
    print(" the two-card chart (demo dialysis patient with an IV calcium infusion)", flush=True)
    card = latency_table(apps, charts("card", now), args.scale)
    wrong = {row["observations"]: row["cards"] for row in card if row["cards"]["service"] != CARD_CHART_CARDS}
    if wrong:
        raise SystemExit(f"bench: the card chart must draw {CARD_CHART_CARDS} cards, drew {wrong}")
    print(" a chart that draws no card", flush=True)
    plain = latency_table(apps, charts("plain", now), args.scale)
    print(f"throughput, {CONNECTIONS} connections, two-card chart, {THROUGHPUT_SIZE} obs (wrk)", flush=True)
    throughput_body = charts("card", now, (THROUGHPUT_SIZE,))[THROUGHPUT_SIZE]
    load = throughput_runs(apps, throughput_body, args.seconds)
    memory = {
        app.name: {"idle": idle[app.name], "after_load": rss_kib(app.pid)} for app in services if app.pid
    }
    print("FHIR fallback against the test FHIR server", flush=True)
    fallback = {app.name: fallback_costs(app.url, fhir, args.scale) for app in services}
    print(
        f"workers: throughput, {CONNECTIONS} connections, two-card chart, {THROUGHPUT_SIZE} obs", flush=True
    )
    workers = worker_runs(throughput_body, args.seconds, logs)
    return {
        "card": card,
        "plain": plain,
        "throughput": load,
        "memory": memory,
        "fallback": fallback,
        "workers": workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of calls (0.2: quick)")
    parser.add_argument("--seconds", type=int, default=6, help="length of each throughput round")
    parser.add_argument(
        "--before", metavar="REF", help="also run the service as of this git revision (before/after)"
    )
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/<UTC time>.json)")
    args = parser.parse_args()
    workload.check_codes(load_knowledge())
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    logs = Path(tempfile.mkdtemp(prefix="cds-bench-"))
    with ExitStack() as stack:
        fhir = FhirTestServer(token=secrets.token_urlsafe(16))
        stack.callback(fhir.close)
        # As deployed: the default log level (info: a JSON line per call and an access log line), to a file.
        service = stack.enter_context(ServiceProcess(log_file=logs / "service.log", log_level="info"))
        apps = [App("service", service.url, service.pid)]
        if args.before:
            before = stack.enter_context(service_at(args.before, logs / "before.log"))
            apps.append(App("before", before.url, before.pid))
        floor = stack.enter_context(floor_process())
        apps.append(App("floor", floor.url, None))
        measured = measure(apps, fhir, args, logs)
    results = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine() | {"load_before": load_before, "load_after": os.getloadavg()},
        "apps": [app.name for app in apps],
        "before_revision": args.before,
        **measured,
    }
    output = args.output or RESULTS / f"{started:%Y%m%dT%H%M%SZ}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    print(f"\nresults: {output}")


if __name__ == "__main__":
    main()
