"""Developer sandbox commands: ``load-demo`` (demo patients into any FHIR R4 server) and ``check`` (play
the EHR: run our prefetch templates against a FHIR server, call the service, show the cards).
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import TextIO

import httpx

from service import demo

FHIR_JSON = "application/fhir+json"
BAR_WIDTH = 24


class SandboxError(Exception):
    """A failure to report to the developer in one clear sentence (exit status 1)."""


def auth_header(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def outcome_text(response: httpx.Response) -> str:
    """The diagnostics of an OperationOutcome body, else the start of the body."""
    try:
        body = response.json()
        issues = body.get("issue", []) if isinstance(body, dict) else []
        texts = [
            i.get("diagnostics") or (i.get("details") or {}).get("text")
            for i in issues
            if isinstance(i, dict)
        ]
        if any(texts):
            return "; ".join(t for t in texts if t)
    except ValueError:
        pass
    return response.text[:200]


async def wait_for(
    client: httpx.AsyncClient, base: str, token: str | None, wait_s: float, err: TextIO
) -> None:
    """Until ``base/metadata`` answers 200 (HAPI takes a minute to start), or ``wait_s`` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            response = await client.get(f"{base}/metadata", headers=auth_header(token))
            if response.status_code == httpx.codes.OK:
                return
            problem = f"HTTP {response.status_code}: {outcome_text(response)}"
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        if time.monotonic() >= deadline:
            raise SandboxError(f"FHIR server {base} is not answering ({problem})")
        print(f"waiting for FHIR server {base} ({problem})", file=err)
        await asyncio.sleep(2)


def _progress(done: int, total: int, label: str, err: TextIO) -> None:
    """A bar redrawn in place on a terminal; elsewhere (a pipe, a CI log) one plain line per step, as a
    ``\r`` there only piles every state of the bar onto one line."""
    if err.isatty():
        filled = BAR_WIDTH * done // total
        err.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {label:<28}")
        if done == total:
            err.write("\n")
    else:
        err.write(f"{done}/{total} {label}\n")
    err.flush()


async def load_demo(base: str, token: str | None, wait_s: float, err: TextIO = sys.stderr) -> int:
    """PUT every demo patient (one transaction each, stable ids: loading twice changes nothing)."""
    base = base.rstrip("/")
    patients = demo.demo_patients()
    now = datetime.now(UTC)
    async with httpx.AsyncClient(timeout=60, follow_redirects=False) as client:
        await wait_for(client, base, token, wait_s, err)
        for done, patient in enumerate(patients, start=1):
            transaction = demo.bundle(patient.id, now)
            headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **auth_header(token)}
            try:
                response = await client.post(base, json=transaction, headers=headers)
            except httpx.HTTPError as exc:
                raise SandboxError(f"could not send {patient.id} to {base}: {type(exc).__name__}") from exc
            if response.status_code != httpx.codes.OK:
                raise SandboxError(
                    f"FHIR server refused {patient.id}: HTTP {response.status_code}: {outcome_text(response)}"
                )
            failed = [
                e
                for e in response.json().get("entry", [])
                if not str(e.get("response", {}).get("status", "")).startswith("2")
            ]
            if failed:
                first = failed[0].get("response")
                raise SandboxError(f"FHIR server refused {len(failed)} resources of {patient.id}: {first}")
            _progress(done, len(patients), patient.id, err)
    return len(patients)
