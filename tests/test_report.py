"""The card outcome report: counts per rule version, latest-feedback-wins, ``since``, formats and the chart.

The fixture database holds, in UTC (``SINCE`` is Monday 2025-03-03):

- metastatic-calcification 0.2.0: four cards after ``SINCE``; m1 accepted, m2 overridden (already-addressed),
  m3 overridden then accepted (counts once, as accepted), m4 overridden without a reason; one suppression.
- metastatic-calcification 0.1.0: one card before ``SINCE``, overridden (data-incorrect), one suppression,
  all before ``SINCE``.
- calciphylaxis-risk 0.1.0: c1 overridden (patient-declined), c2 accepted then overridden (patient-declined);
  two suppressions.
- missing-calcium-phosphate 0.1.0: one card, no feedback.
- unknown card feedback: two items flagged unknown (one before ``SINCE``) and one flagged known whose card is
  not in the card history.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from matplotlib import image
from sqlalchemy.ext.asyncio import AsyncSession

from service.cli.report import Outcome, Report, WeekPoint, collect, weekly_acceptance
from service.cli.report_plot import write_plot
from service.cli.report_render import FORMATS, run_report
from service.store.engine import create_engine
from service.store.models import Base, FeedbackEntry, IssuedCard, Suppression
from service.store.schema import upgrade

SINCE = date(2025, 3, 3)
METASTATIC = "metastatic-calcification"
CALCIPHYLAXIS = "calciphylaxis-risk"
MISSING = "missing-calcium-phosphate"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def card(uuid: str, rule_id: str, version: str, issued_at: datetime) -> IssuedCard:
    return IssuedCard(
        card_uuid=uuid,
        service_id="calcinosis-cutis-risk",
        rule_id=rule_id,
        rule_version=version,
        indicator="warning",
        rank=2,
        hook_instance=f"hook-{uuid}",
        patient_key="0" * 64,
        issued_at=issued_at,
    )


def suppression(rule_id: str, version: str, suppressed_at: datetime) -> Suppression:
    return Suppression(
        service_id="calcinosis-cutis-risk",
        rule_id=rule_id,
        rule_version=version,
        indicator="warning",
        hook_instance="hook-suppressed",
        patient_key="0" * 64,
        overridden_card_uuid="m2",
        suppressed_at=suppressed_at,
    )


def feedback(
    uuid: str,
    outcome: str,
    outcome_at: datetime,
    reason: str | None = None,
    known: bool = True,
    received_at: datetime | None = None,
) -> FeedbackEntry:
    return FeedbackEntry(
        dedupe_key=f"{uuid}-{outcome}-{outcome_at.isoformat()}-{received_at}",
        service_id="calcinosis-cutis-risk",
        card_uuid=uuid,
        known_card=known,
        outcome=outcome,
        accepted_suggestions=1 if outcome == "accepted" else 0,
        override_reason_system="http://calcinosis-cds.example.org/fhir/CodeSystem/override-reason"
        if reason
        else None,
        override_reason_code=reason,
        has_comment=False,
        outcome_at=outcome_at,
        received_at=received_at or outcome_at,
    )


def fixture_rows() -> list[Base]:
    return [
        card("m1", METASTATIC, "0.2.0", at(3, 4)),
        card("m2", METASTATIC, "0.2.0", at(3, 5)),
        card("m3", METASTATIC, "0.2.0", at(3, 11)),
        card("m4", METASTATIC, "0.2.0", at(3, 12)),
        card("m0", METASTATIC, "0.1.0", at(2, 20)),
        card("c1", CALCIPHYLAXIS, "0.1.0", at(3, 5)),
        card("c2", CALCIPHYLAXIS, "0.1.0", at(3, 6)),
        card("p1", MISSING, "0.1.0", at(3, 7)),
        feedback("m1", "accepted", at(3, 4)),
        feedback("m2", "overridden", at(3, 6), reason="already-addressed"),
        feedback("m3", "overridden", at(3, 12), reason="not-clinically-relevant"),
        feedback("m3", "accepted", at(3, 13)),
        feedback("m4", "overridden", at(3, 12)),
        feedback("m0", "overridden", at(2, 21), reason="data-incorrect"),
        feedback("c1", "overridden", at(3, 7), reason="patient-declined"),
        feedback("c2", "accepted", at(3, 6)),
        feedback("c2", "overridden", at(3, 8), reason="patient-declined"),
        feedback("x1", "accepted", at(3, 5), known=False),
        feedback("x2", "overridden", at(2, 1), known=False),
        feedback("gone", "accepted", at(3, 9)),
        suppression(METASTATIC, "0.2.0", at(3, 14)),
        suppression(METASTATIC, "0.1.0", at(2, 22)),
        suppression(CALCIPHYLAXIS, "0.1.0", at(3, 9)),
        suppression(CALCIPHYLAXIS, "0.1.0", at(3, 10)),
    ]


async def _create(url: str, rows: list[Base]) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with AsyncSession(engine) as session:
            session.add_all(rows)
            await session.commit()
    finally:
        await engine.dispose()


def make_database(path: Path, rows: list[Base]) -> str:
    url = f"sqlite:///{path}"
    asyncio.run(_create(url, rows))
    return url


@pytest.fixture
def database(tmp_path: Path) -> str:
    return make_database(tmp_path / "report.db", fixture_rows())


@pytest.fixture
def empty_database(tmp_path: Path) -> str:
    return make_database(tmp_path / "empty.db", [])


def report_json(url: str, since: date | None = SINCE) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(run_report(url, "json", since, None))
    return document


def rule(document: dict[str, Any], rule_id: str, version: str) -> dict[str, Any]:
    (found,) = (row for row in document["rules"] if (row["ruleId"], row["ruleVersion"]) == (rule_id, version))
    return dict(found)


def test_json_counts_per_rule_version(database: str) -> None:
    document = report_json(database)
    assert document["since"] == "2025-03-03"
    assert [(row["ruleId"], row["ruleVersion"]) for row in document["rules"]] == [
        (CALCIPHYLAXIS, "0.1.0"),
        (METASTATIC, "0.2.0"),
        (MISSING, "0.1.0"),
    ]
    assert rule(document, METASTATIC, "0.2.0") == {
        "ruleId": METASTATIC,
        "ruleVersion": "0.2.0",
        "issued": 4,
        "accepted": 2,
        "overridden": 2,
        "overrideReasons": {"already-addressed": 1, "no reason given": 1},
        "suppressed": 1,
        "acceptanceRate": 0.5,
    }
    assert rule(document, CALCIPHYLAXIS, "0.1.0")["acceptanceRate"] == 0.0


def test_rule_without_feedback_has_no_rate(database: str) -> None:
    missing = rule(report_json(database), MISSING, "0.1.0")
    assert (missing["issued"], missing["accepted"], missing["overridden"]) == (1, 0, 0)
    assert missing["overrideReasons"] == {}
    assert missing["acceptanceRate"] is None


def test_card_with_several_feedback_items_counts_once_by_latest(database: str) -> None:
    """m3 was overridden then accepted; c2 accepted then overridden: each counts once, as its last word."""
    document = report_json(database)
    metastatic = rule(document, METASTATIC, "0.2.0")
    calciphylaxis = rule(document, CALCIPHYLAXIS, "0.1.0")
    assert "not-clinically-relevant" not in metastatic["overrideReasons"]
    assert (calciphylaxis["accepted"], calciphylaxis["overridden"]) == (0, 2)
    assert calciphylaxis["overrideReasons"] == {"patient-declined": 2}


def test_same_outcome_time_is_decided_by_the_later_receipt(tmp_path: Path) -> None:
    rows: list[Base] = [
        card("t1", METASTATIC, "0.2.0", at(3, 4)),
        feedback("t1", "accepted", at(3, 5), received_at=at(3, 5, hour=14)),
        feedback("t1", "overridden", at(3, 5), reason="patient-declined", received_at=at(3, 5, hour=13)),
    ]
    metastatic = rule(report_json(make_database(tmp_path / "tie.db", rows)), METASTATIC, "0.2.0")
    assert (metastatic["accepted"], metastatic["overridden"]) == (1, 0)


def test_unknown_card_feedback_is_counted_apart(database: str) -> None:
    """x1 (flagged unknown) and "gone" (not in the card history) are counted per item; x2 is before SINCE."""
    document = report_json(database)
    assert document["unknownCardFeedback"] == 2
    assert report_json(database, since=None)["unknownCardFeedback"] == 3
    assert document["totals"]["accepted"] == 2


def test_feedback_stored_before_its_card_is_tied_to_the_card(tmp_path: Path) -> None:
    """The card history is written from a queue: feedback flagged unknown at receipt counts for its card
    once the card's row is there."""
    rows: list[Base] = [
        card("q1", METASTATIC, "0.2.0", at(3, 4)),
        feedback("q1", "overridden", at(3, 4), reason="already-addressed", known=False),
    ]
    document = report_json(make_database(tmp_path / "queued.db", rows))
    assert document["unknownCardFeedback"] == 0
    assert rule(document, METASTATIC, "0.2.0")["overrideReasons"] == {"already-addressed": 1}


