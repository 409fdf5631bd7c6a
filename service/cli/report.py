"""Card outcome report (``calcinosis-cds report``): per rule, how many cards went out and what clinicians did.

Reviewers of the rules want to know which cards are acted on and which are overridden (and why), so the
report counts, per rule id and rule version (a new version changes what a rule says, so its reception is
judged on its own):

- cards issued (``card_history``),
- accepted and overridden: each card counted once, by its *latest* feedback item (latest ``outcome_at``,
  then latest ``received_at``): a clinician who overrides and later accepts has, in the end, accepted,
- overrides by reason code (``no reason given`` when the EHR sent none),
- cards suppressed because the rule was recently overridden for the patient (``suppressions``),
- acceptance rate = accepted / (accepted + overridden), ``None`` while a rule has no feedback.

Feedback is tied to its card when the report is made, by card uuid, not by the ``known_card`` flag stored
at receipt: the card history is written from a queue (``service.store.history_writer``), so feedback sent
right after a card may be stored before the card's row. Feedback whose card is not in the card history is
counted apart, per feedback item, as "unknown card feedback": a rising count points at an EHR sending
feedback for cards we never issued. ``since`` keeps rows from midnight UTC of that date on, each table by its
own time column (``issued_at``, ``outcome_at`` of the latest feedback, ``suppressed_at``).

Only counts leave this module: no patient key, hook instance or card uuid is printed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from service.store.engine import create_engine
from service.store.models import FeedbackEntry, IssuedCard, Suppression

NO_REASON = "no reason given"
ACCEPTED = "accepted"
OVERRIDDEN = "overridden"

RuleKey = tuple[str, str]


@dataclass(frozen=True)
class Outcome:
    """A card's latest feedback, tied to the rule that issued the card."""

    rule_id: str
    rule_version: str
    outcome: str
    reason_code: str | None
    outcome_at: datetime


@dataclass
class RuleStats:
    """The counts of one rule version (or, for the totals line, of all rules)."""

    rule_id: str
    rule_version: str
    issued: int = 0
    accepted: int = 0
    overridden: int = 0
    override_reasons: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        """Share of cards with feedback that were accepted; ``None`` rather than 0 when nobody answered."""
        answered = self.accepted + self.overridden
        return self.accepted / answered if answered else None

    def count(self, outcome: Outcome) -> None:
        """Tally one card's latest outcome; any other outcome value is left out rather than guessed."""
        if outcome.outcome == ACCEPTED:
            self.accepted += 1
        elif outcome.outcome == OVERRIDDEN:
            self.overridden += 1
            self.override_reasons[outcome.reason_code or NO_REASON] += 1

    def add(self, other: RuleStats) -> None:
        """Fold another rule's counts in (totals); the rate follows from the summed counts, not an average."""
        self.issued += other.issued
        self.accepted += other.accepted
        self.overridden += other.overridden
        self.override_reasons.update(other.override_reasons)
        self.suppressed += other.suppressed


@dataclass(frozen=True)
class Report:
    """Everything the renderers and the chart need; ``outcomes`` feeds the weekly chart."""

    since: date | None
    rules: list[RuleStats]
    unknown_card_feedback: int
    outcomes: list[Outcome]

    def totals(self) -> RuleStats:
        total = RuleStats(rule_id="TOTAL", rule_version="")
        for stats in self.rules:
            total.add(stats)
        return total


