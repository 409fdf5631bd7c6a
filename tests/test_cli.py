"""The console script starts the real service, and refuses unsafe production settings with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import loopback_socket


def _script() -> str:
    path = Path(sys.executable).parent / "calcinosis-cds"
    assert path.exists(), "the console script is installed with the package, beside the interpreter"
    return str(path)


def test_serve_starts_and_answers_discovery() -> None:
    sock = loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen(
        [_script(), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/cds-services", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the service exited"
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["services"][0]["hook"] == "patient-view"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_production_without_allowlist_refuses_to_start() -> None:
    env = {**os.environ, "CDS_ENVIRONMENT": "production"}
    env.pop("CDS_FHIR_SERVER_ALLOWLIST", None)
    result = subprocess.run(
        [_script(), "serve"], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "CDS_FHIR_SERVER_ALLOWLIST is required in production" in result.stderr
    assert "Traceback" not in result.stderr
