"""One poll of a Bluesky account: profile counters, recent posts and, with a session, mentions."""

from __future__ import annotations

from kpiwatch.platform import CollectContext, CollectResult
from kpiwatch.toolkit.windows import POSTS_PUBLISHED, window_sums
from kpiwatch_platforms.bluesky.feed import read_posts
from kpiwatch_platforms.bluesky.mapping import POST_COUNTERS
from kpiwatch_platforms.bluesky.mentions import count_mentions
from kpiwatch_platforms.bluesky.profile import read_profile
from kpiwatch_platforms.bluesky.session import AppPasswordSession
from kpiwatch_platforms.bluesky.settings import BlueskySettings

#: Period metrics summed from the posts published in each window.
POST_TOTALS = (POSTS_PUBLISHED, *POST_COUNTERS)


async def collect(ctx: CollectContext) -> CollectResult:
    """Read the account from the public AppView; count mentions when an app password is set.

    Competitor accounts are read from public data only: their app password, if any, is unused.
    """
    settings: BlueskySettings = ctx.settings
    profile = await read_profile(ctx, settings)
    feed = await read_posts(ctx, settings, profile)
    # read to the lookback (or the first post) unless the pages ran out first
    covered_since = feed.covered_since or ctx.now - settings.lookback
    enabled = [m for m in POST_TOTALS if ctx.metric_enabled(m)]
    totals = window_sums(feed.posts, enabled, now=ctx.now, covered_since=covered_since)
    samples = [*profile.samples, *totals]
    if settings.login is not None and not ctx.competitor and ctx.metric_enabled("mentions"):
        session = AppPasswordSession(ctx, settings)
        samples += await count_mentions(
            ctx, session, profile.did, profile.handle, settings.lookback
        )
    return CollectResult(samples=samples, posts=feed.posts)
