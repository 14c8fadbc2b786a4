"""The HTTP server: landing page, /metrics, health and readiness, status API and reload."""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

import kpiwatch
from kpiwatch.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, ExpositionCache
from kpiwatch.goals.model import STATUSES as GOAL_STATUSES
from kpiwatch.logging import get_logger
from kpiwatch.runtime import AccountStatus, Runtime


@dataclass
class ReloadOutcome:
    """What a configuration reload did: ``changes`` maps a kind of change to account ids."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    changes: Mapping[str, list[str]] = field(default_factory=dict)


ReloadFunction = Callable[[], Awaitable[ReloadOutcome]]
InfoFunction = Callable[[], Mapping[str, Any]]
KpiFunction = Callable[[str | None, list[str]], Awaitable[Mapping[str, Any]]]
AlertsFunction = Callable[[], Awaitable[list[dict[str, Any]]]]
GoalsFunction = Callable[[], Awaitable[list[dict[str, Any]]]]

_ROUTES = (
    ("/metrics", "Prometheus metrics (text format 0.0.4, or OpenMetrics when asked for)"),
    ("/healthz", "liveness: answers while the event loop runs"),
    ("/readyz", "readiness: configuration loaded and every account polled once"),
    ("/api/v1/status", "JSON status of every account (filters: ?account=ID, ?platform=NAME)"),
)


def rfc3339(timestamp: float | None) -> str | None:
    """``timestamp`` (Unix seconds) as an RFC 3339 UTC string, or None."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def media_ranges(header: str) -> Iterable[tuple[str, float]]:
    """(media type or coding, q) pairs of an Accept or Accept-Encoding header."""
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        yield name.lower(), q


def wants_openmetrics(accept: str) -> bool:
    """True when the Accept header prefers OpenMetrics to the Prometheus text format."""
    openmetrics = text = 0.0
    for name, q in media_ranges(accept):
        if name == "application/openmetrics-text":
            openmetrics = max(openmetrics, q)
        elif name in ("text/plain", "text/*", "*/*"):
            text = max(text, q)
    return openmetrics > 0 and openmetrics >= text


def accepts_gzip(accept_encoding: str) -> bool:
    """True when the Accept-Encoding header allows gzip."""
    explicit = wildcard = None
    for name, q in media_ranges(accept_encoding):
        if name == "gzip":
            explicit = q
        elif name == "*":
            wildcard = q
    q = explicit if explicit is not None else wildcard
    return q is not None and q > 0


def account_status_json(status: AccountStatus) -> dict[str, Any]:
    """The status API's view of one account."""
    last_error = None
    if status.last_error_reason is not None:
        last_error = {
            "reason": status.last_error_reason,
            "message": status.last_error_message,
            "at": rfc3339(status.last_error_at),
        }
    return {
        "id": status.account_id,
        "platform": status.platform,
        "labels": dict(status.labels),
        "competitor": status.competitor,
        "state": status.state,
        "running": status.running,
        "polls": status.polls,
        "failures": dict(sorted(status.failures.items())),
        "skipped": status.skipped,
        "invalid_samples": status.invalid_samples,
        "consecutive_failures": status.consecutive_failures,
        "last_attempt": rfc3339(status.last_attempt),
        "last_success": rfc3339(status.last_success),
        "next_poll": rfc3339(status.next_poll),
        "last_duration_seconds": status.last_duration,
        "last_sample_count": status.last_sample_count,
        "last_error": last_error,
    }


def _json(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, indent=2, default=str) + "\n"
    return web.Response(text=body, status=status, content_type="application/json")


async def _json_off_loop(data: Any) -> web.Response:
    """Like _json, serialising in a worker thread: the status of 10,000 accounts is megabytes."""
    body = await asyncio.to_thread(json.dumps, data, indent=2, default=str)
    return web.Response(text=body + "\n", content_type="application/json")