def _cutoff(since: date | None) -> datetime | None:
    return None if since is None else datetime.combine(since, time.min, tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    """SQLite keeps no offset and hands timestamps back naive, so they must have been written in UTC;
    PostgreSQL hands them back aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _counts_by_rule(
    connection: AsyncConnection,
    rule: tuple[InstrumentedAttribute[str], InstrumentedAttribute[str]],
    moment: InstrumentedAttribute[datetime],
    since: datetime | None,
) -> dict[RuleKey, int]:
    """Rows per (rule id, rule version) of one table, counted where ``moment`` is on or after ``since``."""
    query = select(*rule, func.count()).group_by(*rule)
    if since is not None:
        query = query.where(moment >= since)
    rows = await connection.execute(query)
    return {(rule_id, version): count for rule_id, version, count in rows}


def _latest_outcomes_query(since: datetime | None) -> Select[Any]:
    """One row per known card: its latest feedback item, joined to the rule that issued it."""
    ranked = select(
        FeedbackEntry.card_uuid,
        FeedbackEntry.outcome,
        FeedbackEntry.override_reason_code,
        FeedbackEntry.outcome_at,
        func.row_number()
        .over(
            partition_by=FeedbackEntry.card_uuid,
            order_by=(
                FeedbackEntry.outcome_at.desc(),
                FeedbackEntry.received_at.desc(),
                FeedbackEntry.id.desc(),
            ),
        )
        .label("position"),
    )
    latest = ranked.subquery()
    query = (
        select(
            IssuedCard.rule_id,
            IssuedCard.rule_version,
            latest.c.outcome,
            latest.c.override_reason_code,
            latest.c.outcome_at,
        )
        .join(latest, latest.c.card_uuid == IssuedCard.card_uuid)
        .where(latest.c.position == 1)
    )
    return query if since is None else query.where(latest.c.outcome_at >= since)


async def _latest_outcomes(connection: AsyncConnection, since: datetime | None) -> list[Outcome]:
    rows = await connection.execute(_latest_outcomes_query(since))
    return [
        Outcome(rule_id, version, outcome, reason, _utc(outcome_at))
        for rule_id, version, outcome, reason, outcome_at in rows
    ]


async def _unknown_card_feedback(connection: AsyncConnection, since: datetime | None) -> int:
    """Feedback items no rule can be credited with: their card is not in the card history."""
    query = (
        select(func.count())
        .select_from(FeedbackEntry)
        .outerjoin(IssuedCard, IssuedCard.card_uuid == FeedbackEntry.card_uuid)
        .where(IssuedCard.id.is_(None))
    )
    if since is not None:
        query = query.where(FeedbackEntry.outcome_at >= since)
    return int((await connection.execute(query)).scalar_one())


def _rule_stats(
    issued: dict[RuleKey, int], suppressed: dict[RuleKey, int], outcomes: Iterable[Outcome]
) -> list[RuleStats]:
    """Merge the three sources; a rule appears as soon as any of them mentions it."""
    stats: dict[RuleKey, RuleStats] = {}

    def of(key: RuleKey) -> RuleStats:
        return stats.setdefault(key, RuleStats(rule_id=key[0], rule_version=key[1]))

    for key, count in issued.items():
        of(key).issued = count
    for key, count in suppressed.items():
        of(key).suppressed = count
    for outcome in outcomes:
        of((outcome.rule_id, outcome.rule_version)).count(outcome)
    return [stats[key] for key in sorted(stats)]


async def collect(database_url: str, since: date | None) -> Report:
    """Read the report's numbers in one connection, then release the engine (the CLI exits right after)."""
    cutoff = _cutoff(since)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            issued = await _counts_by_rule(
                connection, (IssuedCard.rule_id, IssuedCard.rule_version), IssuedCard.issued_at, cutoff
            )
            suppressed = await _counts_by_rule(
                connection, (Suppression.rule_id, Suppression.rule_version), Suppression.suppressed_at, cutoff
            )
            outcomes = await _latest_outcomes(connection, cutoff)
            unknown = await _unknown_card_feedback(connection, cutoff)
    finally:
        await engine.dispose()
    return Report(since, _rule_stats(issued, suppressed, outcomes), unknown, outcomes)


def _week_start(moment: datetime) -> date:
    """The Monday (UTC) of the week ``moment`` falls in."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


class WeekPoint(NamedTuple):
    """One rule's acceptance in one week: ``cards`` is how many cards had their latest feedback that week."""

    week: date
    rate: float
    cards: int


def weekly_acceptance(outcomes: Iterable[Outcome]) -> dict[str, list[WeekPoint]]:
    """Per rule id, the weeks that had feedback, in order.

    Versions are pooled so a rule keeps one line across releases; each card counts in the week of its
    latest feedback.
    """
    weeks: dict[str, dict[date, RuleStats]] = defaultdict(dict)
    for outcome in outcomes:
        week = _week_start(outcome.outcome_at)
        weeks[outcome.rule_id].setdefault(week, RuleStats(outcome.rule_id, "")).count(outcome)
    return {
        rule_id: [
            WeekPoint(week, stats.acceptance_rate, stats.accepted + stats.overridden)
            for week, stats in sorted(by_week.items())
            if stats.acceptance_rate is not None
        ]
        for rule_id, by_week in sorted(weeks.items())
    }
