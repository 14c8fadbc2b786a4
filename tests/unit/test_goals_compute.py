"""The goal computations of kpiwatch.goals.compute on synthetic histories at fixed dates.

Each test describes the KPI of a goal's scope as a value per UTC midnight, reads it at the
instants the tracker would read (``needed_instants``), travels to a fixed date and evaluates the
goal there. Every expected value is worked out by hand from the synthetic data in a comment.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from kpiwatch.config import DEFAULT_WINDOWS, KpiSettings
from kpiwatch.config_goals import GoalConfig
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.compute import GoalSpec, evaluate_goal, needed_instants, theil_sen
from kpiwatch.goals.model import GoalResult
from kpiwatch.kpi.compiled import build_catalogue

DAY = 86400.0
HISTORY = 60 * DAY
CATALOGUE = build_catalogue(KpiSettings())

# The one-off goals run 100 days: 2026-01-01 to 2026-04-11 (31 + 28 + 31 + 10 days), so the
# elapsed fraction on day k (at 00:00 UTC, k days after the start) is k / 100.
START = date(2026, 1, 1)
DEADLINE = date(2026, 4, 11)

#: The KPI at 00:00 UTC of a day; None where the history has no value.
Level = Callable[[date], float | None]


def spec(**fields: Any) -> GoalSpec:
    (compiled,) = compile_goals([GoalConfig(**fields)], CATALOGUE, list(DEFAULT_WINDOWS))
    return compiled


def day(k: int) -> date:
    """The day k days after the start of the one-off goals."""
    return START + timedelta(days=k)


def moment(on: date, hour: int = 0) -> datetime:
    return datetime(on.year, on.month, on.day, hour, tzinfo=UTC)


def line(base: float, per_day: float, origin: date = START) -> Level:
    """A KPI that is ``base`` at 00:00 of ``origin`` and moves ``per_day`` each day."""
    return lambda on: base + per_day * (on - origin).days


def evaluate(
    goal: GoalSpec,
    when: datetime,
    level: Level,
    now_value: float | None = None,
    objectives: Mapping[str, str | None] | None = None,
) -> GoalResult:
    """The goal at ``when`` from ``level`` read at the instants the tracker reads.

    Between midnights the KPI keeps the value of the last one (one sample a day), unless
    ``now_value`` gives the value at ``when``. Missing values are NaN, as the tracker gives them.
    """
    with time_machine.travel(when, tick=False):
        now = time.time()
        points: dict[float, float] = {}
        for instant in needed_instants(goal, now, HISTORY):
            value = level(datetime.fromtimestamp(instant, UTC).date())
            if instant % DAY and now_value is not None:
                value = now_value
            points[instant] = math.nan if value is None else value
        return evaluate_goal(goal, points, now, objectives or {}, HISTORY)


# reach, higher is better ---------------------------------------------------------------------


def followers_goal(**fields: Any) -> GoalSpec:
    """Followers from 1000 to 2000 in the 100 days; expected on day k: 1000 + 10 k."""
    settings = {"baseline": 1000, "target": 2000, "start": START, "deadline": DEADLINE}
    return spec(name="followers-2k", kpi="followers", **{**settings, **fields})


def test_before_the_start_a_goal_is_not_started() -> None:
    result = evaluate(followers_goal(), moment(date(2025, 12, 20), 12), line(1000, 10))
    assert (result.status, result.judged) == ("not_started", False)
    assert result.elapsed == 0.0
    assert result.progress is None and result.expected is None and result.projected is None


@pytest.mark.parametrize(
    ("per_day", "status", "current", "progress", "projected"),
    [
        # day 50: elapsed 0.5, expected 1000 + 1000 * 0.5 = 1500. current = 1000 + 50 * per_day,
        # progress = (current - 1000) / 1000, gap = 0.5 - progress; the Theil-Sen slope of a
        # straight line is per_day, so projected = current + 50 * per_day.
        (9, "on_track", 1450, 0.45, 1900),  # gap 0.05 <= bands.behind 0.1
        (6, "behind", 1300, 0.30, 1600),  # gap 0.20: over 0.1, not over at_risk 0.25
        (4, "at_risk", 1200, 0.20, 1400),  # gap 0.30 > 0.25 and 1400 misses 2000
        (25, "achieved", 2250, 1.25, 3500),  # 2250 >= 2000 before the deadline
    ],
)
def test_reach_status_at_mid_period(
    per_day: float, status: str, current: float, progress: float, projected: float
) -> None:
    result = evaluate(followers_goal(), moment(day(50)), line(1000, per_day))
    assert (result.status, result.judged) == (status, True)
    assert result.elapsed == pytest.approx(0.5)
    assert result.current == pytest.approx(current)
    assert result.baseline == 1000 and result.target == 2000
    assert result.expected == pytest.approx(1500)
    assert result.progress == pytest.approx(progress)
    assert result.projected == pytest.approx(projected)
    assert result.projected_met is (projected >= 2000)
    assert result.direction == "higher" and result.problems == []


def test_the_early_window_does_not_judge_a_slow_start() -> None:
    goal = followers_goal()  # early_window 0.2: the first 20 days are not judged
    # day 10: elapsed 0.1 < 0.2; 1010 is 1 % of the way, but the goal is not judged yet
    early = evaluate(goal, moment(day(10)), line(1000, 1))
    assert (early.status, early.judged) == ("on_track", False)
    assert early.progress == pytest.approx(0.01)
    # day 30: elapsed 0.3, progress 30 / 1000 = 0.03, gap 0.27 > 0.25, projected
    # 1030 + 70 * 1 = 1100 misses 2000: at risk
    late = evaluate(goal, moment(day(30)), line(1000, 1))
    assert (late.status, late.judged) == ("at_risk", True)
    assert late.projected == pytest.approx(1100)


def test_a_projection_that_meets_the_target_keeps_a_late_goal_behind_not_at_risk() -> None:
    goal = followers_goal(trend=timedelta(days=7))
    # flat at 1000 until day 40, then +20 a day: 1200 on day 50, gap 0.5 - 0.2 = 0.3 > 0.25.
    # The 7-day trend (days 43-50) rises 20 a day: 1200 + 20 * 50 = 2200 >= 2000.
    result = evaluate(goal, moment(day(50)), lambda on: 1000 + 20 * max(0, (on - day(40)).days))
    assert result.progress == pytest.approx(0.2)
    assert result.projected == pytest.approx(2200) and result.projected_met is True
    assert (result.status, result.judged) == ("behind", True)


@pytest.mark.parametrize(
    ("per_day", "status", "current"),
    [
        (10, "achieved", 2000),  # 1000 + 10 * 100 = 2000 on 2026-04-11, the deadline
        (9, "missed", 1900),  # 1000 + 9 * 100 = 1900 < 2000
    ],
)
def test_after_the_deadline_the_value_at_the_deadline_decides(
    per_day: float, status: str, current: float
) -> None:
    def level(on: date) -> float:
        # after the deadline the KPI falls to 1500; the outcome is the value at the deadline
        return 1000 + per_day * (on - START).days if on <= DEADLINE else 1500

    result = evaluate(followers_goal(), moment(date(2026, 4, 20), 12), level)
    assert (result.status, result.judged) == (status, True)
    assert result.current == pytest.approx(current)
    assert result.elapsed == 1.0 and result.expected == pytest.approx(2000)
    assert result.projected is None  # nothing left to project


# reach, lower is better ----------------------------------------------------------------------


def cpa_goal(**fields: Any) -> GoalSpec:
    """Cost per acquisition (spend / conversions, lower is better) from 50 down to 40."""
    settings = {"baseline": 50, "target": 40, "start": START, "deadline": DEADLINE}
    return spec(name="cpa-40", kpi="cost_per_acquisition", **{**settings, **fields})


@pytest.mark.parametrize(
    ("per_day", "status", "current", "progress", "projected"),
    [
        # day 50: current = 50 + 50 * per_day, progress = (current - 50) / (40 - 50),
        # projected = current + 50 * per_day; met when it is 40 or less
        (-0.09, "on_track", 45.5, 0.45, 41.0),  # gap 0.05
        (-0.06, "behind", 47.0, 0.30, 44.0),  # gap 0.20
        (-0.04, "at_risk", 48.0, 0.20, 46.0),  # gap 0.30, 46 > 40 misses
        (0.10, "at_risk", 55.0, -0.50, 60.0),  # getting worse: progress below 0
        (-0.25, "achieved", 37.5, 1.25, 25.0),  # 37.5 <= 40
    ],
)
def test_a_lower_is_better_kpi_is_judged_the_right_way_round(
    per_day: float, status: str, current: float, progress: float, projected: float
) -> None:
    result = evaluate(cpa_goal(), moment(day(50)), line(50, per_day))
    assert result.direction == "lower"
    assert (result.status, result.judged) == (status, True)
    assert result.current == pytest.approx(current)
    assert result.expected == pytest.approx(45)  # 50 + (40 - 50) * 0.5
    assert result.progress == pytest.approx(progress)
    assert result.projected == pytest.approx(projected)
    assert result.projected_met is (projected <= 40)


@pytest.mark.parametrize(("per_day", "status"), [(-0.1, "achieved"), (-0.09, "missed")])
def test_a_lower_is_better_goal_at_its_deadline(per_day: float, status: str) -> None:
    # on the deadline (day 100): 50 - 10 = 40 meets 40; 50 - 9 = 41 is above it
    result = evaluate(cpa_goal(), moment(date(2026, 4, 12), 6), line(50, per_day))
    assert (result.status, result.judged) == (status, True)
    assert result.current == pytest.approx(50 + 100 * per_day)


def test_a_relative_target_on_a_lower_is_better_kpi() -> None:
    # '-20%' of 50 is 40; day 50 at 45.5: progress 4.5 / 10 = 0.45
    result = evaluate(cpa_goal(target="-20%"), moment(day(50)), line(50, -0.09))
    assert result.target == pytest.approx(40)
    assert result.progress == pytest.approx(0.45) and result.status == "on_track"


# baseline measured from history --------------------------------------------------------------


def test_the_baseline_is_the_value_at_the_start_and_a_relative_target_builds_on_it() -> None:
    goal = spec(name="grow", kpi="followers", target="+20%", start=START, deadline=DEADLINE)
    # 8000 at the start, +10 a day: baseline 8000, target 8000 * 1.2 = 9600. Day 50: 8500,
    # progress 500 / 1600 = 0.3125, expected 8000 + 1600 * 0.5 = 8800, gap 0.1875: behind
    result = evaluate(goal, moment(day(50)), line(8000, 10))
    assert result.baseline == pytest.approx(8000) and result.target == pytest.approx(9600)
    assert result.expected == pytest.approx(8800)
    assert result.progress == pytest.approx(0.3125)
    assert (result.status, result.problems) == ("behind", [])


def test_a_baseline_without_a_value_at_the_start_is_the_first_value_after_it() -> None:
    goal = spec(name="grow", kpi="followers", target="+20%", start=START, deadline=DEADLINE)
    # the history begins on day 3 (2026-01-04) at 8030: that is the baseline, target 9636
    result = evaluate(goal, moment(day(50)), lambda on: None if on < day(3) else line(8000, 10)(on))
    assert result.baseline == pytest.approx(8030) and result.target == pytest.approx(9636)
    assert result.problems == ["baseline measured on 2026-01-04, the first data after the start"]


def test_a_baseline_that_cannot_be_measured_leaves_the_goal_at_risk() -> None:
    goal = spec(name="grow", kpi="followers", target="+20%", start=START, deadline=DEADLINE)
    # no data in the first week
    result = evaluate(goal, moment(day(50)), lambda on: None if on < day(8) else 8000.0)
    assert result.baseline is None and result.target is None
    assert (result.status, result.judged) == ("at_risk", False)
    assert result.problems == [
        "the baseline cannot be measured: no data at the start; set baseline:",
        "the target +20% is relative and the baseline is unknown",
    ]


# stay_above / stay_below ---------------------------------------------------------------------


def er_floor(**fields: Any) -> GoalSpec:
    """Engagement rate at or above 4 % on at least 90 % of the 100 days: 10 days may breach."""
    settings = {"criterion": "stay_above", "target": 0.04, "start": START, "deadline": DEADLINE}
    return spec(name="er-floor", kpi="engagement_rate", **{**settings, **fields})


def breaching(days: set[int], good: float, bad: float) -> Level:
    """``bad`` at the end of the days listed (the value at 00:00 of day k + 1 closes day k),
    ``good`` at the end of every other day."""
    return lambda on: bad if (on - START).days - 1 in days else good


def test_stay_counts_the_completed_days_in_breach() -> None:
    # now: day 40 at 12:00, elapsed 40.5 / 100. Completed days 0..39 (closed by the values at
    # 00:00 of days 1..40): 40 judged, 3 in breach (3 %). Budget 0.1 * 100 = 10 days, used
    # 3 / 10 = 0.3; 0.3 - 0.405 <= 0.1 and today is at 5 %: on track
    result = evaluate(er_floor(), moment(day(40), 12), breaching({4, 5, 19}, 0.05, 0.03))
    assert (result.breach_days, result.judged_days) == (3, 40)
    assert result.breach_share == pytest.approx(3 / 40)
    assert result.progress == pytest.approx(1 - 3 / 40)
    assert result.expected == 0.04 and result.current == 0.05
    assert (result.status, result.judged) == ("on_track", True)


def test_stay_is_behind_when_today_is_in_breach() -> None:
    result = evaluate(er_floor(), moment(day(40), 12), breaching({4}, 0.05, 0.03), now_value=0.035)
    assert result.breach_days == 1 and result.current == 0.035
    assert (result.status, result.judged) == ("behind", True)


@pytest.mark.parametrize(
    ("breaches", "status"),
    [
        # budget used minus elapsed, with elapsed 0.405: 6 days 0.6 - 0.405 = 0.195 > 0.1
        (6, "behind"),
        (8, "at_risk"),  # 0.8 - 0.405 = 0.395 > 0.25
        (10, "at_risk"),  # the whole budget of 10 days used, not over it
        (11, "missed"),  # 11 > 10: missed before the deadline
    ],
)
def test_stay_burning_the_breach_budget(breaches: int, status: str) -> None:
    result = evaluate(er_floor(), moment(day(40), 12), breaching(set(range(breaches)), 0.05, 0.03))
    assert result.breach_days == breaches
    assert (result.status, result.judged) == (status, True)


def test_stay_in_the_early_window_is_not_judged_unless_today_breaches() -> None:
    level = breaching({1}, 0.05, 0.03)
    # day 5 at 12:00: elapsed 0.055 < 0.2, one breach day, today fine
    early = evaluate(er_floor(), moment(day(5), 12), level)
    assert (early.status, early.judged, early.breach_days) == ("on_track", False, 1)
    breached = evaluate(er_floor(), moment(day(5), 12), level, now_value=0.02)
    assert (breached.status, breached.judged) == ("behind", True)


@pytest.mark.parametrize(("breaches", "status"), [(10, "achieved"), (11, "missed")])
def test_stay_at_the_end_of_the_period(breaches: int, status: str) -> None:
    # all 100 days completed (the value at 00:00 of the deadline closes day 99)
    level = breaching(set(range(50, 50 + breaches)), 0.05, 0.03)
    result = evaluate(er_floor(), moment(date(2026, 4, 20)), level)
    assert (result.breach_days, result.judged_days) == (breaches, 100)
    assert (result.status, result.judged) == (status, True)


def test_stay_below_on_a_lower_is_better_kpi() -> None:
    goal = spec(
        name="replies-within-1h",
        kpi="response_time",
        criterion="stay_below",
        target=3600,
        period="2026-Q1",
        max_breach=0.05,
    )
    # Q1 2026 has 90 days; 5 % of them is 4.5 days. Now 2026-02-15 12:00: day 45.5 of 90.
    # Breaches are values above 3600 s: 4 days by now, budget used 4 / 4.5 = 0.889,
    # 0.889 - 0.506 = 0.383 > 0.25: at risk. A fifth day is over the budget: missed.
    assert goal.direction == -1
    four = evaluate(goal, moment(date(2026, 2, 15), 12), breaching({2, 3, 30, 31}, 1800, 5400))
    assert (four.breach_days, four.judged_days) == (4, 45)
    assert four.direction == "lower" and (four.status, four.judged) == ("at_risk", True)
    five = evaluate(goal, moment(date(2026, 2, 15), 12), breaching({2, 3, 30, 31, 40}, 1800, 5400))
    assert five.status == "missed"
    # today above the limit with no breach so far: behind
    today = evaluate(goal, moment(date(2026, 2, 15), 12), breaching(set(), 1800, 0), now_value=4000)
    assert (today.breach_days, today.status) == (0, "behind")


def test_stay_on_its_first_day_has_no_completed_day_yet() -> None:
    result = evaluate(er_floor(), moment(START, 12), breaching(set(), 0.05, 0.03))
    assert (result.breach_days, result.judged_days, result.breach_share) == (0, 0, None)
    assert (result.status, result.judged) == ("on_track", False)


def test_stay_without_any_value_in_the_period_is_not_achieved() -> None:
    result = evaluate(er_floor(), moment(date(2026, 4, 20)), lambda on: None)
    assert result.judged_days == 0
    assert result.status == "missed"
    assert "no day of the period has a value" in " ".join(result.problems)


# totals --------------------------------------------------------------------------------------


def interactions_total() -> GoalSpec:
    """3000 interactions in April 2026 (30 days), added up from daily values."""
    return spec(name="apr-3k", kpi="interactions", measure="total", target=3000, period="2026-04")


def test_a_total_adds_up_the_daily_values_of_the_period() -> None:
    april = date(2026, 4, 1)
    # 70 a day; the value at 00:00 closes the day before. 2026-04-16 00:00: 15 days of April,
    # 15 * 70 = 1050; elapsed 0.5, progress 1050 / 3000 = 0.35, gap 0.15: behind. The running
    # total rises 70 a day: 1050 + 70 * 15 = 2100 at the end, short of 3000.
    result = evaluate(interactions_total(), moment(date(2026, 4, 16)), lambda on: 70.0)
    assert result.window == "1d" and result.baseline == 0
    assert result.current == pytest.approx(1050)
    assert result.progress == pytest.approx(0.35)
    assert result.projected == pytest.approx(2100)
    assert (result.status, result.judged) == ("behind", True)
    # a day without a value (the one closed on 04-10) counts 0, and is reported
    gap = evaluate(
        interactions_total(),
        moment(date(2026, 4, 16)),
        lambda on: None if on == april + timedelta(days=9) else 70.0,
    )
    assert gap.current == pytest.approx(980)
    assert gap.problems == ["1 day(s) of the period have no daily value; counted as 0"]


# recurring goals -----------------------------------------------------------------------------


def monthly(**fields: Any) -> GoalSpec:
    """300 new followers each month; the history gains 10 a day from 5000 on 2025-12-01."""
    return spec(
        name="new-300", kpi="followers", measure="change", target=300, every="month", **fields
    )


GAIN_10 = line(5000, 10, origin=date(2025, 12, 1))


def test_a_monthly_goal_restarts_on_the_first_of_the_month() -> None:
    goal = monthly()
    # 2026-01-31 12:00: January runs 2026-01-01 to 2026-02-01 (31 days); change since
    # 2026-01-01 is 30 days * 10 = 300: achieved. December (31 days, 310) is the previous one.
    january = evaluate(goal, moment(date(2026, 1, 31), 12), GAIN_10)
    assert january.period.label == "2026-01"
    assert january.period.days == 31
    assert january.current == pytest.approx(300) and january.baseline == 0
    assert (january.status, january.judged) == ("achieved", True)
    assert january.previous is not None and january.previous.period.label == "2025-12"
    # 2026-02-01 06:00: February; the change restarts at 0 (10 a day, the day's sample at
    # 00:00), elapsed 0.25 / 28 is in the early window. January is reported: 31 * 10 = 310
    february = evaluate(goal, moment(date(2026, 2, 1), 6), GAIN_10)
    assert february.period.label == "2026-02" and february.period.days == 28
    assert february.current == 0.0 and february.progress == 0.0
    assert (february.status, february.judged) == ("on_track", False)
    assert february.previous is not None
    assert february.previous.period.label == "2026-01"
    assert (february.previous.status, february.previous.value) == ("achieved", pytest.approx(310))
    assert february.previous.target == 300


def test_a_monthly_goal_reports_a_missed_month() -> None:
    # 9 a day: January gains 31 * 9 = 279 < 300
    result = evaluate(monthly(), moment(date(2026, 2, 3)), line(5000, 9, date(2025, 12, 1)))
    assert result.previous is not None
    assert (result.previous.status, result.previous.value) == ("missed", pytest.approx(279))
    # February so far: 2 days * 9 = 18
    assert result.current == pytest.approx(18)


def test_a_monthly_goal_starting_mid_month_has_a_short_first_period() -> None:
    goal = monthly(start=date(2026, 1, 15))
    # 2026-01-20: the first period runs 2026-01-15 to 2026-02-01, 17 of January's 31 days;
    # its target is 300 * 17 / 31 = 164.5 (a monthly amount prorated), nothing before it.
    # Change since 01-15: 5 days * 10 = 50; elapsed 5 / 17.
    first = evaluate(goal, moment(date(2026, 1, 20)), GAIN_10)
    assert first.period.label == "2026-01" and first.period.days == 17
    assert first.target == pytest.approx(300 * 17 / 31)
    assert first.current == pytest.approx(50)
    assert first.elapsed == pytest.approx(5 / 17)
    assert first.previous is None
    # 2026-02-10 12:00: the short period gained 17 * 10 = 170 >= 164.5: achieved
    second = evaluate(goal, moment(date(2026, 2, 10), 12), GAIN_10)
    assert second.period.label == "2026-02" and second.target == 300
    assert second.previous is not None and second.previous.period.days == 17
    assert (second.previous.status, second.previous.value) == ("achieved", pytest.approx(170))


def test_a_recurring_goal_before_its_start_is_not_started() -> None:
    result = evaluate(monthly(start=date(2026, 3, 1)), moment(date(2026, 2, 10)), GAIN_10)
    assert result.period.label == "2026-03" and result.status == "not_started"


# the robust fit ------------------------------------------------------------------------------


def test_theil_sen_ignores_one_outlier() -> None:
    import numpy as np

    x = np.arange(10.0)
    y = 3 + 2 * x
    y[7] = 500  # one viral day
    # 36 of the 45 pairwise slopes do not involve day 7 and are exactly 2: the median is 2,
    # and the median of y - 2x is 3
    assert theil_sen(x, y) == pytest.approx((2.0, 3.0))
    assert theil_sen(np.array([1.0]), np.array([1.0])) is None
