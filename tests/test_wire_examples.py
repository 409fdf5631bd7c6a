"""Every JSON example of the CDS Hooks 2.0.1 spec and the FHIR tools IG round-trips through our models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from cards import card as card_model
from service.api import wire
from tests.reference_data import EXAMPLES, load

# The JWT/JWK examples (21-24) are not CDS Hooks wire documents; the authentication work reads them.
NOT_WIRE = {"21-jwt-header.json", "22-jwt-payload.json", "23-jwks-public.json", "24-jwk-private-example.json"}


def _adapter(doc: dict[str, Any]) -> TypeAdapter[Any]:
    """The model a document is an instance of, recognised by its top-level members."""
    if "hookInstance" in doc:
        return TypeAdapter(wire.HookRequest)
    if "services" in doc:
        return TypeAdapter(wire.DiscoveryResponse)
    if "cards" in doc:
        return TypeAdapter(wire.HookResponse)
    if "feedback" in doc:
        return TypeAdapter(wire.Feedback)
    single: dict[str, Any] = {
        "fhirAuthorization": wire.FhirAuthorization,
        "source": card_model.Source,
        "overrideReasons": list[card_model.Coding],
        "context": wire.HookRequest.model_fields["context"].annotation,
    }
    if len(doc) == 1 and next(iter(doc)) in single:
        return TypeAdapter(single[next(iter(doc))])
    if set(doc) == {"prefetch"}:
        # Templates (strings) belong to discovery; values (resources) to a hook request.
        are_templates = all(isinstance(v, str) for v in doc["prefetch"].values())
        owner = wire.ServiceDescription if are_templates else wire.HookRequest
        return TypeAdapter(owner.model_fields["prefetch"].annotation)
    if "type" in doc:
        return TypeAdapter(card_model.Action)
    raise AssertionError(f"no model for a document with members {sorted(doc)}")


def _unwrap(doc: dict[str, Any]) -> Any:
    """Single-member wrappers (``{"source": {...}}``) hold the instance one level down."""
    if len(doc) == 1 and next(iter(doc)) in {
        "fhirAuthorization",
        "source",
        "overrideReasons",
        "context",
        "prefetch",
    }:
        return next(iter(doc.values()))
    return doc


EXAMPLE_FILES = sorted(p for p in EXAMPLES.rglob("*.json") if p.name not in NOT_WIRE)


def test_examples_are_present() -> None:
    assert len(EXAMPLE_FILES) >= 23, f"expected the spec's examples under {EXAMPLES}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_round_trips(path: Path) -> None:
    doc = load(path)
    adapter = _adapter(doc)
    instance = adapter.validate_python(_unwrap(doc))
    assert adapter.dump_python(instance, mode="json", exclude_none=True) == _unwrap(doc)


def test_unknown_fields_and_extensions_are_kept() -> None:
    doc = load(EXAMPLES / "spec-2.0.1" / "25-request-with-extension.json")
    request = wire.HookRequest.model_validate(doc)
    assert request.model_extra == {"extension": doc["extension"]}


def test_null_prefetch_values_are_kept() -> None:
    doc = {"hook": "patient-view", "hookInstance": "x", "context": {}, "prefetch": {"labs": None}}
    assert wire.HookRequest.model_validate(doc).prefetch == {"labs": None}


def test_authorization_without_server_is_rejected() -> None:
    doc = load(EXAMPLES / "spec-2.0.1" / "01-patient-view-request.json")
    del doc["fhirServer"]
    with pytest.raises(ValueError, match="fhirAuthorization is given without fhirServer"):
        wire.HookRequest.model_validate(doc)


def test_outbound_dump_omits_absent_fields() -> None:
    card = card_model.Card(summary="s", indicator="info", source=card_model.Source(label="l"), uuid="u")
    assert card.to_wire() == {"summary": "s", "indicator": "info", "source": {"label": "l"}, "uuid": "u"}
