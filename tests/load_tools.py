"""Helpers for the storage-under-load tests: card-issuing calls, concurrent timing, metrics and table rows."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from service.store.engine import create_engine
from tests import fhir_data as fd

HOOK = "/cds-services/calcinosis-cutis-risk"
FEEDBACK = HOOK + "/feedback"
ALBUMIN = "1751-7"


def calcium_call(pid: str, value: float) -> dict[str, Any]:
    """A patient-view call whose prefetch holds one calcium (with a normal albumin the same day)."""
    labs = [fd.lab(fd.CALCIUM_MASS, value, "mg/dL", pid=pid), fd.lab(ALBUMIN, 4.0, "g/dL", pid=pid)]
    return fd.request_body(pid=pid, prefetch=fd.full_prefetch(pid, labs))


def critical_call(pid: str) -> dict[str, Any]:
    """A calcium of 14.5 mg/dL: one critical card (never held back, so no suppression read is made)."""
    return calcium_call(pid, 14.5)


def warning_call(pid: str) -> dict[str, Any]:
    """A calcium of 12.5 mg/dL: one warning card, which a suppression could hold back (so it is read)."""
    return calcium_call(pid, 12.5)


def timed_post(url: str, body: dict[str, Any]) -> tuple[float, httpx.Response]:
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        response = client.post(url, json=body)
        return time.perf_counter() - started, response


def concurrent_posts(url: str, bodies: list[dict[str, Any]]) -> list[tuple[float, httpx.Response]]:
    """Every body posted at once (one thread and connection each); (seconds, response) per body."""
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(lambda body: timed_post(url, body), bodies))


def summary(seconds: list[float]) -> str:
    return f"n={len(seconds)} p50={statistics.median(seconds):.3f}s max={max(seconds):.3f}s"


def metric(base_url: str, name: str, **labels: str) -> float:
    """The sum of the service's Prometheus samples ``name`` with these labels (0 when none was counted)."""
    body = httpx.get(base_url + "/metrics", timeout=10).text
    return sum(
        float(sample.value)
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def rows(database_url: str, table: str, where: str = "") -> list[dict[str, Any]]:
    """Every row of ``table`` (or of a join written there), as dicts."""

    async def query() -> list[dict[str, Any]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(f"SELECT * FROM {table} {where}"))  # noqa: S608 - test-only
                return [dict(r._mapping) for r in result]
        finally:
            await engine.dispose()

    return asyncio.run(query())


def wait_until(condition: Callable[[], bool], timeout_s: float) -> float:
    """Poll ``condition`` until it holds; the seconds it took. Fails the test after ``timeout_s``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not reached within {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - started
