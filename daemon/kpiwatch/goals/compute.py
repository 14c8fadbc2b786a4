"""The goal computations, as pure functions of a goal, its KPI's values at instants, and now.

:func:`evaluate_goal` takes the KPI of the goal's scope at every UTC midnight it needs (and at
``now``), as :mod:`kpiwatch.goals.history` reads them from the store, and returns a
:class:`GoalResult`. docs/goals.md explains each step with a worked example.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kpiwatch.config_goals import GoalConfig
from kpiwatch.goals.model import Achievability, GoalResult, Outcome, Relevance
from kpiwatch.goals.period import DAY, Period, period_at, previous_period, review_due_at

#: A value older than this before an instant is not the value at it.
STALE = 2 * DAY
#: Fewest points a trend is fitted to.
MIN_TREND_POINTS = 3
#: Fewest days of history a best pace is taken from.
MIN_PACE_DAYS = 7


@dataclass(frozen=True)
class GoalSpec:
    """A goal checked against the catalogue: its KPI's direction and objective resolved."""

    index: int
    config: GoalConfig
    direction: int  # +1: higher is better, -1: lower is better
    kpi_objective: str
    window_seconds: float  # the KPI window read (1d for measure total)
    window_label: str

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def objective(self) -> str:
        return self.config.objective or self.kpi_objective


