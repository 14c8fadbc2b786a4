"""One poll of one Mastodon account: counters, recent statuses as posts, sums over windows,
and mentions."""

from __future__ import annotations

import math
from datetime import datetime

from kpiwatch.platform import CollectContext, CollectResult, Sample
from kpiwatch.toolkit.windows import POSTS_PUBLISHED, window_sums
from kpiwatch_platforms.mastodon.account import account_id, counter_samples, moved_to
from kpiwatch_platforms.mastodon.client import LOOKUP, MastodonClient
from kpiwatch_platforms.mastodon.mentions import hashtag_mentions, notification_mentions
from kpiwatch_platforms.mastodon.posts import POST_COUNTERS, status_post
from kpiwatch_platforms.mastodon.recent import Recent, read_recent
from kpiwatch_platforms.mastodon.settings import MastodonSettings
from kpiwatch_platforms.mastodon.windows import LONGEST_WINDOW, complete_windows, count_samples

STATUSES_PER_PAGE = 40
#: Pages read beyond max_posts / 40, for the direct messages a token's owner also sees.
SPARE_PAGES = 2
#: ctx.state key: set once the log said why the account gets no mentions.
NO_MENTIONS_NOTED = "no_mentions_noted"


async def collect(ctx: CollectContext) -> CollectResult:
    """Read the account, its statuses of the lookback and its mentions."""
    settings: MastodonSettings = ctx.settings
    if ctx.api is None:
        raise RuntimeError("the mastodon platform needs ctx.api, the toolkit's HTTP client")
    # Competitors are read as the public sees them: never with a token.
    token = None if ctx.competitor else settings.secret_token()
    client = MastodonClient(ctx.api, settings.instance, token)
    account = await client.object(LOOKUP, {"acct": settings.account})
    ident = account_id(account, settings.account)
    if (target := moved_to(account)) is not None:
        ctx.log.warning("the account has moved; set settings.account to the new one", to=target)
    result = CollectResult(samples=counter_samples(ctx, account))

    since = ctx.now - settings.lookback
    statuses = await _statuses(client, settings, ident, since)
    where = f"/api/v1/accounts/{ident}/statuses"
    result.posts = [status_post(status, when, where) for when, status in statuses.items]
    # posts_published, likes, comments and shares of the statuses published in each window
    summed = [m for m in (POSTS_PUBLISHED, *POST_COUNTERS.values()) if ctx.metric_enabled(m)]
    result.samples += window_sums(
        result.posts, summed, now=ctx.now, covered_since=statuses.covered_since
    )

    if ctx.metric_enabled("mentions"):
        result.samples += await _mentions(ctx, client, settings, ident)
    return result


async def _statuses(
    client: MastodonClient, settings: MastodonSettings, ident: str, since: datetime
) -> Recent:
    """The account's own statuses (no boosts, no direct messages) since ``since``."""
    params = {
        "limit": str(STATUSES_PER_PAGE),
        "exclude_reblogs": "true",
        "exclude_replies": "false" if settings.include_replies else "true",
    }
    pages = math.ceil(settings.max_posts / STATUSES_PER_PAGE) + SPARE_PAGES
    return await read_recent(
        client,
        client.account_url(ident, "statuses"),
        params,
        since=since,
        max_pages=pages,
        keep=lambda status: status.get("visibility") != "direct" and not status.get("reblog"),
        limit=settings.max_posts,
    )


async def _mentions(
    ctx: CollectContext, client: MastodonClient, settings: MastodonSettings, ident: str
) -> list[Sample]:
    """mentions per window, from the brand hashtags if set, else from the notifications."""
    since = ctx.now - min(settings.lookback, LONGEST_WINDOW)  # older mentions count nowhere
    pages = settings.max_mention_pages
    if settings.mention_hashtags:
        tags = settings.mention_hashtags
        recent = await hashtag_mentions(ctx, client, tags, ident, since, pages)
    elif client.token is not None:
        recent = await notification_mentions(ctx, client, ident, since, pages)
    else:
        if not ctx.state.get(NO_MENTIONS_NOTED):
            ctx.state[NO_MENTIONS_NOTED] = True
            ctx.log.info("no mentions: they need settings.token (own accounts) or mention_hashtags")
        return []
    if recent is None:
        return []
    windows = complete_windows(ctx.now, recent.covered_since, settings.lookback)
    return count_samples("mentions", (when for when, _ in recent.items), windows)
