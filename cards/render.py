"""Turning findings into CDS Hooks 2.0 cards (§ Card Attributes), as plain JSON-ready dicts.

One card per finding, most severe first. The card says what was found (summary < 140 characters), shows
the evidence and the reasoning in markdown ``detail``, names the rule and its version in ``source``, offers
our override reasons, and links the references. It never orders treatment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cards.config import citations, override_reasons
from cards.finding import Evidence, Finding

EVIDENCE_HEADER = ("Evidence", "Reported", "Canonical", "Date", "Source", "Derived from")
MAX_NOT_USED_LINES = 10


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _evidence_table(rows: tuple[Evidence, ...]) -> list[str]:
    lines = ["| " + " | ".join(EVIDENCE_HEADER) + " |", "|" + "---|" * len(EVIDENCE_HEADER)]
    for r in rows:
        cells = (r.item, r.reported, r.canonical, r.date, r.source, r.derived_from)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _detail(finding: Finding) -> str:
    refs = citations()
    parts = [" ".join(finding.reasons), "", *_evidence_table(finding.evidence)]
    if finding.not_used:
        parts += ["", "**Data present but not used**", ""]
        parts += [f"- {_cell(line)}" for line in finding.not_used[:MAX_NOT_USED_LINES]]
        extra = len(finding.not_used) - MAX_NOT_USED_LINES
        if extra > 0:
            parts.append(f"- … and {extra} more")
    parts += ["", "**References**", ""]
    parts += [f"{i}. {refs[key].text}" for i, key in enumerate(finding.citations, start=1)]
    parts += ["", f"_Rule {finding.rule.id} v{finding.rule.version}. Advisory only; not a treatment order._"]
    return "\n".join(parts)


def render_cards(
    findings: list[Finding], topic_system: str, new_id: Callable[[], str]
) -> list[dict[str, Any]]:
    """Cards for ``findings``, most severe first; ``new_id`` makes each card's uuid."""
    refs = citations()
    reasons = override_reasons()
    cards = []
    for finding in sorted(findings, key=lambda f: f.rank, reverse=True):
        cited = [refs[key] for key in finding.citations]
        cards.append(
            {
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
        )
    return cards
