"""Throughput under concurrent clients, measured with wrk (a C load generator, Debian package ``wrk``).

A Python load generator on a 2-core machine would eat the CPU the server needs and measure itself; wrk
keeps 16 connections busy with a few percent of one core. Every non-2xx answer and every socket error or
timeout counts as an error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk_post.lua")
MARKER = "BENCH-JSON "


@dataclass(frozen=True)
class Throughput:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("bench: wrk is not installed (sudo apt-get install wrk; scripts/bench does it)")
    return binary


def throughput(url: str, body: bytes, connections: int, seconds: int, threads: int = 2) -> Throughput:
    """``connections`` clients POSTing ``body`` to ``url`` back to back for ``seconds``."""
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        command = [
            wrk_binary(),
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            "--timeout=10s",
            f"--script={SCRIPT}",
            url,
            "--",
            file.name,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next((x for x in output.splitlines() if x.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {output[-500:]!r}")
    data = json.loads(line.removeprefix(MARKER))
    return Throughput(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=sum(data["errors"].values()),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )
