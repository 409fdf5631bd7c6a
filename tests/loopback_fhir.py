"""A scriptable loopback HTTP server standing in for a FHIR server we do not own (canary or hostile).

It records the raw request target of every request it receives, and answers each one with what the test's
``route`` function returns: a status, a body given as chunks (sent chunked, without ``Content-Length``,
when ``length`` is false), and an optional pause before each chunk, so a test can drip bytes, stream an
endless body or serve a huge one. One asyncio loop in a background thread serves all connections.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """One answer: ``chunks`` sent in order (chunked transfer coding when ``chunked``, else with a
    ``Content-Length``), each after ``pause_s`` seconds."""

    chunks: Iterable[bytes]
    status: int = 200
    chunked: bool = False
    pause_s: float = 0.0
    content_type: str = "application/fhir+json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(document: dict[str, Any]) -> Reply:
    return Reply([json.dumps(document).encode()])


@dataclass
class LoopbackFhir:
    """``route(target) -> Reply`` answers every request; ``targets`` lists what was asked, in order."""

    route: Callable[[str], Reply]
    targets: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackFhir:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("loopback FHIR server did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
        loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode("latin-1")
                self.targets.append(target)
                await self._answer(writer, self.route(target))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, reply: Reply) -> None:
        chunks = reply.chunks
        if reply.chunked:
            framing = "Transfer-Encoding: chunked"
        else:
            chunks = list(chunks)
            framing = f"Content-Length: {sum(map(len, chunks))}"
        extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
        head = f"HTTP/1.1 {reply.status} X\r\nContent-Type: {reply.content_type}\r\n{extra}{framing}\r\n\r\n"
        writer.write(head.encode())
        for chunk in chunks:
            if reply.pause_s:
                await asyncio.sleep(reply.pause_s)
            writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if reply.chunked else chunk)
            await writer.drain()
        if reply.chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
