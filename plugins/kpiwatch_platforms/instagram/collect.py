"""One poll of one Instagram professional account: its counts, insights and recent media;
or, for a competitor, its public counts and media through business discovery."""

from __future__ import annotations

import kpiwatch
from kpiwatch_platforms.instagram.account import ACCOUNT_FIELDS, account_samples
from kpiwatch_platforms.instagram.discovery import discovered
from kpiwatch_platforms.instagram.insights import account_insight_samples
from kpiwatch_platforms.instagram.media import RecentMedia
from kpiwatch_platforms.instagram.settings import InstagramSettings
from kpiwatch_platforms.instagram.token import current_token
from kpiwatch_platforms.meta_graph.client import account_client

COMPETITOR_FIX = (
    "instagram: a competitor account is read through business discovery: give settings.username "
    "(the competitor's) and ig_user_id and access_token of your own professional account"
)


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Poll one account (or a competitor's through business discovery)."""
    settings: InstagramSettings = ctx.settings
    graph = account_client(ctx, settings, await current_token(ctx, settings))
    if settings.username is not None:
        return await discovered(
            ctx, graph, settings.ig_user_id, settings.username, settings.max_posts
        )
    if ctx.competitor:
        raise kpiwatch.CollectError(COMPETITOR_FIX)
    body = await graph.body(settings.ig_user_id, {"fields": ACCOUNT_FIELDS})
    samples = account_samples(body, body.data, "")
    samples += await account_insight_samples(ctx, graph, settings.ig_user_id, settings.api_version)
    posts = await RecentMedia(ctx, graph, settings.api_version).posts(
        settings.ig_user_id,
        recent_days=settings.recent_days,
        max_posts=settings.max_posts,
        with_insights=settings.media_insights,
    )
    return kpiwatch.CollectResult(samples, posts)
