"""The outbound network backend (asyncio streams) under both event loops: TLS, keep-alive, closed idles.

Its read back-pressure is what keeps the service's memory flat under a hostile server; that is measured
end to end in ``tests/test_hostile_fhir.py::test_memory_after_20_hostile_calls``.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import pytest
import uvloop

from service.fhir.outbound_http import StreamBackend
from tests.certificates import self_signed

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
RUNNERS = {"asyncio": asyncio.run, "uvloop": uvloop.run}


class Server:
    """A loopback HTTP/1.1 server answering ``ok``; ``close_after_reply`` drops keep-alive silently."""

    def __init__(self, context: ssl.SSLContext | None = None, close_after_reply: bool = False) -> None:
        self.connections = 0
        self.closed = 0  # connections the server has closed (their socket shut down)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                outer.connections += 1
                super().setup()

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.close_connection = close_after_reply

            def log_message(self, *_: Any) -> None:
                return

        class Counting(ThreadingHTTPServer):
            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)
                outer.closed += 1

        self._server = Counting(("127.0.0.1", 0), Handler)
        if context:
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only the server's fresh self-signed certificate)."""
    cert_file, key_file = self_signed(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


async def two_requests(
    url: str, context: ssl.SSLContext | None = None, before_second: Callable[[], bool] = lambda: True
) -> list[tuple[int, bytes, bool]]:
    """Two GETs through one pool: (status, body, whether the connection spoke TLS) for each; the second
    waits (up to 5 s) until ``before_second`` holds."""
    answers = []
    async with httpcore.AsyncConnectionPool(ssl_context=context, network_backend=StreamBackend()) as pool:
        for attempt in range(2):
            for _ in range(500 if attempt else 0):
                if before_second():
                    break
                await asyncio.sleep(0.01)
            async with pool.stream("GET", url) as response:
                body = await response.aread()
                stream = response.extensions["network_stream"]
                answers.append((response.status, body, stream.get_extra_info("ssl_object") is not None))
    return answers


@pytest.mark.parametrize("loop", RUNNERS)
def test_tls_and_keep_alive(loop: str, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    with Server(server_context) as server:
        answers = RUNNERS[loop](two_requests(f"https://localhost:{server.port}/a", client_context))
    assert answers == [(200, b"ok", True), (200, b"ok", True)]
    assert server.connections == 1


@pytest.mark.parametrize("loop", RUNNERS)
def test_an_untrusted_certificate_is_refused(loop: str, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    with Server(tls[0]) as server, pytest.raises(httpcore.ConnectError):
        RUNNERS[loop](two_requests(f"https://localhost:{server.port}/a", ssl.create_default_context()))


@pytest.mark.parametrize("loop", RUNNERS)
def test_an_idle_connection_the_server_closed_is_not_reused(loop: str) -> None:
    with Server(close_after_reply=True) as server:
        # The server has closed the first connection before the second request (on a loaded machine its
        # thread may otherwise close it only after the request went out: a race, not reuse of a closed one).
        url = f"http://127.0.0.1:{server.port}/a"
        answers = RUNNERS[loop](two_requests(url, before_second=lambda: server.closed >= 1))
    assert answers == [(200, b"ok", False), (200, b"ok", False)]
    assert server.connections == 2
