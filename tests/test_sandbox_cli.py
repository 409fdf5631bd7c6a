"""The developer sandbox over real parts: load-demo into the Medplum FHIR server, then check every demo
patient (playing the EHR, in-process and against a running service, with and without prefetch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.demo import demo_patients
from tests.order_scenarios import statin, warfarin
from tests.servers import FhirTestServer, ServiceProcess, free_port

SCRIPT = Path(sys.executable).parent / "calcinosis-cds"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=180, check=False, env=env)


@pytest.fixture
def loaded(fhir: FhirTestServer) -> FhirTestServer:
    result = run("load-demo", "--fhir-server", fhir.base, f"--token={fhir.token}")
    assert result.returncode == 0, result.stderr
    assert f"loaded {len(demo_patients())} demo patients" in result.stdout
    assert (
        f"{len(demo_patients())}/{len(demo_patients())}" in result.stderr
    )  # the progress bar reached the end
    return fhir


def outline(response: dict[str, object]) -> list[tuple[str, str]]:
    cards = response["cards"]
    assert isinstance(cards, list)
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in cards]


def test_load_demo_is_idempotent(loaded: FhirTestServer) -> None:
    patients = loaded.admin.get("/fhir/Patient", params={"_count": 100}).json()["total"]
    again = run("load-demo", "--fhir-server", loaded.base, f"--token={loaded.token}")
    assert again.returncode == 0, again.stderr
    assert (
        loaded.admin.get("/fhir/Patient", params={"_count": 100}).json()["total"]
        == patients
        == len(demo_patients())
    )


@pytest.mark.parametrize("patient", demo_patients(), ids=lambda p: p.id)
def test_every_demo_patient_gives_its_documented_cards(loaded: FhirTestServer, patient: object) -> None:
    result = run(
        "check", "--fhir-server", loaded.base, f"--token={loaded.token}", "--patient", patient.id, "--json"
    )  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr
    assert outline(json.loads(result.stdout)) == list(patient.expected_cards)  # type: ignore[attr-defined]


def test_check_against_a_running_service_with_and_without_prefetch(loaded: FhirTestServer) -> None:
    with ServiceProcess() as service:
        for extra in ([], ["--no-prefetch"]):
            args = [
                "check",
                "--fhir-server",
                loaded.base,
                f"--token={loaded.token}",
                "--patient",
                "demo-calciphylaxis",
            ]
            result = run(*args, "--service-url", service.url, "--json", *extra)
            assert result.returncode == 0, result.stderr
            assert outline(json.loads(result.stdout)) == [("calciphylaxis-risk", "warning")]


def test_check_prints_cards_readably(loaded: FhirTestServer) -> None:
    result = run("check", "--fhir-server", loaded.base, f"--token={loaded.token}", "--patient", "demo-severe")
    assert result.returncode == 0, result.stderr
    assert (
        "1. [CRITICAL] Severe hypercalcemia (corrected Ca 14.8 mg/dL): same-day evaluation" in result.stdout
    )
    assert "| Test | Result | Date | Note |" in result.stdout
    assert "Suggestions:" in result.stdout
    assert "\033[" not in result.stdout  # NO_COLOR


def test_check_of_a_healthy_patient_says_so(loaded: FhirTestServer) -> None:
    result = run(
        "check", "--fhir-server", loaded.base, f"--token={loaded.token}", "--patient", "demo-healthy"
    )
    assert (result.returncode, result.stdout.strip()) == (0, "No cards: nothing to say for this patient.")


def test_load_demo_reports_a_refusing_server_clearly(fhir: FhirTestServer) -> None:
    result = run("load-demo", "--fhir-server", fhir.base, "--token=wrong-token")
    assert result.returncode == 1
    assert "not answering (HTTP 401" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_demo_reports_an_absent_server_clearly() -> None:
    port = free_port()
    result = run("load-demo", "--fhir-server", f"http://127.0.0.1:{port}/fhir")
    assert result.returncode == 1
    assert "is not answering (ConnectError)" in result.stderr


def test_check_of_an_unknown_patient_is_a_clear_error(loaded: FhirTestServer) -> None:
    result = run(
        "check", "--fhir-server", loaded.base, f"--token={loaded.token}", "--patient", "no-such-patient"
    )
    assert result.returncode == 1
    assert "prefetch 'patient'" in result.stderr
    assert "fhir-not-found" in result.stderr


def _draft_file(tmp_path: Path, draft: dict[str, object]) -> str:
    path = tmp_path / f"{draft['id']}.json"
    path.write_text(json.dumps(draft), encoding="utf-8")
    return str(path)


def test_check_plays_order_sign_with_drafts_from_files(loaded: FhirTestServer, tmp_path: Path) -> None:
    """The demo dialysis patient: warfarin draws the warning with its removal suggestion, a statin nothing."""
    patient = "demo-calciphylaxis"
    common = ["check", "--fhir-server", loaded.base, f"--token={loaded.token}", "--patient", patient]
    warfarin_draft = warfarin(patient)
    del warfarin_draft["subject"]  # check fills in the patient
    signed = run(*common, "--hook", "order-sign", "--draft", _draft_file(tmp_path, warfarin_draft), "--json")
    assert signed.returncode == 0, signed.stderr
    [card] = json.loads(signed.stdout)["cards"]
    assert (card["indicator"], card["source"]["topic"]["code"]) == ("warning", "order-warfarin-calciphylaxis")
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/draft-warfarin"
    unrelated = run(*common, "--hook", "order-select", "--draft", _draft_file(tmp_path, statin(patient)))
    assert (unrelated.returncode, unrelated.stdout.strip()) == (
        0,
        "No cards: nothing to say for this patient.",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--hook", "order-sign"],
            "--hook order-sign judges draft orders: give at least one --draft FILE.json",
        ),
        (["--draft", "{draft}"], "--hook patient-view takes no draft orders"),
        (["--hook", "order-sign", "--draft", "{not_json}"], "not a readable JSON file"),
        (["--hook", "order-sign", "--draft", "{not_fhir}"], "not a FHIR resource (no resourceType)"),
    ],
)
def test_check_refuses_drafts_that_do_not_fit_the_hook(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    files = {
        "draft": _draft_file(tmp_path, statin("p1")),
        "not_json": str(tmp_path / "broken.json"),
        "not_fhir": _draft_file(tmp_path, {"id": "x", "medication": "warfarin"}),
    }
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    args = [a.format(**files) for a in extra]
    result = run("check", "--fhir-server", "http://127.0.0.1:9/fhir", "--patient", "p1", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
