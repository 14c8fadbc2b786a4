"""Page insights by day, week and 28 days (``GET /{page-id}/insights``), as samples.

The daily series is read from ``history_days`` back on first contact, later from
``revisit_days`` before the last day read (Meta revises recent days); each value becomes a
``1d`` sample timestamped at its ``end_time`` (the end of the day, midnight Pacific time).
``week`` and ``days_28`` values become ``7d`` and ``28d`` samples of their last days. Level
metrics (``page_follows``) are read by day only and become ``followers`` at each day's end.

A metric Meta refuses by day is disabled for the account under its Graph name
(``page_fans``); one it refuses by week or 28 days only for that period (``page_views_total:week``).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import kpiwatch
from kpiwatch_platforms.facebook.metrics import PAGE_METRICS_BY_VERSION, PERIOD_WINDOWS
from kpiwatch_platforms.facebook.settings import FacebookSettings
from kpiwatch_platforms.meta_graph.client import GraphClient
from kpiwatch_platforms.meta_graph.insights import InsightValue, Refusal, fetch_insights
from kpiwatch_platforms.meta_graph.metric_lists import InsightMetric, replacement_hint
from kpiwatch_platforms.meta_graph.version import for_version

#: Meta's reporting day: Page insights days end at midnight Pacific time.
REPORT_ZONE = ZoneInfo("America/Los_Angeles")
#: The state key of the end date of the last daily value read.
LAST_DAY_KEY = "insights_last_day"
#: Days of week and days_28 values asked each poll (their latest value is what counts).
ROLLING_DAYS = 2


def day_range(
    now: datetime, last_day: str | None, history_days: int, revisit_days: int
) -> tuple[date, date]:
    """``since`` and ``until`` of the daily request: up to today (Pacific time), from
    ``history_days`` back, or from ``revisit_days`` before the last day read."""
    until = now.astimezone(REPORT_ZONE).date()
    since = until - timedelta(days=history_days)
    if last_day is not None:
        # a state written by something else: read the whole history again
        with suppress(ValueError):
            since = max(since, date.fromisoformat(last_day) - timedelta(days=revisit_days + 1))
    return min(since, until - timedelta(days=1)), until


class PageInsights:
    """The insights requests of one poll of one Page."""

    def __init__(
        self, ctx: kpiwatch.CollectContext, graph: GraphClient, settings: FacebookSettings
    ) -> None:
        self.ctx = ctx
        self.graph = graph
        self.settings = settings
        self.metrics = for_version(PAGE_METRICS_BY_VERSION, settings.api_version)
        self.path = f"{settings.page_id}/insights"

    async def samples(self) -> list[kpiwatch.Sample]:
        ctx, settings = self.ctx, self.settings
        since, until = day_range(
            ctx.now, ctx.state.get(LAST_DAY_KEY), settings.history_days, settings.revisit_days
        )
        daily = [m for m in self.metrics if ctx.metric_enabled(m.graph)]
        served = await self._ask(daily, "day", since, until)
        samples = self._samples(served, "day")
        ends = [
            value.end_time
            for values in served.values()
            for value in values
            if value.end_time is not None and value.end_time <= ctx.now
        ]
        if ends:
            ctx.state[LAST_DAY_KEY] = max(ends).astimezone(REPORT_ZONE).date().isoformat()
        for period in ("week", "days_28"):
            rolling = [
                m
                for m in daily
                if not m.level and m.graph in served and ctx.metric_enabled(f"{m.graph}:{period}")
            ]
            start = until - timedelta(days=ROLLING_DAYS)
            samples += self._samples(await self._ask(rolling, period, start, until), period)
        return samples

    async def _ask(
        self, metrics: list[InsightMetric], period: str, since: date, until: date
    ) -> dict[str, list[InsightValue]]:
        """The values of the metrics Meta served, by Graph name (an empty list when it served
        none); refused ones are disabled."""
        if not metrics:
            return {}
        ctx = self.ctx
        refused: set[str] = set()

        def on_refused(graph: str, why: Refusal, message: str) -> None:
            refused.add(graph)
            if period == "day":
                hint = replacement_hint(PAGE_METRICS_BY_VERSION, graph, self.settings.api_version)
                ctx.metric_removed(graph, f"facebook: Meta refused {graph}{hint}. Meta: {message}")
            else:
                ctx.metric_removed(
                    f"{graph}:{period}",
                    f"facebook: Meta does not serve {graph} by {period}. Meta: {message}",
                )

        params = {"period": period, "since": since.isoformat(), "until": until.isoformat()}
        values = await fetch_insights(
            self.graph,
            self.path,
            [m.graph for m in metrics],
            params,
            on_refused,
            any_code_100=period != "day",
        )
        served: dict[str, list[InsightValue]] = {
            m.graph: [] for m in metrics if m.graph not in refused
        }
        for value in values:
            if value.name in served and value.period in (period, ""):
                served[value.name].append(value)
        for graph in served:
            key = graph if period == "day" else f"{graph}:{period}"
            if key in ctx.removed_metrics:
                ctx.metric_restored(key)
        return served

    def _samples(self, served: dict[str, list[InsightValue]], period: str) -> list[kpiwatch.Sample]:
        window = PERIOD_WINDOWS[period]
        by_graph = {m.graph: m for m in self.metrics}
        samples = []
        for graph, values in served.items():
            metric = by_graph[graph]
            for value in values:
                if value.end_time is None or value.end_time > self.ctx.now:
                    continue  # a day that is not over yet
                samples.append(
                    kpiwatch.Sample(
                        metric.metric,
                        value.value,
                        None if metric.level else window,
                        timestamp=value.end_time,
                    )
                )
        return samples
