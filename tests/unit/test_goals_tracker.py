"""GoalTracker on a real history store: samples written with kpiwatch.store.Store, read back
through SQLite at fixed dates (time-machine, no sleeping). Expected values are worked out by
hand from the samples written, in the comments."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import time_machine

from kpiwatch.config import DEFAULT_WINDOWS, KpiSettings
from kpiwatch.config_goals import GoalConfig, GoalTrackingSettings
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.model import GoalResult
from kpiwatch.goals.tracker import GoalTracker
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta
from kpiwatch.store import Store, StoredSample

DAY = 86400.0
CATALOGUE = build_catalogue(KpiSettings())
# The one-off goals run 100 days, 2026-01-01 to 2026-04-11: day k (00:00 UTC) is elapsed k / 100
START = date(2026, 1, 1)
DEADLINE = date(2026, 4, 11)
SHOP = AccountMeta("shop", "demo_photo", {"brand": "acme"})


def day(k: int) -> date:
    return START + timedelta(days=k)


def midnight(on: date) -> float:
    return datetime(on.year, on.month, on.day, tzinfo=UTC).timestamp()


def moment(on: date, hour: int = 0) -> datetime:
    return datetime(on.year, on.month, on.day, hour, tzinfo=UTC)


def daily(
    account: str,
    metric: str,
    window: str | None,
    first: date,
    last: date,
    value: Callable[[date], float | None],
) -> list[StoredSample]:
    """One sample at 00:00 UTC of each day from ``first`` to ``last`` (none where None)."""
    out = []
    for k in range((last - first).days + 1):
        on = first + timedelta(days=k)
        v = value(on)
        if v is not None:
            out.append(StoredSample(account, "demo_photo", metric, window, {}, midnight(on), v))
    return out


def store(path: Path, samples: Iterable[StoredSample]) -> None:
    async def write() -> None:
        async with await Store.open(path) as opened:
            await opened.write(list(samples))

    asyncio.run(write())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "kpiwatch.db"


@pytest.fixture
def conn(db: Path) -> Iterator[Callable[[], sqlite3.Connection]]:
    """Opens the history (after the test has written it) read-only, as the daemon's reader."""
    opened: list[sqlite3.Connection] = []

    def connect() -> sqlite3.Connection:
        opened.append(sqlite3.connect(f"file:{db}?mode=ro", uri=True))
        return opened[-1]

    yield connect
    for connection in opened:
        connection.close()


def tracker(*goals: GoalConfig, history: int = 30) -> GoalTracker:
    specs = compile_goals(goals, CATALOGUE, list(DEFAULT_WINDOWS))
    settings = GoalTrackingSettings(history=timedelta(days=history))
    return GoalTracker(specs, CATALOGUE, settings)


def evaluate_at(
    goals: GoalTracker,
    connection: sqlite3.Connection,
    when: datetime,
    accounts: Iterable[AccountMeta] = (SHOP,),
    objectives: Mapping[str, str | None] | None = None,
) -> dict[str, GoalResult]:
    """Every goal at ``when``, by name; a goal that failed fails the test."""
    with time_machine.travel(when, tick=False):
        results = goals.evaluate(connection, list(accounts), objectives or {}, time.time())
    assert goals.errors == {}
    return {r.name: r for r in results}


def one_off(name: str, kpi: str, **fields: Any) -> GoalConfig:
    return GoalConfig(name=name, kpi=kpi, start=START, deadline=DEADLINE, **fields)


def followers(per_day: float, base: float = 8000, origin: date = START) -> Callable[[date], float]:
    return lambda on: base + per_day * (on - origin).days


# baseline measured from the store ------------------------------------------------------------


def test_a_baseline_measured_at_the_start_and_a_relative_target(db: Path, conn) -> None:
    store(db, daily("shop", "followers", None, date(2025, 12, 1), day(50), followers(10)))
    goals = tracker(one_off("grow-20", "followers", target="+20%"))
    result = evaluate_at(goals, conn(), moment(day(50), 12))["grow-20"]
    # 8000 on 2026-01-01: baseline 8000, target 8000 * 1.2 = 9600. Now day 50 at 12:00: the
    # newest sample (day 50, 00:00) is 8500; elapsed 50.5 / 100; expected 8000 + 1600 * 0.505
    # = 8808; progress 500 / 1600 = 0.3125; gap 0.505 - 0.3125 = 0.1925: behind
    assert result.baseline == pytest.approx(8000) and result.target == pytest.approx(9600)
    assert result.current == pytest.approx(8500)
    assert result.elapsed == pytest.approx(0.505)
    assert result.expected == pytest.approx(8808)
    assert result.progress == pytest.approx(0.3125)
    # the trend is the line through the daily samples, 8000 + 10 k: 9000 on day 100, short
    # of 9600 (the value now, held since 00:00, is one point of 30 and does not move it)
    assert result.projected == pytest.approx(9000) and result.projected_met is False
    assert (result.status, result.judged, result.problems) == ("behind", True, [])


