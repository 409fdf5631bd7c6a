"""Errors the service returns, each with a stable code, as FHIR OperationOutcome bodies.

CDS Hooks 2.0 leaves error bodies open; we answer every 4xx/5xx with an R4 OperationOutcome whose
``issue.details.coding`` carries one of the stable codes below, so an EHR or a developer can act on the
code without parsing prose. No stack trace or request content is ever echoed back.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

ERROR_CODE_SYSTEM = "urn:calcinosis-cds:error-code"


class ErrorCode(StrEnum):
    """Stable error codes; never renumber or reuse one."""

    UNAUTHORIZED = "auth.unauthorized"
    REPLAY_CACHE_UNAVAILABLE = "auth.replay-cache-unavailable"
    MALFORMED_JSON = "request.malformed-json"
    BODY_TOO_LARGE = "request.body-too-large"
    HEADER_TOO_LARGE = "request.header-too-large"
    HEADER_TIMEOUT = "request.header-timeout"
    INVALID_REQUEST = "request.invalid"
    HOOK_MISMATCH = "request.hook-mismatch"
    UNKNOWN_SERVICE = "service.unknown"
    NOT_FOUND = "http.not-found"
    METHOD_NOT_ALLOWED = "http.method-not-allowed"
    PREFETCH_UNAVAILABLE = "prefetch.unavailable"
    FHIR_SERVER_NOT_ALLOWED = "fhir.server-not-allowed"
    STORAGE_UNAVAILABLE = "storage.unavailable"
    STARTING = "service.starting"
    INTERNAL = "internal.error"


# FHIR IssueType (http://hl7.org/fhir/R4/valueset-issue-type.html) per error code.
_ISSUE_TYPE = {
    ErrorCode.UNAUTHORIZED: "login",
    ErrorCode.REPLAY_CACHE_UNAVAILABLE: "transient",
    ErrorCode.MALFORMED_JSON: "structure",
    ErrorCode.BODY_TOO_LARGE: "too-costly",
    ErrorCode.HEADER_TOO_LARGE: "too-costly",
    ErrorCode.HEADER_TIMEOUT: "timeout",
    ErrorCode.INVALID_REQUEST: "invalid",
    ErrorCode.HOOK_MISMATCH: "not-supported",
    ErrorCode.UNKNOWN_SERVICE: "not-found",
    ErrorCode.NOT_FOUND: "not-found",
    ErrorCode.METHOD_NOT_ALLOWED: "not-supported",
    ErrorCode.PREFETCH_UNAVAILABLE: "incomplete",
    ErrorCode.FHIR_SERVER_NOT_ALLOWED: "forbidden",
    ErrorCode.STORAGE_UNAVAILABLE: "transient",
    ErrorCode.STARTING: "transient",
    ErrorCode.INTERNAL: "exception",
}


class Problem:
    """One issue of an OperationOutcome: what went wrong, where, in words a developer can act on."""

    __slots__ = ("code", "expression", "message")

    def __init__(self, code: ErrorCode, message: str, expression: str | None = None) -> None:
        self.code = code
        self.message = message
        self.expression = expression

    def as_issue(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": "error",
            "code": _ISSUE_TYPE[self.code],
            "details": {
                "coding": [{"system": ERROR_CODE_SYSTEM, "code": self.code.value}],
                "text": self.message,
            },
        }
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


class ServiceError(Exception):
    """An expected failure that becomes an HTTP error with an OperationOutcome body."""

    def __init__(self, status: int, problems: list[Problem], headers: dict[str, str] | None = None) -> None:
        super().__init__(problems[0].message if problems else str(status))
        self.status = status
        self.problems = problems
        self.headers = headers or {}

    @classmethod
    def single(
        cls, status: int, code: ErrorCode, message: str, expression: str | None = None
    ) -> ServiceError:
        return cls(status, [Problem(code, message, expression)])

    def with_headers(self, headers: dict[str, str]) -> ServiceError:
        self.headers.update(headers)
        return self

    @property
    def codes(self) -> list[str]:
        return [p.code.value for p in self.problems]


def operation_outcome(problems: list[Problem]) -> dict[str, Any]:
    """The R4 OperationOutcome body for ``problems``."""
    return {"resourceType": "OperationOutcome", "issue": [p.as_issue() for p in problems]}
