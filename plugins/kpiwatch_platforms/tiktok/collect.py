"""One poll of one TikTok account: the user's counters, then its recent videos.

A counter TikTok stops sending is disabled for the account (``ctx.metric_removed``) and its
field is no longer asked for until the retry time; the rest of the poll goes on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import kpiwatch
from kpiwatch.errors import AuthError
from kpiwatch_platforms.tiktok.client import USER_INFO, VIDEO_LIST, TikTokClient
from kpiwatch_platforms.tiktok.mapping import (
    USER_BASE_FIELDS,
    USER_FIELDS,
    VIDEO_BASE_FIELDS,
    VIDEO_FIELDS,
    count,
    to_post,
)
from kpiwatch_platforms.tiktok.settings import TikTokSettings

COMPETITOR_REFUSED = (
    "TikTok's Display API reads only the account that authorised the app, so a competitor "
    "cannot be read with it (the Research API, for approved researchers only, is not "
    "supported): remove competitor: true, or remove the account"
)


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Followers, following and videos of the account, and its videos of the last
    ``video_days`` days with their views, likes, comments and shares."""
    settings: TikTokSettings = ctx.settings
    if ctx.competitor:
        raise AuthError(f"{ctx.platform}: {COMPETITOR_REFUSED}")
    client = TikTokClient(ctx, settings)
    samples = await _account_samples(ctx, client)
    posts = await _posts(ctx, client, settings)
    return kpiwatch.CollectResult(samples=samples, posts=posts)


async def _account_samples(
    ctx: kpiwatch.CollectContext, client: TikTokClient
) -> list[kpiwatch.Sample]:
    wanted = [m for m in USER_FIELDS if ctx.metric_enabled(m)]
    user = await client.user([*USER_BASE_FIELDS, *(USER_FIELDS[m] for m in wanted)])
    samples = []
    for metric in wanted:
        name = USER_FIELDS[metric]
        value = count(user.get(name))
        if value is None:
            ctx.metric_removed(metric, f"{USER_INFO} no longer returns {name} of the user")
            continue
        if metric in ctx.removed_metrics:
            ctx.metric_restored(metric)
        samples.append(kpiwatch.Sample(metric, value))
    return samples


async def _posts(
    ctx: kpiwatch.CollectContext, client: TikTokClient, settings: TikTokSettings
) -> list[kpiwatch.Post]:
    wanted = [m for m in VIDEO_FIELDS if ctx.metric_enabled(m)]
    read = await client.videos(
        [*VIDEO_BASE_FIELDS, *(VIDEO_FIELDS[m] for m in wanted)],
        since=ctx.now - timedelta(days=settings.video_days),
        max_videos=settings.max_videos,
    )
    served = _check_counters(ctx, read.videos, wanted)
    posts = [post for video in read.videos if (post := to_post(video, served)) is not None]
    if len(posts) < len(read.videos):
        ctx.log.warning(
            "videos without id or create_time skipped", skipped=len(read.videos) - len(posts)
        )
    ctx.log.debug("tiktok polled", videos=len(posts), pages=read.pages)
    return posts


def _check_counters(
    ctx: kpiwatch.CollectContext, videos: list[dict[str, Any]], wanted: list[str]
) -> list[str]:
    """The metrics of ``wanted`` that the videos carry; one that none of them carries is
    disabled for the account (no judgement without videos)."""
    if not videos:
        return wanted
    served = []
    for metric in wanted:
        name = VIDEO_FIELDS[metric]
        if all(count(video.get(name)) is None for video in videos):
            ctx.metric_removed(metric, f"{VIDEO_LIST} no longer returns {name} of videos")
            continue
        if metric in ctx.removed_metrics:
            ctx.metric_restored(metric)
        served.append(metric)
    return served
