"""The published reference material the suite reads, kept in the repository under ``tests/data``.

Copies, unchanged, of the CDS Hooks 2.0.1 specification's JSON examples, the FHIR tools IG's CDS Hooks
examples, two US Core example Observations and three Synthea patient Bundles; sources and licences in
``NOTICE.md``. The suite reads nothing outside the repository, so a clone with nothing beside it passes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
EXAMPLES = DATA / "cds-hooks" / "examples"
FHIR_SAMPLES = DATA / "fhir"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
