"""X objects in the vocabulary: user counters as samples, posts as ``kpiwatch.Post``.

User ``public_metrics``: ``followers_count`` -> followers, ``following_count`` -> following,
``tweet_count`` -> posts. Post ``public_metrics``: ``like_count`` -> likes, ``reply_count`` ->
comments, ``retweet_count + quote_count`` -> shares, ``bookmark_count`` -> saves,
``impression_count`` -> impressions; ``non_public_metrics.url_link_clicks`` -> clicks; the
``view_count`` of attached videos and GIFs -> video_views.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import kpiwatch

#: Account metric -> field of the user's ``public_metrics``.
ACCOUNT_FIELDS: dict[str, str] = {
    "followers": "followers_count",
    "following": "following_count",
    "posts": "tweet_count",
}
#: Every metric a post may carry.
POST_METRICS = ("impressions", "video_views", "likes", "comments", "shares", "saves", "clicks")

VIDEO_TYPES = frozenset({"video", "animated_gif"})
X_HOSTS = frozenset({"x.com", "twitter.com", "www.x.com", "www.twitter.com", "mobile.x.com",
                     "mobile.twitter.com", "t.co"})  # fmt: skip


def count(value: object) -> float | None:
    """``value`` as a count, or None when it is not a non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def account_counts(public_metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Account metric -> its value in the user's ``public_metrics`` (None when absent)."""
    return {metric: count(public_metrics.get(name)) for metric, name in ACCOUNT_FIELDS.items()}


def post_metrics(
    tweet: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]
) -> dict[str, float]:
    """The vocabulary metrics of one post; a counter X did not send is left out."""
    public = _mapping(tweet.get("public_metrics"))
    private = _mapping(tweet.get("non_public_metrics"))
    metrics: dict[str, float] = {}
    for metric, value in (
        ("likes", public.get("like_count")),
        ("comments", public.get("reply_count")),
        ("saves", public.get("bookmark_count")),
        ("impressions", _first(public.get("impression_count"), private.get("impression_count"))),
        ("clicks", private.get("url_link_clicks")),
    ):
        if (number := count(value)) is not None:
            metrics[metric] = number
    shares = [count(public.get(k)) for k in ("retweet_count", "quote_count")]
    if any(s is not None for s in shares):
        metrics["shares"] = sum(s for s in shares if s is not None)
    views = [
        count(_mapping(item.get("public_metrics")).get("view_count"))
        for item in _attached(tweet, media)
        if item.get("type") in VIDEO_TYPES
    ]
    if any(v is not None for v in views):
        metrics["video_views"] = sum(v for v in views if v is not None)
    return metrics


def content_type(tweet: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]) -> str:
    """``video`` (video or GIF attached), ``image`` (photos), ``link`` (a link to outside X),
    ``text``; ``other`` when media are attached but X did not describe them."""
    keys = _media_keys(tweet)
    types = {item.get("type") for item in _attached(tweet, media)}
    if types & VIDEO_TYPES:
        return "video"
    if "photo" in types:
        return "image"
    if keys:
        return "other"
    if _links_outside(tweet):
        return "link"
    return "text"


def to_post(
    tweet: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]], username: str
) -> kpiwatch.Post | None:
    """The post, or None when it has no id or no readable ``created_at``."""
    post_id = tweet.get("id")
    published = _time(tweet.get("created_at"))
    if not isinstance(post_id, str | int) or not str(post_id) or published is None:
        return None
    return kpiwatch.Post(
        id=str(post_id),
        published_at=published,
        content_type=content_type(tweet, media),
        metrics=post_metrics(tweet, media),
        url=f"https://x.com/{username}/status/{post_id}",
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first(*values: object) -> object:
    return next((v for v in values if v is not None), None)


def _media_keys(tweet: Mapping[str, Any]) -> list[str]:
    keys = _mapping(tweet.get("attachments")).get("media_keys")
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _attached(
    tweet: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    return [media[k] for k in _media_keys(tweet) if k in media]


def _links_outside(tweet: Mapping[str, Any]) -> bool:
    urls = _mapping(tweet.get("entities")).get("urls")
    for entity in urls if isinstance(urls, list) else []:
        if not isinstance(entity, Mapping) or entity.get("media_key"):
            continue
        target = entity.get("unwound_url") or entity.get("expanded_url") or ""
        host = urlsplit(target).hostname if isinstance(target, str) else None
        if host and host.lower() not in X_HOSTS:
            return True
    return False


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
