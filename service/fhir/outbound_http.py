"""The service's outbound HTTP client (FHIR servers, key sets), on asyncio streams that stop reading early.

httpx reads through httpcore's anyio backend by default. anyio's protocol queues every chunk the event
loop hands it and pauses the socket only once the reading task runs again. Under uvloop (which uvicorn
uses) one wake-up is up to 32 reads of 250 kB, so a fast server got several MB per connection into the
process ahead of what the client had consumed, whatever its size cap (7 MB queued on one connection,
measured), and a connection closed early kept its queue until the pool next pruned it. In
``tests/test_hostile_fhir.py::test_memory_after_20_hostile_calls`` the service's RSS went from 110 to
195 MiB (1.77 x) with that backend, and from 111 to 137 to 139 MiB (1.24 to 1.25 x) with this one.

``asyncio.StreamReader`` pauses the transport inside ``data_received`` as soon as more than twice its
``limit`` is buffered, so at most ``2 * READ_LIMIT`` plus one socket read waits in the process per
connection. This module is httpcore's documented network-backend interface over those streams, and
:func:`outbound_client` the one ``httpx.AsyncClient`` the app builds with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

READ_LIMIT = 64 * 1024
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's defaults


@contextlib.contextmanager
def _mapped(timeout: type[Exception], error: type[Exception]) -> Iterator[None]:
    """asyncio's exceptions as the httpcore ones httpx maps to its own (``httpx.ReadTimeout``, ...)."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout(str(exc)) from exc
    except (OSError, EOFError, ssl.SSLError, RuntimeError) as exc:
        raise error(str(exc) or type(exc).__name__) from exc


def _socket_readable(sock: Any) -> bool:
    """Whether a read would return at once (data, or the end of a closed connection)."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - httpcore's interface
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 - httpcore's interface
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        # abort, not close: nothing of ours is left to flush, and unread data must not be drained.
        self._writer.transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle pooled connection the server closed (httpcore's expiry check)
            socket = self._writer.get_extra_info("socket")
            return self._reader.at_eof() or self._reader.exception() is not None or _socket_readable(socket)
        names = {"client_addr": "sockname", "server_addr": "peername"}
        return self._writer.get_extra_info(names.get(info, info))


class StreamBackend(httpcore.AsyncNetworkBackend):
    """TCP connections as asyncio streams with read back-pressure (see the module docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, local_addr=local, limit=READ_LIMIT)
        socket = writer.get_extra_info("socket")
        for option in socket_options or ():
            socket.setsockopt(*option)
        return _Stream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Transport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # httpx builds its pool without a way to pass a network backend; this is that pool, with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=StreamBackend(),
        )


def outbound_client() -> httpx.AsyncClient:
    """The app's client for every outbound call: no redirects, no proxy or CA bundle from the environment."""
    return httpx.AsyncClient(transport=_Transport(), follow_redirects=False, trust_env=False)
