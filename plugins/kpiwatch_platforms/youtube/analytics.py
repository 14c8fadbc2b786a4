"""Daily channel totals from the YouTube Analytics API v2 (the owner's OAuth token).

``GET /reports?ids=channel==ID&dimensions=day&metrics=...`` answers a result table,
``{"columnHeaders": [{"name": "day"}, {"name": "views"}, ...], "rows": [["2026-03-07", 100,
...], ...]}``, one row per day with data (recent days come later: the table stops at the last
day for which every metric asked for exists). Each row becomes ``1d`` samples timestamped at
the end of that day in Pacific time, YouTube's reporting day.

Analytics calls spend no Data API units (``cost=0``): it is another API with its own quota.
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import kpiwatch
from kpiwatch.toolkit.api import ApiClient, ApiResponse
from kpiwatch.toolkit.oauth import OAuth2
from kpiwatch_platforms.youtube.errors import google_error
from kpiwatch_platforms.youtube.reading import Body

#: Analytics metric -> vocabulary metric (window 1d).
DAILY_METRICS: dict[str, str] = {
    "views": "video_views",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "subscribersGained": "followers_gained",
    "subscribersLost": "followers_lost",
}
REPORT_ZONE = ZoneInfo("America/Los_Angeles")
#: Days before the last one reported that are read again: YouTube revises recent days.
REVISIT_DAYS = 3
#: The state key of the last day a report held.
LAST_DAY_KEY = "analytics_last_day"

_UNKNOWN_METRIC = re.compile(r"unknown (?:identifier|metrics?(?:\(s\))?)\W+(\w+)", re.IGNORECASE)


def report_days(now: datetime, last_day: str | None, history_days: int) -> tuple[date, date]:
    """The first and last day to ask for: up to yesterday (Pacific time), from ``history_days``
    back on first contact, else from a few days before the last day reported."""
    end = now.astimezone(REPORT_ZONE).date() - timedelta(days=1)
    start = end - timedelta(days=history_days - 1)
    if last_day is not None:
        # a state written by something else: read the whole history again
        with suppress(ValueError):
            start = max(start, date.fromisoformat(last_day) - timedelta(days=REVISIT_DAYS))
    return min(start, end), end


def day_end(day: date) -> datetime:
    """The end of ``day`` in Pacific time (the next midnight there), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=REPORT_ZONE).astimezone(UTC)


def unknown_metric(response: ApiResponse, asked: list[str]) -> str | None:
    """The metric a 400 answer says is unknown, when it is one of ``asked``."""
    if response.status != 400:
        return None
    _, message = google_error(response.body)
    match = _UNKNOWN_METRIC.search(message)
    return match.group(1) if match and match.group(1) in asked else None


def _served(response: ApiResponse, asked: list[str]) -> bool:
    """A report, or the answer that one of the metrics asked for is unknown (handled here)."""
    return 200 <= response.status < 300 or unknown_metric(response, asked) is not None


async def daily_samples(
    ctx: kpiwatch.CollectContext,
    api: ApiClient,
    oauth: OAuth2,
    *,
    base_url: str,
    channel_id: str,
    history_days: int,
) -> list[kpiwatch.Sample]:
    """The channel's daily totals since the last report, as ``1d`` samples.

    A metric the API calls unknown is disabled for the account (``ctx.metric_removed``) and the
    report is asked again without it.
    """
    asked = [name for name, metric in DAILY_METRICS.items() if ctx.metric_enabled(metric)]
    start, end = report_days(ctx.now, ctx.state.get(LAST_DAY_KEY), history_days)
    while asked:
        params = {
            "ids": f"channel=={channel_id}",
            "startDate": start.isoformat(),
            "endDate": end.isoformat(),
            "metrics": ",".join(asked),
            "dimensions": "day",
            "sort": "day",
        }
        response = await api.request(
            "GET",
            f"{base_url}/reports",
            params=params,
            auth=oauth,
            cost=0,
            accept=partial(_served, asked=list(asked)),
        )
        gone = unknown_metric(response, asked)
        if gone is None:
            return _samples(ctx, Body(response), asked)
        _, message = google_error(response.body)
        ctx.metric_removed(DAILY_METRICS[gone], f"YouTube Analytics: {message}")
        asked.remove(gone)
    return []


def _samples(ctx: kpiwatch.CollectContext, body: Body, asked: list[str]) -> list[kpiwatch.Sample]:
    headers = body.data.get("columnHeaders", [])
    if not isinstance(headers, list) or not all(isinstance(h, dict) for h in headers):
        raise body.bad("columnHeaders", headers, "a list of column objects")
    names = [h.get("name") for h in headers]
    if "day" not in names:
        raise body.bad("columnHeaders", names, "a 'day' column")
    columns: dict[str, int] = {}
    for name in asked:
        metric = DAILY_METRICS[name]
        if name not in names:
            ctx.metric_removed(metric, f"YouTube Analytics answered without the {name} column")
            continue
        columns[name] = names.index(name)
        if metric in ctx.removed_metrics:
            ctx.metric_restored(metric)
    rows = body.data.get("rows") or []  # absent when no day has data yet
    if not isinstance(rows, list):
        raise body.bad("rows", rows, "a list of rows")
    samples: list[kpiwatch.Sample] = []
    last: date | None = None
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise body.bad(f"rows[{i}]", row, f"a list of {len(names)} values")
        day = _day(body, row[names.index("day")], i)
        at = day_end(day)
        if at > ctx.now:
            continue  # a day that is not over yet
        last = max(last, day) if last is not None else day
        for name, column in columns.items():
            value = _number(body, row[column], f"rows[{i}][{column}] ({name})")
            samples.append(kpiwatch.Sample(DAILY_METRICS[name], value, "1d", timestamp=at))
    if last is not None:
        ctx.state[LAST_DAY_KEY] = last.isoformat()
    return samples


def _day(body: Body, value: Any, i: int) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise body.bad(f"rows[{i}] day", value, "a date such as 2026-03-07") from None


def _number(body: Body, value: Any, field: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    raise body.bad(field, value, "a number of 0 or more")
