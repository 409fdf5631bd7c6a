"""Real servers for the tests: the service under uvicorn on a free loopback port, and the Medplum FHIR server.

No mocks: the service is the real app behind real uvicorn, called over real HTTP; the FHIR server is
Medplum's in-memory engine behind our loopback wrapper (``tests/fhir_server``), faults injected through
its ``/admin/faults`` endpoint.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import httpx
import uvicorn

from service.api.app import create_app
from service.settings import Settings

FHIR_SERVER_DIR = Path(__file__).parent / "fhir_server"
STARTUP_TIMEOUT_S = 60.0


def loopback_socket() -> socket.socket:
    """A listening-ready socket bound to a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A loopback port that was free a moment ago (for a child server to bind)."""
    sock = loopback_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class RunningService:
    """The app under uvicorn in a background thread; ``url`` is its base URL."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self._sock = loopback_socket()
        port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(settings, clock),
            log_level="warning",
            server_header=False,
            lifespan="on",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> RunningService:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class ServerProcess:
    """An HTTP server as a child process on a free loopback port, ready once ``GET /readyz`` answers 200."""

    def __init__(self, command: list[str], port: int, env: dict[str, str], log_file: Path | None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log_file.open("w") if log_file else None
        self._proc = subprocess.Popen(command, env=env, stderr=self._log, stdout=self._log)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def __enter__(self) -> Self:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{self.url}/readyz", timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self._proc.kill()
                    raise RuntimeError(f"{self._proc.args!r} did not become ready") from None
                time.sleep(0.05)

    def __exit__(self, *_: object) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
        self._proc.wait(timeout=10)
        if self._log:
            self._log.close()

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (None while it runs)."""
        return self._proc.poll()

    def kill(self, sig: int) -> None:
        """Send ``sig`` (e.g. SIGKILL: no shutdown, no flush) and wait for the process to end."""
        self._proc.send_signal(sig)
        self._proc.wait(timeout=10)


class ServiceProcess(ServerProcess):
    """``calcinosis-cds serve`` as a child process, as it runs in production (benchmarks, CLI tests)."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        log_file: Path | None = None,
        log_level: str = "warning",
        launcher: Sequence[str] = (),
        port: int | None = None,
        program: Sequence[str] = (),
        workers: int = 1,
    ) -> None:
        """``launcher``: a command the script runs under, e.g. ``("prlimit", "--nofile=128")``; ``program``:
        the command instead of the console script, e.g. ``(python, "-m", "service.cli.main")``; ``workers``:
        ``serve --workers``."""
        port = port or free_port()
        program = program or (str(Path(sys.executable).parent / "calcinosis-cds"),)
        serve = [*program, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]
        serve += ["--workers", str(workers)] if workers > 1 else []
        command = [*launcher, *serve]
        database = {"CDS_DATABASE_URL": f"sqlite:///{tempfile.mkdtemp(prefix='cds-')}/cds.db"}
        super().__init__(command, port, {**os.environ, **database, **(env or {})}, log_file)


class RedisServer:
    """Debian's redis-server on a free loopback port, in a temporary directory, no persistence."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server; .ci/run does)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ]
        self.start()

    def start(self) -> None:
        """(Re)start on the same port, e.g. after ``close`` to bring Redis back."""
        self._proc = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._ping():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._proc.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresServer:
    """A throw-away PostgreSQL 15 cluster (Debian's binaries) on a free loopback port, trust auth.

    initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` system user, in a
    directory of its own under the system temp folder (pytest's are private to root).
    """

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL 15 is not installed in {PG_BIN} (apt-get install postgresql; .ci/run does)"
            )
        workdir = Path(tempfile.mkdtemp(prefix="cds-pg-"))
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(workdir, "postgres")
        self._run(
            ["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]
        )
        self._options = f"-p {self.port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.start()
        self._databases = 0

    def start(self) -> None:
        """(Re)start the cluster on the same port."""
        log = str(self.workdir / "log")
        self._run(["pg_ctl", "-D", str(self.data), "-o", self._options, "-l", log, "-w", "start"])
        self._running = True

    def stop(self) -> None:
        """Stop at once (as a crash would), keeping the data for ``start``."""
        if self._running:
            self._run(["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"])
            self._running = False

    def _run(self, command: list[str]) -> None:
        full = [str(PG_BIN / command[0]), *command[1:]]
        if self._as_postgres:
            full = ["runuser", "-u", "postgres", "--", *full]
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.workdir)

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        self._databases += 1
        name = f"cds_{self._databases}"
        self._run(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name])
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class FhirTestServer:
    """The Medplum-backed FHIR R4 server as a child process; one per test session.

    With ``token`` every request needs it as a bearer token; without, the server is open (as the CDS Hooks
    sandbox, a browser page that sends none, needs it).
    """

    def __init__(self, token: str | None) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed; the test FHIR server needs Node.js >= 20")
        if not (FHIR_SERVER_DIR / "node_modules").is_dir():
            raise RuntimeError(f"run 'npm ci' in {FHIR_SERVER_DIR} first (the README's test command does)")
        self.token = token
        self._proc = subprocess.Popen(
            [
                node,
                "--experimental-websocket",
                "server.mjs",
                "--port",
                "0",
                *(["--token", token] if token else []),
                "--exit-on-stdin-eof",
            ],
            cwd=FHIR_SERVER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("FHIR_SERVER_VERBOSE") else subprocess.DEVNULL,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            self._proc.kill()
            raise RuntimeError(f"test FHIR server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base = f"{self.origin}/fhir"
        self.admin = httpx.Client(
            base_url=self.origin, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=60
        )

    def close(self) -> None:
        self.admin.close()
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()

    def reset(self) -> None:
        self.admin.post("/admin/reset").raise_for_status()
        self.admin.delete("/admin/faults").raise_for_status()

    def put(self, resource: dict[str, Any]) -> None:
        url = f"/fhir/{resource['resourceType']}/{resource['id']}"
        response = self.admin.put(url, json=resource, headers={"Content-Type": "application/fhir+json"})
        response.raise_for_status()

    def load(self, resources: list[dict[str, Any]]) -> None:
        """PUT every resource in one batch Bundle."""
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                for r in resources
            ],
        }
        response = self.admin.post("/fhir", json=bundle, headers={"Content-Type": "application/fhir+json"})
        response.raise_for_status()
        failed = [e for e in response.json().get("entry", []) if not e["response"]["status"].startswith("2")]
        assert not failed, failed

    def fault(self, **rule: Any) -> None:
        """Install one fault rule (see tests/fhir_server/README.md)."""
        self.admin.post("/admin/faults", json=rule).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.admin.get("/admin/stats").json()
        return data

    def requests_since(self, before: dict[str, Any]) -> dict[str, int]:
        """FHIR requests per resource type since the ``before`` stats."""
        now = self.stats()["byType"]
        delta = {kind: count - before["byType"].get(kind, 0) for kind, count in now.items()}
        return {kind: count for kind, count in delta.items() if count}
