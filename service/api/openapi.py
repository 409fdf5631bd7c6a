"""The OpenAPI document (``/openapi.json``, ``/docs``): the hook's request body and the error responses.

The hook reads its body itself (size limit, fast JSON), so FastAPI cannot infer its schema; it is added
here from the wire model, so API docs and fuzzers (schemathesis) see the real contract.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.wire import PatientViewRequest

REF = "#/components/schemas/{model}"
HOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PatientViewRequest"}}},
    },
    "responses": {
        str(status): {
            "description": text,
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
        for status, text in (
            (400, "invalid request (OperationOutcome)"),
            (401, "missing or invalid CDS Hooks JWT"),
            (404, "unknown service"),
            (412, "required FHIR data could not be obtained"),
            (413, "request body too large"),
        )
    },
}


def install_openapi(app: FastAPI, service_ids: list[str]) -> None:
    """Generate the document once: wire model schemas, service ids, the bearer JWT scheme."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {})
            models = PatientViewRequest.model_json_schema(ref_template=REF)
            defs = models.pop("$defs", {})
            components.setdefault("schemas", {}).update({"PatientViewRequest": models, **defs})
            components["securitySchemes"] = {
                "cdsHooksJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
            schema["security"] = [{"cdsHooksJwt": []}, {}]
            hook = schema["paths"]["/cds-services/{service_id}"]["post"]
            for parameter in hook["parameters"]:
                if parameter["name"] == "service_id":
                    parameter["schema"] = {"type": "string", "enum": service_ids}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
