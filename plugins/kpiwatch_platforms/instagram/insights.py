"""Account insights (``GET /{ig-user-id}/insights``) over the last 1, 7 and 28 days.

Each window is one request with ``metric_type=total_value``, ``period=day`` and ``since`` /
``until`` at Pacific midnights (Meta's reporting day), ending at the start of today; each value
becomes a sample of that window timestamped at ``until``. A metric the answer leaves out, or
that has no value, gives no sample: Instagram answers an empty set, not 0, when it has no data.

A metric Meta refuses over one day is disabled for the account under its Graph name
(``impressions``); one it refuses over 7 or 28 days only for that window (``reach:28d``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import kpiwatch
from kpiwatch_platforms.instagram.metrics import ACCOUNT_METRICS_BY_VERSION, WINDOW_DAYS
from kpiwatch_platforms.meta_graph.client import GraphClient
from kpiwatch_platforms.meta_graph.insights import Refusal, fetch_insights
from kpiwatch_platforms.meta_graph.metric_lists import replacement_hint
from kpiwatch_platforms.meta_graph.version import for_version

REPORT_ZONE = ZoneInfo("America/Los_Angeles")


def window_end(now: datetime) -> datetime:
    """The start of today in Pacific time: the end of the last complete reporting day."""
    today = now.astimezone(REPORT_ZONE).date()
    return datetime.combine(today, time(0), tzinfo=REPORT_ZONE)


def removal_key(graph: str, window: str) -> str:
    return graph if window == "1d" else f"{graph}:{window}"


async def account_insight_samples(
    ctx: kpiwatch.CollectContext, graph: GraphClient, ig_user_id: str, version: str
) -> list[kpiwatch.Sample]:
    """Reach, views, profile views, website clicks and interactions of the last 1, 7 and 28
    complete days."""
    samples: list[kpiwatch.Sample] = []
    for window, days in WINDOW_DAYS.items():
        samples += await _window(ctx, graph, ig_user_id, version, window, days)
    return samples


async def _window(
    ctx: kpiwatch.CollectContext,
    graph: GraphClient,
    ig_user_id: str,
    version: str,
    window: str,
    days: int,
) -> list[kpiwatch.Sample]:
    metrics = for_version(ACCOUNT_METRICS_BY_VERSION, version)
    by_graph = {m.graph: m.metric for m in metrics}
    asked = [
        m.graph
        for m in metrics
        if ctx.metric_enabled(m.graph) and ctx.metric_enabled(removal_key(m.graph, window))
    ]
    if not asked:
        return []
    refused: set[str] = set()

    def on_refused(name: str, why: Refusal, message: str) -> None:
        refused.add(name)
        if window == "1d":
            hint = replacement_hint(ACCOUNT_METRICS_BY_VERSION, name, version)
            ctx.metric_removed(name, f"instagram: Meta refused {name}{hint}. Meta: {message}")
        else:
            ctx.metric_removed(
                removal_key(name, window),
                f"instagram: Meta does not serve {name} over {window}. Meta: {message}",
            )

    until = window_end(ctx.now)
    since = until - timedelta(days=days)
    params = {
        "metric_type": "total_value",
        "period": "day",
        "since": str(int(since.timestamp())),
        "until": str(int(until.timestamp())),
    }
    values = await fetch_insights(
        graph, f"{ig_user_id}/insights", asked, params, on_refused, any_code_100=window != "1d"
    )
    for name in set(asked) - refused:
        if removal_key(name, window) in ctx.removed_metrics:
            ctx.metric_restored(removal_key(name, window))
    return [
        kpiwatch.Sample(by_graph[v.name], v.value, window, timestamp=until)
        for v in values
        if v.name in by_graph and v.name not in refused
    ]
