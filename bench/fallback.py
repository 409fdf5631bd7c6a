"""FHIR fallback cost: the hook with no prefetch against each of the queries it has to make.

The service fetches every missing prefetch key concurrently, so its fetch phase should take about as long
as the slowest single query, not the sum of all of them. Each query the service declares (from its
discovery document, rendered by the service's own template code) is timed alone from the benchmark's
client, call by call alternating with the hook; the service's own fetch time comes from its
``cds_fhir_fetch_seconds`` metric. Measured twice: against the loopback test server as is, and with a
fixed delay on every FHIR answer standing in for the network between a service and a remote EHR.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import asdict
from typing import Any

from bench import workload
from bench.client import KeepAliveClient, interleaved
from service.fhir.client import query_url
from service.fhir.prefetch import render_template, token_values
from service.settings import Settings
from tests.servers import FhirTestServer

SIZE = 100
CALLS = 40
DELAY_MS = 40
FETCH_METRIC = "cds_fhir_fetch_seconds"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL we started
        return json.load(response)


def _fetch_seconds(service_url: str) -> tuple[float, float]:
    """(sum, count) of the service's fetch-phase histogram, from its Prometheus endpoint."""
    with urllib.request.urlopen(f"{service_url}/metrics", timeout=10) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in (f"{FETCH_METRIC}_sum", f"{FETCH_METRIC}_count"):
            values[name] = float(value)
    return values[f"{FETCH_METRIC}_sum"], values[f"{FETCH_METRIC}_count"]


def _query_urls(service_url: str, fhir_base: str) -> dict[str, str]:
    """The URLs the service fetches, built by the service's own code with its default page size."""
    service = _get_json(f"{service_url}/cds-services")["services"][0]
    tokens = token_values({"patientId": workload.PATIENT_ID, "userId": "Practitioner/bench"})
    page_size = Settings.model_fields["fhir_page_size"].default
    return {
        key: query_url(fhir_base, render_template(template, tokens), page_size)
        for key, template in service["prefetch"].items()
    }


def _measure(service_url: str, fhir: FhirTestServer, calls: int) -> dict[str, Any]:
    queries = _query_urls(service_url, fhir.base)
    auth = {"Authorization": f"Bearer {fhir.token}", "Accept": "application/fhir+json"}
    clients = [KeepAliveClient(url, auth) for url in queries.values()]
    hook = KeepAliveClient(f"{service_url}/cds-services/calcinosis-cutis-risk")
    body = workload.hook_request(None, fhir.base, fhir.token)
    try:
        hook.call(body)  # warm the service's connection pool to the FHIR server
        before = _fetch_seconds(service_url)
        *each, total = interleaved([*clients, hook], [*([None] * len(clients)), body], calls, warmup=3)
        after = _fetch_seconds(service_url)
    finally:
        for client in [*clients, hook]:
            client.close()
    per_query = {key: latency.p50 for key, latency in zip(queries, each, strict=True)}
    slowest = max(per_query.values())
    fetch_ms = (after[0] - before[0]) / (after[1] - before[1]) * 1000
    return {
        "query_p50_ms": per_query,
        "slowest_query_ms": slowest,
        "sum_of_queries_ms": sum(per_query.values()),
        "service_fetch_mean_ms": fetch_ms,
        "hook": asdict(total),
        "fetch_ratio": fetch_ms / slowest,
        "fetch_to_sum_ratio": fetch_ms / sum(per_query.values()),
        "hook_ratio": total.p50 / slowest,
    }


def fallback_costs(service_url: str, fhir: FhirTestServer, scale: float) -> dict[str, Any]:
    """Fallback costs for a patient with ``SIZE`` Observations, without and with a delay per FHIR answer."""
    labs = workload.observations(SIZE)
    clinical = [r for resources in workload.clinical().values() for r in resources]
    fhir.load([workload.patient(), *labs, *clinical])
    calls = max(5, round(CALLS * scale))
    results = {"observations": SIZE, "loopback": _measure(service_url, fhir, calls)}
    fhir.admin.post("/admin/faults", json={"delayMs": DELAY_MS}).raise_for_status()
    try:
        results[f"delay_{DELAY_MS}ms"] = _measure(service_url, fhir, max(5, calls // 2))
    finally:
        fhir.admin.delete("/admin/faults").raise_for_status()
    return results | {"delay_ms": DELAY_MS, "calls": calls}
