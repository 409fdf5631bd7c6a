"""Slow clients for the server-limit tests: raw sockets that send a request head a byte at a time."""

from __future__ import annotations

import select
import socket
import threading
import time

TRICKLE_EVERY_S = 0.2
# A slow head: never finished, one byte per TRICKLE_EVERY_S.
SLOW_HEAD = b"POST /cds-services/calcinosis-cutis-risk HTTP/1.1\r\nHost: cds\r\nX-Slow: " + b"a" * 10_000


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (EOF or reset); answers at once."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b"" or closed_by_server(sock)
    except OSError:
        return True


class Trickler:
    """Sends the slow head one byte at a time on every socket until the server closes it; records when."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.opened = time.monotonic()
        self.closed_after: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        position = 0
        while not self._stop.is_set() and position < len(SLOW_HEAD):
            for index, sock in enumerate(self.sockets):
                if index in self.closed_after:
                    continue
                try:
                    if closed_by_server(sock):
                        raise ConnectionResetError
                    sock.send(SLOW_HEAD[position : position + 1])
                except OSError:
                    self.closed_after[index] = time.monotonic() - self.opened
            position += 1
            self._stop.wait(TRICKLE_EVERY_S)

    def __enter__(self) -> Trickler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()
