"""The sample requests in ``examples/``, built from the demo patients (``service.demo``) by the same request
builder every client of the service uses (``service.api.hooks.hook_call``).

    .venv/bin/python -m tests.example_requests     # rewrites examples/*.json

Dates are computed from :data:`WRITTEN_ON` (the demo bundles write dates relative to a day), and
``tests/test_examples.py`` posts each file with the service's clock set to that day.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.api.hooks import hook_call
from service.demo import bundle, prefetch
from tests.order_scenarios import warfarin

ROOT = Path(__file__).resolve().parents[1]
WRITTEN_ON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
USER = "Practitioner/example"
# file -> (hook, demo patient, draft orders)
EXAMPLES: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    "patient-view-crest.json": ("patient-view", "demo-crest", []),
    "patient-view-severe-hypercalcemia.json": ("patient-view", "demo-severe", []),
    "patient-view-healthy.json": ("patient-view", "demo-healthy", []),
    "order-sign-warfarin.json": ("order-sign", "demo-calciphylaxis", [warfarin("demo-calciphylaxis")]),
}


def example(name: str) -> dict[str, Any]:
    hook, patient_id, drafts = EXAMPLES[name]
    values = prefetch(bundle(patient_id, WRITTEN_ON))
    body = hook_call(hook, patient_id, user=USER, drafts=drafts, prefetch=values)
    body["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"calcinosis-cds/examples/{name}"))
    return body


if __name__ == "__main__":
    for file_name in EXAMPLES:
        path = ROOT / "examples" / file_name
        path.write_text(json.dumps(example(file_name), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(path)
