"""Every error leaves as an R4 OperationOutcome with a stable code; never a stack trace.

Installs handlers for our ``ServiceError``, for Starlette's 404/405, for FastAPI's request validation,
and a last-resort 500 that logs an incident id (and the exception type) but returns no detail.
"""

from __future__ import annotations

import logging
import uuid

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import ErrorCode, Problem, ServiceError, operation_outcome

log = logging.getLogger("calcinosis_cds.errors")
FHIR_JSON = "application/fhir+json"
_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.BODY_TOO_LARGE}


def outcome_response(status: int, problems: list[Problem], headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(operation_outcome(problems))
    return Response(body, status_code=status, media_type=FHIR_JSON, headers=headers)


async def _service_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
    return outcome_response(exc.status, exc.problems, exc.headers)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for HTTPException only
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
    return outcome_response(exc.status_code, [Problem(code, str(exc.detail))], dict(exc.headers or {}))


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for RequestValidationError only
    problems = [
        Problem(
            ErrorCode.INVALID_REQUEST, str(err.get("msg", "invalid")), ".".join(map(str, err.get("loc", ())))
        )
        for err in exc.errors()
    ]
    return outcome_response(400, problems)


async def _unexpected(_: Request, exc: Exception) -> Response:
    incident = str(uuid.uuid4())
    log.error("unexpected error incident=%s type=%s", incident, type(exc).__name__, exc_info=exc)
    message = f"internal error; incident {incident} is logged"
    return outcome_response(500, [Problem(ErrorCode.INTERNAL, message)])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
