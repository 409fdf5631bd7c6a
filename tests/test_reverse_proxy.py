"""The README's reverse proxy is real: Debian's nginx checks ``deploy/nginx.conf.example`` (certificate,
upstream, listener and log path replaced) and runs it in front of ``calcinosis-cds serve``, over plain HTTP
on loopback so that the raw-socket slow heads speak HTTP: calls pass, slow heads and everything but the API
stop at nginx, and its access log holds no query string."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.certificates import self_signed
from tests.load_tools import HOOK, critical_call
from tests.servers import ServiceProcess, free_port
from tests.slow_clients import Trickler

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf.example"
NGINX_HEADER_TIMEOUT_S = 10  # client_header_timeout in the example
SLOW = 20


def _nginx() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        pytest.fail("nginx is not installed: apt-get install nginx (scripts/setup does)", pytrace=False)
    return found


def render(folder: Path, upstream_port: int, listen_port: int, tls: bool = True) -> Path:
    """The example with only the deployment-specific values replaced (and TLS off when ``tls`` is false)."""
    cert, key = self_signed(folder)
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in {
        "/etc/ssl/cds.example.org/fullchain.pem": str(cert),
        "/etc/ssl/cds.example.org/privkey.pem": str(key),
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{upstream_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{listen_port}{' ssl' if tls else ''};",
        "/var/log/nginx/calcinosis-cds.access.log": str(folder / "access.log"),
    }.items():
        assert old in text, f"the example no longer holds {old!r}"
        text = text.replace(old, new)
    config = folder / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


def _command(config: Path, folder: Path) -> list[str]:
    directives = f"daemon off; pid {folder / 'nginx.pid'}; error_log {folder / 'error.log'};"
    return [_nginx(), "-p", str(folder), "-c", str(config), "-g", directives]


def test_the_example_is_a_valid_nginx_configuration(tmp_path: Path) -> None:
    config = render(tmp_path, 8080, free_port())
    result = subprocess.run(
        [*_command(config, tmp_path), "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The service behind nginx: (the proxy's base URL, nginx's access log)."""
    with ServiceProcess() as service:
        listen = free_port()
        config = render(tmp_path, int(service.url.rsplit(":", 1)[1]), listen, tls=False)
        nginx = subprocess.Popen(_command(config, tmp_path), stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{listen}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(base + "/healthz", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    assert nginx.poll() is None, "nginx exited"
                    assert time.monotonic() < deadline, "nginx did not answer"
                    time.sleep(0.1)
            yield base, tmp_path / "access.log"
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def test_calls_pass_and_slow_heads_stop_at_nginx(proxied: tuple[str, Path]) -> None:
    base, access_log = proxied
    canary = "eyJhbGciOiJFUzM4NCJ9.proxy-canary.c2ln"
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{base}{HOOK}?access_token={canary}", json=critical_call("p-proxy"))
        assert response.status_code == 200
        assert [c["indicator"] for c in response.json()["cards"]] == ["critical"]
        for path in ("/metrics", "/docs", "/openapi.json", "/preview"):
            assert client.get(base + path).status_code == 404, path
        with Trickler(int(base.rsplit(":", 1)[1]), SLOW) as slow:
            time.sleep(1)
            started = time.perf_counter()
            assert client.get(base + "/cds-services").status_code == 200
            beside = time.perf_counter() - started
            while (
                len(slow.closed_after) < SLOW and time.monotonic() < slow.opened + NGINX_HEADER_TIMEOUT_S + 10
            ):
                time.sleep(0.2)
            closed = sorted(slow.closed_after.values())
        print(
            f"\nthrough nginx beside {SLOW} slow heads: {beside:.3f} s; slow heads closed: {len(closed)}",
            end="",
        )
        print(f", after {closed[0]:.2f}-{closed[-1]:.2f} s" if closed else "")
        assert len(closed) == SLOW
        assert closed[0] >= NGINX_HEADER_TIMEOUT_S - 1
    logged = access_log.read_text(encoding="utf-8")
    assert f"POST {HOOK} HTTP/1.1" in logged
    assert canary not in logged
