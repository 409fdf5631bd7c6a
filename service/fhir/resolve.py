"""Resolving a request's prefetch into data: use what the EHR sent, fetch what it did not.

Implements the state machine of ``service.fhir.prefetch`` against the FHIR server: every key that is missing,
that the EHR failed, or whose data is about another patient only (a Patient with another id, a searchset
naming only other patients) is fetched, and a searchset the EHR sent only part of (a ``next`` link, or a
``total`` above its entries) is completed by following its ``next`` links (else fetched again), all
concurrently, under one deadline (``CDS_HOOK_BUDGET_S``). If any of
them cannot be obtained the hook answers 412 (CDS Hooks 2.0 § HTTP Response: "unable to retrieve the
necessary FHIR data"), naming each failed key and its reason, well within the budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from service.api.observability import note
from service.api.wire import HookRequest
from service.errors import ErrorCode, Problem, ServiceError
from service.fhir.client import FetchLimits, FhirClient, FhirFetchError, next_link
from service.fhir.outbound import Allowlist, normalize_base
from service.fhir.prefetch import PrefetchState, classify, render_template, token_values
from service.metrics import Metrics
from service.settings import Settings
from terminology.subjects import patient_references

log = logging.getLogger("calcinosis_cds.prefetch")
# Prefetch states of ours, beyond the spec's four: provided, but about another patient only; provided, but
# only the first page of a search.
WRONG_PATIENT = "wrong-patient"
INCOMPLETE = "incomplete"
PRECONDITION_FAILED = 412


@dataclass(frozen=True, slots=True)
class FetchDeps:
    settings: Settings
    allowlist: Allowlist
    http: httpx.AsyncClient
    metrics: Metrics


class _KeyFailedError(Exception):
    """Raised inside the task group to cancel the other fetches once one key has failed."""


class FetchFailedError(Exception):
    """The keys that could not be fetched, each with its error."""

    def __init__(self, failures: Mapping[str, FhirFetchError]) -> None:
        super().__init__(", ".join(f"{k}={e.reason}" for k, e in sorted(failures.items())))
        self.failures = dict(failures)


def _unavailable(failures: Mapping[str, FhirFetchError]) -> ServiceError:
    problems = [
        Problem(
            ErrorCode.PREFETCH_UNAVAILABLE,
            f"prefetch key {key!r} could not be obtained: {err.reason} ({err})",
            f"prefetch.{key}",
        )
        for key, err in sorted(failures.items())
    ]
    return ServiceError(PRECONDITION_FAILED, problems)


NOT_FETCHABLE = {
    WRONG_PATIENT: ("prefetch-wrong-patient", "the prefetched data is about another patient"),
    INCOMPLETE: ("prefetch-incomplete", "the prefetched searchset holds only part of its matches"),
}


def _not_fetchable(label: str) -> FhirFetchError:
    """Why a key that needs fetching cannot be, when the request names no FHIR server."""
    reason, why = NOT_FETCHABLE.get(label, ("no-fhir-server", "not prefetched"))
    return FhirFetchError(reason, f"{why} and the request has no fhirServer")


def incomplete(value: Any) -> bool:
    """A searchset that is only part of its result: a ``next`` link, or a ``total`` above its entries (the
    CDS Hooks sandbox and HAPI page searches at 20 and send the first page). Judging half a record would
    miss what is on the other pages (a CREST diagnosis on page 2)."""
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return False
    entries = value.get("entry")
    total = value.get("total")
    count = len(entries) if isinstance(entries, list) else 0
    beyond = isinstance(total, int) and not isinstance(total, bool) and total > count
    return next_link(value) is not None or beyond


# What to do for a key: run its rendered template, or complete the first page the EHR sent.
Task = str | dict[str, Any]


async def _fetch_all(client: FhirClient, queries: Mapping[str, Task], budget_s: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    failures: dict[str, FhirFetchError] = {}

    async def fetch_one(key: str, query: Task) -> None:
        try:
            results[key] = await (client.fetch(query) if isinstance(query, str) else client.complete(query))
        except FhirFetchError as err:
            # Without its traceback: the traceback's frames hold the pages read so far, and a failure kept
            # with them lives in a reference cycle until the collector's next full pass.
            failures[key] = err.with_traceback(None)
            raise _KeyFailedError from err

    try:
        async with asyncio.timeout(budget_s):
            try:
                async with asyncio.TaskGroup() as group:
                    for key, query in queries.items():
                        group.create_task(fetch_one(key, query))
            except* _KeyFailedError:
                pass
    except TimeoutError:
        for key in queries:
            if key not in results and key not in failures:
                failures[key] = FhirFetchError("budget-exhausted", f"not fetched within {budget_s:g} s")
    if failures:
        results.clear()  # this frame stays reachable from the error's traceback: let the data go now
        raise FetchFailedError(failures)
    return results


async def resolve_prefetch(
    prefetch_templates: Mapping[str, str], request: HookRequest, deps: FetchDeps
) -> dict[str, Any]:
    """Data for every declared key (``NO_DATA`` keys are left out); raises ``ServiceError`` 412."""
    values: dict[str, Any] = {}
    queries: dict[str, Task] = {}
    tokens = token_values(request.context)
    states: dict[str, int] = {}
    labels: dict[str, str] = {}
    patient_id = str(request.context.get("patientId", ""))
    for key, template in prefetch_templates.items():
        state = classify(request.prefetch, key)
        label = state.value
        if state is PrefetchState.PROVIDED:
            assert request.prefetch is not None  # noqa: S101 - classify() returns PROVIDED only then
            value = request.prefetch[key]
            if patient_references(patient_id, request.fhirServer, value).about_someone_else(value):
                label = WRONG_PATIENT  # never judge this chart on another patient's data: fetch it
            elif incomplete(value):
                label = INCOMPLETE  # never judge half a record: fetch the rest
                queries[key] = value if next_link(value) else render_template(template, tokens)
            else:
                values[key] = value
        labels[key] = label
        states[label] = states.get(label, 0) + 1
        if label in (PrefetchState.MISSING, PrefetchState.EHR_FAILED, WRONG_PATIENT):
            queries[key] = render_template(template, tokens)
    note(prefetch=states)
    if not queries:
        return values
    if not request.fhirServer:
        raise _unavailable({key: _not_fetchable(labels[key]) for key in queries})
    base = normalize_base(request.fhirServer)  # HookRequest checked it: this cannot raise
    if not deps.allowlist.allows(base):
        raise ServiceError.single(
            PRECONDITION_FAILED,
            ErrorCode.FHIR_SERVER_NOT_ALLOWED,
            "fhirServer is not in this service's allowlist (CDS_FHIR_SERVER_ALLOWLIST); "
            "data could not be fetched",
            "fhirServer",
        )
    settings = deps.settings
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    deadline = time.monotonic() + settings.hook_budget_s
    client = FhirClient(deps.http, base, token, deadline=deadline, limits=FetchLimits.from_settings(settings))
    started = time.perf_counter()
    try:
        fetched = await _fetch_all(client, queries, settings.hook_budget_s)
    except FetchFailedError as err:
        log.warning("fetch failed hookInstance=%s reasons=%s", request.hookInstance, err)
        for failure in err.failures.values():
            deps.metrics.fhir_failures.labels(failure.reason).inc()
        raise _unavailable(err.failures) from err
    finally:
        deps.metrics.fhir_latency.observe(time.perf_counter() - started)
    note(fetched=len(fetched), fetch_ms=round((time.perf_counter() - started) * 1000, 1))
    return {**values, **fetched}
