"""The scheduler: one asyncio task per account, polling on its interval.

Each task waits for its next due time, polls through :func:`kpiwatch.polling.poll_account`
under the platform's concurrency limit, records the outcome in the runtime, and works out the
next due time: the next interval tick after a success (ticks that passed while a poll was still
running are skipped and counted), or an exponential backoff with jitter after a failure.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import BaseModel

from kpiwatch.account_plan import AccountPlan
from kpiwatch.config import Config
from kpiwatch.logging import get_logger
from kpiwatch.platform import Platform
from kpiwatch.polling import PollOutcome, poll_account
from kpiwatch.runtime import AccountStatus, Runtime

_RNG = random.Random()


def in_shard(account_id: str, index: int, count: int) -> bool:
    """Whether ``account_id`` belongs to shard ``index`` of ``count`` (crc32 modulo count)."""
    return zlib.crc32(account_id.encode("utf-8")) % count == index


def phase_fraction(account_id: str) -> float:
    """A stable number in [0, 1) for ``account_id``: where in its interval it polls."""
    return zlib.crc32(f"phase:{account_id}".encode()) / 2**32


def _next_tick(nominal: float, interval: float, *, after: float) -> float:
    """The first tick ``nominal + k * interval`` (k >= 1) later than ``after``."""
    k = max(1, math.floor((after - nominal) / interval) + 1)
    return nominal + k * interval


def backoff_delay(failures: int, initial: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` consecutive failures: doubling, capped, jittered.

    The jitter ("equal jitter") keeps the delay between half and all of the doubled value, so
    accounts that failed together do not retry together.
    """
    delay = min(cap, initial * 2 ** max(0, failures - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


#: Receives every successful poll: the account's plan, the outcome and its plugin state.
PollSink = Callable[[AccountPlan, PollOutcome, dict[str, Any]], None]


class AccountPoller:
    """Polls one account until cancelled."""

    def __init__(
        self,
        plan: AccountPlan,
        *,
        runtime: Runtime,
        session: aiohttp.ClientSession,
        semaphore: asyncio.Semaphore,
        state: dict[str, Any],
        sink: PollSink | None = None,
    ) -> None:
        self.plan = plan
        self.runtime = runtime
        self.session = session
        self.semaphore = semaphore
        self.state = state
        self.sink = sink
        self.status = runtime.accounts[plan.account.id]
        self.rng = _RNG
        self.log = get_logger(platform=plan.platform.name, account=plan.account.id)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name=f"poll:{self.plan.account.id}")

    def _jitter(self) -> float:
        return self.rng.uniform(0, self.plan.jitter * self.plan.interval.total_seconds())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.plan.interval.total_seconds()
        # Each account has a stable phase in its interval, so polls spread evenly over it; the
        # first poll comes within the start-up spread. `nominal` is the tick a poll is for; for
        # the first poll it is the (virtual) tick before the account's first phase tick.
        phase = phase_fraction(self.plan.account.id)
        start = loop.time()
        due = start + phase * min(interval, self.plan.startup_spread.total_seconds())
        nominal = start + phase * interval - interval
        while True:
            self._set_next_poll(due, loop)
            await asyncio.sleep(max(0.0, due - loop.time()))
            started = loop.time()
            outcome = await self._poll()
            ended = loop.time()
            if outcome.ok:
                nominal = _next_tick(nominal, interval, after=started)
                # Ticks that fell due while this poll was still running are skipped, not
                # queued: the next poll is at the first tick after the poll ended.
                missed = 0
                while nominal <= ended:
                    nominal += interval
                    missed += 1
                if missed:
                    self.status.skipped += missed
                    self.log.warning(
                        "poll overran its interval; ticks skipped",
                        skipped=missed,
                        duration=round(outcome.duration, 3),
                    )
                due = nominal + self._jitter()
            else:
                delay = backoff_delay(
                    self.status.consecutive_failures,
                    self.plan.backoff_initial.total_seconds(),
                    self.plan.backoff_max.total_seconds(),
                    self.rng,
                )
                if outcome.retry_after:
                    delay = max(delay, outcome.retry_after)
                due = ended + delay
                nominal = due

    def _set_next_poll(self, due: float, loop: asyncio.AbstractEventLoop) -> None:
        self.status.next_poll = time.time() + max(0.0, due - loop.time())
        self.runtime.changed(self.status.account_id)

    async def _poll(self) -> PollOutcome:
        status = self.status
        async with self.semaphore:
            status.running = True
            status.last_attempt = time.time()
            self.runtime.changed(status.account_id)
            last_success = (
                datetime.fromtimestamp(status.last_success, UTC) if status.last_success else None
            )
            try:
                outcome = await poll_account(
                    self.plan,
                    session=self.session,
                    state=self.state,
                    last_success=last_success,
                    limits=self.runtime.api_limits,
                )
            finally:
                status.running = False
        self._record(outcome)
        return outcome

    def _record(self, outcome: PollOutcome) -> None:
        status = self.status
        status.polls += 1
        status.last_duration = outcome.duration
        status.invalid_samples += outcome.dropped
        if outcome.rate_limit is not None:
            status.rate_limit = outcome.rate_limit
        if outcome.quota is not None:
            status.quota = outcome.quota
        status.removed_metrics = dict(outcome.removed)
        self.runtime.durations_for(status.platform).observe(outcome.duration)
        if outcome.ok:
            status.state = "up"
            status.consecutive_failures = 0
            status.last_success = time.time()
            status.last_sample_count = len(outcome.samples)
            self.runtime.store_samples(status.account_id, outcome.samples)
            if self.sink is not None:
                self.sink(self.plan, outcome, self.state)
            self.log.debug(
                "poll succeeded",
                samples=len(outcome.samples),
                posts=len(outcome.posts),
                duration=round(outcome.duration, 3),
            )
        else:
            reason = outcome.reason or "error"
            status.state = "down"
            status.consecutive_failures += 1
            status.failures[reason] += 1
            status.last_error_reason = reason
            status.last_error_message = outcome.message
            status.last_error_at = time.time()
            if self.sink is not None and self.state:
                # keep what the plugin changed (a rotated OAuth2 refresh token) also when the
                # poll failed; no samples, so nothing looks stopped
                self.sink(self.plan, PollOutcome(False, outcome.started, 0.0), self.state)
            self.log.warning(
                "poll failed",
                reason=reason,
                error=outcome.message,
                consecutive_failures=status.consecutive_failures,
            )
        self.runtime.changed(status.account_id)


class Scheduler:
    """Starts, stops and restarts account pollers to match the configuration."""

    def __init__(
        self, runtime: Runtime, session: aiohttp.ClientSession, sink: PollSink | None = None
    ) -> None:
        self.runtime = runtime
        self.session = session
        self.sink = sink
        self.pollers: dict[str, AccountPoller] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.semaphores: dict[tuple[str, int], asyncio.Semaphore] = {}
        self.log = get_logger()

    def plans(
        self, config: Config, settings: Mapping[str, BaseModel], platforms: Mapping[str, Platform]
    ) -> dict[str, AccountPlan]:
        """The accounts this shard polls, with their effective options."""
        return {
            account.id: AccountPlan.build(
                account, settings[account.id], platforms[account.platform], config
            )
            for account in config.accounts
            if account.enabled and in_shard(account.id, config.shard.index, config.shard.count)
        }

    def apply(self, plans: Mapping[str, AccountPlan]) -> dict[str, list[str]]:
        """Make the running pollers match ``plans``; only changed accounts are touched."""
        changes: dict[str, list[str]] = {"started": [], "stopped": [], "restarted": []}
        for account_id in list(self.pollers):
            if account_id not in plans:
                self._stop(account_id)
                self.runtime.remove_account(account_id)
                self.states.pop(account_id, None)
                changes["stopped"].append(account_id)
        for account_id, plan in plans.items():
            current = self.pollers.get(account_id)
            if current is not None and current.plan == plan:
                continue
            if current is not None:
                self._stop(account_id)
                if current.plan.platform.name != plan.platform.name:
                    self.states.pop(account_id, None)
                changes["restarted"].append(account_id)
            else:
                changes["started"].append(account_id)
            self._start(plan)
        return changes

    def _start(self, plan: AccountPlan) -> None:
        account = plan.account
        status = self.runtime.accounts.get(account.id)
        if status is not None and status.platform == account.platform:
            # A restart keeps the counters and last values; only the identity labels change.
            status.labels = dict(account.labels)
            status.competitor = account.competitor
            self.runtime.changed(account.id)
        else:
            if status is not None:  # the account moved to another platform: start afresh
                self.runtime.remove_account(account.id)
            # a new account keeps the values loaded from the history store, if any
            self.runtime.add_account(
                AccountStatus(
                    account.id, account.platform, dict(account.labels), account.competitor
                )
            )
        key = (plan.platform.name, plan.max_concurrency)
        semaphore = self.semaphores.setdefault(key, asyncio.Semaphore(plan.max_concurrency))
        poller = AccountPoller(
            plan,
            runtime=self.runtime,
            session=self.session,
            semaphore=semaphore,
            state=self.states.setdefault(account.id, {}),
            sink=self.sink,
        )
        self.pollers[account.id] = poller
        poller.start()

    def _stop(self, account_id: str) -> None:
        poller = self.pollers.pop(account_id, None)
        if poller and poller.task:
            poller.task.cancel()

    async def stop(self, grace: float) -> None:
        """Cancel every poller and wait up to ``grace`` seconds for them to end."""
        tasks = [p.task for p in self.pollers.values() if p.task]
        for task in tasks:
            task.cancel()
        self.pollers.clear()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            if pending:
                self.log.warning("pollers still running after the grace time", pending=len(pending))
