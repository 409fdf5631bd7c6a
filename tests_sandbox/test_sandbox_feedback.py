"""Feedback from the sandbox's own buttons (CDS Hooks 2.0 § Feedback): accepting a suggestion, dismissing a
card with a reason (demo-hyperpth's metastatic card) and without one (demo-calciphylaxis's calciphylaxis
card); the report counts each, and the card dismissed with a reason is held back on the next visit
(suppression) while the one dismissed without a reason is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import FhirTestServer
from tests_sandbox.conftest import ServiceUnderTest, serving
from tests_sandbox.harness import ALL_CLEAR, CARD, Sandbox, rendered_cards, rule_by_source_label

SCRIPT = Path(sys.executable).parent / "calcinosis-cds"
STORED_ONE = {"stored": 1, "duplicates": 0}


@pytest.fixture(scope="module")
def service(fhir: FhirTestServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceUnderTest]:
    """This module's own service: the report counts only its cards, and the card it suppresses stays
    suppressed here, not in the other modules' visits."""
    with serving(fhir, tmp_path_factory.mktemp("feedback-service")) as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(site: str, fhir: FhirTestServer, service: ServiceUnderTest) -> Sandbox:
    return Sandbox(site, fhir.base, service.url)


def report(service: ServiceUnderTest) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "CDS_DATABASE_URL": service.database_url}
    result = subprocess.run(
        [SCRIPT, "report", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {rule["ruleId"]: rule for rule in json.loads(result.stdout)["rules"]}


def test_feedback_from_the_sandbox_buttons_reaches_the_report(
    sandbox: Sandbox, service: ServiceUnderTest, browser: Any
) -> None:
    with sandbox.visit(browser, "demo-tumoral") as visit:
        (card,) = visit.answer["cards"]
        suggestion = card["suggestions"][0]
        button = visit.page.get_by_role("button", name=suggestion["label"])
        sent = sandbox.feedback_after(visit.page, button.click)
    (item,) = sent["sent"]["feedback"]
    assert (item["card"], item["outcome"]) == (card["uuid"], "accepted")
    assert item["acceptedSuggestions"] == [{"id": suggestion["uuid"]}]
    assert sent["answer"] == STORED_ONE

    with sandbox.visit(browser, "demo-hyperpth") as visit:
        (metastatic,) = visit.answer["cards"]
        reason = next(r for r in metastatic["overrideReasons"] if r["code"] == "patient-declined")
        drawn = visit.page.locator(CARD).filter(has_text=metastatic["summary"])
        drawn.get_by_role("button", name="select dismiss reason").click()
        choice = visit.page.get_by_role("menuitem", name=f"Override: {reason['display']}")
        with_reason = sandbox.feedback_after(visit.page, choice.click)
    with sandbox.visit(browser, "demo-calciphylaxis") as visit:
        (calciphylaxis,) = visit.answer["cards"]
        plain = visit.page.locator(CARD).filter(has_text=calciphylaxis["summary"])
        without_reason = sandbox.feedback_after(
            visit.page, plain.get_by_role("button", name="Dismiss", exact=True).click
        )
    (item,) = with_reason["sent"]["feedback"]
    assert (item["card"], item["outcome"]) == (metastatic["uuid"], "overridden")
    assert item["overrideReason"]["reason"] == {"code": reason["code"], "system": reason["system"]}
    (item,) = without_reason["sent"]["feedback"]
    assert (item["card"], item["outcome"], "overrideReason" in item) == (
        calciphylaxis["uuid"],
        "overridden",
        False,
    )
    assert with_reason["answer"] == without_reason["answer"] == STORED_ONE

    # Overridden with a reason: held back next time; without a reason: shown again.
    with sandbox.visit(browser, "demo-hyperpth") as visit:
        assert visit.answer["cards"] == []
        assert visit.page.get_by_text(ALL_CLEAR).is_visible()
    with sandbox.visit(browser, "demo-calciphylaxis") as visit:
        drawn_again = rendered_cards(visit.page, rule_by_source_label())
    assert [(c.rule, c.indicator) for c in drawn_again] == [("calciphylaxis-risk", "warning")]

    rules = report(service)
    assert {k: rules["tumoral-calcinosis-pattern"][k] for k in ("issued", "accepted", "overridden")} == {
        "issued": 1,
        "accepted": 1,
        "overridden": 0,
    }
    metastatic_row = rules["metastatic-calcification"]
    assert (metastatic_row["issued"], metastatic_row["overridden"], metastatic_row["suppressed"]) == (1, 1, 1)
    assert metastatic_row["overrideReasons"] == {reason["code"]: 1}
    calciphylaxis_row = rules["calciphylaxis-risk"]
    assert (
        calciphylaxis_row["issued"],
        calciphylaxis_row["overridden"],
        calciphylaxis_row["suppressed"],
    ) == (
        2,
        1,
        0,
    )
    assert calciphylaxis_row["overrideReasons"] == {"no reason given": 1}
