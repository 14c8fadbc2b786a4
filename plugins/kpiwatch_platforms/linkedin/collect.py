"""One poll of one LinkedIn organization: followers, daily statistics, recent posts and the
number of posts published per window."""

from __future__ import annotations

import kpiwatch
from kpiwatch.toolkit.windows import POSTS_PUBLISHED, window_sums
from kpiwatch_platforms.linkedin.client import LinkedInClient
from kpiwatch_platforms.linkedin.posts import posts_with_statistics
from kpiwatch_platforms.linkedin.settings import LinkedInSettings
from kpiwatch_platforms.linkedin.statistics import (
    daily_share_statistics,
    follower_count,
    follower_gains,
)
from kpiwatch_platforms.linkedin.tokens import check_token


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Poll one organization page. A competitor gets its follower count only: LinkedIn serves
    statistics and posts to the page's administrators alone."""
    settings: LinkedInSettings = ctx.settings
    client = LinkedInClient(ctx, settings)
    await check_token(ctx, client, settings)
    samples = await follower_count(ctx, client, settings)
    if ctx.competitor:
        return kpiwatch.CollectResult(samples=samples)
    samples += await follower_gains(ctx, client, settings)
    samples += await daily_share_statistics(ctx, client, settings)
    posts, covered_since = await posts_with_statistics(ctx, client, settings)
    if ctx.metric_enabled(POSTS_PUBLISHED):
        samples += window_sums(posts, [POSTS_PUBLISHED], now=ctx.now, covered_since=covered_since)
    ctx.log.debug("linkedin polled", samples=len(samples), posts=len(posts))
    return kpiwatch.CollectResult(samples=samples, posts=posts)
