"""The console script starts the real service, and refuses unsafe production settings with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import ServiceProcess

SCRIPT = Path(sys.executable).parent / "calcinosis-cds"


def test_serve_starts_and_answers_discovery() -> None:
    with ServiceProcess() as service:
        response = httpx.get(f"{service.url}/cds-services", timeout=5)
    assert response.status_code == 200
    assert response.json()["services"][0]["hook"] == "patient-view"


def test_production_without_allowlist_refuses_to_start() -> None:
    env = {**os.environ, "CDS_ENVIRONMENT": "production"}
    env.pop("CDS_FHIR_SERVER_ALLOWLIST", None)
    result = subprocess.run(
        [SCRIPT, "serve"], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "CDS_FHIR_SERVER_ALLOWLIST is required in production" in result.stderr
    assert "Traceback" not in result.stderr
