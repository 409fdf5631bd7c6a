"""``serve --workers N``: N uvicorn worker processes sharing one listening socket, and a supervisor.

The supervisor binds the socket, forks the workers (after the app is built and the data checked, before any
event loop or thread exists, so each worker starts its own database pool, history writer and override index
in its lifespan) and serves nothing itself. Each worker runs in its own process group: a Ctrl-C in the
terminal reaches the supervisor alone, which passes one SIGTERM to every worker (a second signal would make
uvicorn skip the graceful shutdown that drains the history queue). If a worker dies on its own, the
supervisor stops the others and exits 1, for the process manager (systemd, the container runtime) to
restart the service whole. What several workers share goes through the database (card history, feedback,
the replay cache without Redis; README "Connecting an EHR").
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from types import FrameType

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _work(config: uvicorn.Config, sock: socket.socket) -> None:
    """In the forked child: serve on the inherited socket until SIGTERM, then leave without running the
    parent's clean-up (``os._exit``)."""
    code = 0
    try:
        os.setpgid(0, 0)
        for stop in STOP_SIGNALS:
            signal.signal(stop, signal.SIG_DFL)
        uvicorn.Server(config).run(sockets=[sock])
    except BaseException:  # noqa: BLE001 - the child must never return into the supervisor's code
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_workers(config: uvicorn.Config, workers: int) -> int:
    """Serve ``config`` with ``workers`` processes until SIGINT/SIGTERM; the exit status of the service."""
    sock = config.bind_socket()
    children: set[int] = set()
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            _work(config, sock)
        children.add(pid)
    sock.close()
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            for child in children:
                with contextlib.suppress(ProcessLookupError):  # ended and reaped meanwhile
                    os.kill(child, signal.SIGTERM)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    status = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if not stopping:  # a worker died on its own: stop the rest and report it
            print(f"calcinosis-cds: worker {pid} exited ({code}); stopping the service", file=sys.stderr)
            status = 1
            stop(signal.SIGTERM, None)
    return status
