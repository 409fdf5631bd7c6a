"""Reading a request body within the configured size (``CDS_MAX_BODY_BYTES``).

A declared ``Content-Length`` over the limit is refused before reading; a chunked body is counted as it
streams and refused as soon as it passes the limit, so an oversized request never sits whole in memory.
"""

from __future__ import annotations

from fastapi import Request

from service.errors import ErrorCode, ServiceError

PAYLOAD_TOO_LARGE = 413


def _too_large(limit: int) -> ServiceError:
    return ServiceError.single(
        PAYLOAD_TOO_LARGE, ErrorCode.BODY_TOO_LARGE, f"request body is larger than {limit} bytes"
    )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
