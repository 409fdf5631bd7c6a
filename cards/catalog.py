"""The CDS services these rules answer for, each declared once next to its rules.

Discovery (``GET /cds-services``) is generated from these declarations by ``service.registry``; the
prefetch templates are derived from the value sets, so a code added there reaches the EHR's prefetch too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cards import (
    calciphylaxis,
    dystrophic,
    iatrogenic,
    known_calcinosis,
    known_calciphylaxis,
    metastatic,
    missing_data,
    tumoral,
)
from cards.combine import combine
from cards.config import RuleConfig, citations, override_reasons, read_data
from cards.finding import Finding
from cards.render import render_cards
from terminology import queries
from terminology.knowledge import Knowledge
from terminology.snapshot import PatientSnapshot

NewId = Callable[[], str]


@dataclass(frozen=True, slots=True)
class AdvisedCard:
    """A rendered card and what the history and suppression need to know about it."""

    card: dict[str, Any]
    rule_id: str
    rule_version: str
    rank: int
    # The references the card rests on (with their dates): a suppression ends when they change.
    evidence: tuple[str, ...] = ()


# Told which rule failed and how, so the caller can log and count it: cards/ does no I/O itself.
RuleFailed = Callable[[str, Exception], None]
Advise = Callable[[PatientSnapshot, datetime, NewId, RuleFailed], list[AdvisedCard]]
Evaluate = Callable[[PatientSnapshot, RuleConfig, datetime], list[Finding]]
# Every pathway: its config loader and its pure evaluate(snapshot, config, now).
PATHWAYS: tuple[tuple[Callable[[], RuleConfig], Evaluate], ...] = tuple(
    (module.load_config, module.evaluate)
    # Order breaks ties between equally severe findings (combine): calciphylaxis, the more specific warning
    # on dialysis, hosts a metastatic warning resting on the same phosphate.
    for module in (
        known_calciphylaxis,
        calciphylaxis,
        metastatic,
        tumoral,
        iatrogenic,
        known_calcinosis,
        dystrophic,
        missing_data,
    )
)


def evidence_of(finding: Finding) -> tuple[str, ...]:
    """What a finding rests on, for suppression: each row's resources and date (a newer result is a new
    resource; a new diagnosis or medication a new row)."""
    return tuple(sorted({f"{row.reference}@{row.date}" for row in finding.evidence if row.reference}))


@dataclass(frozen=True, slots=True)
class ServiceDeclaration:
    """Everything discovery announces about one service, and the function that advises."""

    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str
    prefetch: Mapping[str, str]
    advise: Advise


def calcinosis_service(knowledge: Knowledge) -> ServiceDeclaration:
    """The ``patient-view`` service: loads and checks all rule data once, then advises per request."""
    data = read_data("service.json")
    topic_system: str = data["ruleTopicSystem"]
    # Load and check every data file now: a broken one must stop start-up, not fail the first card.
    citations()
    override_reasons()
    rules = [(load().bind(knowledge), evaluate) for load, evaluate in PATHWAYS]

    def evaluate_all(snapshot: PatientSnapshot, now: datetime, failed: RuleFailed) -> list[Finding]:
        """Every rule's findings; a rule that raises is reported and skipped, the others still speak.

        A deceased patient's chart gets no risk advice at all.
        """
        if snapshot.deceased:
            return []
        findings: list[Finding] = []
        for config, evaluate in rules:
            try:
                findings += evaluate(snapshot, config, now)
            except Exception as exc:  # noqa: BLE001 - one rule's bug must not hide the others' cards
                failed(config.rule.id, exc)
        return findings

    def advise(
        snapshot: PatientSnapshot, now: datetime, new_id: NewId, failed: RuleFailed
    ) -> list[AdvisedCard]:
        findings = combine(evaluate_all(snapshot, now, failed))
        cards = render_cards(
            findings, snapshot.patient_id, knowledge.orders, knowledge.presenter, topic_system, new_id
        )
        return [
            AdvisedCard(c, f.rule.id, f.rule.version, f.rank, evidence_of(f))
            for c, f in zip(cards, findings, strict=True)
        ]

    lab_value_sets = [analyte.value_set for analyte in knowledge.analytes.values()]
    service = data["service"]
    return ServiceDeclaration(
        id=service["id"],
        hook=service["hook"],
        title=service["title"],
        description=service["description"],
        usage_requirements=service["usageRequirements"],
        prefetch={
            "patient": queries.patient_read(),
            "labs": queries.observations_by_value_sets(knowledge, lab_value_sets),
            "conditions": queries.by_patient("Condition"),
            "medicationRequests": queries.by_patient("MedicationRequest"),
            "medicationAdministrations": queries.by_patient("MedicationAdministration"),
            "procedures": queries.by_patient("Procedure"),
        },
        advise=advise,
    )
