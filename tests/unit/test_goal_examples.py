"""The goal examples of config/examples show, on the demo platform, the status they promise.

Each example file is loaded like any configuration; its demo accounts are polled at fixed
dates (time travel, no sleeping) the way the daemon polls them, the first poll bringing the
400 midnights of history the examples ask for; the history writer stores every poll; the goal
tracker evaluates the goals from the store after each poll, keeping its cache from one date to
the next as the daemon does.

What each goal must show is worked out apart from the goal code: the KPI values come straight
from the demo generator (a pure function of seed, account and time) and the statuses from the
rules of docs/goals.md, whose thresholds each test states before it asserts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from statistics import median

import aiohttp
import pytest
import time_machine

from kpiwatch.account_plan import AccountPlan
from kpiwatch.config_loader import LoadedConfig, load_config
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.model import GoalResult
from kpiwatch.goals.service import goal_accounts
from kpiwatch.goals.tracker import GoalTracker
from kpiwatch.history import HistoryWriter
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.platform import Platform
from kpiwatch.plugins import load_plugins
from kpiwatch.polling import poll_account
from kpiwatch.store import HistoryReader, Store
from kpiwatch_platforms.demo.platforms import GENERATORS
from kpiwatch_platforms.demo.timeline import Moment

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
DAY = timedelta(days=1)
#: The defaults of docs/goals.md the expectations below rely on.
EARLY_WINDOW, BEHIND_BAND, AT_RISK_BAND, TREND, ACHIEVABLE_FACTOR = 0.2, 0.1, 0.25, 28 * DAY, 2.0


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def midnight(day: date) -> datetime:
    return utc(day.year, day.month, day.day)


# polling and evaluating the examples ---------------------------------------------------------


class ExampleRun:
    """An example polled and its goals evaluated at each of ``dates`` (in order)."""

    def __init__(self, name: str, dates: Sequence[datetime], db: Path) -> None:
        registry = load_plugins(environ={})
        assert registry.errors == []
        self.loaded: LoadedConfig = load_config(EXAMPLES / name, registry.platforms)
        self.first_poll = dates[0]
        self.results = asyncio.run(self._poll_and_evaluate(registry.platforms, dates, db))

    def at(self, when: datetime) -> GoalResult:
        """The example's goal (each example has one) as the tracker saw it at ``when``."""
        (result,) = self.results[when]
        return result

    def demo(self, account_id: str) -> DemoAccount:
        return DemoAccount(self.loaded, account_id)

    def first_history_midnight(self, account_id: str) -> datetime:
        """The oldest midnight in the store: the demo's first poll sends the last
        ``history_days`` midnights before it."""
        days = self.loaded.account_settings(account_id).history_days
        return midnight((self.first_poll - days * DAY).date()) + DAY

    async def _poll_and_evaluate(
        self, platforms: dict[str, Platform], dates: Sequence[datetime], db: Path
    ) -> dict[datetime, list[GoalResult]]:
        config = self.loaded.config
        catalogue = build_catalogue(config.kpis)
        specs = compile_goals(config.goals, catalogue, config.kpis.windows)
        tracker = GoalTracker(specs, catalogue, config.goal_tracking)
        accounts, objectives = goal_accounts(config)
        plans = [
            AccountPlan.build(a, self.loaded.account_settings(a.id), platforms[a.platform], config)
            for a in config.accounts
        ]
        out: dict[datetime, list[GoalResult]] = {}
        last_success: datetime | None = None
        async with await Store.open(db) as store, aiohttp.ClientSession() as session:
            writer = HistoryWriter(store, flush_interval=60)
            async with await HistoryReader.open(db) as reader:
                for when in dates:
                    with time_machine.travel(when, tick=False):
                        for plan in plans:
                            polled = await poll_account(
                                plan, session=session, state={}, last_success=last_success
                            )
                            assert polled.ok, polled.message
                            writer.add(
                                plan.account.id,
                                plan.account.platform,
                                polled.started,
                                polled.samples,
                                polled.posts,
                                {},
                            )
                        assert await writer.flush() > 0
                    last_success = when
                    now = when.timestamp()
                    out[when] = await reader.run(
                        lambda conn, now=now: tracker.evaluate(conn, accounts, objectives, now)
                    )
                    assert tracker.errors == {}
        return out


