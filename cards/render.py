"""Turning findings into CDS Hooks 2.0 cards (§ Card Attributes), as plain JSON-ready dicts.

One card per finding, most severe first. The card says what was found (summary < 140 characters), shows
the evidence and the reasoning in markdown ``detail``, names the rule and its version in ``source``, offers
our override reasons, links the references, and suggests the missing workup as draft ServiceRequests
(``intent: proposal``; ``selectionBehavior: any``). It never orders treatment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from cards.config import citations, override_reasons, read_data
from cards.finding import Evidence, Finding
from terminology.knowledge import Order

NewId = Callable[[], str]


@cache
def _words() -> dict[str, Any]:
    words: dict[str, Any] = read_data("render.json")
    return words


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _evidence_table(rows: tuple[Evidence, ...]) -> list[str]:
    header = _words()["evidenceHeader"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = (r.item, r.reported, r.canonical, r.date, r.source, r.derived_from)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _detail(finding: Finding) -> str:
    words, refs = _words(), citations()
    parts = [" ".join(finding.reasons), ""]
    parts += _evidence_table(finding.evidence) if finding.evidence else []
    if finding.not_used:
        limit = words["maxNotUsedLines"]
        parts += ["", words["notUsedHeading"], ""]
        parts += [f"- {_cell(line)}" for line in finding.not_used[:limit]]
        if len(finding.not_used) > limit:
            parts.append("- " + words["moreNotUsed"].format(count=len(finding.not_used) - limit))
    parts += ["", words["referencesHeading"], ""]
    parts += [f"{i}. {refs[key].text}" for i, key in enumerate(finding.citations, start=1)]
    parts += ["", words["footer"].format(rule=finding.rule.id, version=finding.rule.version)]
    return "\n".join(parts)


def service_request(order: Order, patient_id: str, reason: str) -> dict[str, Any]:
    """A draft R4 ServiceRequest proposing ``order`` for the patient (coded only with a verified code)."""
    code: dict[str, Any] = {"text": order.display}
    if order.code and order.system:
        code["coding"] = [{"system": order.system, "code": order.code, "display": order.display}]
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": code,
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"text": reason}],
    }


def _suggestions(
    finding: Finding, orders: Mapping[str, Order], patient_id: str, new_id: NewId
) -> list[dict[str, Any]]:
    words = _words()
    reason = words["reasonText"].format(title=finding.rule.title)
    return [
        {
            "label": words["suggestionLabel"].format(test=orders[key].display),
            "uuid": new_id(),
            "actions": [
                {
                    "type": "create",
                    "description": words["actionDescription"].format(test=orders[key].display),
                    "resource": service_request(orders[key], patient_id, reason),
                }
            ],
        }
        for key in finding.workup
    ]


def render_cards(
    findings: list[Finding], patient_id: str, orders: Mapping[str, Order], topic_system: str, new_id: NewId
) -> list[dict[str, Any]]:
    """Cards for ``findings`` in the given order; ``new_id`` makes each card's and suggestion's uuid."""
    refs = citations()
    reasons = override_reasons()
    cards = []
    for finding in findings:
        cited = [refs[key] for key in finding.citations]
        card: dict[str, Any] = {
            "uuid": new_id(),
            "summary": finding.summary,
            "indicator": finding.indicator,
            "detail": _detail(finding),
            "source": {
                "label": f"{finding.rule.label} v{finding.rule.version}",
                "url": cited[0].url,
                "topic": {
                    "system": topic_system,
                    "code": finding.rule.id,
                    "display": finding.rule.topic_display,
                },
            },
            "overrideReasons": [
                {"system": reasons.system, "code": r.code, "display": r.display} for r in reasons.reasons
            ],
            "links": [{"label": c.label, "url": c.url, "type": "absolute"} for c in cited],
        }
        suggestions = _suggestions(finding, orders, patient_id, new_id)
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = "any"
        cards.append(card)
    return cards