class _Handlers:
    def __init__(
        self,
        runtime: Runtime,
        exposition: ExpositionCache,
        reload: ReloadFunction | None,
        info: InfoFunction,
        kpis: KpiFunction | None = None,
        alerts: AlertsFunction | None = None,
        goals: GoalsFunction | None = None,
    ) -> None:
        self.kpis_function = kpis
        self.alerts_function = alerts
        self.goals_function = goals
        self.runtime = runtime
        self.exposition = exposition
        self.reload_function = reload
        self.info = info
        self.reload_lock = asyncio.Lock()

    def _state_counts(self) -> dict[str, int]:
        counts = {"up": 0, "down": 0, "pending": 0}
        for status in self.runtime.accounts.values():
            if status.state == "pending":
                counts["pending"] += 1
            else:
                counts["up" if status.up else "down"] += 1
        return counts

    async def landing(self, request: web.Request) -> web.Response:
        counts = self._state_counts()
        ready = self.runtime.ready
        # relative links, so the page also works behind a reverse proxy's path prefix
        links = "\n".join(
            f'<li><a href="{html.escape(path.lstrip("/"))}">{html.escape(path)}</a> '
            f"&ndash; {html.escape(text)}</li>"
            for path, text in _ROUTES
        )
        reload_line = (
            "<li><code>POST /-/reload</code> &ndash; reload the configuration</li>"
            if self.reload_function is not None
            else "<li><code>POST /-/reload</code> &ndash; disabled in this configuration</li>"
        )
        version = html.escape(kpiwatch.__version__)
        page = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>kpiwatch {version}</title></head>
