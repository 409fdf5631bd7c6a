"""The OpenAPI document (``/openapi.json``, ``/docs``): the hooks' request bodies and the error responses.

The hook route reads its body itself (size limit, fast JSON), so FastAPI cannot infer its schema; it is
added here from the wire models: one request schema per hook of the table (``service.api.hooks.HOOKS``)
a declared service answers, ``hook`` fixed to its name and ``context`` its context model, so API docs and
fuzzers (schemathesis) see the real contract.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.hooks import HOOKS
from service.api.wire import HookRequest

REF = "#/components/schemas/{model}"
HOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HookCall"}}},
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


def _schema(name: str) -> str:
    return "".join(part.title() for part in name.split("-"))


def request_schemas(hooks: list[str]) -> dict[str, Any]:
    """Component schemas: ``HookCall`` (one of the hooks' requests) and what it refers to."""
    base = HookRequest.model_json_schema(ref_template=REF)
    schemas: dict[str, Any] = base.pop("$defs", {})
    calls = []
    for hook in sorted(set(hooks)):
        context = HOOKS[hook].context
        schema = context.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[context.__name__] = schema
        call = {**base, "title": f"{_schema(hook)}Request", "properties": dict(base["properties"])}
        call["properties"]["hook"] = {"type": "string", "const": hook}
        call["properties"]["context"] = {"$ref": REF.format(model=context.__name__)}
        schemas[call["title"]] = call
        calls.append({"$ref": REF.format(model=call["title"])})
    schemas["HookCall"] = {"oneOf": calls}
    return schemas


def install_openapi(app: FastAPI, services: dict[str, str]) -> None:
    """Generate the document once: wire model schemas, service ids (``services``: id -> hook), the
    bearer JWT scheme."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(request_schemas(list(services.values())))
            components["securitySchemes"] = {
                "cdsHooksJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
            schema["security"] = [{"cdsHooksJwt": []}, {}]
            hook = schema["paths"]["/cds-services/{service_id}"]["post"]
            for parameter in hook["parameters"]:
                if parameter["name"] == "service_id":
                    parameter["schema"] = {"type": "string", "enum": list(services)}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
