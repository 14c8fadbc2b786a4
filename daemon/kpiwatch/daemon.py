"""The running daemon: plugins, configuration, scheduler, exporter and HTTP server together."""

from __future__ import annotations

import asyncio
import inspect
import platform as python_platform
import signal
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from kpiwatch import __version__
from kpiwatch.account_plan import AccountPlan
from kpiwatch.alerting.exposition import CombinedSection
from kpiwatch.alerting.service import AlertService, NotifierEntry
from kpiwatch.alerting.store import alert_state_path
from kpiwatch.config import Config
from kpiwatch.config_loader import ConfigError, LoadedConfig
from kpiwatch.exposition import ExpositionCache
from kpiwatch.goals.service import GoalService
from kpiwatch.history import HistoryWriter
from kpiwatch.http_api import ReloadOutcome, bound_port, create_app, start_server
from kpiwatch.http_client import client_session
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.service import KpiService
from kpiwatch.logging import configure_logging, get_logger, redactor
from kpiwatch.platform import Sample
from kpiwatch.plugins import PluginRegistry
from kpiwatch.polling import PollOutcome
from kpiwatch.runtime import Runtime
from kpiwatch.scheduler import Scheduler
from kpiwatch.sdnotify import PollProgress, SystemdNotifier, accounts_summary
from kpiwatch.store import Retention, Store, StoreError


class StartupError(Exception):
    """The daemon could not start (for example, the listen address is taken)."""


