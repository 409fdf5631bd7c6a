"""A hostile FHIR server can neither hold a hook call past its budget nor grow the service's memory.

The hostile server is a loopback server written here (``tests/loopback_fhir.py``): we do not own FHIR
servers, and no real one misbehaves on demand. It answers every search of one call with the same trick:
a body far over the size cap sent without ``Content-Length``, a page of tiny entries just under the cap,
an endless body, a gzip bomb, bytes dripped slowly, or page after page. The service runs under uvicorn,
and for the memory test as the real ``calcinosis-cds serve`` child process (its RSS read from /proc).
"""

from __future__ import annotations

import functools
import gzip
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import fhir_data as fd
from tests.conftest import StartService
from tests.loopback_fhir import LoopbackFhir, Reply, json_reply
from tests.servers import ServiceProcess
from tests.test_http_api import hook_url

ENTRY = b'{"resource":{"resourceType":"Observation","status":"final"}},'
PIECE = 64 * 1024
BUDGET_S = 1.0
MARGIN_S = 1.0  # decoding one capped page, answering, and a loaded 2-core machine
MEGABYTE = 1024 * 1024
MODES = ("huge", "full-page", "endless", "gzip-bomb", "pages", "drip")


def bundle_bytes(entries: int, next_url: str | None = None) -> bytes:
    link = b'"link":[{"relation":"next","url":"%s"}],' % next_url.encode() if next_url else b""
    return b'{"resourceType":"Bundle","type":"searchset",%b"entry":[%b]}' % (link, (ENTRY * entries)[:-1])


def pieces(data: bytes) -> list[bytes]:
    """``data`` in the pieces it is sent in."""
    return [data[i : i + PIECE] for i in range(0, len(data), PIECE)]


