"""The floor: a bare FastAPI endpoint that only parses the body and answers ``{"cards": []}``.

No service can answer a hook faster than it can receive and parse the request, so the benchmark runs
this app beside the service, under the same uvicorn settings, on the same requests, and reports the
service's latency as a multiple of it. ``await request.json()`` is how a plain FastAPI app reads a body
(Python's ``json`` module). Run: ``python -m bench.floor --port N [--workers W]``.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/cds-services/{service_id}")
async def hook(service_id: str, request: Request) -> dict[str, list[object]]:
    await request.json()
    return {"cards": []}


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    args = parser.parse_args()
    # The same uvicorn settings as ``calcinosis-cds serve`` (service.cli.main), so only the app differs.
    uvicorn.run(
        "bench.floor:app" if args.workers > 1 else app,  # worker processes import the app by name
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        server_header=False,
        workers=args.workers,
    )


if __name__ == "__main__":
    main()
