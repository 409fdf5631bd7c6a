"""The acceptance chart of ``calcinosis-cds report --plot``: weekly acceptance per rule, as a PNG.

Apart from the report itself (``service.cli.report``, ``service.cli.report_render``) because it needs
matplotlib (and numpy), which only the ``report`` extra installs: ``pip install 'calcinosis-cds[report]'``.
"""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from service.cli.report import Report, WeekPoint, weekly_acceptance

MAX_WEEK_TICKS = 12
CAPTION = "Each card counts once, in the week of its latest feedback. Gaps: weeks without feedback."
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _tick_label(week: date, previous: date | None) -> str:
    """Day and month; the year only where it starts or changes, to keep labels short enough not to collide."""
    if previous is None or previous.year != week.year:
        return f"{week:%d %b}\n{week.year}"
    return f"{week:%d %b}"


def _week_ticks(axes: Axes, series: dict[str, list[WeekPoint]]) -> None:
    """Ticks on Mondays (at most about a dozen), so each label is exactly a bucket's "week starting" date."""
    first = min(points[0].week for points in series.values())
    last = max(points[-1].week for points in series.values())
    count = (last - first).days // 7 + 1
    step = -(-count // MAX_WEEK_TICKS)
    ticks = [first + timedelta(weeks=index) for index in range(0, count, step)]
    labels = [_tick_label(week, previous) for week, previous in zip(ticks, [None, *ticks], strict=False)]
    axes.set_xticks([tick.toordinal() for tick in ticks], labels)


def _weekly_line(points: list[WeekPoint]) -> tuple[list[int], list[float]]:
    """x (day ordinals) and y (percent) for every week from the first to the last point; a week without
    feedback is NaN, so the line breaks there instead of drawing a trend nobody measured."""
    rates = {point.week: 100 * point.rate for point in points}
    weeks = range(points[0].week.toordinal(), points[-1].week.toordinal() + 1, 7)
    return list(weeks), [rates.get(date.fromordinal(day), math.nan) for day in weeks]


def _plot_series(axes: Axes, series: dict[str, list[WeekPoint]]) -> None:
    """One line per rule; markers differ as well as colours so the lines stay apart in grey print."""
    for (rule_id, points), marker in zip(series.items(), itertools.cycle(MARKERS), strict=False):
        cards = sum(point.cards for point in points)
        x, y = _weekly_line(points)
        label = f"{rule_id} ({cards} cards)"
        axes.plot(x, y, marker=marker, markersize=7, linewidth=2, clip_on=False, label=label)
    _week_ticks(axes, series)
    axes.legend(title="Rule (cards with feedback)", loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)


def _plot_empty(axes: Axes) -> None:
    axes.set_xticks([])
    axes.text(0.5, 0.5, "no feedback yet", transform=axes.transAxes, ha="center", va="center", fontsize=16)


def write_plot(report: Report, path: Path) -> None:
    """A PNG line chart of weekly acceptance per rule; drawn with Agg directly so no GUI is ever needed."""
    figure = Figure(figsize=(10, 5), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    series = weekly_acceptance(report.outcomes)
    if series:
        _plot_series(axes, series)
    else:
        _plot_empty(axes)
    period = f"since {report.since.isoformat()}" if report.since else "all time"
    axes.set_title(f"Card acceptance rate by week ({period})", pad=12)
    axes.set_xlabel("Week starting (Monday, UTC)")
    axes.set_ylabel("Accepted / (accepted + overridden)")
    axes.set_ylim(0, 100)
    axes.yaxis.set_major_formatter(PercentFormatter(100))
    axes.grid(alpha=0.3)
    figure.supxlabel(CAPTION, x=0.01, ha="left", fontsize=8, color="dimgray")
    figure.savefig(path, format="png")
