"""Snapshot build time for 100, 1,000 and 10,000 Observations (a benchmark, not a timed test).

Run: ``.venv/bin/python -m bench.snapshot_build``. Builds the prefetch as JSON bytes, parses it with orjson
as the service does, then times ``build_snapshot`` alone (median and p95 of repeated builds). Target
(issue 3): well under 100 ms at 10,000 Observations.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

# (LOINC code, unit, low, high): calcium, phosphate, albumin, creatinine, eGFR, PTH, 25-OH vitamin D,
# in both unit systems where labs use both; plus a code we do not read.
MIX = [
    (fd.CALCIUM_MASS, "mg/dL", 8.0, 11.5),
    (fd.CALCIUM_MOLAR, "mmol/L", 2.0, 2.9),
    (fd.PHOSPHATE_MASS, "mg/dL", 2.5, 7.0),
    (fd.PHOSPHATE_MOLAR, "mmol/L", 0.8, 2.2),
    ("1751-7", "g/dL", 2.5, 4.8),
    ("2160-0", "mg/dL", 0.6, 8.0),
    ("14682-9", "umol/L", 50, 700),
    ("98979-8", "mL/min/{1.73_m2}", 8, 110),
    ("2731-8", "pg/mL", 20, 900),
    ("62292-8", "ng/mL", 8, 60),
    ("4548-4", "%", 5, 9),
]
SIZES = (100, 1_000, 10_000)


def prefetch_bytes(n: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not cryptography
    labs = []
    for i in range(n):
        code, unit, low, high = MIX[i % len(MIX)]
        status = "final" if rng.random() > 0.02 else "entered-in-error"
        value = round(rng.uniform(low, high), 2)
        labs.append(fd.lab(code, value, unit, days_ago=rng.uniform(0, 3000), status=status, oid=f"o{i}"))
    return orjson.dumps(fd.full_prefetch("p1", labs))


def main() -> None:
    knowledge = load_knowledge()
    as_of = datetime.now(UTC)
    print(f"{'observations':>12} {'median ms':>10} {'p95 ms':>8} {'us/obs':>7}")
    for n in SIZES:
        raw = prefetch_bytes(n)
        samples = []
        for _ in range(max(5, 2000 // max(n // 100, 1) // 10)):
            values: dict[str, Any] = orjson.loads(raw)
            started = time.perf_counter()
            build_snapshot("p1", values.values(), knowledge, as_of)
            samples.append((time.perf_counter() - started) * 1000)
        median = statistics.median(samples)
        p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
        print(f"{n:>12} {median:>10.2f} {p95:>8.2f} {median * 1000 / n:>7.1f}")


if __name__ == "__main__":
    main()
