"""Statuses as posts: content type, lifetime counters, and their sums over windows by the time
each status was published."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kpiwatch.errors import BadResponse
from kpiwatch.platform import CollectContext, Post, Sample
from kpiwatch_platforms.mastodon.account import count
from kpiwatch_platforms.mastodon.client import PLATFORM
from kpiwatch_platforms.mastodon.windows import count_samples

#: Status counter -> per-post vocabulary metric. Quotes (``quotes_count``) are shares too.
POST_COUNTERS = {
    "favourites_count": "likes",
    "replies_count": "comments",
    "reblogs_count": "shares",
}
QUOTES = "quotes_count"
VIDEO_MEDIA = frozenset({"video", "gifv"})


def content_type(status: dict[str, Any]) -> str:
    """video, carousel (several images), image, other (audio, unknown media, polls), link
    (a preview card) or text."""
    media = [m.get("type") for m in status.get("media_attachments") or [] if isinstance(m, dict)]
    if VIDEO_MEDIA.intersection(media):
        return "video"
    images = media.count("image")
    if images > 1:
        return "carousel"
    if images == 1:
        return "image"
    if media or status.get("poll"):
        return "other"
    if status.get("card"):
        return "link"
    return "text"


def status_post(status: dict[str, Any], published_at: datetime, where: str) -> Post:
    """The status as a Post with likes, comments and shares (those the server sent)."""
    metrics: dict[str, float] = {}
    for field, metric in POST_COUNTERS.items():
        value = count(status, field, where)
        if value is not None:
            metrics[metric] = float(value)
    quotes = count(status, QUOTES, where)
    if quotes is not None and "shares" in metrics:
        metrics["shares"] += quotes
    ident = status.get("id")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or str(ident) == "":
        raise BadResponse(f"{PLATFORM}: {where} sent a status without an id")
    url = status.get("url") or status.get("uri")
    return Post(
        id=str(ident),
        published_at=published_at,
        content_type=content_type(status),
        metrics=metrics,
        url=url if isinstance(url, str) else None,
    )


def window_samples(
    ctx: CollectContext, posts: Sequence[Post], windows: list[tuple[str, datetime]]
) -> list[Sample]:
    """posts_published, likes, comments and shares of the posts published in each window."""
    samples = []
    if ctx.metric_enabled("posts_published"):
        samples += count_samples("posts_published", (p.published_at for p in posts), windows)
    for metric in POST_COUNTERS.values():
        if not ctx.metric_enabled(metric):
            continue
        for window, start in windows:
            published = [p for p in posts if p.published_at >= start]
            if all(metric in p.metrics for p in published):  # missing is not zero
                total = sum(p.metrics[metric] for p in published)
                samples.append(Sample(metric, float(total), window))
    return samples
