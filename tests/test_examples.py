"""The sample requests in examples/ (issue 14: the README posted a request.json that did not exist): every
file the README posts exists, and each sample gets the cards the demo catalog documents for its patient."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from service.demo import demo_patients
from service.settings import Settings
from tests import example_requests
from tests.servers import RunningService

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
CATALOG = {patient.id: patient for patient in demo_patients()}
SERVICE_OF_HOOK = {"patient-view": "calcinosis-cutis-risk", "order-sign": "calcinosis-order-check"}
# The order example's card (the demo catalog documents chart-open cards only); see examples/README.md.
ORDER_CARDS = {"order-sign-warfarin.json": [("order-warfarin-calciphylaxis", "warning")]}


def test_the_samples_are_the_ones_the_builder_writes() -> None:
    """Rebuilt from the demo patients, each file is unchanged (``python -m tests.example_requests``)."""
    assert [p.name for p in EXAMPLES] == sorted(example_requests.EXAMPLES)
    for path in EXAMPLES:
        assert json.loads(path.read_text(encoding="utf-8")) == example_requests.example(path.name), path.name


def test_every_file_the_readme_posts_is_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    posted = re.findall(r"-d @(\S+)", readme)
    assert posted, "the README posts no sample request"
    assert [name for name in posted if not (ROOT / name).is_file()] == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_sample_request_gets_its_patients_documented_cards(path: Path, tmp_path: Path) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    patient = CATALOG[request["context"]["patientId"]]
    expected = ORDER_CARDS[path.name] if request["hook"] != "patient-view" else list(patient.expected_cards)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cds.db'}")
    with RunningService(settings, clock=lambda: example_requests.WRITTEN_ON) as service:
        response = httpx.post(
            f"{service.url}/cds-services/{SERVICE_OF_HOOK[request['hook']]}",
            content=path.read_bytes(),
            timeout=30,
        )
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert [(c["source"]["topic"]["code"], c["indicator"]) for c in cards] == expected