class DemoAccount:
    """One demo account of an example, generated directly from its settings: what a poll at
    any instant reports, without a store or the KPI engine."""

    def __init__(self, loaded: LoadedConfig, account_id: str) -> None:
        account = next(a for a in loaded.config.accounts if a.id == account_id)
        self.generator = next(g for g in GENERATORS if g.name == account.platform)
        self.profile = self.generator.profile(loaded.account_settings(account_id), account_id)
        self._days: dict[int, list[float]] = {}

    def _daily(self, day: int) -> list[float]:
        if day not in self._days:
            self._days[day] = self.generator.daily(self.profile, day)
        return self._days[day]

    def reported(self, at: datetime) -> dict[tuple[str, str | None], float]:
        """(metric, window) -> value of a poll at ``at``."""
        moment = Moment.of(at)
        prepared = self.generator.prepare(self.profile, moment.day, self._daily, with_posts=False)
        samples = self.generator.samples(self.profile, moment, prepared, False)
        return {(s.metric, s.window): float(s.value) for s in samples}


# the rules of docs/goals.md, computed by hand ------------------------------------------------


def elapsed(start: date, deadline: date, now: datetime) -> float:
    return (now - midnight(start)) / (midnight(deadline) - midnight(start))


def trend_instants(now: datetime) -> list[datetime]:
    """The instants the projection is fitted to: every midnight of the last ``TREND``, and
    now."""
    first = midnight((now - TREND).date())
    if first < now - TREND:
        first += DAY
    days = (now - first) // DAY
    return [first + i * DAY for i in range(days + 1)] + [now]


def theil_sen_at(points: dict[datetime, float], at: datetime) -> float:
    """The Theil-Sen line through ``points`` evaluated at ``at``: slope the median of the
    slopes between every pair of points, placed through the median of the points (Sen 1968)."""
    days = {(t - at) / DAY: v for t, v in points.items()}
    slope = median((v2 - v1) / (t2 - t1) for (t1, v1), (t2, v2) in combinations(days.items(), 2))
    return median(v - slope * t for t, v in days.items())


def best_pace(
    value_at: Callable[[datetime], float], first: datetime, last: datetime, span: int
) -> float:
    """The largest rise per day over ``span`` days between two midnights from ``first`` to
    ``last``."""
    days = (last - first) // DAY
    values = [value_at(first + i * DAY) for i in range(days + 1)]
    return max((values[i + span] - values[i]) / span for i in range(len(values) - span))


# example 1: engagement rate from 3% to 5% over six months ------------------------------------

ER_START, ER_DEADLINE = date(2026, 9, 1), date(2027, 3, 1)
ER_EARLY, ER_NOVEMBER, ER_AFTER = utc(2026, 9, 3, 12), utc(2026, 11, 23, 12), utc(2027, 3, 2, 12)


@pytest.fixture(scope="module")
def engagement(tmp_path_factory) -> ExampleRun:
    db = tmp_path_factory.mktemp("engagement") / "history.db"
    return ExampleRun("goal-engagement-rate.yaml", [ER_EARLY, ER_NOVEMBER, ER_AFTER], db)


def brand_engagement_rate(run: ExampleRun) -> Callable[[datetime], float]:
    """The brand's engagement rate over 28 days at an instant: the engagements of both
    accounts over their impressions (docs/kpis.md: ratio of sums, basis impressions)."""
    accounts = [run.demo("acme-micro"), run.demo("acme-pro")]

    def rate(at: datetime) -> float:
        reports = [a.reported(at) for a in accounts]
        engagements = sum(r[("engagements", "28d")] for r in reports)
        return engagements / sum(r[("impressions", "28d")] for r in reports)

    return rate


def test_the_engagement_example_is_the_seeds_goal_and_starts_at_its_3_percent(engagement):
    (goal,) = engagement.loaded.config.goals
    assert (goal.kpi, goal.baseline, goal.target) == ("engagement_rate", 0.03, 0.05)
    assert (goal.start, goal.deadline) == (ER_START, ER_DEADLINE)  # six months
    at_start = brand_engagement_rate(engagement)(midnight(ER_START))
    assert at_start == pytest.approx(0.03, abs=0.0005)


def test_the_engagement_goal_is_not_judged_in_its_early_window(engagement):
    assert elapsed(ER_START, ER_DEADLINE, ER_EARLY) < EARLY_WINDOW
    result = engagement.at(ER_EARLY)
    assert (result.status, result.judged) == ("on_track", False)