# scope ---------------------------------------------------------------------------------------

ACME_1 = AccountMeta("acme-1", "demo_photo", {"brand": "acme"})
ACME_2 = AccountMeta("acme-2", "demo_photo", {"brand": "acme"})
OTHER = AccountMeta("other", "demo_photo", {"brand": "other"})
RIVAL = AccountMeta("rival", "demo_photo", {"brand": "acme"}, competitor=True)
#: 28-day engagements and reach of each account, the same every day
ENGAGEMENT = {
    "acme-1": (100, 1000),
    "acme-2": (900, 30000),
    "other": (500, 1000),
    "rival": (5000, 10000),
}


def engagement_history(db: Path) -> None:
    samples = []
    for account, (engagements, reach) in ENGAGEMENT.items():
        for metric, value in (("engagements", engagements), ("reach", reach)):
            samples += daily(account, metric, "28d", day(-10), day(20), lambda on, v=value: v)
    store(db, samples)


def test_a_label_scope_aggregates_its_accounts_as_a_ratio_of_sums(db: Path, conn) -> None:
    engagement_history(db)
    goals = tracker(
        one_off("acme-er", "engagement_rate", target=0.05, scope={"brand": "acme"}),
        one_off(
            "acme-er-market",
            "engagement_rate",
            target=0.05,
            scope={"brand": "acme"},
            include_competitors=True,
        ),
    )
    results = evaluate_at(goals, conn(), moment(day(20), 12), [ACME_1, ACME_2, OTHER, RIVAL])
    # acme-1 10 %, acme-2 3 %: (100 + 900) / (1000 + 30000) = 3.23 %, not the mean 6.5 %;
    # "other" is another brand and "rival" a competitor
    assert results["acme-er"].current == pytest.approx(1000 / 31000)
    # with competitors: (100 + 900 + 5000) / (1000 + 30000 + 10000)
    assert results["acme-er-market"].current == pytest.approx(6000 / 41000)


# the history cache ---------------------------------------------------------------------------


def test_settled_days_are_read_once_and_a_missing_day_again_after_refresh(db: Path, conn) -> None:
    # at least 5000 followers, every day; no samples on 2026-01-10 to 01-14
    def level(on: date) -> float | None:
        return None if date(2026, 1, 10) <= on <= date(2026, 1, 14) else 6000.0

    store(db, daily("shop", "followers", None, date(2025, 11, 1), day(50), level))
    goals = tracker(one_off("floor", "followers", criterion="stay_above", target=5000))
    now = moment(day(50), 12)
    first = evaluate_at(goals, conn(), now)["floor"]
    # completed days: those closed at 00:00 of days 1-50 (2026-01-02 to 02-20). At 01-10 and
    # 01-11 the 01-09 sample is at most 2 days old and counts; at 01-12, 01-13 and 01-14 it
    # is not: 50 - 3 = 47 judged days
    assert (first.judged_days, first.breach_days) == (47, 0)
    reads = goals.history.reads
    # a minute later: every midnight is cached; only "now" is read (one account)
    again = evaluate_at(goals, conn(), now + timedelta(minutes=1))["floor"]
    assert goals.history.reads == reads + 1 and again.judged_days == 47
    # the missing days arrive late (a backfill); within the refresh hour they are not read
    store(db, daily("shop", "followers", None, date(2026, 1, 10), date(2026, 1, 14), followers(0)))
    cached = evaluate_at(goals, conn(), now + timedelta(minutes=30))["floor"]
    assert goals.history.reads == reads + 2 and cached.judged_days == 47
    # two hours later: "now", the midnights of the last 2 days (02-19 and 02-20, not settled)
    # and the 3 midnights without a value are read again: 1 + 2 + 3 reads
    later = evaluate_at(goals, conn(), now + timedelta(hours=2))["floor"]
    assert goals.history.reads == reads + 2 + 6
    assert later.judged_days == 50


# an account that stopped reporting -----------------------------------------------------------


