"""``serve --workers N`` (service/cli/workers.py): N processes answer on one port; SIGTERM to the supervisor
stops them all gracefully (queued card history written); a worker that dies on its own stops the service
with status 1, for the process manager to restart it whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from tests import fhir_data as fd
from tests.servers import ServiceProcess

WORKERS = 2
HOOK = "/cds-services/calcinosis-cutis-risk"


def workers_of(supervisor: int) -> set[int]:
    """The supervisor's child processes, from /proc (Linux)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == supervisor:
            children.add(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def critical_call() -> dict[str, object]:
    return fd.request_body(prefetch=fd.full_prefetch("p1", [fd.lab(fd.CALCIUM_MASS, 15.1, "mg/dL")]))


def test_workers_answer_on_one_port_and_stop_together_writing_their_history(tmp_path: Path) -> None:
    database = tmp_path / "cds.db"
    service = ServiceProcess({"CDS_DATABASE_URL": f"sqlite:///{database}"}, tmp_path / "log", workers=WORKERS)
    with service:
        wait_until(lambda: len(workers_of(service.pid)) == WORKERS)
        children = workers_of(service.pid)
        with httpx.Client(base_url=service.url, timeout=10) as client:
            for _ in range(20):  # new connections: the kernel spreads them over the workers
                response = client.post(HOOK, json=critical_call(), headers={"connection": "close"})
                assert response.status_code == 200
                assert [c["indicator"] for c in response.json()["cards"]] == ["critical"]
        os.kill(service.pid, signal.SIGTERM)
        wait_until(lambda: not any(alive(pid) for pid in children) and not alive(service.pid))
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        calls = connection.execute(sqlalchemy.text("select count(*) from card_history")).scalar_one()
    engine.dispose()
    assert calls == 20  # every call's card, whichever worker answered it


def test_a_worker_that_dies_stops_the_service_with_status_1(tmp_path: Path) -> None:
    service = ServiceProcess({}, tmp_path / "log", workers=WORKERS)
    with service:
        wait_until(lambda: len(workers_of(service.pid)) == WORKERS)
        first, second = sorted(workers_of(service.pid))
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: not alive(service.pid))
        assert not alive(second)
        assert service.returncode == 1
    assert "stopping the service" in (tmp_path / "log").read_text()


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_workers_must_be_a_whole_number_of_at_least_one(value: str) -> None:
    script = Path(sys.executable).parent / "calcinosis-cds"
    result = subprocess.run(
        [str(script), "serve", "--workers", value], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "expected a whole number of at least 1" in result.stderr
