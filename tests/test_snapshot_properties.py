"""Property-based: arbitrary (often malformed) Observations never crash the snapshot builder, and every
Observation ends up either used or listed as ignored with a reason — nothing is dropped silently."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
OUR_CODES = sorted({code for _, code in K.analyte_by_code} | {code for _, code in K.unverified})
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, junk)


codings = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "system": maybe(st.sampled_from([fd.LOINC, "http://snomed.info/sct", ""])),
            "code": maybe(st.sampled_from(OUR_CODES)),
            "display": maybe(st.text(max_size=10)),
        },
    ),
    max_size=3,
)
quantity = st.fixed_dictionaries(
    {},
    optional={
        "value": maybe(st.floats(allow_infinity=False, width=32) | st.integers(-(10**20), 10**20)),
        "unit": maybe(
            st.sampled_from(["mg/dL", "mmol/L", "mg/dl", "umol/L", "g/L", "%", "", "µmol/L", "mL/min/1.73m2"])
        ),
        "system": maybe(st.just(fd.UCUM)),
        "code": maybe(st.sampled_from(["mg/dL", "mmol/L", "MG/DL", "pg/mL", "ng/mL"])),
        "comparator": maybe(st.sampled_from(["<", "<=", ">", ">=", "ad", "~"])),
    },
)
dates = st.sampled_from(
    [
        "2026-11-01",
        "2026-11-01T08:00:00Z",
        "2026-11",
        "2026",
        "2026-02-30",
        "not a date",
        "2026-11-01T08:00:00+05:30",
        "",
    ]
)
observation = st.fixed_dictionaries(
    {"resourceType": st.just("Observation")},
    optional={
        "id": maybe(st.text(max_size=6)),
        "status": maybe(
            st.sampled_from(["final", "amended", "corrected", "preliminary", "entered-in-error", "cancelled"])
        ),
        "code": maybe(
            st.fixed_dictionaries({}, optional={"coding": maybe(codings), "text": maybe(st.text(max_size=5))})
        ),
        "subject": maybe(
            st.fixed_dictionaries(
                {}, optional={"reference": maybe(st.sampled_from(["Patient/p1", "Patient/p2", "x"]))}
            )
        ),
        "effectiveDateTime": maybe(dates),
        "effectivePeriod": maybe(st.fixed_dictionaries({}, optional={"start": maybe(dates)})),
        "issued": maybe(dates),
        "valueQuantity": maybe(quantity),
        "dataAbsentReason": maybe(st.just({"text": "x"})),
        "referenceRange": maybe(
            st.lists(
                st.fixed_dictionaries({}, optional={"low": maybe(quantity), "high": maybe(quantity)}),
                max_size=2,
            )
        ),
        "interpretation": maybe(
            st.lists(maybe(st.fixed_dictionaries({}, optional={"coding": maybe(codings)})), max_size=2)
        ),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(observation, max_size=6))
def test_arbitrary_observations_never_crash_and_are_all_accounted_for(
    observations: list[dict[str, Any]],
) -> None:
    snapshot = build_snapshot("p1", [fd.patient(), fd.bundle(observations)], K, fd.NOW)
    used = sum(1 for series in snapshot.labs.values() for r in series if not r.is_derived)
    ignored = sum(
        1 for i in snapshot.ignored if i.resource_type == "Observation" and i.reason != "egfr-not-derivable"
    )
    assert used + ignored == len(observations)