<body>
<h1>kpiwatch</h1>
<p>Social-media and marketing KPI monitor, version {version}.
Shard index {self.runtime.shard_index} of {self.runtime.shard_count} shards;
{"ready" if ready else "not ready"}.</p>
<p>Accounts: {counts["up"]} up, {counts["down"]} down, {counts["pending"]} pending.</p>
<ul>
{links}
{reload_line}
</ul>
<p>The metrics and their labels are described in docs/metrics.md of the kpiwatch
distribution.</p>
</body>
</html>
"""
        return web.Response(text=page, content_type="text/html")

    async def metrics(self, request: web.Request) -> web.Response:
        openmetrics = wants_openmetrics(request.headers.get("Accept", ""))
        compressed = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        body = await self.exposition.get("openmetrics" if openmetrics else "text", compressed)
        headers = {
            "Content-Type": OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE,
            "Vary": "Accept, Accept-Encoding",
        }
        if compressed:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        if self.runtime.ready:
            return _json({"ready": True, "reasons": []})
        reasons = []
        if not self.runtime.config_loaded:
            reasons.append("the configuration is not loaded yet")
        pending = self._state_counts()["pending"]
        if pending:
            total = len(self.runtime.accounts)
            reasons.append(f"{pending} of {total} accounts have not finished their first poll")
        return _json({"ready": False, "reasons": reasons}, status=503)

    async def status(self, request: web.Request) -> web.Response:
        account = request.query.get("account")
        platform = request.query.get("platform")
        if account is not None and account not in self.runtime.accounts:
            return _json(
                {"error": f"no account {account!r} in this shard; GET /api/v1/status lists them"},
                status=404,
            )
        accounts = [
            account_status_json(s)
            for s in self.runtime.accounts.values()
            if (account is None or s.account_id == account)
            and (platform is None or s.platform == platform)
        ]
        reload = self.runtime.reload
        render = self.exposition.last_render
        data = {
            "version": kpiwatch.__version__,
            "ready": self.runtime.ready,
            "started_at": rfc3339(self.runtime.started_at),
            "uptime_seconds": round(time.time() - self.runtime.started_at, 3),
            "config": dict(self.info()),
            "shard": {"index": self.runtime.shard_index, "count": self.runtime.shard_count},
            "reload": {
                "last_successful": reload.last_successful,
                "last_success_at": rfc3339(reload.last_success_time),
                "successes": reload.successes,
                "failures": reload.failures,
            },
            "exposition": None
            if render is None
            else {
                "version": render.version,
                "rendered_at": rfc3339(render.finished_at),
                "render_duration_seconds": render.duration_seconds,
                "series": render.series,
                "bytes": render.body_bytes,
                "variants": list(render.variants),
            },
            "summary": self._state_counts(),
            "accounts": accounts,
        }
        return await _json_off_loop(data)

    async def kpis(self, request: web.Request) -> web.Response:
        """The KPI table: ``?window=28d&by=brand,platform`` (default: 28d, by account)."""
        if self.kpis_function is None:
            return _json({"status": "error", "error": "the KPI engine is not running"}, 503)
        window = request.query.get("window") or None
        by = [b for b in request.query.get("by", "account").split(",") if b]
        try:
            data = await self.kpis_function(window, by)
        except ValueError as exc:
            return _json({"status": "error", "error": str(exc)}, status=400)
        return await _json_off_loop(data)

    async def alerts(self, request: web.Request) -> web.Response:
        """Alerts: pending, firing and recently resolved (``?state=firing`` filters)."""
        if self.alerts_function is None:
            return _json({"status": "error", "error": "alerting is not running"}, 503)
        wanted = request.query.get("state") or None
        if wanted is not None and wanted not in ("pending", "firing", "resolved"):
            return _json(
                {
                    "status": "error",
                    "error": f"state {wanted!r} is not one of pending, firing, resolved",
                },
                status=400,
            )
        try:
            alerts = await self.alerts_function()
        except ValueError as exc:
            return _json({"status": "error", "error": str(exc)}, status=503)
        if wanted is not None:
            alerts = [a for a in alerts if a["state"] == wanted]
        return await _json_off_loop({"status": "success", "data": {"alerts": alerts}})

    async def goals(self, request: web.Request) -> web.Response:
        """Goals with status, progress and projection (``?status=at_risk`` filters)."""
        if self.goals_function is None:
            return _json({"status": "error", "error": "goal tracking is not running"}, 503)
        wanted = request.query.get("status") or None
        if wanted is not None and wanted not in GOAL_STATUSES:
            return _json(
                {
                    "status": "error",
                    "error": f"status {wanted!r} is not one of {', '.join(GOAL_STATUSES)}",
                },
                status=400,
            )
        try:
            goals = await self.goals_function()
        except ValueError as exc:
            return _json({"status": "error", "error": str(exc)}, status=503)
        if wanted is not None:
            goals = [g for g in goals if g["status"] == wanted]
        return await _json_off_loop({"status": "success", "data": {"goals": goals}})

    async def reload(self, request: web.Request) -> web.Response:
        if self.reload_function is None:
            return _json(
                {
                    "status": "error",
                    "error": "reloading over HTTP is disabled in the server configuration; "
                    "enable it there or send SIGHUP to the daemon",
                },
                status=403,
            )
        async with self.reload_lock:
            try:
                outcome = await self.reload_function()
            except Exception as exc:
                get_logger(component="http").exception("reload failed unexpectedly")
                return _json(
                    {
                        "status": "error",
                        "problems": [
                            f"reload failed unexpectedly ({type(exc).__name__}); see the log"
                        ],
                    },
                    status=500,
                )
        if outcome.ok:
            changes = {kind: list(ids) for kind, ids in outcome.changes.items()}
            return _json({"status": "success", "changes": changes})
        return _json({"status": "error", "problems": list(outcome.problems)}, status=400)


def create_app(
    *,
    runtime: Runtime,
    exposition: ExpositionCache,
    reload: ReloadFunction | None,
    info: InfoFunction,
    kpis: KpiFunction | None = None,
    alerts: AlertsFunction | None = None,
    goals: GoalsFunction | None = None,
) -> web.Application:
    """The aiohttp application; ``reload`` None disables ``POST /-/reload`` (403)."""
    handlers = _Handlers(runtime, exposition, reload, info, kpis, alerts, goals)
    app = web.Application()
    app.router.add_get("/", handlers.landing)
    app.router.add_get("/metrics", handlers.metrics)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/readyz", handlers.readyz)
    app.router.add_get("/api/v1/status", handlers.status)
    app.router.add_get("/api/v1/kpis", handlers.kpis)
    app.router.add_get("/api/v1/alerts", handlers.alerts)
    app.router.add_get("/api/v1/goals", handlers.goals)
    app.router.add_post("/-/reload", handlers.reload)
    return app


async def start_server(
    app: web.Application,
    host: str,
    port: int,
    *,
    access_log: logging.Logger | None = None,
) -> web.AppRunner:
    """Serve ``app`` on host:port (port 0 picks a free one; see :func:`bound_port`)."""
    runner = web.AppRunner(app, access_log=access_log)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The TCP port the runner's first site listens on."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the server listens on no TCP port; call start_server first")
