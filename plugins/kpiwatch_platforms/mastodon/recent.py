"""Reading a newest-first listing back to a point in time, page by page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kpiwatch.errors import BadResponse
from kpiwatch_platforms.mastodon.client import PLATFORM, MastodonClient

Item = dict[str, Any]


@dataclass(frozen=True)
class Recent:
    """Items created since a point in time, newest first, with their creation times.

    ``covered_since``: every item of the listing created at or after it was seen, so counts
    over windows starting then or later are complete.
    """

    items: list[tuple[datetime, Item]]
    covered_since: datetime


def created_at(item: Item, where: str) -> datetime:
    """The item's ``created_at`` as an aware datetime; BadResponse when it is missing or bad."""
    text = item.get("created_at")
    try:
        when = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        when = None
    if when is None:
        raise BadResponse(f"{PLATFORM}: {where} sent an item without a valid created_at: {text!r}")
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def read_recent(
    client: MastodonClient,
    url: str,
    params: Mapping[str, str],
    *,
    since: datetime,
    max_pages: int,
    keep: Callable[[Item], bool] = lambda item: True,
    limit: int | None = None,
) -> Recent:
    """The kept items of the listing at ``url`` created at or after ``since``.

    Follows ``rel="next"`` links until an item older than ``since``, the end of the listing,
    ``limit`` kept items or ``max_pages`` pages, whichever comes first.
    """
    kept: list[tuple[datetime, Item]] = []
    oldest = since  # replaced by the oldest item seen once a page was read
    next_url, query = url, params
    for _ in range(max_pages):
        page = await client.page(next_url, query)
        for item in page.items:
            when = created_at(item, page.url)
            if when < since:
                return Recent(kept, since)
            oldest = when
            if keep(item):
                kept.append((when, item))
                if limit is not None and len(kept) >= limit:
                    return Recent(kept, when)
        if not page.items or page.next_url is None:
            return Recent(kept, since)  # the whole listing was read
        next_url, query = page.next_url, None  # the link carries the query
    return Recent(kept, oldest)
