"""The benchmark suite: the service against the floor, in one run, on one machine.

Run: ``bash scripts/bench`` (installs what it needs, then runs this module). Starts the Medplum test FHIR
server, ``calcinosis-cds serve`` and the floor app (``bench.floor``) as their own processes on loopback,
then measures, in this order:

1. hook latency, full prefetch, 10 / 100 / 1,000 / 10,000 Observations, service and floor alternating call
   by call on keep-alive connections: p50, p95, ratio, and the cost per observation (the growth curve);
2. memory: the service's RSS idle (before any call) and after the 10,000-observation runs, and its peak;
3. throughput: 16 concurrent connections (wrk), 100 Observations, service and floor alternating in rounds;
4. FHIR fallback: every prefetch query timed alone against the test FHIR server, then the hook with no
   prefetch (the service fetches all keys concurrently); as is, and with network latency injected.

Prints a table and writes everything to ``bench/results/<UTC time>.json``. Targets (issue 8) are checked
and printed as met or missed; the exit status is 0 either way - a missed target is a finding, not a crash.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import sys
import tempfile
from dataclasses import asdict
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
RESULTS = Path(__file__).with_name("results")
SIZES = (10, 100, 1_000, 10_000)
# Calls per size (each for the service and the floor): fewer for big bodies, enough for a stable p95.
CALLS = {10: 400, 100: 400, 1_000: 150, 10_000: 25}
WARMUP = {10: 20, 100: 20, 1_000: 10, 10_000: 3}
THROUGHPUT_SIZE = 100
CONNECTIONS = 16


def rss_kib(pid: int) -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of ``pid``, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return {"rss_kib": fields["VmRSS"], "peak_kib": fields["VmHWM"]}


def floor_process() -> ServerProcess:
    port = free_port()
    command = [sys.executable, "-m", "bench.floor", "--port", str(port)]
    return ServerProcess(command, port, dict(os.environ), None)


def _latency_row(clients: list[KeepAliveClient], size: int, body: bytes, calls: int) -> dict[str, Any]:
    cards = len(orjson.loads(clients[0].call(body))["cards"])
    print(
        f"  {size:>6} observations, {cards} card(s): {len(body) / 1024:,.0f} KiB, {calls} calls each",
        flush=True,
    )
    service, floor = interleaved(clients, [body, body], calls, WARMUP[size])
    return {
        "observations": size,
        "body_kib": len(body) / 1024,
        "cards": cards,
        "service": asdict(service),
        "floor": asdict(floor),
        "ratio_p50": service.p50 / floor.p50,
    }


def latency_runs(
    service_url: str, floor_url: str, scale: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows per size (a chart with no card to issue), and the 100-observation chart issuing a card."""
    clients = [
        KeepAliveClient(f"{service_url}/cds-services/{SERVICE_ID}"),
        KeepAliveClient(f"{floor_url}/cds-services/{SERVICE_ID}"),
    ]
    try:
        rows = []
        for size in SIZES:
            body = workload.hook_request(workload.full_prefetch(workload.observations(size)), None, None)
            rows.append(_latency_row(clients, size, body, max(5, round(CALLS[size] * scale))))
        labs = workload.with_card(workload.observations(THROUGHPUT_SIZE))
        body = workload.hook_request(workload.full_prefetch(labs), None, None)
        card = _latency_row(clients, THROUGHPUT_SIZE, body, max(5, round(CALLS[THROUGHPUT_SIZE] * scale)))
    finally:
        for client in clients:
            client.close()
    return rows, card


def throughput_runs(service_url: str, floor_url: str, seconds: int) -> dict[str, Any]:
    """Two alternating rounds each, so both servers see the same drift of the machine."""
    body = workload.hook_request(workload.full_prefetch(workload.observations(THROUGHPUT_SIZE)), None, None)
    rounds: dict[str, list[Throughput]] = {"service": [], "floor": []}
    for _ in range(2):
        for name, url in (("service", service_url), ("floor", floor_url)):
            rounds[name].append(throughput(f"{url}/cds-services/{SERVICE_ID}", body, CONNECTIONS, seconds))
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
    totals["ratio"] = totals["service"]["per_second"] / totals["floor"]["per_second"]
    totals |= {"observations": THROUGHPUT_SIZE, "connections": CONNECTIONS}
    return totals


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of calls (0.2: quick)")
    parser.add_argument("--seconds", type=int, default=6, help="length of each throughput round")
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/<UTC time>.json)")
    args = parser.parse_args()
    workload.check_codes(load_knowledge())
    started = dt.datetime.now(dt.UTC)
    fhir = FhirTestServer(token=secrets.token_urlsafe(16))
    try:
        # As deployed: the default log level (info: a JSON line per call and an access log line), to a file.
        log_file = Path(tempfile.mkdtemp(prefix="cds-bench-")) / "service.log"
        with ServiceProcess(log_file=log_file, log_level="info") as service, floor_process() as floor:
            idle = rss_kib(service.pid)
            print("hook latency, full prefetch, sequential keep-alive calls (service and floor alternating)")
            latency, card = latency_runs(service.url, floor.url, args.scale)
            memory = {"idle": idle, "after_10000": rss_kib(service.pid)}
            print(f"throughput, {CONNECTIONS} connections, {THROUGHPUT_SIZE} observations (wrk)", flush=True)
            load = throughput_runs(service.url, floor.url, args.seconds)
            print("FHIR fallback against the test FHIR server", flush=True)
            fallback = fallback_costs(service.url, fhir, args.scale)
    finally:
        fhir.close()
    results = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "latency": latency,
        "card": card,
        "memory": memory,
        "throughput": load,
        "fallback": fallback,
    }
    output = args.output or RESULTS / f"{started:%Y%m%dT%H%M%SZ}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    print(f"\nresults: {output}")


if __name__ == "__main__":
    main()
