"""The alerting side of a running daemon: evaluate rules, keep alert state, route, deliver.

After every KPI cycle (and at least every ``alerting.interval``, for ``for`` and the routers'
timers) the service evaluates every rule against the KPI engine's state, steps the alert state
machine, lets the router decide which notifications are due, and commits the new alert state
and those notifications to the alert store in one transaction. The outbox worker then delivers
them. Rule evaluation runs in a worker thread while the KPI engine's lock is held, so it reads
one consistent table. Goal rules read the goal tracker's latest results, taken once per cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from kpiwatch.alerting.baselines import AnomalyBaselines
from kpiwatch.alerting.evaluate import AccountInfo, EvaluationInputs, KpiView, RuleEvaluator
from kpiwatch.alerting.exposition import AlertFigures, AlertSection, render
from kpiwatch.alerting.model import AlertRecord
from kpiwatch.alerting.notifiers.base import Notifier, NotifierSetup, NotifierType, rfc3339
from kpiwatch.alerting.outbox import OutboxWorker
from kpiwatch.alerting.quality import QualityTracker
from kpiwatch.alerting.router import RoutePlan, Router, RouteTarget
from kpiwatch.alerting.rules import CompiledRule, compile_rules
from kpiwatch.alerting.state import AlertStates, Step
from kpiwatch.alerting.store import AlertStore
from kpiwatch.config import Config
from kpiwatch.goals.model import GoalResult
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta
from kpiwatch.logging import get_logger
from kpiwatch.platform import Sample
from kpiwatch.runtime import Runtime

if TYPE_CHECKING:
    import aiohttp

    from kpiwatch.kpi.service import KpiService

#: Accounts whose anomaly baseline is re-read per call into the reader's thread.
BASELINE_BATCH = 50
#: An account's anomaly baseline is re-read at most this often (seconds).
BASELINE_REFRESH = 3600.0


@dataclass
class NotifierEntry:
    name: str
    type: NotifierType
    settings: BaseModel


class AlertService:
    """Rules, alert state, router, outbox and notifiers of one daemon."""

    def __init__(
        self,
        config: Config,
        notifiers: Sequence[NotifierEntry],
        runtime: Runtime,
        kpis: KpiService | None,
        http: aiohttp.ClientSession,
        state_path: Path,
        external_url: str,
        goals: Callable[[], Sequence[GoalResult] | None] | None = None,
    ) -> None:
        """``goals`` returns the goal tracker's latest results, None until it has computed
        them; until then goal rules keep their stored alerts unchanged."""
        self.runtime = runtime
        self.goals = goals
        self.kpis = kpis
        self.http = http
        self.state_path = state_path
        self.external_url = external_url.rstrip("/")
        self.log = get_logger(component="alerting")
        self.store: AlertStore | None = None
        self.evaluator = RuleEvaluator()
        self.quality = QualityTracker()
        self.states = AlertStates()
        self.notifications: Counter[tuple[str, str]] = Counter()
        self.evaluation_failures: Counter[str] = Counter()
        self.last_evaluation: tuple[float, float] | None = None  # (at, seconds)
        self.outbox_depth: dict[str, int] = {}
        self.outbox_oldest: dict[str, float] = {}
        self.section: AlertSection | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._unsaved: dict[str, AlertRecord] = {}
        self._unsaved_removed: set[str] = set()
        self._worker_task: asyncio.Task[None] | None = None
        self._accounts_known_at: float | None = None
        self._template_errors: dict[str, str] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        self._configure(config, notifiers)

    # configuration ---------------------------------------------------------------------------
    def _configure(self, config: Config, notifiers: Sequence[NotifierEntry]) -> None:
        self.config = config
        settings = config.alerting
        self.interval = settings.interval.total_seconds()
        self.states.resolved_retention = settings.resolved_retention.total_seconds()
        catalogue = build_catalogue(config.kpis)
        self.rules: list[CompiledRule] = compile_rules(
            config.rules,
            catalogue,
            config.kpis.windows,
            [n.name for n in config.notifiers],
            [g.name for g in config.goals],
        )
        quality = [r.config.condition.data_quality for r in self.rules]
        quality = [q for q in quality if q is not None]
        if quality:
            checks = {c for q in quality for c in q.checks}
            self.quality.configure(checks, min(q.jump for q in quality))
        anomaly = [r for r in self.rules if r.config.condition.anomaly is not None]
        self.baselines: AnomalyBaselines | None = None
        if anomaly:
            shifts: set[int] = set()
            for rule in anomaly:
                a = rule.config.condition.anomaly
                assert a is not None
                days = int(a.baseline.total_seconds() // 86400)
                step = 7 if a.seasonality == "weekly" else 1
                shifts.update(range(step, days + 1, step))
            kpis = {r.config.kpi for r in anomaly if r.config.kpi}
            self.baselines = AnomalyBaselines(kpis, shifts, catalogue, BASELINE_REFRESH)
        self.entries = {n.name: n for n in notifiers}
        by_name = {n.name: n for n in config.notifiers}
        self.targets = [
            RouteTarget(by_name[n.name], n.type.receives) for n in notifiers if n.name in by_name
        ]

    def _create_notifiers(self) -> dict[str, Notifier]:
        out: dict[str, Notifier] = {}
        timeout = self.config.alerting.outbox.timeout.total_seconds()
        for entry in self.entries.values():
            setup = NotifierSetup(
                entry.name,
                entry.settings,
                self.http,
                get_logger(component="notifier", notifier=entry.name),
                timeout,
            )
            try:
                out[entry.name] = entry.type.create(setup)
            except Exception as exc:  # a plugin's bug: that notifier stays off, others run
                self.log.error(
                    "notifier could not be created",
                    notifier=entry.name,
                    type=entry.type.name,
                    error=f"{type(exc).__name__}: {exc}",
                )
        return out

    # lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the alert store and restore alert and router state; start the outbox."""
        self.store = await AlertStore.open(self.state_path)
        records = await self.store.load_alerts()
        self.states = AlertStates(records, self.config.alerting.resolved_retention.total_seconds())
        self.router = Router(self.targets, self.external_url, await self.store.load_groups())
        self._start_worker()
        self.log.info(
            "alerting started",
            rules=len(self.rules),
            notifiers=len(self.entries),
            restored_alerts=len(records),
        )

    def _start_worker(self) -> None:
        assert self.store is not None
        max_age = {n.name: n.max_age for n in self.config.notifiers if n.name in self.entries}
        self.worker = OutboxWorker(
            self.store,
            self._create_notifiers(),
            self.config.alerting.outbox,
            max_age,
            self._outcome,
        )
        self._worker_task = asyncio.create_task(self.worker.run(), name="outbox")

    async def _stop_worker(self) -> None:
        if self._worker_task is not None:
            self.worker.stop()
            timeout = self.config.alerting.outbox.timeout.total_seconds() + 1
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._worker_task, timeout)
            self._worker_task = None

    async def close(self) -> None:
        await self._stop_worker()
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def replace(self, config: Config, notifiers: Sequence[NotifierEntry]) -> None:
        """Use a reloaded configuration: rules from the next cycle, notifiers at once."""
        async with self._lock:
            old_notifiers = (self.config.notifiers, self.config.alerting)
            self._configure(config, notifiers)
            self.router = Router(self.targets, self.external_url, self.router.groups.values())
            if (config.notifiers, config.alerting) != old_notifiers:
                await self._stop_worker()
                self._start_worker()
        self.wake()

    def _outcome(self, notifier: str, outcome: str) -> None:
        self.notifications[(notifier, outcome)] += 1
        self.runtime.changed()

    # inputs ----------------------------------------------------------------------------------
    def poll_finished(
        self, account: str, samples: Sequence[Sample], removed: Mapping[str, str] | None = None
    ) -> None:
        """A successful poll of ``account`` (on the loop): data-quality events, including one
        per metric the platform stopped serving (``removed``)."""
        events = self.quality.poll(account, samples, removed or {})
        if events:
            self.wake()

    def wake(self) -> None:
        self._wake.set()

    # evaluation ------------------------------------------------------------------------------
    async def cycle(self, now: float | None = None) -> Step:
        """Evaluate every rule, step the alerts, route, and commit; returns the step."""
        assert self.store is not None
        async with self._lock:
            now = time.time() if now is None else now
            started = time.perf_counter()
            goals = self.goals() if self.goals is not None else None
            observations = await self._evaluate(now, goals or ())
            failed = frozenset(self.evaluator.errors)
            if not self._kpis_ready():
                # Before the KPI engine has computed the accounts of this configuration (at
                # start-up), KPI rules keep their alerts as stored: no resolve, no lost `for`.
                failed |= {r.name for r in self.rules if r.config.kpi is not None}
            if goals is None:
                # Likewise goal rules before the goal tracker has computed the goals.
                failed |= {r.name for r in self.rules if r.kind == "goal"}
            for rule, error in self.evaluator.errors.items():
                self.evaluation_failures[rule] += 1
                self.log.error("rule evaluation failed", rule=rule, error=error)
            # Per-alert work (templates, fingerprints, routing) in a worker thread: with many
            # active alerts it takes seconds, which the event loop must not wait for.
            step, plan = await asyncio.to_thread(self._advance, observations, now, failed)
            if self._unsaved or self._unsaved_removed or plan:
                await self._commit(plan)
            for rule, error in step.template_errors.items():
                if self._template_errors.get(rule) != error:
                    self.log.warning(
                        "alert template failed; its text is kept as written", rule=rule, error=error
                    )
            self._template_errors = dict(step.template_errors)
            for fp, before, after in step.transitions:
                if after in ("firing", "resolved"):
                    record = self.states.records.get(fp)
                    self.log.info(
                        f"alert {after}",
                        rule=record.rule if record else None,
                        fingerprint=fp,
                        labels=dict(record.labels) if record else None,
                        previous_state=before,
                    )
            self.last_evaluation = (now, time.perf_counter() - started)
            await self._refresh_stats(now)
            self.section = render(self._figures())
            self.runtime.changed()
            return step

    def _advance(
        self, observations: Mapping[str, Any], now: float, failed: frozenset[str]
    ) -> tuple[Step, RoutePlan]:
        """Step the alerts and plan notifications (in a worker thread; the cycle lock held)."""
        step = self.states.step(self.rules, observations, now, self._generator_url(), failed)
        for fp in step.removed:
            self._unsaved.pop(fp, None)
            self._unsaved_removed.add(fp)
        for record in step.changed:
            self._unsaved[record.fingerprint] = record
            self._unsaved_removed.discard(record.fingerprint)
        counts: Counter[tuple[str, str]] = Counter()
        for record in list(self.states.records.values()):
            counts[(record.rule, record.state)] += 1
        self._counts = counts
        return step, self.router.plan(self.states.alerts(), now, changed=step.notify)

    async def _commit(self, plan: RoutePlan) -> None:
        assert self.store is not None
        try:
            result = await self.store.commit(
                list(self._unsaved.values()),
                sorted(self._unsaved_removed),
                plan.groups,
                plan.messages,
                plan.forgotten,
            )
        except Exception as exc:
            # Kept in memory: the records are written with the next commit, and the router did
            # not accept the plan, so it plans the same notifications again.
            self.log.error(
                "alert state could not be stored; retrying with the next evaluation",
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        self._unsaved.clear()
        self._unsaved_removed.clear()
        self.router.accept(plan)
        for notifier, count in result.superseded.items():
            self.notifications[(notifier, "superseded")] += count
        if plan.messages:
            self.worker.wake()

    async def _evaluate(self, now: float, goals: Sequence[GoalResult]) -> dict[str, Any]:
        accounts = {
            account: AccountInfo(status.platform, dict(status.labels), status.competitor)
            for account, status in self.runtime.accounts.items()
        }
        latest = self.runtime.latest

        def metric_seen(account: str, metric: str) -> float | None:
            times = [
                s.timestamp.timestamp() if s.timestamp else None
                for (name, _, _), s in latest.get(account, {}).items()
                if name == metric
            ]
            known = [t for t in times if t is not None]
            if known:
                return max(known)
            status = self.runtime.accounts.get(account)
            return status.last_success if status and times else None

        quality = self.quality.snapshot()
        outcome_for = self.config.goal_tracking.outcome_for.total_seconds()
        if self.kpis is None or self.kpis.state.results is None:
            inputs = EvaluationInputs(
                now, None, accounts, {}, metric_seen, quality, goals, outcome_for
            )
            return await asyncio.to_thread(self.evaluator.evaluate, self.rules, inputs)
        kpis = self.kpis
        async with kpis.lock:
            state = kpis.state
            assert state.results is not None
            baselines: Mapping[str, Any] = {}
            if self.baselines is not None and kpis.reader is not None:
                await self._refresh_baselines(state, now)
                size = len(state.results.meta)
                baselines = await asyncio.to_thread(self.baselines.align, state.table.rows, size)
            view = KpiView(state.results, state.table, state.window_labels)
            inputs = EvaluationInputs(
                now, view, accounts, baselines, metric_seen, quality, goals, outcome_for
            )
            return await asyncio.to_thread(self.evaluator.evaluate, self.rules, inputs)

    async def _refresh_baselines(self, state: Any, now: float) -> None:
        baselines = self.baselines
        assert baselines is not None and self.kpis is not None and self.kpis.reader is not None
        metas = {m.account: m for m in state.table.meta if m is not None}
        gone = [a for a in baselines.read_at if a not in metas]
        if gone:
            baselines.drop(gone)
        due = baselines.due(metas, now)
        for i in range(0, len(due), BASELINE_BATCH):
            batch: list[AccountMeta] = [metas[a] for a in due[i : i + BASELINE_BATCH]]
            await self.kpis.reader.run(lambda conn, b=batch: baselines.read(conn, b, now))

    def _kpis_ready(self) -> bool:
        """Whether a KPI cycle has completed since every configured account was known."""
        if self.kpis is None:
            return False
        if self._accounts_known_at is None:
            if not self.runtime.config_loaded:
                return False
            self._accounts_known_at = time.time()
        computed = self.kpis.computed_from
        return computed is not None and computed >= self._accounts_known_at

    def seed_quality(self) -> None:
        """Compare the first poll after start-up with the stored values (call after restore)."""
        for account, samples in self.runtime.latest.items():
            self.quality.seed(account, list(samples.values()))

    def _generator_url(self) -> str:
        return f"{self.external_url}/api/v1/alerts"

    async def run(self) -> None:
        """Evaluate after each KPI cycle or poll event, and every ``alerting.interval``."""
        while True:
            self._wake.clear()
            try:
                await self.cycle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.error("alert evaluation failed", error=f"{type(exc).__name__}: {exc}")
            timeout = self.interval
            due = self.router.next_due()
            if due is not None:
                timeout = min(timeout, max(0.05, due - time.time()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    # surfaces --------------------------------------------------------------------------------
    async def _refresh_stats(self, now: float) -> None:
        assert self.store is not None
        try:
            stats = await self.store.stats(now)
        except Exception as exc:
            self.log.error("outbox statistics failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.outbox_depth = dict(stats.depth)
        self.outbox_oldest = dict(stats.oldest_age)

    def _figures(self) -> AlertFigures:
        counts = self._counts
        at, seconds = self.last_evaluation if self.last_evaluation else (None, None)
        return AlertFigures(
            [(r.name, r.config.severity) for r in self.rules],
            counts,
            seconds,
            at,
            self.evaluation_failures,
            self.notifications,
            self.outbox_depth,
            self.outbox_oldest,
            sorted(self.entries),
        )

    def alerts_json(self) -> list[dict[str, Any]]:
        """Every stored alert (pending too), as /api/v1/alerts serves them."""
        # list() copies the values in one step, safe while a cycle's thread changes the dict
        return [alert_json(r) for r in list(self.states.records.values())]


def alert_json(record: AlertRecord) -> dict[str, Any]:
    return {
        "fingerprint": record.fingerprint,
        "rule": record.rule,
        "state": record.state,
        "labels": dict(record.labels),
        "annotations": dict(record.annotations),
        "value": record.value,
        "activeAt": rfc3339(record.active_at),
        "startsAt": rfc3339(record.fired_at) if record.fired_at else None,
        "endsAt": rfc3339(record.resolved_at) if record.resolved_at else None,
        "notifiers": list(record.notifiers) if record.notifiers is not None else None,
    }