def test_the_engagement_goal_is_at_risk_in_november(engagement):
    rate = brand_engagement_rate(engagement)
    now = rate(ER_NOVEMBER)
    progress = (now - 0.03) / (0.05 - 0.03)
    gap = elapsed(ER_START, ER_DEADLINE, ER_NOVEMBER) - progress
    trend = {t: rate(t) for t in trend_instants(ER_NOVEMBER)}
    projected = theil_sen_at(trend, midnight(ER_DEADLINE))
    # trailing the linear path by more than the at-risk band, with a projection that misses
    assert gap > AT_RISK_BAND and projected < 0.05
    result = engagement.at(ER_NOVEMBER)
    assert result.current == pytest.approx(now, rel=1e-9)
    assert result.progress == pytest.approx(progress, rel=1e-9)
    assert (result.status, result.judged) == ("at_risk", True)
    assert result.projected == pytest.approx(projected, rel=1e-9)
    assert result.projected_met is False
    assert result.relevance.status == "aligned"  # engagement_rate serves engagement


def test_the_engagement_goal_asks_for_more_than_the_history_ever_showed(engagement):
    rate = brand_engagement_rate(engagement)
    period_days = (ER_DEADLINE - ER_START).days
    required = (0.05 - 0.03) / period_days
    first_history = engagement.first_history_midnight("acme-micro")
    best = best_pace(rate, first_history, midnight(ER_NOVEMBER.date()), period_days)
    assert required > ACHIEVABLE_FACTOR * best
    achievability = engagement.at(ER_NOVEMBER).achievability
    assert achievability.flagged
    assert achievability.ratio == pytest.approx(required / best, rel=1e-9)


def test_the_engagement_goal_is_missed_at_its_deadline(engagement):
    at_deadline = brand_engagement_rate(engagement)(midnight(ER_DEADLINE))
    assert at_deadline < 0.05
    result = engagement.at(ER_AFTER)
    assert result.status == "missed"
    assert result.current == pytest.approx(at_deadline, rel=1e-9)


# example 2: 300 new followers every month ---------------------------------------------------

MONTHLY_OCTOBER, MONTHLY_EARLY, MONTHLY_LATE = (
    utc(2026, 10, 20, 12),
    utc(2026, 11, 4, 12),
    utc(2026, 11, 23, 12),
)


@pytest.fixture(scope="module")
def monthly(tmp_path_factory) -> ExampleRun:
    db = tmp_path_factory.mktemp("monthly") / "history.db"
    dates = [MONTHLY_OCTOBER, MONTHLY_EARLY, MONTHLY_LATE]
    return ExampleRun("goal-monthly-new-followers.yaml", dates, db)


def photo_followers(run: ExampleRun) -> Callable[[datetime], float]:
    account = run.demo("acme-photo")
    return lambda at: account.reported(at)[("followers", None)]


def test_the_monthly_example_is_the_seeds_goal(monthly):
    (goal,) = monthly.loaded.config.goals
    assert (goal.kpi, goal.measure, goal.every) == ("followers", "change", "month")
    assert goal.target == 300


def test_september_was_achieved_and_october_looks_on_track_on_the_20th(monthly):
    followers = photo_followers(monthly)
    september = followers(utc(2026, 10, 1)) - followers(utc(2026, 9, 1))
    so_far = followers(MONTHLY_OCTOBER) - followers(utc(2026, 10, 1))
    assert september >= 300
    assert so_far < 300  # not achieved yet, and ahead of the linear path:
    assert elapsed(date(2026, 10, 1), date(2026, 11, 1), MONTHLY_OCTOBER) - so_far / 300 <= 0
    result = monthly.at(MONTHLY_OCTOBER)
    assert (result.status, result.judged, result.current) == ("on_track", True, so_far)
    assert result.previous is not None
    assert (result.previous.period.label, result.previous.status) == ("2026-09", "achieved")
    assert result.previous.value == september


def test_october_ended_missed_and_november_is_in_its_early_window(monthly):
    followers = photo_followers(monthly)
    october = followers(utc(2026, 11, 1)) - followers(utc(2026, 10, 1))
    so_far = followers(MONTHLY_EARLY) - followers(utc(2026, 11, 1))
    assert october < 300 and so_far < 300
    assert elapsed(date(2026, 11, 1), date(2026, 12, 1), MONTHLY_EARLY) < EARLY_WINDOW
    result = monthly.at(MONTHLY_EARLY)
    assert result.period.label == "2026-11"
    assert (result.status, result.judged, result.current) == ("on_track", False, so_far)
    assert result.previous is not None
    assert (result.previous.period.label, result.previous.status) == ("2026-10", "missed")
    assert result.previous.value == october


