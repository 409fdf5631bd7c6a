"""Cost of card history per hook call: the suppression read plus the history write, on SQLite and PostgreSQL.

Run: ``.venv/bin/python -m bench.history_cost [--calls N] [--postgres]``. Uses the real ``Store`` on a
fresh SQLite file (WAL, synchronous=FULL) and, with ``--postgres``, on a throw-away PostgreSQL 15 cluster;
each call records two cards, as a typical card-producing chart open does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from service.store.engine import create_engine
from service.store.records import CallRecord, CardRecord
from service.store.repository import Store
from service.store.schema import upgrade
from tests.servers import PostgresServer

RULES = ("metastatic-calcification", "calciphylaxis-risk")


async def measure(url: str, calls: int) -> list[float]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        store = Store(engine, b"bench-key")
        now = datetime.now(UTC)
        samples = []
        for i in range(calls):
            key = store.patient_key(f"patient-{i % 50}")
            cards = tuple(
                CardRecord(str(uuid.uuid4()), rule, "0.1.0", "warning", 2, "0" * 64) for rule in RULES
            )
            started = time.perf_counter()
            await store.recent_overrides(key, {rule: now - timedelta(days=30) for rule in RULES})
            call = CallRecord("calcinosis-cutis-risk", str(uuid.uuid4()), key, cards, (), now)
            await store.record_calls([call])
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        await engine.dispose()


def line(name: str, samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[18]
    return f"{name:<11} n={len(samples):<5} median={statistics.median(samples):6.2f} ms  p95={p95:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="history-bench-")
    print(line("sqlite", asyncio.run(measure(f"sqlite:///{folder}/bench.db", args.calls))))
    if args.postgres:
        server = PostgresServer()
        try:
            print(line("postgresql", asyncio.run(measure(server.new_database(), args.calls))))
        finally:
            server.close()


if __name__ == "__main__":
    main()
