"""Recent posts with their counters from ``app.bsky.feed.getAuthorFeed`` on the public AppView.

The feed is newest first and paged with an opaque ``cursor``. Reading stops when the cursor is
absent, when a page reaches past the lookback, or after ``max_pages`` pages. Reposts of other
people's posts are not the account's posts and are skipped; a post the account reposted itself
appears twice and counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kpiwatch.platform import CollectContext, Post
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch_platforms.bluesky import xrpc
from kpiwatch_platforms.bluesky.mapping import POST_COUNTERS, parse_time, published_at, to_post
from kpiwatch_platforms.bluesky.profile import Profile
from kpiwatch_platforms.bluesky.settings import BlueskySettings

GET_AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"
PAGE_SIZE = 100  # the lexicon's maximum


@dataclass(frozen=True)
class FeedRead:
    """The account's posts within the lookback, and how far back the feed was read completely
    (None: to the lookback or to the account's first post)."""

    posts: list[Post]
    covered_since: datetime | None


async def read_posts(ctx: CollectContext, settings: BlueskySettings, profile: Profile) -> FeedRead:
    """The account's own posts published within ``settings.lookback``, newest first."""
    assert ctx.api is not None
    cutoff = ctx.now - settings.lookback
    enabled = [m for m in POST_COUNTERS if ctx.metric_enabled(m)]
    posts: dict[str, Post] = {}
    cursor: str | None = None
    oldest: datetime | None = None
    complete = False
    for _ in range(settings.max_pages):
        params: dict[str, Any] = {
            "actor": profile.did,
            "limit": PAGE_SIZE,
            "filter": settings.feed_filter,
        }
        if cursor:
            params["cursor"] = cursor
        response = await ctx.api.request(
            "GET", xrpc.url(settings.appview_url, GET_AUTHOR_FEED), params=params
        )
        data = xrpc.object_body(response)
        feed = data.get("feed")
        if not isinstance(feed, list):
            raise xrpc.bad_shape(response, "no feed list")
        for item in feed:
            view = _post_view(response, item)
            when = _sort_time(item, view)
            if when is not None and (oldest is None or when < oldest):
                oldest = when
            if _author(view) != profile.did:  # a repost of someone else's post
                continue
            try:
                post = to_post(view, profile.handle, enabled)
            except ValueError as exc:
                raise xrpc.bad_shape(response, str(exc)) from None
            if post.published_at >= cutoff:
                posts.setdefault(post.id, post)
        next_cursor = data.get("cursor")
        if not feed or not isinstance(next_cursor, str) or not next_cursor:
            complete = True  # the end of the account's feed
            break
        if oldest is not None and oldest < cutoff:
            complete = True
            break
        if next_cursor == cursor:
            break  # a cursor that does not move: read no further
        cursor = next_cursor
    newest_first = sorted(posts.values(), key=lambda p: p.published_at, reverse=True)
    return FeedRead(newest_first, None if complete else (oldest or ctx.now))


def _post_view(response: ApiResponse, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
        raise xrpc.bad_shape(response, "a feed item without a post")
    return item["post"]


def _author(view: dict[str, Any]) -> str | None:
    author = view.get("author")
    return author.get("did") if isinstance(author, dict) else None


def _sort_time(item: dict[str, Any], view: dict[str, Any]) -> datetime | None:
    """Where the item sits in the feed: a repost by its repost time, a post by publication."""
    reason = item.get("reason")
    if isinstance(reason, dict) and reason.get("indexedAt"):
        return parse_time(reason.get("indexedAt"))
    return published_at(view)
