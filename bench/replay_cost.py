"""Cost of CDS Hooks JWT verification per call, with the jti replay cache in each place it can be.

Run: ``.venv/bin/python -m bench.replay_cost [--calls N] [--postgres] [--redis]``. Starts ``calcinosis-cds
serve`` (its own process, as deployed) once without authentication and once per replay cache - the SQLite
database (the default), a throw-away PostgreSQL 15 cluster, a Redis server - and times ``GET /cds-services``
(the cheapest authenticated call) over keep-alive connections, the services alternating call by call so
all see the same machine noise. Each authenticated call carries a fresh ES384 token, signed before timing;
the difference to the unauthenticated service is verification plus the replay-cache insert.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.client import KeepAliveClient, Latency
from tests import jwt_tools as jt
from tests.servers import PostgresServer, RedisServer, ServiceProcess

PUBLIC = "https://cds.example.org"
DISCOVERY = "/cds-services"


@contextmanager
def service(key: jt.SigningKey | None, **env: str) -> Iterator[ServiceProcess]:
    """The service requiring tokens signed by ``key`` (none: no authentication), with ``env`` on top."""
    if key is not None:
        trusted = json.dumps({jt.ISSUER: {"jwks": jt.jwks(key)}})
        env = {"CDS_AUTH_REQUIRED": "true", "CDS_TRUSTED_ISSUERS": trusted, **env}
    with ServiceProcess({"CDS_PUBLIC_BASE_URL": PUBLIC, **env}) as running:
        yield running


def measure(services: dict[str, ServiceProcess], key: jt.SigningKey, calls: int, warmup: int) -> None:
    names = list(services)
    clients = {name: KeepAliveClient(services[name].url + DISCOVERY) for name in names}
    authenticated = [name for name in names if name != "no token"]
    rounds = warmup + calls
    tokens = {
        name: [jt.token(key, jt.claims(PUBLIC + DISCOVERY)) for _ in range(rounds)] for name in authenticated
    }
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names:
            if name in tokens:
                clients[name].headers["Authorization"] = "Bearer " + tokens[name][i]
            elapsed = clients[name].timed_call(None)
            if i >= warmup:
                samples[name].append(elapsed)
    base = Latency.of(samples["no token"])
    for name in names:
        latency = Latency.of(samples[name])
        extra = f"  (+{latency.p50 - base.p50:.2f} ms p50)" if name != "no token" else ""
        print(f"{name:<22} n={latency.n:<5} p50={latency.p50:6.2f} ms  p95={latency.p95:6.2f} ms{extra}")
    for client in clients.values():
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--redis", action="store_true")
    args = parser.parse_args()
    key = jt.ec_key()
    with ExitStack() as stack:
        services = {
            "no token": stack.enter_context(service(None)),
            "token, sqlite": stack.enter_context(service(key)),
        }
        if args.postgres:
            postgres = PostgresServer()
            stack.callback(postgres.close)
            url = postgres.new_database()
            services["token, postgresql"] = stack.enter_context(service(key, CDS_DATABASE_URL=url))
        if args.redis:
            redis = RedisServer(Path(tempfile.mkdtemp(prefix="replay-bench-")))
            stack.callback(redis.close)
            services["token, redis"] = stack.enter_context(service(key, CDS_REDIS_URL=redis.url))
        measure(services, key, args.calls, warmup=50)


if __name__ == "__main__":
    main()
