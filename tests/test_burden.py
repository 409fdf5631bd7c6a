"""The alert-burden measure (bench/burden.py) counts what the demo catalog says each patient should get."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bench.burden import measure, table
from service.demo import demo_patients


def test_burden_of_the_demo_population_matches_the_catalog() -> None:
    burdens = measure(["demo"], datetime.now(UTC))
    expected = Counter(card for patient in demo_patients() for card in patient.expected_cards)
    assert burdens["demo"].opens == len(demo_patients())
    assert burdens["demo"].cards == expected
    rows = table(burdens).splitlines()[2:]
    assert len(rows) == len(expected)
    assert all(row.startswith(f"| demo | {len(demo_patients())} |") for row in rows)
