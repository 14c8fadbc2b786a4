"""Bluesky posts (``app.bsky.feed.defs#postView``) in the kpiwatch vocabulary."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from kpiwatch.platform import Post

#: Per-post vocabulary metric -> the postView counters it adds up.
POST_COUNTERS: dict[str, tuple[str, ...]] = {
    "likes": ("likeCount",),
    "comments": ("replyCount",),
    "shares": ("repostCount", "quoteCount"),  # the vocabulary counts quotes as shares
    "saves": ("bookmarkCount",),
}
POST_URI = re.compile(r"^at://(?P<repo>[^/]+)/app\.bsky\.feed\.post/(?P<rkey>[^/]+)$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """An atproto datetime (``2026-01-02T10:00:00.000Z``) as an aware datetime, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def content_type(embed: Any) -> str:
    """The kpiwatch content type of a post from its embed (view or record form)."""
    if not isinstance(embed, dict):
        return "text"
    kind = str(embed.get("$type", "")).split("#")[0]
    if kind == "app.bsky.embed.recordWithMedia":
        return content_type(embed.get("media"))
    if kind == "app.bsky.embed.images":
        images = embed.get("images")
        return "carousel" if isinstance(images, list) and len(images) > 1 else "image"
    if kind == "app.bsky.embed.video":
        return "video"
    if kind == "app.bsky.embed.external":
        return "link"
    if kind == "app.bsky.embed.record":  # a quote post: the author's own content is its text
        return "text"
    return "other"


def published_at(post: dict[str, Any]) -> datetime | None:
    """When the post was published: the record's ``createdAt``, but never later than when the
    AppView indexed it (a client may set any ``createdAt``), as Bluesky sorts feeds."""
    indexed = parse_time(post.get("indexedAt"))
    record = post.get("record")
    created = parse_time(record.get("createdAt")) if isinstance(record, dict) else None
    if created is None or indexed is None:
        return created or indexed
    return min(created, indexed)


def post_metrics(post: dict[str, Any], enabled: Collection[str]) -> dict[str, float]:
    """The post's lifetime counters by vocabulary name; a counter the view lacks is left out.

    Raises ValueError naming a counter that is not a count.
    """
    metrics: dict[str, float] = {}
    for metric, keys in POST_COUNTERS.items():
        if metric not in enabled:
            continue
        counts = []
        for key in keys:
            value = post.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key}={value!r}, not a count")
            counts.append(value)
        if counts:
            metrics[metric] = float(sum(counts))
    return metrics


def post_url(uri: str, handle: str | None) -> str | None:
    """The bsky.app address of a post, from its at:// URI."""
    match = POST_URI.match(uri)
    if match is None:
        return None
    profile = handle if handle and handle != "handle.invalid" else match["repo"]
    return f"https://bsky.app/profile/{profile}/post/{match['rkey']}"


def to_post(post: dict[str, Any], handle: str | None, enabled: Collection[str]) -> Post:
    """A kpiwatch Post from a postView. Raises ValueError saying what the view lacks."""
    uri = post.get("uri")
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"a post without its uri (uri={uri!r})")
    when = published_at(post)
    if when is None:
        raise ValueError(f"post {uri} without a readable indexedAt or createdAt")
    try:
        metrics = post_metrics(post, enabled)
    except ValueError as exc:
        raise ValueError(f"post {uri} with {exc}") from None
    embed = post.get("embed")
    if embed is None and isinstance(post.get("record"), dict):
        embed = post["record"].get("embed")
    return Post(
        id=uri,
        published_at=when,
        content_type=content_type(embed),
        metrics=metrics,
        url=post_url(uri, handle),
    )