def test_an_account_that_stopped_reporting_has_no_current_value(db: Path, conn) -> None:
    # the last sample is at 2026-02-17 00:00 (day 47); now is day 50 at 12:00, 3.5 days later
    store(db, daily("shop", "followers", None, date(2025, 12, 1), day(47), followers(10)))
    goals = tracker(one_off("grow", "followers", baseline=8000, target=9600))
    result = evaluate_at(goals, conn(), moment(day(50), 12))["grow"]
    assert result.current is None and result.progress is None
    assert (result.status, result.judged) == ("at_risk", False)
    assert result.problems == [
        "account shop has no data in the last 2 days; it is left out of the goal's KPI",
        "no data for the goal's KPI in its scope in the last 2 days",
    ]
    # 1.5 days after the last sample it still counts: 8000 + 10 * 47 = 8470
    fresh = evaluate_at(goals, conn(), moment(day(48), 12))["grow"]
    assert fresh.current == pytest.approx(8470) and fresh.problems == []


def test_one_silent_account_of_a_scope_is_named(db: Path, conn) -> None:
    quiet = AccountMeta("quiet", "demo_photo", {"brand": "acme"})
    store(
        db,
        daily("shop", "followers", None, day(-40), day(50), lambda on: 1000.0)
        + daily("quiet", "followers", None, day(-40), day(40), lambda on: 300.0),
    )
    goals = tracker(one_off("acme", "followers", target=5000, scope={"brand": "acme"}))
    result = evaluate_at(goals, conn(), moment(day(50), 12), [SHOP, quiet])["acme"]
    assert result.current == pytest.approx(1000)  # shop alone: quiet is left out
    assert result.problems == [
        "account quiet has no data in the last 2 days; it is left out of the goal's KPI"
    ]


# achievability -------------------------------------------------------------------------------


def test_achievability_against_the_best_pace_in_the_history(db: Path, conn) -> None:
    # followers: 5000 on 2025-12-01, +10 a day in December, +5 a day from 2026-01-01:
    # 5310 on 01-01, 5465 on 02-01. The best 30-day pace is December's, 10 a day.
    def level(on: date) -> float:
        k = (on - date(2025, 12, 1)).days
        return 5000 + 10 * min(k, 31) + 5 * max(0, k - 31)

    store(db, daily("shop", "followers", None, date(2025, 12, 1), date(2026, 2, 10), level))
    february = {"start": date(2026, 2, 1), "deadline": date(2026, 3, 3)}  # 30 days
    goals = tracker(
        # +900 in 30 days: 30 a day, 3 times the best pace: flagged (factor 2)
        GoalConfig(name="leap", kpi="followers", baseline=5465, target=6365, **february),
        # +450 in 30 days: 15 a day, 1.5 times the best pace: not flagged
        GoalConfig(name="stretch", kpi="followers", baseline=5465, target=5915, **february),
        history=90,
    )
    results = evaluate_at(goals, conn(), moment(date(2026, 2, 10), 12))
    leap, stretch = results["leap"].achievability, results["stretch"].achievability
    assert (leap.required_pace, leap.best_pace) == (pytest.approx(30), pytest.approx(10))
    assert leap.ratio == pytest.approx(3) and leap.flagged is True
    assert leap.detail == "needs 30/day; the best 30-day pace in the history was 10/day"
    assert stretch.ratio == pytest.approx(1.5) and stretch.flagged is False


# relevance -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kpi", "goal_objective", "declared", "relevance"),
    [
        ("followers", None, {"shop": "engagement"}, "vanity"),  # followers serve reach
        ("engagement_rate", None, {"shop": "engagement"}, "aligned"),
        ("followers", None, {"shop": "engagement", "acme-2": "reach"}, "aligned"),
        ("followers", None, {"shop": None}, "undeclared"),
        ("followers", None, {}, "undeclared"),
        ("engagement_rate", "roi", {"shop": "roi"}, "vanity"),  # the goal claims roi
    ],
)
def test_relevance_against_the_declared_objectives(
    db: Path, conn, kpi: str, goal_objective: str | None, declared: dict, relevance: str
) -> None:
    store(db, daily("shop", "followers", None, day(10), day(20), followers(10)))
    goal = GoalConfig(
        name="g", kpi=kpi, target=10**6, objective=goal_objective, start=day(15), deadline=day(25)
    )
    accounts = [SHOP, ACME_2]
    goals = tracker(goal, history=7)
    (result,) = evaluate_at(goals, conn(), moment(day(20)), accounts, declared).values()
    assert result.relevance.status == relevance, result.relevance.detail


