"""Statuses as posts: content type and lifetime counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kpiwatch.errors import BadResponse
from kpiwatch.platform import Post
from kpiwatch_platforms.mastodon.account import count
from kpiwatch_platforms.mastodon.client import PLATFORM

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
