"""The scheduler polls each account on its own, isolates failures and never doubles a poll."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta

import aiohttp
import pytest
from pydantic import BaseModel, ConfigDict

import kpiwatch
from kpiwatch.config import Config
from kpiwatch.runtime import Runtime
from kpiwatch.scheduler import AccountPlan, Scheduler, backoff_delay, in_shard, phase_fraction


class Knobs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: str = "ok"
    delay: float = 0.0
    followers: int = 100


class Calls:
    def __init__(self) -> None:
        self.started: dict[str, list[float]] = {}
        self.active = 0
        self.max_active = 0
        self.active_by_account: dict[str, int] = {}
        self.max_by_account: dict[str, int] = {}


async def _collect(ctx: kpiwatch.CollectContext, calls: Calls):
    calls.started.setdefault(ctx.account_id, []).append(time.monotonic())
    calls.active += 1
    calls.max_active = max(calls.max_active, calls.active)
    n = calls.active_by_account.get(ctx.account_id, 0) + 1
    calls.active_by_account[ctx.account_id] = n
    calls.max_by_account[ctx.account_id] = max(calls.max_by_account.get(ctx.account_id, 0), n)
    try:
        mode = ctx.settings.mode
        if ctx.settings.delay:
            await asyncio.sleep(ctx.settings.delay)
        if mode == "hog":  # a badly written plugin that blocks the event loop
            time.sleep(0.3)
        if mode == "raise":
            raise RuntimeError("plugin bug")
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "garbage":
            return "not a result"
        if mode == "ratelimited":
            raise kpiwatch.RateLimited("slow down", retry_after=0.4)
        if mode == "mixed":
            return [kpiwatch.Sample("followers", 5), kpiwatch.Sample("nonsense", 1)]
        ctx.state["polls"] = ctx.state.get("polls", 0) + 1
        return kpiwatch.CollectResult(
            samples=[kpiwatch.Sample("followers", ctx.settings.followers)]
        )
    finally:
        calls.active -= 1
        calls.active_by_account[ctx.account_id] -= 1


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def platform(calls: Calls) -> kpiwatch.Platform:
    async def collect(ctx):
        return await _collect(ctx, calls)

    return kpiwatch.Platform(name="probe", collect=collect, settings=Knobs, max_concurrency=2)


def make_config(accounts: list[dict], **top) -> Config:
    base = {
        "defaults": {
            "interval": "0.1s",
            "timeout": "0.3s",
            "jitter": 0,
            "backoff_initial": "0.05s",
            "backoff_max": "0.2s",
        },
        "accounts": accounts,
    }
    base.update(top)
    return Config.model_validate(base)


def plans_for(config: Config, platform: kpiwatch.Platform, scheduler: Scheduler):
    settings = {a.id: Knobs.model_validate(a.settings) for a in config.accounts}
    return scheduler.plans(config, settings, {platform.name: platform})


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def run_for(seconds: float, scheduler: Scheduler) -> None:
    await asyncio.sleep(seconds)
    await scheduler.stop(1.0)


async def test_polls_spread_over_the_start_up_window_then_over_the_interval(
    platform, calls, session
):
    accounts = [{"id": f"acct-{i}", "platform": "probe"} for i in range(20)]
    config = make_config(
        accounts,
        defaults={"interval": "1s", "timeout": "1s", "jitter": 0, "startup_spread": "0.5s"},
        platforms={"probe": {"max_concurrency": 20}},
    )
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    t0 = time.monotonic()
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(1.1, scheduler)
    firsts = {a: starts[0] - t0 for a, starts in calls.started.items()}
    assert len(firsts) == 20 and max(firsts.values()) <= 0.55
    assert max(firsts.values()) - min(firsts.values()) > 0.25  # spread, not all at once
    for account_id, starts in calls.started.items():
        phase = phase_fraction(account_id)
        assert firsts[account_id] == pytest.approx(phase * 0.5, abs=0.05)
        if len(starts) > 1:  # the second poll is at the account's phase of the interval
            assert starts[1] - t0 == pytest.approx(phase * 1.0, abs=0.05)


async def test_failures_stay_local(platform, calls, session):
    config = make_config(
        [
            {"id": "good", "platform": "probe"},
            {"id": "raises", "platform": "probe", "settings": {"mode": "raise"}},
            {"id": "hangs", "platform": "probe", "settings": {"mode": "hang"}},
            {"id": "garbage", "platform": "probe", "settings": {"mode": "garbage"}},
        ]
    )
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(1.0, scheduler)
    status = runtime.accounts
    assert status["good"].state == "up" and status["good"].polls >= 5
    assert runtime.latest["good"][("followers", None, ())].value == 100
    assert status["raises"].state == "down"
    assert status["raises"].failures["exception"] >= 2
    assert "plugin bug" in status["raises"].last_error_message
    assert status["hangs"].failures["timeout"] >= 1
    assert status["hangs"].last_error_reason == "timeout"
    assert status["garbage"].failures["invalid_result"] >= 2
    assert not runtime.latest["garbage"]


async def test_invalid_samples_are_dropped_and_counted(platform, session):
    config = make_config([{"id": "mixed", "platform": "probe", "settings": {"mode": "mixed"}}])
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(0.25, scheduler)
    status = runtime.accounts["mixed"]
    assert status.state == "up"
    assert status.invalid_samples == status.polls >= 1
    assert [k[0] for k in runtime.latest["mixed"]] == ["followers"]


async def test_slow_poll_is_not_doubled_and_skips_are_counted(platform, calls, session):
    config = make_config(
        [
            {"id": "slow", "platform": "probe", "timeout": "2s", "settings": {"delay": 0.35}},
        ]
    )
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(1.2, scheduler)
    assert calls.max_by_account["slow"] == 1
    assert runtime.accounts["slow"].skipped >= 3
    # polls follow each other, never overlap: each starts after the previous one ended
    starts = calls.started["slow"]
    assert all(b - a >= 0.34 for a, b in itertools.pairwise(starts))


async def test_polls_woken_late_by_a_busy_loop_count_no_skips(platform, calls, session):
    config = make_config(
        [
            {"id": "hog", "platform": "probe", "timeout": "2s", "settings": {"mode": "hog"}},
            {"id": "quick", "platform": "probe"},
        ]
    )
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(1.2, scheduler)
    assert runtime.accounts["hog"].skipped >= 2  # its own polls overran the interval
    assert runtime.accounts["quick"].polls >= 2
    assert runtime.accounts["quick"].skipped == 0  # it was late, but never still running


async def test_backoff_grows_after_consecutive_failures(platform, calls, session):
    config = make_config(
        [{"id": "raises", "platform": "probe", "settings": {"mode": "raise"}}],
        defaults={
            "interval": "0.05s",
            "timeout": "1s",
            "jitter": 0,
            "backoff_initial": "0.04s",
            "backoff_max": "0.32s",
        },
    )
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(1.6, scheduler)
    starts = calls.started["raises"]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) >= 4
    assert gaps[3] > gaps[0] * 1.5  # doubling (with equal jitter: at least half of it)
    assert max(gaps) < 0.32 + 0.1  # capped
    assert runtime.accounts["raises"].consecutive_failures == len(starts)


async def test_retry_after_is_respected(platform, calls, session):
    config = make_config([{"id": "rl", "platform": "probe", "settings": {"mode": "ratelimited"}}])
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(1.0, scheduler)
    starts = calls.started["rl"]
    assert 2 <= len(starts) <= 3
    assert all(b - a >= 0.39 for a, b in itertools.pairwise(starts))
    assert runtime.accounts["rl"].last_error_reason == "rate_limited"


async def test_concurrency_is_limited_per_platform(platform, calls, session):
    accounts = [{"id": f"a{i}", "platform": "probe", "settings": {"delay": 0.1}} for i in range(8)]
    config = make_config(accounts)
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(0.5, scheduler)
    assert calls.max_active == 2  # Platform.max_concurrency
    config = make_config(accounts, platforms={"probe": {"max_concurrency": 5}})
    calls.max_active = 0
    scheduler = Scheduler(runtime, session)
    scheduler.apply(plans_for(config, platform, scheduler))
    await run_for(0.5, scheduler)
    assert calls.max_active == 5


async def test_apply_touches_only_changed_accounts(platform, calls, session):
    runtime = Runtime()
    scheduler = Scheduler(runtime, session)
    first = make_config(
        [
            {"id": "same", "platform": "probe"},
            {"id": "changed", "platform": "probe"},
            {"id": "removed", "platform": "probe"},
        ]
    )
    scheduler.apply(plans_for(first, platform, scheduler))
    await asyncio.sleep(0.35)
    same_task = scheduler.pollers["same"].task
    changed_task = scheduler.pollers["changed"].task
    second = make_config(
        [
            {"id": "same", "platform": "probe"},
            {"id": "changed", "platform": "probe", "settings": {"followers": 7}},
            {"id": "added", "platform": "probe"},
        ]
    )
    changes = scheduler.apply(plans_for(second, platform, scheduler))
    assert changes == {"started": ["added"], "stopped": ["removed"], "restarted": ["changed"]}
    assert scheduler.pollers["same"].task is same_task
    assert scheduler.pollers["changed"].task is not changed_task
    assert "removed" not in runtime.accounts and "removed" not in runtime.latest
    await asyncio.sleep(0.3)
    assert runtime.latest["changed"][("followers", None, ())].value == 7
    # per-account state survives a restart of the same account on the same platform
    assert scheduler.states["changed"]["polls"] >= 4
    await scheduler.stop(1.0)
    assert changed_task.cancelled()


async def test_shard_filter_splits_accounts_stably(platform, session):
    accounts = [{"id": f"acct-{i}", "platform": "probe"} for i in range(60)]
    owned: list[set[str]] = []
    for index in range(3):
        config = make_config(accounts, shard={"index": index, "count": 3})
        scheduler = Scheduler(Runtime(), session)
        owned.append(set(plans_for(config, platform, scheduler)))
    assert set.union(*owned) == {a["id"] for a in accounts}
    assert sum(len(s) for s in owned) == 60
    assert all(len(s) >= 10 for s in owned)
    assert in_shard("acct-1", 0, 1)


def test_backoff_delay_doubles_to_the_cap():
    import random

    rng = random.Random(1)
    for failures, full in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 30)]:
        delay = backoff_delay(failures, 1, 30, rng)
        assert full / 2 <= delay <= full


def test_plan_uses_account_then_platform_then_defaults(platform):
    config = make_config(
        [
            {"id": "a", "platform": "probe", "interval": "5m", "jitter": 0.5},
            {"id": "b", "platform": "probe"},
        ]
    )
    a, b = (AccountPlan.build(acc, Knobs(), platform, config) for acc in config.accounts)
    assert a.interval == timedelta(minutes=5) and a.jitter == 0.5
    assert b.interval == timedelta(seconds=0.1) and b.jitter == 0
