"""Turning findings into CDS Hooks 2.0 cards (§ Card Attributes): the typed model of ``cards.card``.

A card is read in seconds in a narrow side panel (DESIGN.md § 5): the summary (< 140 characters) states the
finding and the action; the markdown ``detail`` has a few short lines, a compact four-column table (test,
result, date, note) in human units at clinical precision, and the values present but not used; references
are ``links``. What a reviewer needs to check the card — resource ids, codes as sent, the whole not-used list,
the reference texts — is in the card's ``extension`` (CDS Hooks 2.0 § Extensions), out of the clinician's eye
line. Missing workup is suggested as draft ServiceRequests (``intent: proposal``); a card never orders
treatment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cards.card import Action, Card, Coding, Link, Source, Suggestion
from cards.data_files import card_words, citations, override_reasons
from cards.finding import Evidence, Finding
from terminology.knowledge import Order
from terminology.presentation import Presenter

NewId = Callable[[], str]
PROVENANCE = "http://calcinosis-cds.example.org/cds-hooks/card-provenance"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _shown(row: Evidence, present: Presenter) -> Evidence:
    """A row with its test and result written out (a laboratory row is named and formatted here)."""
    if row.lab is None:
        return row
    lab = row.lab
    return Evidence(
        present.name(lab.analyte), present.value_both(lab), row.date, row.note, row.reference, row.code
    )


NON_BREAKING_HYPHEN = "\u2011"
NO_BREAK_SPACE = "\u00a0"
SHORT_NOTE = 16  # characters: a note of a word or two ("Payne 1973", "not IV") is not broken


def _row_cells(row: Evidence) -> tuple[str, ...]:
    """A row's cells; dates and short notes are kept on one line (non-breaking hyphens and spaces), since
    a narrow card panel (the official sandbox's is 624 px wide) otherwise breaks them, doubling a row."""
    note = row.note.replace(" ", NO_BREAK_SPACE) if len(row.note) <= SHORT_NOTE else row.note
    return row.test, row.result, row.date.replace("-", NON_BREAKING_HYPHEN), note


def _table(rows: list[Evidence]) -> list[str]:
    lines = ["| " + " | ".join(card_words()["evidenceHeader"]) + " |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(_cell(c) for c in _row_cells(r)) + " |" for r in rows]
    return lines


def _short(line: str) -> str:
    limit = card_words()["maxNotUsedChars"]
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _detail(finding: Finding, rows: list[Evidence]) -> str:
    words = card_words()
    parts = [*finding.reasons]
    if rows:
        parts.append("\n".join(_table(rows)))
    if finding.not_used:
        shown = [f"- {_cell(_short(line))}" for line in finding.not_used[: words["maxNotUsedLines"]]]
        hidden = len(finding.not_used) - len(shown)
        more = [f"- {words['moreNotUsed'].format(count=hidden)}"] if hidden else []
        parts.append("\n".join([words["notUsedHeading"], *shown, *more]))
    return "\n\n".join(parts)


def _provenance(finding: Finding, rows: list[Evidence]) -> dict[str, Any]:
    """Everything a reviewer needs to match the card to the chart, kept out of the detail."""
    refs = citations()
    evidence = [
        {
            key: value
            for key, value in (("test", r.test), ("reference", r.reference), ("code", r.code))
            if value
        }
        for r in rows
        if r.reference or r.code
    ]
    provenance: dict[str, Any] = {
        "rule": {"id": finding.rule.id, "version": finding.rule.version},
        "references": [refs[key].text for key in (*finding.citations, *finding.also_cited)],
    }
    if evidence:
        provenance["evidence"] = evidence
    if finding.not_used:
        provenance["notUsed"] = list(finding.not_used)
    return provenance


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
) -> list[Suggestion]:
    words = card_words()
    reason = words["reasonText"].format(title=finding.rule.title)
    return [
        Suggestion(
            label=words["suggestionLabel"].format(test=orders[key].display),
            uuid=new_id(),
            actions=[
                Action(
                    type="create",
                    description=words["actionDescription"].format(test=orders[key].display),
                    resource=service_request(orders[key], patient_id, reason),
                )
            ],
        )
        for key in finding.workup
    ]


def _removals(finding: Finding, new_id: NewId) -> list[Suggestion]:
    """Suggestions to remove a draft order (CDS Hooks 2.0 § Action: ``delete`` with the draft's id)."""
    words = card_words()
    return [
        Suggestion(
            label=words["removeLabel"].format(what=what),
            uuid=new_id(),
            actions=[
                Action(
                    type="delete", description=words["removeDescription"].format(what=what), resourceId=ref
                )
            ],
        )
        for ref, what in finding.removable
    ]


def render_cards(
    findings: list[Finding],
    patient_id: str,
    orders: Mapping[str, Order],
    present: Presenter,
    topic_system: str,
    new_id: NewId,
) -> list[Card]:
    """Cards for ``findings`` in the given order; ``new_id`` makes each card's and suggestion's uuid."""
    refs = citations()
    reasons = override_reasons()
    override = [Coding(system=reasons.system, code=r.code, display=r.display) for r in reasons.reasons]
    cards = []
    for finding in findings:
        rows = [_shown(row, present) for row in finding.evidence]
        cited = [refs[key] for key in finding.citations]
        suggestions = [*_removals(finding, new_id), *_suggestions(finding, orders, patient_id, new_id)]
        cards.append(
            Card(
                uuid=new_id(),
                summary=finding.summary,
                indicator=finding.indicator,
                detail=_detail(finding, rows),
                source=Source(
                    label=f"{finding.rule.label} v{finding.rule.version}",
                    url=cited[0].url,
                    topic=Coding(
                        system=topic_system, code=finding.rule.id, display=finding.rule.topic_display
                    ),
                ),
                suggestions=suggestions or None,
                selectionBehavior="any" if suggestions else None,
                overrideReasons=override,
                links=[Link(label=c.label, url=c.url, type="absolute") for c in cited],
                extension={PROVENANCE: _provenance(finding, rows)},
            )
        )
    return cards
