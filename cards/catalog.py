"""The CDS services these rules answer for, declared as data (``data/service.json``).

Each service names its hook, its words, its prefetch keys, its pathways (one module of ``cards`` each, found
by name) and which finding supersedes which. Everything is loaded and checked here, at start-up: a pathway,
prefetch key or rule id that does not exist stops the service with a one-line error naming the file and
key. Discovery (``GET /cds-services``) is generated from these declarations by ``service``; the prefetch
templates come from the value sets, so a code added there reaches the EHR's prefetch too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from cards.card import Card
from cards.combine import Combination, combine
from cards.config import RuleConfig
from cards.data_files import citations, override_reasons, read_data
from cards.finding import Finding
from cards.given import Given
from cards.render import render_cards
from terminology import queries
from terminology.knowledge import Knowledge

NewId = Callable[[], str]
SERVICES_FILE = "service.json"


@dataclass(frozen=True, slots=True)
class AdvisedCard:
    """A rendered card and what the history and suppression need to know about it."""

    card: Card
    rule_id: str
    rule_version: str
    rank: int
    # The references the card rests on (with their dates): a suppression ends when they change.
    evidence: tuple[str, ...] = ()


# Told which rule failed and how, so the caller can log and count it: cards/ does no I/O itself.
RuleFailed = Callable[[str, Exception], None]
Advise = Callable[[Given, datetime, NewId, RuleFailed], list[AdvisedCard]]
Evaluate = Callable[[Given, RuleConfig, datetime], list[Finding]]


@dataclass(frozen=True, slots=True)
class Pathway:
    """One rule module: its checked configuration and its pure ``evaluate(given, config, now)``."""

    config: RuleConfig
    evaluate: Evaluate


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


def evidence_of(finding: Finding) -> tuple[str, ...]:
    """What a finding rests on, for suppression: each row's resources and date (a newer result is a new
    resource; a new diagnosis or medication a new row)."""
    return tuple(sorted({f"{row.reference}@{row.date}" for row in finding.evidence if row.reference}))


def pathway_module(name: str) -> ModuleType:
    """The module ``cards.<name>`` of a pathway named in the services data."""
    try:
        module = importlib.import_module(f"cards.{name}")
    except ModuleNotFoundError as exc:
        raise ValueError(f"{SERVICES_FILE}: pathway {name!r} is not a module of cards") from exc
    if not (callable(getattr(module, "load_config", None)) and callable(getattr(module, "evaluate", None))):
        raise ValueError(f"{SERVICES_FILE}: pathway {name!r} has no load_config and evaluate")
    return module


def pathway(name: str, knowledge: Knowledge) -> Pathway:
    """The pathway ``name``, its data loaded and bound (every name checked against the knowledge)."""
    module = pathway_module(name)
    return Pathway(module.load_config().bind(knowledge), module.evaluate)


def _prefetch(knowledge: Knowledge) -> dict[str, str]:
    """Every prefetch key a service may declare, with its template (derived from the value sets)."""
    lab_value_sets = [analyte.value_set for analyte in knowledge.analytes.values()]
    return {
        "patient": queries.patient_read(),
        "labs": queries.observations_by_value_sets(knowledge, lab_value_sets),
        "conditions": queries.by_patient("Condition"),
        "medicationRequests": queries.by_patient("MedicationRequest"),
        "medicationAdministrations": queries.by_patient("MedicationAdministration"),
        "procedures": queries.by_patient("Procedure"),
    }


def _declare(spec: dict[str, Any], knowledge: Knowledge, topic_system: str) -> ServiceDeclaration:
    known = _prefetch(knowledge)
    unknown = [key for key in spec["prefetch"] if key not in known]
    if unknown:
        raise ValueError(f"{SERVICES_FILE}: service {spec['id']}: unknown prefetch keys {unknown}")
    pathways = [pathway(name, knowledge) for name in spec["pathways"]]
    combination = Combination.of(spec, {p.config.rule.id for p in pathways}, SERVICES_FILE)

    def evaluate_all(given: Given, now: datetime, failed: RuleFailed) -> list[Finding]:
        """Every rule's findings; a rule that raises is reported and skipped, the others still speak.

        A deceased patient's chart gets no risk advice at all.
        """
        if given.snapshot.deceased:
            return []
        findings: list[Finding] = []
        for rule in pathways:
            try:
                findings += rule.evaluate(given, rule.config, now)
            except Exception as exc:  # noqa: BLE001 - one rule's bug must not hide the others' cards
                failed(rule.config.rule.id, exc)
        return findings

    def advise(given: Given, now: datetime, new_id: NewId, failed: RuleFailed) -> list[AdvisedCard]:
        findings = combine(evaluate_all(given, now, failed), combination)
        patient_id = given.snapshot.patient_id
        cards = render_cards(
            findings, patient_id, knowledge.orders, knowledge.presenter, topic_system, new_id
        )
        return [
            AdvisedCard(c, f.rule.id, f.rule.version, f.rank, evidence_of(f))
            for c, f in zip(cards, findings, strict=True)
        ]

    return ServiceDeclaration(
        id=spec["id"],
        hook=spec["hook"],
        title=spec["title"],
        description=spec["description"],
        usage_requirements=spec["usageRequirements"],
        prefetch={key: known[key] for key in spec["prefetch"]},
        advise=advise,
    )


def declared_services(knowledge: Knowledge) -> list[ServiceDeclaration]:
    """Every service of ``data/service.json``, its rule data loaded and checked once."""
    data = read_data(SERVICES_FILE)
    # Load and check every data file now: a broken one must stop start-up, not fail the first card.
    citations()
    override_reasons()
    return [_declare(spec, knowledge, data["ruleTopicSystem"]) for spec in data["services"]]


def calcinosis_service(knowledge: Knowledge) -> ServiceDeclaration:
    """The chart-open service (the first declared): what the preview page and the tools call."""
    return declared_services(knowledge)[0]
