"""Mentions of the account from its notifications (``app.bsky.notification.listNotifications``,
reason ``mention``), which need the account's own session.

Notifications are newest first and paged with ``cursor``; reading stops once a page reaches past
the longest window. A window the pages did not cover completely (``MAX_PAGES`` reached) is not
reported rather than reported too low.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kpiwatch.errors import AuthError, MetricRemoved
from kpiwatch.platform import CollectContext, Sample
from kpiwatch_platforms.bluesky import xrpc
from kpiwatch_platforms.bluesky.mapping import parse_time
from kpiwatch_platforms.bluesky.session import AppPasswordSession
from kpiwatch_platforms.bluesky.windows import WINDOWS, complete_windows

LIST_NOTIFICATIONS = "app.bsky.notification.listNotifications"
PAGE_SIZE = 100
MAX_PAGES = 20


async def count_mentions(
    ctx: CollectContext,
    session: AppPasswordSession,
    did: str,
    handle: str | None,
    lookback: timedelta,
) -> list[Sample]:
    """``mentions`` over each window no longer than ``lookback``, ending now.

    A PDS that no longer implements the method disables ``mentions`` for the account.
    """
    lengths = [length for _, length in WINDOWS if length <= lookback]
    if not lengths:
        return []
    cutoff = ctx.now - max(lengths)
    times: list[datetime] = []
    oldest: datetime | None = None
    complete = False  # the pages reached past the cutoff or the end
    cursor: str | None = None
    for page in range(MAX_PAGES):
        params: dict[str, object] = {"reasons": "mention", "limit": PAGE_SIZE}
        if cursor:
            params["cursor"] = cursor
        try:
            response = await session.get(LIST_NOTIFICATIONS, params)
        except MetricRemoved as exc:
            ctx.metric_removed("mentions", str(exc))
            return []
        if page == 0 and session.did != did:
            raise AuthError(
                f"bluesky: the app password logs in as {session.did}, not as the account "
                f"{handle or did}; set identifier and app_password of that account"
            )
        data = xrpc.object_body(response)
        notifications = data.get("notifications")
        if not isinstance(notifications, list):
            raise xrpc.bad_shape(response, "no notifications list")
        for item in notifications:
            when = parse_time(item.get("indexedAt")) if isinstance(item, dict) else None
            if when is None:
                raise xrpc.bad_shape(response, "a notification without a readable indexedAt")
            oldest = when if oldest is None else min(oldest, when)
            if item.get("reason") == "mention" and when >= cutoff:
                times.append(when)
        next_cursor = data.get("cursor")
        if not notifications or not isinstance(next_cursor, str) or not next_cursor:
            complete = True
            break
        if oldest is not None and oldest < cutoff:
            complete = True
            break
        if next_cursor == cursor:
            break
        cursor = next_cursor
    if "mentions" in ctx.removed_metrics:
        ctx.metric_restored("mentions")
    covered_since = None if complete else (oldest or ctx.now)
    return [
        Sample("mentions", float(sum(1 for t in times if t >= start)), window)
        for window, start in complete_windows(ctx.now, covered_since, lookback)
    ]
