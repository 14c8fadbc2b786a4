"""The time frame of a goal: a fixed start and deadline, a calendar period, or a recurring one.

Every boundary is 00:00 UTC, as the history store's day totals are UTC days. A period runs
from its start (inclusive) to its end (exclusive): ``deadline: 2027-05-01`` is due when that day
begins, ``period: 2027-Q1`` runs from 2027-01-01 to 2027-04-01, ``every: month`` restarts on the
first of each month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from kpiwatch.config_goals import CALENDAR_PERIOD, GoalConfig

DAY = 86400.0


@dataclass(frozen=True)
class Period:
    """One period of a goal, in unix seconds, with its label (``2027-Q1``, ``2026-11``).

    ``share`` is the part of its calendar month, quarter or year a recurring period covers: 1,
    except for a period cut short by the goal's start or deadline.
    """

    start: float
    end: float
    label: str
    share: float = 1.0

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    def elapsed(self, now: float) -> float:
        """The elapsed fraction of the period at ``now``, 0 before it and 1 after it."""
        return min(1.0, max(0.0, (now - self.start) / (self.end - self.start)))


def midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _month_start(year: int, month: int) -> date:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1)


def _calendar(text: str) -> Period:
    match = CALENDAR_PERIOD.match(text)
    if match is None:
        raise ValueError(f"not a calendar period: {text!r}")
    year = int(match.group(1))
    part = match.group(2)
    if part is None:
        first, months = 1, 12
    elif part[0] == "H":
        first, months = 1 + 6 * (int(part[1]) - 1), 6
    elif part[0] == "Q":
        first, months = 1 + 3 * (int(part[1]) - 1), 3
    else:
        first, months = int(part), 1
    start = _month_start(year, first)
    end = _month_start(year, first + months)
    return Period(midnight(start), midnight(end), text)


def _recurring_label(start: date, every: str) -> str:
    if every == "month":
        return f"{start.year}-{start.month:02d}"
    if every == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def _recurring_containing(day: date, every: str) -> Period:
    months = {"month": 1, "quarter": 3, "year": 12}[every]
    first = (day.month - 1) // months * months + 1
    start = _month_start(day.year, first)
    end = _month_start(day.year, first + months)
    return Period(midnight(start), midnight(end), _recurring_label(start, every))


def period_at(goal: GoalConfig, now: float) -> Period:
    """The goal's period at ``now``: the one containing it, else the nearest one (the first
    before the goal starts, the last after a recurring goal's deadline)."""
    if goal.period is not None:
        return _calendar(goal.period)
    if goal.every is None:
        assert goal.start is not None and goal.deadline is not None
        return Period(
            midnight(goal.start), midnight(goal.deadline), f"{goal.start}..{goal.deadline}"
        )
    day = _day(now)
    if goal.start is not None and day < goal.start:
        day = goal.start
    if goal.deadline is not None and midnight(day) >= midnight(goal.deadline):
        day = _day(midnight(goal.deadline) - DAY)
    period = _recurring_containing(day, goal.every)
    return _clip(goal, period)


def previous_period(goal: GoalConfig, period: Period) -> Period | None:
    """The period of a recurring goal before ``period`` (None for one-off goals, or before the
    goal's start)."""
    if goal.every is None or (goal.start is not None and period.start <= midnight(goal.start)):
        return None
    previous = _recurring_containing(_day(period.start - DAY), goal.every)
    return _clip(goal, previous)


def _clip(goal: GoalConfig, period: Period) -> Period:
    """A recurring period cut to the goal's start and deadline (a goal starting mid-month has a
    short first period)."""
    start, end = period.start, period.end
    if goal.start is not None:
        start = max(start, midnight(goal.start))
    if goal.deadline is not None:
        end = min(end, midnight(goal.deadline))
    if (start, end) == (period.start, period.end):
        return period
    return Period(start, end, period.label, (end - start) / (period.end - period.start))


def review_due_at(goal: GoalConfig, period: Period) -> float | None:
    """When the goal is next due for review: ``review_every`` after ``reviewed`` or the start."""
    since = goal.reviewed or goal.start
    if since is None:
        since = _day(period.start) if goal.every is None else None
    if since is None:
        return None
    return midnight(since) + goal.review_every.total_seconds()