def test_since_excludes_earlier_rows(database: str) -> None:
    since = report_json(database)
    everything = report_json(database, since=None)
    assert since["totals"] == {
        "issued": 7,
        "accepted": 2,
        "overridden": 4,
        "overrideReasons": {"already-addressed": 1, "no reason given": 1, "patient-declined": 2},
        "suppressed": 3,
        "acceptanceRate": 0.3333,
    }
    assert everything["since"] is None
    assert rule(everything, METASTATIC, "0.1.0") == {
        "ruleId": METASTATIC,
        "ruleVersion": "0.1.0",
        "issued": 1,
        "accepted": 0,
        "overridden": 1,
        "overrideReasons": {"data-incorrect": 1},
        "suppressed": 1,
        "acceptanceRate": 0.0,
    }
    assert (everything["totals"]["issued"], everything["totals"]["suppressed"]) == (8, 4)


def test_since_is_midnight_utc(database: str) -> None:
    """Cards issued on 2025-03-05 (noon UTC) are in a report since that day and out of one since the next."""
    issued = {row["ruleId"]: row["issued"] for row in report_json(database, since=date(2025, 3, 5))["rules"]}
    assert issued == {CALCIPHYLAXIS: 2, METASTATIC: 3, MISSING: 1}
    later = {row["ruleId"]: row["issued"] for row in report_json(database, since=date(2025, 3, 6))["rules"]}
    assert later == {CALCIPHYLAXIS: 1, METASTATIC: 2, MISSING: 1}


