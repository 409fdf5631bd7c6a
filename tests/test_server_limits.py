"""The server's own limits, through the real console script (``calcinosis-cds serve``) and raw sockets:
slow request heads are cut off (slowloris), heads are bounded in size, idle kept-alive connections close,
and calls beyond the concurrency limit get a 503."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.load_tools import HOOK, critical_call, summary
from tests.servers import ServiceProcess
from tests.slow_clients import SLOW_HEAD, Trickler, closed_by_server

SLOW_CONNECTIONS = 100
HEADER_TIMEOUT_S = 2.0
NORMAL_CALL_S = 3.0  # generous on a loaded machine; an unhindered call takes about 0.1 s


def port_of(service: ServiceProcess) -> int:
    return int(service.url.rsplit(":", 1)[1])


def timed_hook_call(service: ServiceProcess) -> float:
    started = time.perf_counter()
    response = httpx.post(service.url + HOOK, json=critical_call("p-normal"), timeout=30)
    assert response.status_code == 200
    assert [c["indicator"] for c in response.json()["cards"]] == ["critical"]
    return time.perf_counter() - started


def test_a_hundred_slow_heads_do_not_stop_a_normal_call_and_are_cut_off() -> None:
    env = {"CDS_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
    with ServiceProcess(env) as service, Trickler(port_of(service), SLOW_CONNECTIONS) as slow:
        time.sleep(1.0)  # every slow connection has sent a few bytes
        during = [timed_hook_call(service) for _ in range(3)]
        print(f"\nnormal calls beside {SLOW_CONNECTIONS} slow heads: {summary(during)}")
        assert max(during) < NORMAL_CALL_S
        deadline = slow.opened + HEADER_TIMEOUT_S + 8
        while len(slow.closed_after) < SLOW_CONNECTIONS and time.monotonic() < deadline:
            time.sleep(0.1)
        closed = sorted(slow.closed_after.values())
        open_count = SLOW_CONNECTIONS - len(closed)
        print(f"slow heads closed by the server: {len(closed)}, still open: {open_count}", end="")
        print(f", after {closed[0]:.2f}-{closed[-1]:.2f} s" if closed else "")
        assert open_count == 0
        assert closed[0] >= HEADER_TIMEOUT_S - 0.3, "closed by the header timeout, not before"
        assert timed_hook_call(service) < NORMAL_CALL_S


def test_slow_heads_that_exhaust_file_descriptors_are_cut_off_and_health_checks_recover() -> None:
    """The reported failure in small: the service may hold 128 files, 150 slow heads take them all (the
    event loop then accepts and drops every new connection), and health checks fail - until the header
    timeout frees the descriptors."""
    env = {"CDS_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
    with (
        ServiceProcess(env, launcher=("prlimit", "--nofile=128")) as service,
        Trickler(port_of(service), 150) as slow,
    ):
        failed = 0
        recovered: float | None = None
        while recovered is None and time.monotonic() < slow.opened + HEADER_TIMEOUT_S + 10:
            try:
                if httpx.get(service.url + "/healthz", timeout=1).status_code == 200:
                    recovered = time.monotonic() - slow.opened
            except httpx.HTTPError:
                failed += 1
                time.sleep(0.25)
        passed = "never passed" if recovered is None else f"passed {recovered:.2f} s after the slow heads"
        print(f"\nhealth checks failed {failed} times, then {passed}")
        assert failed >= 1, "the slow heads did exhaust the descriptors"
        assert recovered is not None
        assert recovered < HEADER_TIMEOUT_S + 5
        assert timed_hook_call(service) < NORMAL_CALL_S


@contextmanager
def raw_connection(service: ServiceProcess) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port_of(service)))
    try:
        yield sock
    finally:
        sock.close()


def complete_request(sock: socket.socket) -> bytes:
    """One whole GET /healthz on a kept-alive connection; the response head and body."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: cds\r\n\r\n")
    sock.settimeout(10)
    answer = b""
    while b'"ok"' not in answer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection instead of answering"
        answer += chunk
    return answer


def seconds_until_closed(sock: socket.socket, limit_s: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``sock`` (sending ``trickle`` a byte at a time meanwhile)."""
    started = time.monotonic()
    for index in range(int(limit_s / 0.05)):
        if closed_by_server(sock):
            return time.monotonic() - started
        if trickle and index % 4 == 0:
            try:
                sock.send(trickle[index // 4 : index // 4 + 1])
            except OSError:
                return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"still open after {limit_s} s")


def test_a_slow_second_head_on_a_kept_alive_connection_is_cut_off() -> None:
    env = {"CDS_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S), "CDS_KEEP_ALIVE_TIMEOUT_S": "60"}
    with ServiceProcess(env) as service, raw_connection(service) as sock:
        assert b"200 OK" in complete_request(sock)
        closed = seconds_until_closed(sock, HEADER_TIMEOUT_S + 8, trickle=SLOW_HEAD)
        print(f"\nslow second head closed after {closed:.2f} s")
        assert closed >= HEADER_TIMEOUT_S - 0.3


def test_an_oversized_head_is_refused_with_431() -> None:
    with ServiceProcess({"CDS_MAX_HEADER_BYTES": "16384"}) as service, raw_connection(service) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: cds\r\nX-Big: " + b"a" * 64 * 1024)
        sock.settimeout(10)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b"request.header-too-large" in answer


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() -> None:
    env = {"CDS_KEEP_ALIVE_TIMEOUT_S": "1", "CDS_HEADER_TIMEOUT_S": "60"}
    with ServiceProcess(env) as service, raw_connection(service) as sock:
        complete_request(sock)
        closed = seconds_until_closed(sock, 10)
        print(f"\nidle connection closed after {closed:.2f} s")
        assert 0.5 <= closed < 3


def test_calls_beyond_the_concurrency_limit_get_503() -> None:
    """uvicorn counts open connections and running requests against CDS_LIMIT_CONCURRENCY."""
    env = {"CDS_LIMIT_CONCURRENCY": "4", "CDS_HEADER_TIMEOUT_S": "60"}
    with ServiceProcess(env) as service:
        idle = [socket.create_connection(("127.0.0.1", port_of(service))) for _ in range(3)]
        time.sleep(0.5)  # accepted by the server
        try:
            refused = httpx.get(service.url + "/cds-services", timeout=10)
        finally:
            for sock in idle:
                sock.close()
        assert refused.status_code == 503
        time.sleep(0.5)
        assert httpx.get(service.url + "/cds-services", timeout=10).status_code == 200