class Daemon:
    """One kpiwatch process. Plugins receive it as ``app`` in startup and shutdown hooks.

    Public attributes: ``config`` (the current :class:`kpiwatch.config.Config`), ``registry``
    (the loaded plugins and platforms), ``runtime`` (live account states), ``http`` (the shared
    aiohttp ClientSession), ``version``.
    """

    version = __version__

    def __init__(
        self,
        *,
        registry: PluginRegistry,
        loaded: LoadedConfig,
        load: Callable[[], LoadedConfig],
        log_stream: Any = None,
    ) -> None:
        self.registry = registry
        self.loaded = loaded
        self._load = load
        self._log_stream = log_stream
        self.runtime = Runtime()
        self.log = get_logger()
        self.http: aiohttp.ClientSession | None = None
        self.scheduler: Scheduler | None = None
        self.exposition: ExpositionCache | None = None
        self.runner: web.AppRunner | None = None
        self.store: Store | None = None
        self.store_path: Path | None = None
        self.history: HistoryWriter | None = None
        self.kpis: KpiService | None = None
        self.alerts: AlertService | None = None
        self.goals: GoalService | None = None
        self.port: int | None = None
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_requested: asyncio.Event | None = None
        self.notifier = SystemdNotifier()

    @property
    def config(self) -> Config:
        return self.loaded.config

    # lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the HTTP server, the exporter and the pollers. Raises StartupError."""
        config = self.config
        redactor.set_secrets(self.loaded.secrets)
        self.runtime.shard_index, self.runtime.shard_count = config.shard.index, config.shard.count
        self.http = client_session(config.http)
        self.exposition = ExpositionCache(
            self.runtime,
            min_interval=config.server.metrics_min_render_interval.total_seconds(),
            build_info={"version": __version__, "python": python_platform.python_version()},
            extra=lambda: CombinedSection.of(
                self.kpis.section if self.kpis else None,
                self.alerts.section if self.alerts else None,
                self.goals.section if self.goals else None,
            ),
        )
        await self.exposition.render_now()
        self._spawn(self.exposition.run(), "exposition")
        app = create_app(
            runtime=self.runtime,
            exposition=self.exposition,
            reload=self.reload if config.server.enable_reload else None,
            info=self.info,
            kpis=self._kpi_report,
            alerts=self._alerts_report,
            goals=self._goals_report,
        )
        try:
            self.runner = await start_server(app, config.server.host, config.server.port)
        except OSError as exc:
            await self._close_resources()
            raise StartupError(
                f"cannot listen on {config.server.listen}: {exc.strerror or exc}; "
                "set server.listen to a free address or stop the process using it"
            ) from exc
        self.port = bound_port(self.runner)
        await self._open_history()
        await self._open_alerting()
        await self._call_hook("kpiwatch_startup")
        self.scheduler = Scheduler(self.runtime, self.http, sink=self._record_poll)
        plans = self._plans(self.loaded)
        await self._restore(plans)
        if self.alerts is not None:
            self.alerts.seed_quality()
        changes = self.scheduler.apply(plans)
        self.runtime.config_loaded = True
        self.runtime.changed()
        self._notify_started()
        base = f"http://{_url_host(config.server.host)}:{self.port}"
        self.log.info(
            "kpiwatch started",
            version=__version__,
            config=self.loaded.source,
            accounts=len(changes["started"]),
            metrics=f"{base}/metrics",
            landing_page=f"{base}/",
            status=f"{base}/api/v1/status",
        )

    async def stop(self) -> None:
        """Stop polling and serving within ``shutdown_grace``."""
        grace = self.config.shutdown_grace.total_seconds()
        deadline = time.monotonic() + grace
        self.log.info("kpiwatch stopping", grace_seconds=grace)
        self.notifier.stopping()
        if self.scheduler:
            await self.scheduler.stop(grace * 0.6)
        remaining = max(0.1, deadline - time.monotonic())
        try:
            async with asyncio.timeout(remaining):
                await self._call_hook("kpiwatch_shutdown")
        except TimeoutError:
            self.log.warning("shutdown hooks did not finish within the grace time")
        await self._close_resources()
        self.log.info("kpiwatch stopped")

    async def _close_resources(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)
        if self.history:
            await self.history.flush()  # what the last polls returned
        if self.alerts:
            await self.alerts.close()
        if self.goals:
            await self.goals.close()
        if self.kpis:
            await self.kpis.close()
        if self.store:
            await self.store.close()
        if self.exposition:
            await self.exposition.stop()
        if self.runner:
            await self.runner.cleanup()
        if self.http:
            await self.http.close()
        self.notifier.close()

    async def run(self) -> int:
        """Start, then serve until SIGTERM or SIGINT; SIGHUP reloads. Returns the exit code."""
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self._reload_from_signal)
        try:
            await self.start()
        except StartupError as exc:
            self.log.error("kpiwatch could not start", error=str(exc))
            return 1
        await self._stop_requested.wait()
        await self.stop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        return 0

    def request_stop(self, why: str = "request") -> None:
        self.log.info("stop requested", signal=why)
        if self._stop_requested:
            self._stop_requested.set()

    # history ------------------------------------------------------------------------------
    async def _open_history(self) -> None:
        """Open the store in ``state_dir`` and start the writer. Raises StartupError."""
        history = self.config.history
        path = Path(history.file)
        if not path.is_absolute():
            path = self.config.state_dir / path
        retention = Retention(
            history.retention.raw, history.retention.hourly, history.retention.daily
        )
        self.store_path = path
        try:
            self.store = await Store.open(path, retention)
        except StoreError as exc:
            await self._close_resources()
            raise StartupError(str(exc)) from exc
        self.history = HistoryWriter(self.store, history.flush_interval.total_seconds())
        self._spawn(self.history.run(), "history-writer")
        self._spawn(
            self.history.maintain_every(history.maintenance_interval.total_seconds()),
            "history-maintenance",
        )
        kpis = self.config.kpis
        self.kpis = KpiService(
            kpis, build_catalogue(kpis), self.runtime, path, history.flush_interval.total_seconds()
        )
        try:
            await self.kpis.open()
        except StoreError as exc:
            await self._close_resources()
            raise StartupError(str(exc)) from exc
        self._spawn(self.kpis.run(), "kpis")
        self.goals = GoalService(self.config, self.runtime, path)
        try:
            await self.goals.open()
        except StoreError as exc:
            await self._close_resources()
            raise StartupError(str(exc)) from exc
        self._spawn(self.goals.run(), "goals")

    async def _open_alerting(self) -> None:
        """Open the alert store and start rule evaluation and delivery. Raises StartupError."""
        config = self.config
        path = alert_state_path(config.state_dir, config.alerting)
        external = config.alerting.external_url or (
            f"http://{_url_host(config.server.host)}:{self.port}"
        )
        assert self.http is not None
        self.alerts = AlertService(
            config,
            self._notifier_entries(self.loaded),
            self.runtime,
            self.kpis,
            self.http,
            path,
            external,
            goals=self.goals.latest if self.goals else None,
        )
        try:
            await self.alerts.open()
        except StoreError as exc:
            await self._close_resources()
            raise StartupError(str(exc)) from exc
        if self.history is not None and self.kpis is not None:
            self.history.on_commit(self.kpis.polls_stored)
            self.kpis.on_cycle(self.alerts.wake)
        if self.goals is not None:
            self.goals.on_cycle(self.alerts.wake)
            if self.kpis is not None:
                self.kpis.on_cycle(self.goals.polls_computed)
        self._spawn(self.alerts.run(), "alerting")

    def _notifier_entries(self, loaded: LoadedConfig) -> list[NotifierEntry]:
        types = self.registry.notifier_types
        return [
            NotifierEntry(n.name, types[n.type], loaded.notifier_settings[n.name])
            for n in loaded.config.notifiers
            if n.type in types and n.name in loaded.notifier_settings
        ]

    async def _alerts_report(self) -> list[dict[str, Any]]:
        if self.alerts is None:
            raise ValueError("alerting has not started yet; try again in a moment")
        return self.alerts.alerts_json()

    async def _goals_report(self) -> list[dict[str, Any]]:
        if self.goals is None:
            raise ValueError("goal tracking has not started yet; try again in a moment")
        return self.goals.results_json()

    async def _kpi_report(self, window: str | None, by: list[str]) -> Mapping[str, Any]:
        if self.kpis is None:
            raise ValueError("the KPI engine has not started yet; try again in a moment")
        return await self.kpis.report(window, by)

    async def _restore(self, plans) -> None:
        """Serve the stored values and hand plugins their stored state, before polling."""
        assert self.store is not None and self.scheduler is not None
        latest = await self.store.latest()
        restored = 0
        for account_id, rows in latest.items():
            if account_id not in plans:
                continue
            samples = [
                Sample(
                    r.metric,
                    r.value,
                    r.window,
                    dict(r.dims),
                    datetime.fromtimestamp(r.timestamp, UTC),
                )
                for r in rows
            ]
            self.runtime.store_samples(account_id, samples)
            restored += len(samples)
        for account_id, (platform, state) in (await self.store.states()).items():
            plan = plans.get(account_id)
            if plan is not None and plan.platform.name == platform:
                self.scheduler.states[account_id] = dict(state)
        self.log.info("history restored", samples=restored, store=str(self.store_path))

    def _record_poll(self, plan: AccountPlan, outcome: PollOutcome, state: dict[str, Any]) -> None:
        if self.alerts is not None and outcome.ok:
            self.alerts.poll_finished(plan.account.id, outcome.samples, outcome.removed)
        if self.history is not None:
            self.history.add(
                plan.account.id,
                plan.platform.name,
                outcome.started,
                outcome.samples,
                outcome.posts,
                state,
            )

    # reload -------------------------------------------------------------------------------
    def _reload_from_signal(self) -> None:
        self.log.info("reload requested", signal="SIGHUP")
        self._spawn(self.reload(), "reload")

    async def reload(self) -> ReloadOutcome:
        """Re-read the configuration; an invalid one is rejected and the old one keeps running."""
        async with self._reload_lock:
            self.notifier.reloading()
            try:
                return await self._reload()
            finally:
                self.notifier.ready(accounts_summary(self.runtime))

    async def _reload(self) -> ReloadOutcome:
        """The reload itself; :meth:`reload` holds the lock and tells systemd."""
        try:
            loaded = await asyncio.to_thread(self._load)
        except ConfigError as exc:
            problems = [str(p) for p in exc.problems]
            self.runtime.reload.failures += 1
            self.runtime.reload.last_successful = False
            self.runtime.changed()
            self.log.error(
                "configuration rejected; the previous one keeps running", problems=problems
            )
            return ReloadOutcome(ok=False, problems=problems, changes={})
        old = self.config
        new = loaded.config
        if new.server != old.server:
            self.log.warning(
                "server settings change on restart only",
                running=old.server.listen,
                configured=new.server.listen,
            )
        if new.history != old.history or new.state_dir != old.state_dir:
            self.log.warning("history settings change on restart only")
        if new.kpis != old.kpis and self.kpis is not None:
            self.kpis.replace(new.kpis, build_catalogue(new.kpis))
        if self.goals is not None:
            self.goals.replace(new)
        if self.alerts is not None:
            await self.alerts.replace(new, self._notifier_entries(loaded))
        if new.log != old.log:
            configure_logging(new.log.level, new.log.format, self._log_stream)
        # Keep redacting the old secrets too: a poll of a stopping account may still log.
        redactor.set_secrets(self.loaded.secrets | loaded.secrets)
        self.loaded = loaded
        self.runtime.shard_index, self.runtime.shard_count = new.shard.index, new.shard.count
        changes = self.scheduler.apply(self._plans(loaded)) if self.scheduler else {}
        self.runtime.reload.successes += 1
        self.runtime.reload.last_successful = True
        self.runtime.reload.last_success_time = time.time()
        self.runtime.changed()
        self.log.info("configuration reloaded", **{k: len(v) for k, v in changes.items()})
        return ReloadOutcome(ok=True, problems=[], changes=changes)

    # helpers -------------------------------------------------------------------------------
    def _plans(self, loaded: LoadedConfig) -> dict[str, AccountPlan]:
        assert self.scheduler is not None
        return self.scheduler.plans(loaded.config, loaded.settings, self.registry.platforms)

    def info(self) -> dict[str, Any]:
        """Facts about the running configuration for /api/v1/status (no secrets)."""
        return {
            "source": self.loaded.source,
            "accounts_configured": len(self.config.accounts),
            "platforms": sorted(self.registry.platforms),
            "listen": self.config.server.listen,
            "plugins": sorted(self.registry.plugins),
        }

    def _notify_started(self) -> None:
        """Tell systemd start-up is done; keep STATUS fresh and the watchdog fed."""
        self.notifier.ready(accounts_summary(self.runtime))
        if self.notifier.enabled:
            grace = self.notifier.watchdog_interval or 0.0
            progress = PollProgress(self.runtime, lambda: self.scheduler, grace)
            self._spawn(
                self.notifier.run(lambda: accounts_summary(self.runtime), progress), "sdnotify"
            )

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call_hook(self, hook_name: str) -> None:
        for impl in self.registry.hook_implementations(hook_name):
            try:
                result = impl.function(**({"app": self} if "app" in impl.argnames else {}))
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.error(
                    "plugin hook failed",
                    hook=hook_name,
                    plugin=impl.plugin_name,
                    error=f"{type(exc).__name__}: {exc}",
                )


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