# review --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reviewed", "due_at", "due"),
    [
        (None, date(2026, 1, 31), True),  # 30 days after the start, 2026-01-01
        (date(2026, 1, 20), date(2026, 2, 19), False),  # 30 days after the review
    ],
)
def test_a_goal_is_due_for_review_after_review_every(
    db: Path, conn, reviewed: date | None, due_at: date, due: bool
) -> None:
    store(db, daily("shop", "followers", None, day(-5), day(40), followers(10)))
    goal = one_off("grow", "followers", target=9000, review_every="30d", reviewed=reviewed)
    result = evaluate_at(tracker(goal), conn(), moment(date(2026, 2, 10)))["grow"]
    assert result.review_due_at == midnight(due_at)
    assert result.review_due is due


# the robust trend ----------------------------------------------------------------------------


def test_one_viral_day_does_not_swing_the_projection(db: Path, conn) -> None:
    # daily reach 1000 + 4 k on day k, and 30000 on 2026-02-17 (day 47), a viral post
    def reach(on: date) -> float:
        k = (on - START).days
        return 30000.0 if k == 47 else 1000.0 + 4 * k

    store(db, daily("shop", "reach", "1d", date(2025, 12, 1), day(50), reach))
    goal = one_off("daily-reach", "reach", window="1d", baseline=1000, target=2000)
    result = evaluate_at(tracker(goal), conn(), moment(day(50)))["daily-reach"]
    # the trend: the 29 days from day 22 to day 50 (now). Of the 406 pairwise slopes, 378
    # leave out day 47 and are exactly 4: Theil-Sen's slope is 4, its value now 1200, and the
    # projection 1200 + 4 * 50 = 1400, as without the viral day
    assert result.current == pytest.approx(1200)
    assert result.projected == pytest.approx(1400) and result.projected_met is False
    # progress 0.2, elapsed 0.5: gap 0.3 > 0.25 and the projection misses: at risk
    assert result.status == "at_risk"
    # a least-squares line through the same points is pulled up by the viral day:
    # about 1400 + 28812 * (1/29 + 11 * 64 / 2030) = 12386, over the target
    x = np.arange(-28.0, 1.0)
    y = np.array([reach(day(50 + int(d))) for d in x])
    slope, intercept = np.polyfit(x, y, 1)
    ols = intercept + slope * 50
    assert ols == pytest.approx(12386, abs=5)
    assert ols > 2000 > result.projected


# shards --------------------------------------------------------------------------------------


def test_a_goal_spanning_shards_is_tracked_once_and_says_what_it_lacks(
    db: Path, conn, tmp_path: Path
) -> None:
    from kpiwatch.config_loader import load_config_text
    from kpiwatch.goals.service import goal_accounts, other_shards_accounts
    from kpiwatch.plugins import load_plugins

    platforms = load_plugins(environ={}).platforms

    # crc32 puts acme-d on shard 0 of 2, acme-a on shard 1
    text = (
        f"state_dir: '{tmp_path}'\nshard: {{index: %d, count: 2}}\naccounts:\n"
        "  - {id: acme-a, platform: demo_photo, labels: {brand: acme}}\n"
        "  - {id: acme-d, platform: demo_photo, labels: {brand: acme}}\n"
    )
    shard0 = load_config_text(text % 0, "<test>", platforms).config
    shard1 = load_config_text(text % 1, "<test>", platforms).config
    assert [m.account for m in goal_accounts(shard0)[0]] == ["acme-d"]
    assert [m.account for m in other_shards_accounts(shard0)] == ["acme-a"]
    assert [m.account for m in goal_accounts(shard1)[0]] == ["acme-a"]
    store(db, daily("acme-a", "followers", None, date(2025, 12, 1), day(50), followers(10)))
    goals = tracker(
        one_off("brand", "followers", target=9000, scope={"brand": "acme"}),
        one_off("d-only", "followers", target=9000, scope={"account": "acme-d"}),
    )
    when = moment(day(50), 12)
    # shard 1 polls acme-a, the first account of the brand by id: it tracks the brand's goal
    # from acme-a alone and says so; the goal on acme-d alone is shard 0's
    with time_machine.travel(when, tick=False):
        local, objectives = goal_accounts(shard1)
        results = goals.evaluate(
            conn(), local, objectives, time.time(), other_shards_accounts(shard1)
        )
    assert [r.name for r in results] == ["brand"]
    assert results[0].current == pytest.approx(8500)
    assert "1 of the 2 accounts in scope are polled by other shards" in " ".join(
        results[0].problems
    )
    with time_machine.travel(when, tick=False):
        local, objectives = goal_accounts(shard0)
        results = goals.evaluate(
            conn(), local, objectives, time.time(), other_shards_accounts(shard0)
        )
    assert [r.name for r in results] == ["d-only"]
