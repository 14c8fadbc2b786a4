"""LinkedIn objects in the vocabulary, as of the API version the plugin targets.

Share statistics (``totalShareStatistics``): ``impressionCount`` -> impressions,
``uniqueImpressionsCount`` -> reach, ``clickCount`` -> clicks, ``likeCount`` -> likes,
``commentCount`` -> comments, ``shareCount`` -> shares, and ``clickCount + likeCount +
commentCount + shareCount`` -> engagements (the numerator of LinkedIn's own ``engagement``
ratio, "organic clicks, likes, comments and shares over impressions"). Follower statistics:
``organicFollowerGain + paidFollowerGain`` -> followers_gained; network size
``firstDegreeSize`` -> followers. Posts: content type from ``content``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: The LinkedIn-Version this mapping was written and checked against (the settings' default).
TARGET_VERSION = "202609"

#: Vocabulary metric -> field of ``totalShareStatistics``.
SHARE_FIELDS: dict[str, str] = {
    "impressions": "impressionCount",
    "reach": "uniqueImpressionsCount",
    "clicks": "clickCount",
    "likes": "likeCount",
    "comments": "commentCount",
    "shares": "shareCount",
}
#: The fields LinkedIn adds up in its ``engagement`` ratio.
ENGAGEMENT_FIELDS = ("clickCount", "likeCount", "commentCount", "shareCount")
#: Metrics of a post and of a day of share statistics.
SHARE_METRICS = (*SHARE_FIELDS, "engagements")
#: LinkedIn leaves ``uniqueImpressionsCount`` out of time-bound (daily) statistics.
NOT_DAILY = frozenset({"reach"})
#: Every metric the plugin produces (LinkedIn-Version TARGET_VERSION).
METRICS = ("followers", "followers_gained", *SHARE_METRICS, "posts_published")

#: ``content.media.id`` URN kind -> content type.
MEDIA_TYPES = {"image": "image", "video": "video", "document": "carousel"}


def count(value: object) -> float | None:
    """``value`` as a count, or None when it is not a number of 0 or more (LinkedIn reports
    negative likes when a sponsored like is withdrawn)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def share_metrics(statistics: Mapping[str, Any]) -> dict[str, float]:
    """The vocabulary metrics of one ``totalShareStatistics``; a field LinkedIn did not send,
    or sent negative, is left out."""
    metrics: dict[str, float] = {}
    for metric, field in SHARE_FIELDS.items():
        if (number := count(statistics.get(field))) is not None:
            metrics[metric] = number
    parts = [statistics.get(field) for field in ENGAGEMENT_FIELDS]
    numbers = [p for p in parts if isinstance(p, int | float) and not isinstance(p, bool)]
    if len(numbers) == len(parts) and (total := count(sum(numbers))) is not None:
        metrics["engagements"] = total
    return metrics


def zero_share_metrics() -> dict[str, float]:
    """A post LinkedIn left out of its statistics answer: "shares with no actions or
    impressions are not included" and "can be assumed to have counts of 0"."""
    return dict.fromkeys(SHARE_METRICS, 0.0)


def content_type(post: Mapping[str, Any]) -> str:
    """``image``, ``video``, ``carousel`` (documents and multi-image posts), ``link``
    (articles), ``text`` (no content), ``other`` (polls, celebrations, reshares...)."""
    content = post.get("content")
    if not isinstance(content, Mapping) or not content:
        return "other" if isinstance(post.get("reshareContext"), Mapping) else "text"
    media = content.get("media")
    if isinstance(media, Mapping) and isinstance(media.get("id"), str):
        kind = media["id"].split(":")[2] if media["id"].count(":") >= 3 else ""
        return MEDIA_TYPES.get(kind, "other")
    if "multiImage" in content or "carousel" in content:
        return "carousel"
    if "article" in content:
        return "link"
    return "other"


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def moment(milliseconds: object) -> datetime | None:
    """Epoch milliseconds as an aware UTC datetime, or None when it is not a number."""
    if isinstance(milliseconds, bool) or not isinstance(milliseconds, int | float):
        return None
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
