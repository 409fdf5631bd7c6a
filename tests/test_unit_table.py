"""The unit table's conversion factors agree with a UCUM parser (ucumvert, on pint)."""

from __future__ import annotations

import pytest
from ucumvert import PintUcumRegistry

from terminology.knowledge import load_knowledge

K = load_knowledge()
UREG = PintUcumRegistry()
BASE = {"mass": "g/L", "molar": "mol/L"}


@pytest.mark.parametrize("code", sorted(K.units), ids=str)
def test_ucum_code_parses(code: str) -> None:
    UREG.from_ucum(code)


@pytest.mark.parametrize("code", sorted(c for c, u in K.units.items() if u.dimension in BASE), ids=str)
def test_factor_matches_ucum(code: str) -> None:
    unit = K.units[code]
    factor = UREG.from_ucum(code).to(UREG.from_ucum(BASE[unit.dimension])).magnitude
    assert unit.to_base == pytest.approx(factor, rel=1e-9)


def test_the_check_can_fail() -> None:
    assert UREG.from_ucum("mg/dL").to(UREG.from_ucum("g/L")).magnitude != pytest.approx(0.1)
