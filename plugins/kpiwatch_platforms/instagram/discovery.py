"""A competitor's public counts and media through business discovery: ``GET
/{ig-user-id}?fields=business_discovery.username(name){...}`` with the account's own token.

Business discovery answers the first page of media only (kpiwatch asks up to ``max_posts``,
at most 100); it has no insights.
"""

from __future__ import annotations

import kpiwatch
from kpiwatch.errors import NotFound
from kpiwatch_platforms.instagram.account import account_samples
from kpiwatch_platforms.instagram.media import MEDIA_FIELDS, media_post
from kpiwatch_platforms.meta_graph.client import GraphClient

#: Business discovery returns at most this many media in one answer.
MAX_MEDIA = 100


async def discovered(
    ctx: kpiwatch.CollectContext,
    graph: GraphClient,
    ig_user_id: str,
    username: str,
    max_posts: int,
) -> kpiwatch.CollectResult:
    """The competitor's followers, follows, media count and recent media."""
    limit = min(max_posts, MAX_MEDIA)
    fields = (
        f"business_discovery.username({username})"
        f"{{followers_count,follows_count,media_count,media.limit({limit}){{{MEDIA_FIELDS}}}}}"
    )
    body = await graph.body(ig_user_id, {"fields": fields})
    found = body.obj(body.data, "business_discovery", "")
    if not found:
        raise NotFound(
            f"{body.where}: business discovery found no professional account @{username}; "
            "check the username (personal accounts cannot be read)"
        )
    samples = account_samples(body, found, "business_discovery.")
    media = body.obj(found, "media", "business_discovery.")
    posts = []
    for i, item in enumerate(body.objects(media, "data", "business_discovery.media.")):
        post = media_post(body, item, f"business_discovery.media.data[{i}].", ctx.now)
        if post is not None:
            posts.append(post)
    return kpiwatch.CollectResult(samples, posts[:max_posts])
