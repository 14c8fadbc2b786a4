"""One poll of one YouTube channel: Data API statistics, recent videos and their sums over
windows, Analytics days."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiClient
from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config
from kpiwatch.toolkit.windows import POSTS_PUBLISHED, read_back_to, window_sums
from kpiwatch_platforms.youtube.analytics import daily_samples
from kpiwatch_platforms.youtube.data_api import DataApi
from kpiwatch_platforms.youtube.mapping import VIDEO_METRICS, channel_samples, video_post
from kpiwatch_platforms.youtube.settings import YouTubeSettings

#: Where the account's state keeps the OAuth tokens.
OAUTH_STATE_KEY = "oauth"


def owner_oauth(settings: YouTubeSettings, state: dict) -> OAuth2 | None:
    """Access tokens from the owner's refresh token (Google's do not rotate, but a new one
    in a refresh answer replaces the old in ``state``)."""
    if settings.oauth is None:
        return None
    config = OAuth2Config(
        token_url=settings.oauth.token_url,
        client_id=settings.oauth.client_id,
        client_secret=settings.oauth.client_secret.get_secret_value(),
        refresh_token=settings.oauth.refresh_token.get_secret_value(),
    )
    return OAuth2(config, state, key=OAUTH_STATE_KEY)


def _client(ctx: kpiwatch.CollectContext, settings: YouTubeSettings) -> ApiClient:
    api = ctx.api
    if api is None:
        raise kpiwatch.CollectError("youtube: the poll has no ctx.api (run it through kpiwatch)")
    if api.policy.daily_quota != settings.daily_quota:
        # the project's quota is the account's setting, not the platform's default
        api.policy = replace(api.policy, daily_quota=settings.daily_quota)
    return api


def window_samples(
    ctx: kpiwatch.CollectContext,
    posts: list[kpiwatch.Post],
    covered_since: datetime,
    *,
    analytics: bool,
) -> list[kpiwatch.Sample]:
    """posts_published over the 1d, 7d and 28d windows the recent videos cover; without
    Analytics also the sums of their views, likes and comments.

    With Analytics (an own channel with ``oauth``), views, likes and comments come as daily
    channel totals only: sums by publication time in the same series would be a second,
    different 1d value, and a 7d or 28d sample would hide the engine's sums of the days.
    """
    summed = () if analytics else VIDEO_METRICS
    metrics = [m for m in (POSTS_PUBLISHED, *summed) if ctx.metric_enabled(m)]
    return window_sums(posts, metrics, now=ctx.now, covered_since=covered_since)


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Poll one channel. Competitors get public statistics only (no Analytics)."""
    settings: YouTubeSettings = ctx.settings
    api = _client(ctx, settings)
    oauth = owner_oauth(settings, ctx.state)
    analytics = oauth is not None and not ctx.competitor
    data = DataApi(api, settings, oauth)
    channel = await data.channel()
    data_budget = api.quota
    samples = channel_samples(ctx, channel)
    posts: list[kpiwatch.Post] = []
    try:
        since = ctx.now - timedelta(days=settings.recent_days)
        covered_since: datetime | None = None
        if channel.videos == 0:
            covered_since = since  # no public video: nothing to read
        elif channel.uploads:
            uploads = await data.recent_uploads(channel.uploads, since, settings.max_videos)
            for video in await data.videos(uploads.ids):
                if (post := video_post(ctx, video)) is not None:
                    posts.append(post)
            covered_since = read_back_to(since, uploads.oldest, complete=uploads.complete)
        if covered_since is not None:
            samples += window_samples(ctx, posts, covered_since, analytics=analytics)
        if analytics:
            samples += await daily_samples(
                ctx,
                api,
                oauth,
                base_url=settings.analytics_url,
                channel_id=channel.id,
                history_days=settings.history_days,
            )
    finally:
        api.quota = data_budget  # report the Data API budget, not the Analytics one
    return kpiwatch.CollectResult(samples, posts)