def test_november_is_achieved_before_the_month_ends(monthly):
    followers = photo_followers(monthly)
    so_far = followers(MONTHLY_LATE) - followers(utc(2026, 11, 1))
    assert so_far >= 300
    result = monthly.at(MONTHLY_LATE)
    assert (result.status, result.current, result.target) == ("achieved", so_far, 300)
    # reviewed every 90 days from the start, 2026-09-01: due on 2026-11-30, not yet
    assert result.review_due_at == utc(2026, 11, 30).timestamp()
    assert not result.review_due


# example 3: 10,000 followers on the microblog within six months -------------------------------

TEN_K_START, TEN_K_DEADLINE = date(2026, 9, 1), date(2027, 3, 1)
TEN_K_EARLY, TEN_K_NOVEMBER, TEN_K_JANUARY, TEN_K_AFTER = (
    utc(2026, 9, 3, 12),
    utc(2026, 11, 23, 12),
    utc(2027, 1, 20, 12),
    utc(2027, 3, 2, 12),
)


@pytest.fixture(scope="module")
def ten_k(tmp_path_factory) -> ExampleRun:
    db = tmp_path_factory.mktemp("ten_k") / "history.db"
    dates = [TEN_K_EARLY, TEN_K_NOVEMBER, TEN_K_JANUARY, TEN_K_AFTER]
    return ExampleRun("goal-10k-followers.yaml", dates, db)


def micro_followers(run: ExampleRun) -> Callable[[datetime], float]:
    account = run.demo("acme-micro")
    return lambda at: account.reported(at)[("followers", None)]


def ten_k_gap(run: ExampleRun, now: datetime) -> float:
    """Elapsed fraction minus progress from the baseline measured at the start to 10,000."""
    followers = micro_followers(run)
    baseline = followers(midnight(TEN_K_START))
    progress = (followers(now) - baseline) / (10_000 - baseline)
    return elapsed(TEN_K_START, TEN_K_DEADLINE, now) - progress


def test_the_10k_example_is_the_seeds_goal_with_a_measured_baseline(ten_k):
    (goal,) = ten_k.loaded.config.goals
    assert (goal.kpi, goal.target, goal.baseline) == ("followers", 10_000, None)
    assert (goal.start, goal.deadline) == (TEN_K_START, TEN_K_DEADLINE)
    result = ten_k.at(TEN_K_EARLY)
    assert result.baseline == micro_followers(ten_k)(midnight(TEN_K_START))
    assert elapsed(TEN_K_START, TEN_K_DEADLINE, TEN_K_EARLY) < EARLY_WINDOW
    assert (result.status, result.judged) == ("on_track", False)


def test_the_10k_goal_is_behind_in_november(ten_k):
    # between the bands: behind whatever the projection says
    assert BEHIND_BAND < ten_k_gap(ten_k, TEN_K_NOVEMBER) <= AT_RISK_BAND
    result = ten_k.at(TEN_K_NOVEMBER)
    assert result.current == micro_followers(ten_k)(TEN_K_NOVEMBER)
    assert (result.status, result.judged) == ("behind", True)


def test_the_10k_goal_is_at_risk_in_january(ten_k):
    followers = micro_followers(ten_k)
    trend = {t: followers(t) for t in trend_instants(TEN_K_JANUARY)}
    projected = theil_sen_at(trend, midnight(TEN_K_DEADLINE))
    assert ten_k_gap(ten_k, TEN_K_JANUARY) > AT_RISK_BAND and projected < 10_000
    result = ten_k.at(TEN_K_JANUARY)
    assert result.projected == pytest.approx(projected, rel=1e-9)
    assert (result.status, result.projected_met) == ("at_risk", False)


def test_the_10k_goal_is_missed_at_its_deadline(ten_k):
    at_deadline = micro_followers(ten_k)(midnight(TEN_K_DEADLINE))
    assert at_deadline < 10_000
    result = ten_k.at(TEN_K_AFTER)
    assert (result.status, result.current) == ("missed", at_deadline)


def test_the_10k_goal_needs_more_than_its_best_pace_but_not_twice_as_much(ten_k):
    followers = micro_followers(ten_k)
    baseline = followers(midnight(TEN_K_START))
    period_days = (TEN_K_DEADLINE - TEN_K_START).days
    required = (10_000 - baseline) / period_days
    first_history = ten_k.first_history_midnight("acme-micro")
    best = best_pace(followers, first_history, midnight(TEN_K_NOVEMBER.date()), period_days)
    assert best < required <= ACHIEVABLE_FACTOR * best
    achievability = ten_k.at(TEN_K_NOVEMBER).achievability
    assert not achievability.flagged
    assert achievability.ratio == pytest.approx(required / best, rel=1e-9)
