"""The outbound card check catches every spec violation we guard against."""

from __future__ import annotations

from typing import Any

import pytest

from service.api.sendable import card_problems

GOOD: dict[str, Any] = {
    "uuid": "u1",
    "summary": "Moderate hypercalcemia",
    "indicator": "warning",
    "source": {"label": "calcinosis-cds"},
    "suggestions": [
        {"label": "Order PTH", "uuid": "s1", "actions": [{"type": "create", "description": "d"}]}
    ],
    "selectionBehavior": "any",
    "overrideReasons": [{"code": "c", "system": "s", "display": "Already addressed"}],
    "links": [{"label": "ref", "url": "https://example.org", "type": "absolute"}],
}


def test_good_card_passes() -> None:
    assert card_problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"uuid": None}, "no uuid"),
        ({"summary": "x" * 140}, "summary"),
        ({"indicator": "hard-stop"}, "indicator"),
        ({"source": {"url": "https://x"}}, "source.label"),
        ({"selectionBehavior": None}, "selectionBehavior"),
        ({"suggestions": [{"label": "x"}]}, "suggestion 0 has no uuid"),
        ({"overrideReasons": [{"code": "c"}]}, "no display"),
        ({"links": [{"label": "x", "url": "/relative", "type": "absolute"}]}, "absolute"),
        ({"detail": ""}, "empty value at card.detail"),
        ({"links": []}, "empty value at card.links"),
        ({"source": {"label": "l", "topic": {}}}, "empty value at card.source.topic"),
    ],
)
def test_violations_are_found(change: dict[str, Any], problem: str) -> None:
    card = {**GOOD, **change}
    card = {k: v for k, v in card.items() if v is not None}
    assert any(problem in p for p in card_problems(card)), card_problems(card)