@functools.cache
def big_body(mode: str) -> list[bytes]:
    """The big bodies in pieces, built once: 63 MB (under the old 64 MiB cap), 8 MB (under today's
    8 MiB) of tiny entries, and a gzip bomb (100 MiB of spaces in about 100 KB)."""
    if mode == "huge":
        return pieces(bundle_bytes(63_000_000 // len(ENTRY)))
    if mode == "full-page":
        return pieces(bundle_bytes(8_300_000 // len(ENTRY)))
    return pieces(gzip.compress(b'{"resourceType":"Bundle","entry":[' + b" " * (100 * MEGABYTE) + b"]}", 9))


class Hostile:
    """Answers the Patient read honestly, and searches with the trick of ``mode``: every search when
    ``every_key``, else the labs search only (the others get empty Bundles)."""

    def __init__(self) -> None:
        self.mode = "benign"
        self.every_key = False
        self.server = LoopbackFhir(self._route)

    @property
    def base(self) -> str:
        return f"{self.server.origin}/fhir"

    def use(self, mode: str) -> None:
        if mode in {"huge", "full-page", "gzip-bomb"}:
            big_body(mode)  # built now, not while the service waits for it
        self.mode = mode

    def _route(self, target: str) -> Reply:
        path, _, query = target.partition("?")
        if "/Patient/" in path:
            return json_reply(fd.patient())
        if self.mode == "benign" or not (self.every_key or path == "/fhir/Observation"):
            return json_reply(fd.bundle([]))
        if self.mode in {"huge", "full-page"}:
            return Reply(big_body(self.mode), chunked=True)
        if self.mode == "gzip-bomb":
            return Reply(big_body(self.mode), headers={"Content-Encoding": "gzip"})
        if self.mode == "endless":
            start = [b'{"resourceType":"Bundle","entry":[']
            return Reply(itertools.chain(start, itertools.repeat(b"{}," * 20_000)), chunked=True)
        if self.mode == "drip":
            return Reply(itertools.repeat(b" "), chunked=True, pause_s=0.2)
        page = int(query.rpartition("page=")[2]) if "page=" in query else 0
        return Reply([bundle_bytes(1000, f"{self.server.origin}{path}?page={page + 1}")])


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    hostile = Hostile()
    with hostile.server:
        yield hostile


def call(client: httpx.Client, url: str, hostile: Hostile) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.post(url, json=fd.request_body(fhir_server=hostile.base, token="hostile-test"))
    return response, time.monotonic() - started


def reasons(response: httpx.Response) -> set[str]:
    """The fetch failure reasons named in a 412 (``... could not be obtained: <reason> (...)``)."""
    texts = [issue["details"]["text"] for issue in response.json()["issue"]]
    return {text.split("obtained: ", 1)[1].split(" ", 1)[0] for text in texts}


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("huge", "fhir-too-large"),
        ("full-page", "fhir-too-many-entries"),
        ("endless", "fhir-too-large"),
        ("gzip-bomb", "fhir-too-large"),
        ("drip", "budget-exhausted"),
    ],
)
def test_a_hostile_answer_is_412_within_the_budget(
    hostile: Hostile, start_service: StartService, client: httpx.Client, mode: str, reason: str
) -> None:
    """The budget is a deadline over every fetch (a drip stays within each read's 5 s timeout), and
    no capped page is decoded after it; the size cap holds while reading, after inflation."""
    service = start_service(hook_budget_s=BUDGET_S, fhir_timeout_s=5)
    hostile.use(mode)
    response, elapsed = call(client, hook_url(service), hostile)
    assert response.status_code == 412, response.text
    assert reasons(response) == {reason}
    assert elapsed < BUDGET_S + MARGIN_S


def test_entries_are_capped_per_key(
    hostile: Hostile, start_service: StartService, client: httpx.Client
) -> None:
    service = start_service(hook_budget_s=5, fhir_max_entries_per_key=2500, fhir_max_pages=50)
    hostile.every_key = True
    hostile.use("pages")
    response, _ = call(client, hook_url(service), hostile)
    assert response.status_code == 412, response.text
    assert reasons(response) == {"fhir-too-many-entries"}
    # Pages of 1,000 (the _count asked for): the third page passes 2,500, so no key asks for a fourth.
    per_key = Counter(target.partition("?")[0] for target in hostile.server.targets)
    assert max(per_key.values()) == 3


def test_entries_are_capped_per_page(
    hostile: Hostile, start_service: StartService, client: httpx.Client
) -> None:
    """A page with more entries than the _count asked for (R4 § 3.1.1.5.4) is refused."""
    service = start_service(fhir_page_size=999)
    hostile.use("pages")  # pages of 1,000 entries
    response, _ = call(client, hook_url(service), hostile)
    assert response.status_code == 412, response.text
    assert reasons(response) == {"fhir-too-many-entries"}
    assert all("page=" not in target for target in hostile.server.targets)


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB: its resident memory now, and the most it ever had."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return tuple(int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def test_memory_after_20_hostile_calls(hostile: Hostile, client: httpx.Client) -> None:
    """The service process's RSS after 20 hostile calls stays under 1.5 x its idle RSS."""
    env = {"CDS_HOOK_BUDGET_S": str(BUDGET_S), "CDS_FHIR_TIMEOUT_S": "5"}
    with ServiceProcess(env=env) as service:
        url = f"{service.url}/cds-services/calcinosis-cutis-risk"
        assert call(client, url, hostile)[0].status_code == 200  # warm: imports, pools, first card path
        time.sleep(0.5)
        idle, _ = rss_mb(service.pid)
        slowest = 0.0
        hostile.every_key = True
        for mode in itertools.islice(itertools.cycle(MODES), 20):
            hostile.use(mode)
            response, elapsed = call(client, url, hostile)
            assert response.status_code == 412, (mode, response.text)
            slowest = max(slowest, elapsed)
        time.sleep(0.5)
        after, peak = rss_mb(service.pid)
    print(f"\nRSS idle {idle:.0f} MiB, after 20 hostile calls {after:.0f} MiB ({after / idle:.2f} x), "
          f"peak {peak:.0f} MiB; slowest call {slowest:.2f} s (budget {BUDGET_S} s)")  # fmt: skip
    assert after < 1.5 * idle
    assert slowest < BUDGET_S + MARGIN_S