def test_csv_header_and_rows(database: str) -> None:
    rows = list(csv.reader(io.StringIO(run_report(database, "csv", SINCE, None))))
    assert rows == [
        [
            "rule_id",
            "rule_version",
            "issued",
            "accepted",
            "overridden",
            "override_reasons",
            "suppressed",
            "acceptance_rate",
        ],
        [CALCIPHYLAXIS, "0.1.0", "2", "0", "2", "patient-declined=2", "2", "0.0000"],
        [METASTATIC, "0.2.0", "4", "2", "2", "already-addressed=1;no reason given=1", "1", "0.5000"],
        [MISSING, "0.1.0", "1", "0", "0", "", "0", ""],
    ]


def test_table_has_header_rows_and_totals(database: str) -> None:
    lines = run_report(database, "table", SINCE, None).splitlines()
    assert lines[0] == "Card outcomes, since 2025-03-03 (UTC)"
    assert lines[2].split() == [
        "rule",
        "version",
        "issued",
        "accepted",
        "overridden",
        "suppressed",
        "acceptance",
        "reasons",
    ]
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert total.split()[:6] == ["TOTAL", "7", "2", "4", "3", "33.3%"]
    metastatic = next(line for line in lines if line.startswith(METASTATIC))
    assert metastatic.split()[:7] == [METASTATIC, "0.2.0", "4", "2", "2", "1", "50.0%"]
    missing = next(line for line in lines if line.startswith(MISSING))
    assert missing.split()[-1] == "-"
    assert lines[-1] == "Feedback on unknown cards: 2"


def test_table_columns_line_up(database: str) -> None:
    lines = run_report(database, "table", SINCE, None).splitlines()
    header = lines[2]
    issued_end = header.index("issued") + len("issued")
    rows = [line for line in lines[4:] if line and not line.startswith(("-", "Feedback"))]
    assert len(rows) == 4
    assert all(line[issued_end - 1] != " " and line[issued_end] == " " for line in rows)


def test_empty_database_reports_zeros(empty_database: str) -> None:
    document = report_json(empty_database, since=None)
    assert document["rules"] == []
    assert document["unknownCardFeedback"] == 0
    assert document["totals"]["acceptanceRate"] is None
    lines = run_report(empty_database, "table", None, None).splitlines()
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert total.split() == ["TOTAL", "0", "0", "0", "0", "-"]


def test_unknown_format_is_refused_before_touching_the_database(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        run_report(f"sqlite:///{tmp_path / 'absent.db'}", "xml", None, None)
    assert FORMATS == ("table", "json", "csv")
    assert not (tmp_path / "absent.db").exists()


def test_weekly_acceptance_buckets_by_monday_utc(database: str) -> None:
    """Each card sits in the week of its latest feedback; versions of a rule share one line."""
    report = asyncio.run(collect(database, None))
    assert weekly_acceptance(report.outcomes) == {
        CALCIPHYLAXIS: [WeekPoint(date(2025, 3, 3), 0.0, 2)],
        METASTATIC: [
            WeekPoint(date(2025, 2, 17), 0.0, 1),
            WeekPoint(date(2025, 3, 3), 0.5, 2),
            WeekPoint(date(2025, 3, 10), 0.5, 2),
        ],
    }


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert width > 800
    assert height > 400


def test_plot_writes_png(database: str, tmp_path: Path) -> None:
    chart = tmp_path / "acceptance.png"
    output = run_report(database, "json", SINCE, chart)
    assert json.loads(output)["unknownCardFeedback"] == 2
    assert_png(chart)


def test_plot_without_feedback_still_writes_png(empty_database: str, tmp_path: Path) -> None:
    chart = tmp_path / "empty.png"
    run_report(empty_database, "table", None, chart)
    assert_png(chart)


def test_plot_spanning_months_and_a_new_year_writes_png(tmp_path: Path) -> None:
    """Thirty weeks across New Year with a gap: ticks thin out to about a dozen and the line breaks."""
    start = datetime(2024, 10, 7, 9, tzinfo=UTC)
    outcomes = [
        Outcome(
            METASTATIC, "0.2.0", "accepted" if week % 3 else "overridden", None, start + timedelta(weeks=week)
        )
        for week in range(30)
        if week not in {5, 6}
    ]
    chart = tmp_path / "long.png"
    write_plot(Report(since=None, rules=[], unknown_card_feedback=0, outcomes=outcomes), chart)
    assert_png(chart)
