"""Combining the pathways' findings so that no two cards say the same thing, most severe first.

* metastatic calcification speaks instead of dystrophic surveillance (calcium/phosphate are abnormal),
  and a known-calcinosis workup card replaces the surveillance card too;
* a tumoral-pattern card replaces a metastatic card that found only hyperphosphatemia (and its Ca×P, a
  CKD target that says little with preserved kidney function);
* a test is suggested once, on the most severe card that needs it; a missing-data card left with no
  suggestion is dropped.
"""

from __future__ import annotations

from dataclasses import replace

from cards import dystrophic, known_calcinosis, metastatic, missing_data, tumoral
from cards.finding import Finding


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
    for finding in sorted(
        (f for f in findings if f.rule.id not in dropped), key=lambda f: f.rank, reverse=True
    ):
        workup = tuple(key for key in finding.workup if key not in suggested)
        suggested.update(workup)
        if finding.rule.id == missing_id and not workup:
            continue
        combined.append(replace(finding, workup=workup))
    return combined
