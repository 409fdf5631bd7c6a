"""The card outcome report (``service.cli.report``) rendered for people and tools: an aligned table, JSON or
CSV, and, with ``--plot``, a chart of the weekly acceptance per rule (``service.cli.report_plot``).

Only counts are rendered: no patient key, hook instance or card uuid.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from service.cli.report import Report, RuleStats, collect


def _reasons_text(reasons: Counter[str]) -> str:
    """``code=count`` pairs, most frequent first, so the main reason to override reads first."""
    ordered = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    return ";".join(f"{code}={count}" for code, count in ordered)


def _rate_text(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)


def _stats_json(stats: RuleStats) -> dict[str, Any]:
    return {
        "issued": stats.issued,
        "accepted": stats.accepted,
        "overridden": stats.overridden,
        "overrideReasons": dict(sorted(stats.override_reasons.items())),
        "suppressed": stats.suppressed,
        "acceptanceRate": _rounded(stats.acceptance_rate),
    }


def render_json(report: Report) -> str:
    """Machine-readable form; rates are fractions (0-1) rounded to 4 places, ``null`` without feedback."""
    document = {
        "since": report.since.isoformat() if report.since else None,
        "rules": [
            {"ruleId": stats.rule_id, "ruleVersion": stats.rule_version, **_stats_json(stats)}
            for stats in report.rules
        ],
        "totals": _stats_json(report.totals()),
        "unknownCardFeedback": report.unknown_card_feedback,
    }
    return json.dumps(document, indent=2) + "\n"


CSV_HEADER = (
    "rule_id",
    "rule_version",
    "issued",
    "accepted",
    "overridden",
    "override_reasons",
    "suppressed",
    "acceptance_rate",
)


def render_csv(report: Report) -> str:
    """One row per rule version for spreadsheets; an empty rate cell means no feedback yet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for stats in report.rules:
        rate = _rounded(stats.acceptance_rate)
        writer.writerow(
            (
                stats.rule_id,
                stats.rule_version,
                stats.issued,
                stats.accepted,
                stats.overridden,
                _reasons_text(stats.override_reasons),
                stats.suppressed,
                "" if rate is None else f"{rate:.4f}",
            )
        )
    return buffer.getvalue()


TABLE_COLUMNS = ("rule", "version", "issued", "accepted", "overridden", "suppressed", "acceptance", "reasons")
NUMERIC_COLUMNS = frozenset({"issued", "accepted", "overridden", "suppressed", "acceptance"})


def _table_cells(stats: RuleStats) -> tuple[str, ...]:
    return (
        stats.rule_id,
        stats.rule_version,
        str(stats.issued),
        str(stats.accepted),
        str(stats.overridden),
        str(stats.suppressed),
        _rate_text(stats.acceptance_rate),
        _reasons_text(stats.override_reasons).replace(";", ", "),
    )


def _table_line(cells: tuple[str, ...], widths: list[int]) -> str:
    aligned = (
        cell.rjust(width) if name in NUMERIC_COLUMNS else cell.ljust(width)
        for name, cell, width in zip(TABLE_COLUMNS, cells, widths, strict=True)
    )
    return "  ".join(aligned).rstrip()


def render_table(report: Report) -> str:
    """Fixed-width text for a terminal: a heading, one line per rule version, a totals line."""
    body = [_table_cells(stats) for stats in report.rules]
    total = _table_cells(report.totals())
    widths = [
        max(len(row[index]) for row in [TABLE_COLUMNS, *body, total]) for index in range(len(TABLE_COLUMNS))
    ]
    header = _table_line(TABLE_COLUMNS, widths)
    ruler = "-" * len(header)  # as wide as the header: the free-text reasons may run on past it
    period = f"since {report.since.isoformat()} (UTC)" if report.since else "all time"
    lines = [
        f"Card outcomes, {period}",
        "",
        header,
        ruler,
        *(_table_line(row, widths) for row in body),
        ruler,
        _table_line(total, widths),
        "",
        f"Feedback on unknown cards: {report.unknown_card_feedback}",
    ]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_table,
    "json": render_json,
    "csv": render_csv,
}
FORMATS = tuple(RENDERERS)


def run_report(database_url: str, fmt: str, since: date | None, plot: Path | None) -> str:
    """Build the report (per rule: cards issued, accepted, overridden with reasons, suppressed) and return it
    rendered as 'table' | 'json' | 'csv'; when plot is given, also write a PNG chart there."""
    render = RENDERERS.get(fmt)
    if render is None:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    write_plot = plotter() if plot is not None else None  # before any work: fail fast without matplotlib
    report = asyncio.run(collect(database_url, since))
    if write_plot is not None and plot is not None:
        write_plot(report, plot)
    return render(report)


class PlotUnavailableError(RuntimeError):
    """``--plot`` without matplotlib, which only the ``report`` extra installs."""


def plotter() -> Callable[[Report, Path], None]:
    """The chart writer (``service.cli.report_plot``); matplotlib and numpy are an optional extra because only
    ``--plot`` needs them and they are most of a plain install's download and time."""
    try:
        from service.cli.report_plot import write_plot
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("matplotlib"):
            raise
        raise PlotUnavailableError(
            "--plot needs matplotlib, which is not installed: pip install 'calcinosis-cds[report]'"
        ) from exc
    return write_plot
