"""One poll of one X account: the user's counters, then its recent posts and their sums over
the windows the posts read cover."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import kpiwatch
from kpiwatch.toolkit.windows import POSTS_PUBLISHED, read_back_to, window_sums
from kpiwatch_platforms.x.client import Timeline, XClient
from kpiwatch_platforms.x.mapping import ACCOUNT_FIELDS, POST_METRICS, account_counts, to_post
from kpiwatch_platforms.x.settings import XSettings

#: Post metrics only the account's own user token can read.
NON_PUBLIC_METRIC = "clicks"


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Followers, following and posts of the account, and its posts of the last
    ``post_days`` days with their counters."""
    settings: XSettings = ctx.settings
    client = XClient(ctx, settings)
    user = await client.user(settings.username)
    samples = _account_samples(ctx, user)
    wanted = [m for m in POST_METRICS if ctx.metric_enabled(m)]
    non_public = client.user_context and NON_PUBLIC_METRIC in wanted
    since = ctx.now - timedelta(days=settings.post_days)
    timeline = await client.posts(
        str(user["id"]),
        since=since,
        max_posts=settings.max_posts,
        include_replies=settings.include_replies,
        non_public=non_public,
    )
    if non_public:
        _check_non_public(ctx, timeline, settings.username)
    posts = _posts(ctx, timeline, settings.username, wanted)
    samples += _window_samples(ctx, timeline, posts, since, non_public)
    ctx.log.debug("x polled", posts=len(posts), pages=timeline.pages, non_public=non_public)
    return kpiwatch.CollectResult(samples=samples, posts=posts)


def _account_samples(ctx: kpiwatch.CollectContext, user: dict[str, Any]) -> list[kpiwatch.Sample]:
    samples = []
    for metric, value in account_counts(user["public_metrics"]).items():
        if not ctx.metric_enabled(metric):
            continue
        if value is None:
            ctx.metric_removed(
                metric, f"X no longer sends public_metrics.{ACCOUNT_FIELDS[metric]} of users"
            )
            continue
        samples.append(kpiwatch.Sample(metric, value))
    return samples


def _check_non_public(ctx: kpiwatch.CollectContext, timeline: Timeline, username: str) -> None:
    """X refused ``non_public_metrics`` (a partial error next to the posts): stop asking for
    link clicks on this account; when X serves them again, enable them again."""
    refused = [
        p
        for p in timeline.errors
        if p.kind == "not-authorized-for-field"
        and p.field.startswith("non_public_metrics")
        and p.section in ("", "data")
    ]
    if refused:
        ctx.metric_removed(
            NON_PUBLIC_METRIC,
            f"X refused non_public_metrics ({refused[0].describe()}); user_auth must be the "
            f"authorisation of @{username} itself",
        )
    elif NON_PUBLIC_METRIC in ctx.removed_metrics and any(
        isinstance(p.get("non_public_metrics"), dict) for p in timeline.posts
    ):
        ctx.metric_restored(NON_PUBLIC_METRIC)


def _posts(
    ctx: kpiwatch.CollectContext, timeline: Timeline, username: str, wanted: list[str]
) -> list[kpiwatch.Post]:
    if not timeline.posts and timeline.errors:
        ctx.log.warning("no posts readable", errors=[p.describe() for p in timeline.errors[:3]])
    posts = []
    skipped = 0
    for tweet in timeline.posts:
        post = to_post(tweet, timeline.media, username)
        if post is None:
            skipped += 1
            continue
        metrics = {m: v for m, v in post.metrics.items() if m in wanted}
        posts.append(
            kpiwatch.Post(post.id, post.published_at, post.content_type, metrics, post.url)
        )
    if skipped:
        ctx.log.warning("posts without id or created_at skipped", skipped=skipped)
    return posts


def _window_samples(
    ctx: kpiwatch.CollectContext,
    timeline: Timeline,
    posts: list[kpiwatch.Post],
    since: datetime,
    non_public: bool,
) -> list[kpiwatch.Sample]:
    """posts_published and the sums of the post counters X served, over the windows (1d, 7d,
    28d) the timeline was read back past: all of ``post_days`` when it was read to its end,
    else those after the oldest post read before ``max_posts`` stopped it. A post that could not
    be read (no id or created_at, or left out by X) leaves every window incomplete."""
    if len(posts) < len(timeline.posts) or timeline.left_out:
        if timeline.left_out:
            ctx.log.warning("posts left out by X: no window sums", left_out=timeline.left_out[:3])
        return []
    served = [m for m in POST_METRICS if m != NON_PUBLIC_METRIC or non_public]
    metrics = [m for m in (POSTS_PUBLISHED, *served) if ctx.metric_enabled(m)]
    oldest = min((p.published_at for p in posts), default=None)
    covered_since = read_back_to(since, oldest, complete=timeline.complete)
    return window_sums(posts, metrics, now=ctx.now, covered_since=covered_since)
