"""Combining the pathways' findings so that no two cards say the same thing, most severe first.

* metastatic calcification speaks instead of dystrophic surveillance (calcium/phosphate are abnormal),
  and a known-calcinosis workup card replaces the surveillance card too;
* a tumoral-pattern card replaces a metastatic card that found only hyperphosphatemia (and its Ca×P, a
  CKD target that says little with preserved kidney function);
* one value drives at most one card (DESIGN.md § 5: at most one warning; an info card on the same value
  is noise beside it too): a finding resting on a value that already drives a more severe (or, equally
  severe, earlier) card is folded into that card, which says in one line what the other would have said;
* a test is suggested once, on the most severe card that needs it; a missing-data card left with no
  suggestion is dropped.
"""

from __future__ import annotations

from dataclasses import replace

from cards import dystrophic, known_calcinosis, metastatic, missing_data, tumoral
from cards.config import card_words
from cards.evidence import cited
from cards.finding import Finding


def _subordinate(host: Finding, other: Finding) -> Finding:
    """``host`` with what ``other`` would have said: its summary as one line, its evidence, references and
    workup (DESIGN.md § 5: one value drives at most one warning)."""
    also = card_words()["alsoLine"].format(summary=other.summary)
    rows = tuple(
        {(r.test, r.result, r.date, r.reference): r for r in (*host.evidence, *other.evidence)}.values()
    )
    return replace(
        host,
        reasons=(*host.reasons[:-1], also, *host.reasons[-1:]),
        evidence=rows,
        not_used=tuple(dict.fromkeys((*host.not_used, *other.not_used))),
        citations=cited(host.citations, other.citations),
        workup=tuple(dict.fromkeys((*host.workup, *other.workup))),
        tags=host.tags | other.tags,
        drivers=host.drivers | other.drivers,
    )


def _one_warning_per_value(findings: list[Finding]) -> list[Finding]:
    """Most severe first; a finding driven by a value that already drives a kept finding is folded into it."""
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: f.rank, reverse=True):
        host = next((i for i, k in enumerate(kept) if k.drivers & finding.drivers), None)
        if host is None:
            kept.append(finding)
        else:
            kept[host] = _subordinate(kept[host], finding)
    return kept


def combine(findings: list[Finding]) -> list[Finding]:
    by_rule = {f.rule.id: f for f in findings}
    metastatic_id, dystrophic_id = metastatic.load_config().rule.id, dystrophic.load_config().rule.id
    dropped: set[str] = set()
    if metastatic_id in by_rule or known_calcinosis.load_config().rule.id in by_rule:
        dropped.add(dystrophic_id)
    tumoral_found = tumoral.load_config().rule.id in by_rule
    if tumoral_found and metastatic_id in by_rule and by_rule[metastatic_id].tags <= {"phosphate", "product"}:
        dropped.add(metastatic_id)
    missing_id = missing_data.load_config().rule.id
    suggested: set[str] = set()
    combined = []
    for finding in _one_warning_per_value([f for f in findings if f.rule.id not in dropped]):
        workup = tuple(key for key in finding.workup if key not in suggested)
        suggested.update(workup)
        if finding.rule.id == missing_id and not workup:
            continue
        combined.append(replace(finding, workup=workup))
    return combined