def midnights(first: float, last: float) -> list[float]:
    """Every UTC midnight from ``first`` to ``last`` inclusive (rounded inwards)."""
    start = math.ceil(first / DAY) * DAY
    return [start + i * DAY for i in range(max(0, int((last - start) // DAY) + 1))]


def needed_instants(spec: GoalSpec, now: float, history: float) -> list[float]:
    """The instants :func:`evaluate_goal` reads the KPI at: midnights from the earliest period
    it looks at minus ``history`` (for the achievability) up to now or the deadline, and now."""
    period = period_at(spec.config, now)
    previous = previous_period(spec.config, period)
    first = (previous or period).start - history
    last = min(now, period.end)
    out = midnights(first, last)
    if now < period.end and (not out or out[-1] != now):
        out.append(now)
    return out


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Slope and intercept of the Theil-Sen fit: the median of the slopes between every pair
    of points, and the median of ``y - slope * x``. One outlier moves neither."""
    if len(x) < 2:
        return None
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    keep = dx != 0
    if not keep.any():
        return None
    slope = float(np.median((y[j] - y[i])[keep] / dx[keep]))
    intercept = float(np.median(y - slope * x))
    return slope, intercept


class _Series:
    """The KPI at instants, with lookups that tolerate a missing instant."""

    def __init__(self, points: Mapping[float, float]) -> None:
        items = sorted((t, v) for t, v in points.items() if v is not None and math.isfinite(v))
        self.t = np.array([t for t, _ in items], dtype=float)
        self.v = np.array([v for _, v in items], dtype=float)
        #: instants read without a value (the history already allowed for stale samples there)
        self.missing = {t for t, v in points.items() if v is None or not math.isfinite(v)}

    def at(self, instant: float, stale: float = STALE) -> float | None:
        """The value at ``instant``, or the newest before it within ``stale``."""
        i = int(np.searchsorted(self.t, instant, side="right")) - 1
        if i < 0 or instant - self.t[i] > stale:
            return None
        return float(self.v[i])

    def at_many(self, instants: Sequence[float], stale: float = STALE) -> np.ndarray:
        """:meth:`at` of many instants at once, NaN where there is no value."""
        when = np.asarray(instants, dtype=float)
        out = np.full(len(when), np.nan)
        i = np.searchsorted(self.t, when, side="right") - 1
        ok = i >= 0
        found = i[ok]
        fresh = when[ok] - self.t[found] <= stale
        out[np.flatnonzero(ok)[fresh]] = self.v[found[fresh]]
        return out

    def first_in(self, start: float, end: float) -> tuple[float, float] | None:
        i = int(np.searchsorted(self.t, start, side="left"))
        if i < len(self.t) and self.t[i] < end:
            return float(self.t[i]), float(self.v[i])
        return None

    def between(self, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """Points with ``start <= t <= end``."""
        lo = int(np.searchsorted(self.t, start, side="left"))
        hi = int(np.searchsorted(self.t, end, side="right"))
        return self.t[lo:hi], self.v[lo:hi]


def _measure(spec: GoalSpec, kpi: _Series, period: Period, upto: float, problems: list[str]):
    """The goal's measure at the midnights of the period up to ``upto`` and at ``upto``:
    times and values. ``value``: the KPI; ``change``: the KPI minus at the period start;
    ``total``: the daily values added up since the period start."""
    measure = spec.config.measure
    if measure == "value":
        return kpi.between(period.start, upto)
    if measure == "change":
        start_value = kpi.at(period.start)
        if start_value is None:
            first = kpi.first_in(period.start, period.end)
            if first is None:
                return np.array([]), np.array([])
            start_value = first[1]
            problems.append(
                f"no value at the period start; the change counts from the first value in the "
                f"period ({_date(first[0])})"
            )
        t, v = kpi.between(period.start, upto)
        return t, v - start_value
    # total: each 1d value at a midnight is the total of the day ending there
    days = midnights(period.start + DAY, min(upto, period.end))
    values = [kpi.at(m, stale=DAY / 2) for m in days]
    missing = sum(v is None for v in values)
    if missing:
        problems.append(f"{missing} day(s) of the period have no daily value; counted as 0")
    t = np.array([period.start, *days], dtype=float)
    v = np.cumsum([0.0, *[x or 0.0 for x in values]])
    return t, v


def _date(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def evaluate_goal(
    spec: GoalSpec,
    points: Mapping[float, float],
    now: float,
    account_objectives: Mapping[str, str | None],
    history: float = 365 * DAY,
) -> GoalResult:
    """The goal at ``now`` from the KPI of its scope at instants (see :func:`needed_instants`).

    ``account_objectives`` maps each account in the goal's scope to its declared objective.
    """
    kpi = _Series(points)
    period = period_at(spec.config, now)
    result = _evaluate_period(spec, kpi, period, now, history)
    result.relevance = relevance(spec, account_objectives)
    previous = previous_period(spec.config, period)
    if previous is not None:
        before = _evaluate_period(spec, kpi, previous, previous.end, history)
        result.previous = Outcome(
            previous, before.status, before.current, before.target, before.judged
        )
    return result


def _evaluate_period(
    spec: GoalSpec, kpi: _Series, period: Period, now: float, history: float
) -> GoalResult:
    goal = spec.config
    d = spec.direction
    problems: list[str] = []
    upto = min(now, period.end)
    t, v = _measure(spec, kpi, period, upto, problems)
    # the current value: the measure at now (at the deadline once it has passed). A value read
    # at that instant and missing is not replaced by an older one: the history reader already
    # took the newest sample within 2 days (a total adds up the days before, it stays)
    current = None
    missing_now = goal.measure != "total" and upto in kpi.missing
    if len(t) and upto - t[-1] <= STALE and not missing_now:
        current = float(v[-1])
    elif now >= period.start:
        problems.append("no data for the goal's KPI in its scope in the last 2 days")
    baseline = _baseline(spec, kpi, period, problems)
    target = _target(goal, baseline, period, problems)
    elapsed = period.elapsed(now)
    result = GoalResult(
        name=goal.name,
        kpi=goal.kpi,
        window=spec.window_label,
        measure=goal.measure,
        criterion=goal.criterion,
        direction="higher" if d > 0 else "lower",
        owner=goal.owner,
        objective=spec.objective,
        description=goal.description,
        scope=dict(goal.scope),
        period=period,
        now=now,
        status="not_started",
        judged=False,
        elapsed=elapsed,
        current=current,
        baseline=baseline,
        target=target,
        expected=None,
        progress=None,
        projected=None,
        projected_met=None,
        achievability=achievability(spec, kpi, period, baseline, target, now, history),
        relevance=Relevance("undeclared", ""),
        review_due_at=review_due_at(goal, period),
        problems=problems,
    )
    if now < period.start:
        return result
    projection = _projection(spec, kpi, period, now, t, v)
    if projection is not None and target is not None and now < period.end:
        result.projected = projection
        result.projected_met = _meets(goal.criterion, d, projection, target)
    if goal.criterion == "reach":
        _reach(result, spec)
    else:
        _stay(result, spec, t, v)
    return result


def _baseline(spec: GoalSpec, kpi: _Series, period: Period, problems: list[str]) -> float | None:
    goal = spec.config
    if goal.measure != "value":
        return 0.0
    if goal.baseline is not None:
        return float(goal.baseline)
    value = kpi.at(period.start)
    if value is not None:
        return value
    # a stay goal only shows its baseline: its absence is not a problem of the goal
    reported = problems if goal.criterion == "reach" else []
    first = kpi.first_in(period.start, min(period.end, period.start + 7 * DAY))
    if first is not None:
        reported.append(f"baseline measured on {_date(first[0])}, the first data after the start")
        return first[1]
    reported.append("the baseline cannot be measured: no data at the start; set baseline:")
    return None


def _target(
    goal: GoalConfig, baseline: float | None, period: Period, problems: list[str]
) -> float | None:
    """The target of the period: a change or total is prorated in a period cut short by the
    goal's start or deadline (300 a month from the 15th of a 31-day month: 300 * 17 / 31)."""
    relative = goal.relative_target
    if relative is None:
        target = float(goal.target)  # type: ignore[arg-type]
        return target * period.share if goal.measure != "value" else target
    if baseline is None:
        problems.append(f"the target {goal.target} is relative and the baseline is unknown")
        return None
    return baseline * (1 + relative)


def _meets(criterion: str, d: int, value: float, target: float) -> bool:
    if criterion == "stay_above":
        return value >= target
    if criterion == "stay_below":
        return value <= target
    return d * (value - target) >= 0


def _projection(
    spec: GoalSpec, kpi: _Series, period: Period, now: float, t: np.ndarray, v: np.ndarray
) -> float | None:
    """The measure projected to the deadline by a Theil-Sen fit to the last ``trend`` days."""
    trend = spec.config.trend.total_seconds()
    if spec.config.measure == "value":
        t, v = kpi.between(now - trend, now)
    else:
        keep = t >= now - trend
        t, v = t[keep], v[keep]
    if len(t) < MIN_TREND_POINTS:
        return None
    fit = theil_sen((t - now) / DAY, v)
    if fit is None:
        return None
    slope, intercept = fit
    return intercept + slope * (period.end - now) / DAY


def _reach(result: GoalResult, spec: GoalSpec) -> None:
    goal = spec.config
    d = spec.direction
    current, baseline, target = result.current, result.baseline, result.target
    if target is not None and baseline is not None:
        result.expected = baseline + (target - baseline) * result.elapsed
        if current is not None:
            if target != baseline:
                result.progress = (current - baseline) / (target - baseline)
            else:
                result.progress = 1.0 if d * (current - target) >= 0 else 0.0
    final = result.now >= result.period.end
    if current is None or target is None or baseline is None:
        # nothing to judge by: a goal that cannot be measured is at risk of being missed; a
        # period that ended without data is shown missed but not judged (no outcome alert)
        result.status = "missed" if final else "at_risk"
        return
    met = d * (current - target) >= 0
    if final:
        result.status = "achieved" if met else "missed"
        result.judged = True
        return
    if met:
        result.status = "achieved"
        result.judged = True
        return
    if result.elapsed < goal.early_window:
        result.status = "on_track"  # the early window: not judged yet
        return
    result.judged = True
    gap = result.elapsed - (result.progress if result.progress is not None else 0.0)
    if gap <= goal.bands.behind:
        result.status = "on_track"
    elif gap > goal.bands.at_risk and result.projected_met is not True:
        result.status = "at_risk"
    else:
        result.status = "behind"


def _stay(result: GoalResult, spec: GoalSpec, t: np.ndarray, v: np.ndarray) -> None:
    goal = spec.config
    target = result.target
    period = result.period
    assert target is not None
    completed = (t > period.start) & (t <= min(result.now, period.end)) & (t % DAY == 0)
    days = v[completed]
    met = [_meets(goal.criterion, spec.direction, float(x), target) for x in days]
    breach = ~np.array(met, dtype=bool)  # dtype: no completed day yet on the first day
    result.breach_days = int(breach.sum())
    result.judged_days = len(days)
    result.expected = target
    if result.judged_days:
        result.progress = 1 - result.breach_days / result.judged_days
    allowed = goal.max_breach * period.days
    used = result.breach_days / allowed if allowed > 0 else (math.inf if breach.any() else 0.0)
    final = result.now >= period.end
    if result.breach_days > allowed:
        result.status = "missed"
        result.judged = True
        return
    if final:
        # a period without a single value shows nothing was held: not achieved
        result.status = "achieved" if result.judged_days else "missed"
        result.judged = bool(result.judged_days)
        if not result.judged_days:
            result.problems.append("no day of the period has a value of the goal's KPI")
        return
    in_breach = result.current is not None and not _meets(
        goal.criterion, spec.direction, result.current, target
    )
    if result.elapsed < goal.early_window and not in_breach:
        result.status = "on_track"
        return
    result.judged = True
    if result.current is None or used - result.elapsed > goal.bands.at_risk:
        result.status = "at_risk"
    elif in_breach or used - result.elapsed > goal.bands.behind:
        result.status = "behind"
    else:
        result.status = "on_track"


def achievability(
    spec: GoalSpec,
    kpi: _Series,
    period: Period,
    baseline: float | None,
    target: float | None,
    now: float,
    history: float,
) -> Achievability:
    """The goal's required pace against the best pace of the same length in its history."""
    goal = spec.config
    d = spec.direction
    first = period.start - history
    last = min(now, period.end)
    days = midnights(first, last)
    values = kpi.at_many(days, DAY / 2)
    finite = np.isfinite(values)
    if target is None:
        return Achievability(None, None, None, False, "unknown: the target is not known yet")
    if goal.criterion != "reach":
        if finite.sum() < MIN_PACE_DAYS:
            return Achievability(None, None, None, False, "unknown: under 7 days of history")
        met = np.array([_meets(goal.criterion, d, float(x), target) for x in values[finite]])
        share = float(met.mean())
        needed = 1 - goal.max_breach
        ratio = needed / share if share > 0 else math.inf
        flagged = ratio > goal.achievable_factor
        detail = (
            f"history met the limit on {share:.0%} of days; the goal allows "
            f"{goal.max_breach:.0%} of days in breach"
        )
        return Achievability(None, None, ratio, flagged, detail)
    amount = (target - baseline) if goal.measure == "value" and baseline is not None else target
    if goal.measure == "value" and baseline is None:
        return Achievability(None, None, None, False, "unknown: the baseline is not known yet")
    required = d * amount / period.days
    span = int(min(round(period.days), finite.sum() - 1))
    if span < MIN_PACE_DAYS:
        return Achievability(required, None, None, False, "unknown: under 8 days of history")
    if goal.measure == "total":
        filled = np.where(finite, values, 0.0)
        sums = np.convolve(filled, np.ones(span), mode="valid")
        counts = np.convolve(finite.astype(float), np.ones(span), mode="valid")
        rates = np.where(counts == span, d * sums / span, np.nan)
    else:
        rates = d * (values[span:] - values[:-span]) / span
    best = float(np.nanmax(rates)) if np.isfinite(rates).any() else None
    if best is None:
        return Achievability(required, None, None, False, f"unknown: no {span}-day span in history")
    if required <= 0:
        return Achievability(required, best, None, False, "the target asks for no improvement")
    ratio = required / best if best > 0 else math.inf
    flagged = ratio > goal.achievable_factor
    detail = f"needs {required:.4g}/day; the best {span}-day pace in the history was {best:.4g}/day"
    return Achievability(required, best, ratio, flagged, detail)


def relevance(spec: GoalSpec, account_objectives: Mapping[str, str | None]) -> Relevance:
    """Vanity-metric check: the KPI's objective against the objectives its accounts declare."""
    declared = {a: o for a, o in account_objectives.items() if o}
    kpi = spec.config.kpi
    if spec.config.objective and spec.config.objective != spec.kpi_objective:
        return Relevance(
            "vanity",
            f"the goal serves {spec.config.objective} but {kpi} measures {spec.kpi_objective}: "
            "a possible vanity metric",
        )
    if not declared:
        return Relevance(
            "undeclared", "no account in the goal's scope declares an objective (objective:)"
        )
    others = sorted(a for a, o in declared.items() if o != spec.kpi_objective)
    if len(others) == len(declared):
        wanted = ", ".join(sorted(set(declared.values())))
        return Relevance(
            "vanity",
            f"{kpi} measures {spec.kpi_objective}; the accounts in scope declare {wanted}: "
            "a possible vanity metric",
        )
    return Relevance("aligned", f"{kpi} measures {spec.kpi_objective}, as the accounts declare")
