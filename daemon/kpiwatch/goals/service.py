"""Runs the goal tracker of a daemon: every ``goal_tracking.interval``, soon after new polls,
and at once on reload.

The tracker reads the history store through its own read connection and thread, so reading a
goal's year of history never delays a KPI cycle. Results are kept for /metrics, /api/v1/goals
and the goal rules of the alert service, which listeners wake after each cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kpiwatch.config import Config
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.model import GoalResult
from kpiwatch.goals.tracker import GoalTracker
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta
from kpiwatch.logging import get_logger
from kpiwatch.runtime import Runtime
from kpiwatch.scheduler import in_shard
from kpiwatch.store.reader import HistoryReader

#: Least time between two goal cycles woken by new polls.
MIN_GAP = 10.0


def goal_accounts(config: Config) -> tuple[list[AccountMeta], dict[str, str | None]]:
    """The enabled accounts of this shard that goals cover, and the objective each declares."""
    accounts = [a for a in config.accounts if a.enabled and _local(config, a.id)]
    metas = [AccountMeta(a.id, a.platform, dict(a.labels), a.competitor) for a in accounts]
    return metas, {a.id: a.objective for a in accounts}


def other_shards_accounts(config: Config) -> list[AccountMeta]:
    """The enabled accounts other shards poll (none with ``shard.count`` 1)."""
    return [
        AccountMeta(a.id, a.platform, dict(a.labels), a.competitor)
        for a in config.accounts
        if a.enabled and not _local(config, a.id)
    ]


def _local(config: Config, account: str) -> bool:
    return in_shard(account, config.shard.index, config.shard.count)


class GoalService:
    """The goals of one daemon, recomputed from its history database."""

    def __init__(self, config: Config, runtime: Runtime, db_path: Path) -> None:
        self.runtime = runtime
        self.db_path = db_path
        self.reader: HistoryReader | None = None
        self.results: list[GoalResult] | None = None  # None until the first cycle
        self.last_cycle: tuple[float, float] | None = None  # (at, seconds)
        self.failures: Counter[str] = Counter()
        self.section: Any = None
        self.log = get_logger(component="goals")
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._errors: dict[str, str] = {}
        self._reloaded = False
        self._configure(config)
        self.tracker = GoalTracker(self.specs, self.catalogue, config.goal_tracking)

    def _configure(self, config: Config) -> None:
        self.config = config
        self.catalogue = build_catalogue(config.kpis)
        self.specs = compile_goals(config.goals, self.catalogue, config.kpis.windows)
        self.interval = config.goal_tracking.interval.total_seconds()

    def on_cycle(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` on the loop after every cycle."""
        self._listeners.append(listener)

    async def open(self) -> None:
        self.reader = await HistoryReader.open(self.db_path)

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.close()
            self.reader = None

    def replace(self, config: Config) -> None:
        """Track a new configuration's goals from the next cycle, which starts at once."""
        self._configure(config)
        self.tracker.replace(self.specs, self.catalogue, config.goal_tracking)
        self._reloaded = True
        names = {s.name for s in self.specs}
        if self.results is not None:
            self.results = [r for r in self.results if r.name in names]
        self._wake.set()

    def latest(self) -> list[GoalResult] | None:
        """The goals as last computed; None before the first cycle after start or reload."""
        return self.results

    def results_json(self) -> list[dict[str, Any]]:
        if self.results is None:
            raise ValueError("goals have not been computed yet; try again in a moment")
        return [r.to_json() for r in self.results]

    async def cycle(self, now: float | None = None) -> list[GoalResult]:
        """Evaluate every goal (in the reader's thread) and keep the results."""
        assert self.reader is not None
        async with self._lock:
            now = time.time() if now is None else now
            started = time.perf_counter()
            metas, objectives = goal_accounts(self.config)
            elsewhere = other_shards_accounts(self.config)
            tracker = self.tracker
            results = await self.reader.run(
                lambda conn: tracker.evaluate(conn, metas, objectives, now, elsewhere)
            )
            self._report(results, tracker.errors)
            # A goal whose evaluation failed keeps its last result: its alerts must not resolve
            kept = {r.name: r for r in self.results or () if r.name in tracker.errors}
            if kept:
                order = {s.name: i for i, s in enumerate(self.specs)}
                results = sorted([*results, *kept.values()], key=lambda r: order.get(r.name, 0))
            self.results = results
            self.last_cycle = (now, time.perf_counter() - started)
            self.section = self._render()
            self.runtime.changed()
            return results

    def _report(self, results: Sequence[GoalResult], errors: dict[str, str]) -> None:
        before = {r.name: r.status for r in self.results or ()}
        for result in results:
            old = before.get(result.name)
            if old is not None and old != result.status:
                self.log.info(
                    "goal status changed",
                    goal=result.name,
                    status=result.status,
                    previous_status=old,
                    period=result.period.label,
                )
        for name, error in errors.items():
            self.failures[name] += 1
            if self._errors.get(name) != error:
                self.log.error("goal evaluation failed", goal=name, error=error)
        self._errors = dict(errors)

    def _render(self) -> Any:
        from kpiwatch.goals.exposition import render_goals

        at, seconds = self.last_cycle or (None, None)
        return render_goals(self.results or [], at, seconds, self.failures, self.catalogue)

    def polls_computed(self) -> None:
        """The KPI engine computed newly stored polls: recompute soon (at most every
        ``MIN_GAP`` seconds, so a busy daemon does not recompute goals after every poll)."""
        self._wake.set()

    async def run(self) -> None:
        """Cycle every ``goal_tracking.interval``, after new polls (at most every ``MIN_GAP``)
        and at once after a reload, until cancelled."""
        while True:
            started = time.monotonic()
            self._wake.clear()
            self._reloaded = False
            try:
                await self.cycle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.error("goal cycle failed", error=f"{type(exc).__name__}: {exc}")
            for listener in self._listeners:
                try:
                    listener()
                except Exception as exc:
                    self.log.error("goal listener failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            gap = min(MIN_GAP, self.interval) - (time.monotonic() - started)
            if not self._reloaded and gap > 0:
                await asyncio.sleep(gap)
