"""The organization's recent posts with their lifetime share statistics.

- ``GET /posts?author={urn}&q=author&count={n}&start={i}&sortBy=LAST_MODIFIED`` pages through
  the posts (``start``/``count``), most recently modified first, until a page is short or
  its last post was last modified before the window;
- ``GET /organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={urn}
  &shares=List({share urns})`` (and ``ugcPosts=List(...)`` for ``urn:li:ugcPost`` posts) gives
  one element per post, named by its ``share`` or ``ugcPost`` field. A post left out of that
  answer has, as LinkedIn documents, no actions or impressions: counts of 0.

Posts are counted per window as ``posts_published`` (``kpiwatch.toolkit.windows``) for the
windows the listing covered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import kpiwatch
from kpiwatch.errors import BadResponse
from kpiwatch.toolkit.windows import read_back_to
from kpiwatch_platforms.linkedin.client import LinkedInClient
from kpiwatch_platforms.linkedin.mapping import (
    SHARE_METRICS,
    content_type,
    moment,
    post_url,
    share_metrics,
    zero_share_metrics,
)
from kpiwatch_platforms.linkedin.settings import LinkedInSettings

#: A safety stop for paging.
MAX_PAGES = 40
#: Post URNs per statistics request (the URL stays short).
STATISTICS_BATCH = 20
#: Statistics query parameter and element field per post URN kind.
URN_KINDS = {"urn:li:share:": ("shares", "share"), "urn:li:ugcPost:": ("ugcPosts", "ugcPost")}


def _published(post: Mapping[str, Any]) -> datetime | None:
    return moment(post.get("publishedAt")) or moment(post.get("createdAt"))


@dataclass(frozen=True)
class Listing:
    """The posts one poll kept, and the time back to which it saw every post published."""

    posts: list[Mapping[str, Any]]
    covered_since: datetime


async def recent_posts(
    client: LinkedInClient, settings: LinkedInSettings, since: datetime
) -> Listing:
    """The organization's published posts since ``since``, newest first, at most
    ``max_posts``.

    The listing is ordered by last modification, and a post is modified at or after it is
    published: once a page ends with a post last modified before ``since``, every later one
    is older. When ``max_posts`` stops the reading earlier, every post published after the
    last modification read was seen.
    """
    kept: list[Mapping[str, Any]] = []
    start = 0
    complete = False
    last_modified: datetime | None = None
    for _ in range(MAX_PAGES):
        body, where = await client.get(
            "/posts",
            {
                "author": settings.organization_urn,
                "q": "author",
                "count": settings.page_size,
                "start": start,
                "sortBy": "LAST_MODIFIED",
            },
        )
        elements = body.get("elements")
        if not isinstance(elements, list):
            raise BadResponse(f"{where}: 'elements' is not a list of posts")
        posts = [e for e in elements if isinstance(e, Mapping)]
        kept += [post for post in posts if _published_since(post, since)]
        last_modified = moment(posts[-1].get("lastModifiedAt")) if posts else None
        complete = (
            len(elements) < settings.page_size
            or (last_modified is not None and last_modified < since)
            or _is_last_page(body, start, len(elements))
        )
        if complete or len(kept) >= settings.max_posts:
            break
        start += len(elements)
    kept.sort(key=lambda p: _published(p) or since, reverse=True)
    covered = read_back_to(since, last_modified, complete=complete)
    if len(kept) > settings.max_posts:
        del kept[settings.max_posts :]
        oldest = _published(kept[-1])
        assert oldest is not None
        covered = max(covered, read_back_to(since, oldest, complete=False))
    return Listing(kept, covered)


def _published_since(post: Mapping[str, Any], since: datetime) -> bool:
    published = _published(post)
    return (
        isinstance(post.get("id"), str)
        and post.get("lifecycleState", "PUBLISHED") == "PUBLISHED"
        and published is not None
        and published >= since
    )


def _is_last_page(body: Mapping[str, Any], start: int, count: int) -> bool:
    paging = body.get("paging")
    total = paging.get("total") if isinstance(paging, Mapping) else None
    return isinstance(total, int) and start + count >= total


async def post_statistics(
    client: LinkedInClient, settings: LinkedInSettings, urns: list[str]
) -> dict[str, dict[str, float]]:
    """Lifetime share statistics per post URN (share and ugcPost URNs only)."""
    found: dict[str, dict[str, float]] = {}
    for prefix, (parameter, field) in URN_KINDS.items():
        group = [u for u in urns if u.startswith(prefix)]
        for i in range(0, len(group), STATISTICS_BATCH):
            batch = group[i : i + STATISTICS_BATCH]
            body, where = await client.get(
                "/organizationalEntityShareStatistics",
                {
                    "q": "organizationalEntity",
                    "organizationalEntity": settings.organization_urn,
                    parameter: batch,
                },
            )
            elements = body.get("elements")
            if not isinstance(elements, list):
                raise BadResponse(f"{where}: 'elements' is not a list")
            for element in elements:
                if not isinstance(element, Mapping):
                    continue
                urn = element.get(field)
                statistics = element.get("totalShareStatistics")
                if urn in batch and isinstance(statistics, Mapping):
                    found[urn] = share_metrics(statistics)
            for urn in batch:
                found.setdefault(urn, zero_share_metrics())
    return found


async def posts_with_statistics(
    ctx: kpiwatch.CollectContext, client: LinkedInClient, settings: LinkedInSettings
) -> tuple[list[kpiwatch.Post], datetime]:
    """The recent posts as ``kpiwatch.Post`` with the enabled share metrics, and the time back
    to which every post published was seen."""
    listing = await recent_posts(client, settings, ctx.now - timedelta(days=settings.post_days))
    posts = listing.posts
    wanted = {m for m in SHARE_METRICS if ctx.metric_enabled(m)}
    urns = [str(p["id"]) for p in posts]
    statistics = await post_statistics(client, settings, urns) if wanted and urns else {}
    result = []
    for post in posts:
        urn = str(post["id"])
        published = _published(post)
        assert published is not None  # recent_posts keeps dated posts only
        metrics = {m: v for m, v in statistics.get(urn, {}).items() if m in wanted}
        result.append(kpiwatch.Post(urn, published, content_type(post), metrics, post_url(urn)))
    return result, listing.covered_since
