"""The value set files under ``valuesets/`` (R4 ValueSet JSON, see ``valuesets/CONVENTIONS.md``): read once,
each code's verification status taken from its compose concept's extension, so only verified codes drive
decisions and unverified ones are reported as present but not used.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

VS_BASE = "http://calcinosis-cds.example.org/fhir/ValueSet/"
EXT_BASE = "http://calcinosis-cds.example.org/fhir/StructureDefinition/"
VERIFICATION_EXT = EXT_BASE + "code-verification"
PROVENANCE_EXT = EXT_BASE + "code-provenance"

Code = tuple[str, str]  # (system, code)


def expansion_codes(value_set: dict[str, Any]) -> list[Code]:
    return [(c["system"], c["code"]) for c in value_set["expansion"]["contains"]]


def read_json(name: str) -> Any:
    return json.loads(resources.files("terminology").joinpath("data", name).read_text(encoding="utf-8"))


def load_value_sets() -> dict[str, dict[str, Any]]:
    folder = resources.files("terminology").joinpath("valuesets")
    value_sets: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            vs = json.loads(entry.read_text(encoding="utf-8"))
            if vs["url"] in value_sets:
                raise ValueError(f"value set URL {vs['url']} is defined twice")
            value_sets[vs["url"]] = vs
    return value_sets


def verification_of(value_set: dict[str, Any]) -> dict[Code, str]:
    """(system, code) -> ``verified`` | ``unverified``, from the compose concepts' extensions."""
    status: dict[Code, str] = {}
    for include in value_set["compose"]["include"]:
        for concept in include.get("concept", []):
            exts = {e["url"]: e for e in concept.get("extension", [])}
            verification = exts.get(VERIFICATION_EXT, {}).get("valueCode", "unverified")
            status[(include["system"], concept["code"])] = verification
    return status


def split_verified(value_set: dict[str, Any]) -> tuple[list[Code], list[Code]]:
    status = verification_of(value_set)
    codes = expansion_codes(value_set)
    return [c for c in codes if status.get(c) == "verified"], [
        c for c in codes if status.get(c) != "verified"
    ]
