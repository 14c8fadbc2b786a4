"""One poll of one Facebook Page: its follower count, its insights, its recent posts."""

from __future__ import annotations

import kpiwatch
from kpiwatch_platforms.facebook.insights import PageInsights
from kpiwatch_platforms.facebook.page import page_samples
from kpiwatch_platforms.facebook.posts import RecentPosts
from kpiwatch_platforms.facebook.settings import FacebookSettings
from kpiwatch_platforms.meta_graph.client import account_client


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Poll one Page. A competitor's Page gives its public data only: followers and posts
    with their public counters, no insights."""
    settings: FacebookSettings = ctx.settings
    graph = account_client(ctx, settings)
    samples = await page_samples(graph, settings.page_id)
    if not ctx.competitor:
        samples += await PageInsights(ctx, graph, settings).samples()
    recent = RecentPosts(ctx, graph, settings)
    posts = await recent.posts(with_insights=settings.post_insights and not ctx.competitor)
    return kpiwatch.CollectResult(samples, posts)
