"""Alert burden: cards per 100 chart opens, by rule and indicator, over a population of charts.

A card earns its place only if it is rare. This runs every chart of a population through the service's own
advice (the same ``ServiceDeclaration.advise`` the hook calls, without HTTP and without suppression, so each
chart open counts as a first open) and counts what the clinician would see. Populations:

* ``demo``: the ten demo patients (``service/demo``), dates relative to now;
* ``golden``: the golden scenarios' patient-view requests (``tests/golden``), at their fixed clock;
* ``synthea``: the Synthea patient Bundles kept in ``tests/data/fhir/synthea`` (sources in ``NOTICE.md``).

    .venv/bin/python -m bench.burden [--population demo,golden,synthea] [--json]

It also prints, per chart, the cards with what each used (evidence rows) and did not use (its not-used
lines), so a reviewer can check a card against the chart.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cards.catalog import ServiceDeclaration, calcinosis_service
from cards.given import Given
from cards.render import PROVENANCE
from service.demo import bundle, demo_patients, prefetch
from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_CLOCK = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # tests/golden/README.md


@dataclass(frozen=True, slots=True)
class Chart:
    population: str
    name: str
    patient_id: str
    values: list[Any]
    now: datetime


@dataclass
class Burden:
    opens: int = 0
    cards: Counter[tuple[str, str]] = field(default_factory=Counter)
    charts: list[dict[str, Any]] = field(default_factory=list)


def _demo(now: datetime) -> Iterator[Chart]:
    for patient in demo_patients():
        yield Chart("demo", patient.id, patient.id, list(prefetch(bundle(patient.id, now)).values()), now)


def _golden() -> Iterator[Chart]:
    for path in sorted((ROOT / "tests" / "golden").glob("*.request.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        if body["hook"] != "patient-view":
            continue  # burden is per chart open; the order hooks' scenarios judge drafts
        values = [v for v in body["prefetch"].values() if v is not None]
        name = path.name.removesuffix(".request.json")
        yield Chart("golden", name, body["context"]["patientId"], values, GOLDEN_CLOCK)


def _synthea(now: datetime) -> Iterator[Chart]:
    folder = ROOT / "tests" / "data" / "fhir" / "synthea"
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        patient = next(e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "Patient")
        yield Chart("synthea", path.stem, patient["id"], [document], now)


def _charts(populations: list[str], now: datetime) -> Iterator[Chart]:
    sources: dict[str, Callable[[], Iterator[Chart]]] = {
        "demo": lambda: _demo(now),
        "golden": _golden,
        "synthea": lambda: _synthea(now),
    }
    for name in populations:
        yield from sources[name]()


def _advise(declaration: ServiceDeclaration, chart: Chart) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The chart's cards, and what of the chart was not used, counted by reason."""
    snapshot = build_snapshot(chart.patient_id, chart.values, load_knowledge(), chart.now)
    ids = (f"card-{i}" for i in range(1_000_000))

    def failed(rule_id: str, exc: Exception) -> None:
        raise RuntimeError(f"rule {rule_id} failed on {chart.name}") from exc

    cards = [
        a.card.to_wire() for a in declaration.advise(Given(snapshot), chart.now, lambda: next(ids), failed)
    ]
    return cards, snapshot.ignored_counts()


def measure(populations: list[str], now: datetime) -> dict[str, Burden]:
    declaration = calcinosis_service(load_knowledge())
    burdens: dict[str, Burden] = {}
    for chart in _charts(populations, now):
        burden = burdens.setdefault(chart.population, Burden())
        cards, ignored = _advise(declaration, chart)
        burden.opens += 1
        burden.cards.update((c["source"]["topic"]["code"], c["indicator"]) for c in cards)
        burden.charts.append(
            {
                "chart": chart.name,
                "notUsedByReason": ignored,
                "cards": [
                    {
                        "rule": c["source"]["topic"]["code"],
                        "indicator": c["indicator"],
                        "summary": c["summary"],
                        "used": [row["test"] for row in c["extension"][PROVENANCE].get("evidence", [])],
                        "notUsed": c["extension"][PROVENANCE].get("notUsed", []),
                    }
                    for c in cards
                ],
            }
        )
    return burdens


def table(burdens: dict[str, Burden]) -> str:
    lines = [
        "| population | chart opens | rule | indicator | cards | per 100 opens |",
        "|---|---|---|---|---|---|",
    ]
    for name, burden in burdens.items():
        if not burden.cards:
            lines.append(f"| {name} | {burden.opens} | — | — | 0 | 0 |")
        for (rule, indicator), count in sorted(burden.cards.items()):
            per_100 = 100 * count / burden.opens
            lines.append(f"| {name} | {burden.opens} | {rule} | {indicator} | {count} | {per_100:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.burden", description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", default="demo,golden,synthea", help="comma-separated populations")
    parser.add_argument("--json", action="store_true", help="print every chart's cards as JSON")
    args = parser.parse_args(argv)
    burdens = measure(args.population.split(","), datetime.now(UTC))
    if args.json:
        print(json.dumps({name: b.charts for name, b in burdens.items()}, indent=2, ensure_ascii=False))
    else:
        print(table(burdens))
    return 0


if __name__ == "__main__":
    sys.exit(main())
