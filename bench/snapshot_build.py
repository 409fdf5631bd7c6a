"""Snapshot build time for 100, 1,000 and 10,000 Observations (a benchmark, not a timed test).

Run: ``.venv/bin/python -m bench.snapshot_build``. Builds the benchmark's patient (``bench.workload``) as
a hook request, decodes it as the service does (``service.api.decode``), then times ``build_snapshot`` alone
(median and p95 of repeated builds). Target (issue 3): well under 100 ms at 10,000 Observations.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from bench import workload
from service.api.decode import decode_request
from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot

SIZES = (100, 1_000, 10_000)


def main() -> None:
    knowledge = load_knowledge()
    as_of = datetime.now(UTC)
    print(f"{'observations':>12} {'median ms':>10} {'p95 ms':>8} {'us/obs':>7}")
    for n in SIZES:
        raw = workload.hook_request(workload.full_prefetch(workload.observations(n)), None, None)
        samples = []
        for _ in range(max(5, 2000 // max(n // 100, 1) // 10)):
            prefetch = decode_request(raw)["prefetch"]
            started = time.perf_counter()
            build_snapshot(workload.PATIENT_ID, prefetch.values(), knowledge, as_of)
            samples.append((time.perf_counter() - started) * 1000)
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[18]
        print(f"{n:>12} {median:>10.2f} {p95:>8.2f} {median * 1000 / n:>7.1f}")


if __name__ == "__main__":
    main()
