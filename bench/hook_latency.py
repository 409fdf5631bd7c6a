"""Hook latency over real HTTP: full prefetch vs FHIR fallback, sequential keep-alive calls.

Run: ``.venv/bin/python -m bench.hook_latency [--observations N] [--calls N]`` (after ``bash scripts/test``
installed the test FHIR server). Starts the Medplum test FHIR server and ``calcinosis-cds serve`` (its
own process, as deployed) on loopback, loads one patient with N lab Observations (mixed codes, units and
dates), then times calls client-side and prints median and p95 per mode. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time
from typing import Any

import httpx

from tests import fhir_data as fd
from tests.servers import FhirTestServer, ServiceProcess

SERVICE = "calcinosis-cutis-risk"
MIX = [
    (fd.CALCIUM_MASS, "mg/dL", 8.5, 11.0),
    (fd.CALCIUM_MOLAR, "mmol/L", 2.1, 2.8),
    (fd.PHOSPHATE_MASS, "mg/dL", 2.5, 5.0),
    (fd.PHOSPHATE_MOLAR, "mmol/L", 0.8, 1.6),
]


def observations(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not cryptography
    labs = []
    for i in range(n):
        code, unit, low, high = MIX[i % len(MIX)]
        value = round(rng.uniform(low, high), 2)
        labs.append(fd.lab(code, value, unit, days_ago=rng.uniform(0, 1500), oid=f"o{i}"))
    return labs


def timed(client: httpx.Client, url: str, body: dict[str, Any], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.post(url, json=body)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def summary(name: str, samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[18]
    return f"{name:<14} n={len(samples):<4} median={statistics.median(samples):7.2f} ms  p95={p95:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--with-card", action="store_true", help="add a recent high calcium: every call issues a card"
    )
    args = parser.parse_args()
    labs = observations(args.observations)
    if args.with_card:
        labs.append(fd.lab(fd.CALCIUM_MASS, 12.6, "mg/dL", days_ago=0.5, oid="high-ca"))
    fhir = FhirTestServer(token=secrets.token_urlsafe(16))
    try:
        fhir.load([fd.patient("p1"), *labs])
        with ServiceProcess() as service, httpx.Client(timeout=30) as client:
            url = f"{service.url}/cds-services/{SERVICE}"
            prefetched = fd.request_body(prefetch=fd.full_prefetch("p1", labs))
            fallback = fd.request_body(fhir_server=fhir.base, token=fhir.token)
            timed(client, url, prefetched, 10)  # warm-up
            cards = "a card (and a history write) per call" if args.with_card else "no card"
            print(f"patient with {args.observations} observations, {cards}, sequential keep-alive calls")
            print(summary("full prefetch", timed(client, url, prefetched, args.calls)))
            print(summary("FHIR fallback", timed(client, url, fallback, max(args.calls // 4, 20))))
    finally:
        fhir.close()


if __name__ == "__main__":
    main()
