"""Combining a service's findings so that no two cards say the same thing, most severe first.

What supersedes what is data (``data/service.json``: ``supersedes``, ``onlyWithWorkup``), for example:

* metastatic calcification speaks instead of dystrophic surveillance (calcium/phosphate are abnormal),
  and a known-calcinosis workup card replaces the surveillance card too;
* a tumoral-pattern card replaces a metastatic card that found only hyperphosphatemia (and its Ca×P, a
  CKD target that says little with preserved kidney function);
* a missing-data card that has no suggestion left is dropped.

Always: one value drives at most one card (DESIGN.md § 5: at most one warning; an info card on the same
value is noise beside it too): a finding resting on a value that already drives a more severe (or, equally
severe, earlier) card is folded into that card, which says in one line what the other would have said;
and a test is suggested once, on the most severe card that needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from cards.data_files import card_words
from cards.evidence import cited
from cards.finding import Finding


@dataclass(frozen=True, slots=True)
class Supersedes:
    """``rule`` present drops ``drops`` (only when ``drops`` found no more than ``when_only`` tags)."""

    rule: str
    drops: str
    when_only: frozenset[str] | None

    def applies(self, by_rule: dict[str, Finding]) -> bool:
        dropped = by_rule.get(self.drops)
        if self.rule not in by_rule or dropped is None:
            return False
        return self.when_only is None or dropped.tags <= self.when_only


@dataclass(frozen=True, slots=True)
class Combination:
    """How one service's findings are combined."""

    supersedes: tuple[Supersedes, ...] = ()
    only_with_workup: frozenset[str] = frozenset()

    @classmethod
    def of(cls, spec: dict[str, Any], rule_ids: set[str], source: str) -> Combination:
        """A service's combination rules, every rule id checked against the service's own pathways."""
        named = [(s["rule"], s["drops"]) for s in spec.get("supersedes", ())] + [
            (rule, rule) for rule in spec.get("onlyWithWorkup", ())
        ]
        unknown = sorted({rule for pair in named for rule in pair} - rule_ids)
        if unknown:
            raise ValueError(f"{source}: service {spec['id']}: rules {unknown} are not among its pathways")
        supersedes = tuple(
            Supersedes(s["rule"], s["drops"], frozenset(s["whenOnlyTags"]) if "whenOnlyTags" in s else None)
            for s in spec.get("supersedes", ())
        )
        return cls(supersedes, frozenset(spec.get("onlyWithWorkup", ())))


def _subordinate(host: Finding, other: Finding) -> Finding:
    """``host`` with what ``other`` would have said: its summary as one line, its evidence and workup, and
    its references in the provenance (DESIGN.md § 5: one value drives at most one warning)."""
    also = card_words()["alsoLine"].format(summary=other.summary)
    rows = tuple(
        {(r.test, r.result, r.date, r.reference): r for r in (*host.evidence, *other.evidence)}.values()
    )
    return replace(
        host,
        reasons=(*host.reasons[:-1], also, *host.reasons[-1:]),
        evidence=rows,
        not_used=tuple(dict.fromkeys((*host.not_used, *other.not_used))),
        also_cited=tuple(
            key
            for key in cited(host.also_cited, other.citations, other.also_cited)
            if key not in host.citations
        ),
        workup=tuple(dict.fromkeys((*host.workup, *other.workup))),
        tags=host.tags | other.tags,
        drivers=host.drivers | other.drivers,
        removable=tuple(dict.fromkeys((*host.removable, *other.removable))),
    )


def _one_card_per_value(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; a finding driven by a value that already drives a kept finding is folded into it."""
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: f.rank, reverse=True):
        host = next((i for i, k in enumerate(kept) if k.drivers & finding.drivers), None)
        if host is None:
            kept.append(finding)
        else:
            kept[host] = _subordinate(kept[host], finding)
    return kept


def combine(findings: list[Finding], combination: Combination) -> list[Finding]:
    by_rule = {f.rule.id: f for f in findings}
    dropped = {s.drops for s in combination.supersedes if s.applies(by_rule)}
    suggested: set[str] = set()
    combined = []
    for finding in _one_card_per_value(f for f in findings if f.rule.id not in dropped):
        workup = tuple(key for key in finding.workup if key not in suggested)
        suggested.update(workup)
        if finding.rule.id in combination.only_with_workup and not workup:
            continue
        combined.append(replace(finding, workup=workup))
    return combined
