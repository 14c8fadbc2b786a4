"""TikTok objects in the vocabulary: user counters as samples, videos as ``kpiwatch.Post``.

User (``/v2/user/info/``, scope ``user.info.stats``): ``follower_count`` -> followers,
``following_count`` -> following, ``video_count`` -> posts. Video (``/v2/video/list/``, scope
``video.list``): ``view_count`` -> video_views, ``like_count`` -> likes, ``comment_count`` ->
comments, ``share_count`` -> shares; content type ``video``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kpiwatch

#: Account metric -> field of the user object.
USER_FIELDS: dict[str, str] = {
    "followers": "follower_count",
    "following": "following_count",
    "posts": "video_count",
}
#: Post metric -> field of the video object.
VIDEO_FIELDS: dict[str, str] = {
    "video_views": "view_count",
    "likes": "like_count",
    "comments": "comment_count",
    "shares": "share_count",
}
#: Fields asked of every user and video whatever metrics are enabled.
USER_BASE_FIELDS = ("open_id",)
VIDEO_BASE_FIELDS = ("id", "create_time", "share_url")


def count(value: object) -> float | None:
    """``value`` as a count, or None when it is not a non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def to_post(video: Mapping[str, Any], metrics: list[str]) -> kpiwatch.Post | None:
    """The video as a post with the counters of ``metrics`` it carries; None when it has no
    id or no readable ``create_time``."""
    video_id = video.get("id")
    created = video.get("create_time")
    if not isinstance(video_id, str | int) or not str(video_id):
        return None
    if isinstance(created, bool) or not isinstance(created, int | float) or created <= 0:
        return None
    counters = {m: count(video.get(VIDEO_FIELDS[m])) for m in metrics}
    url = video.get("share_url")
    return kpiwatch.Post(
        id=str(video_id),
        published_at=datetime.fromtimestamp(created, UTC),
        content_type="video",
        metrics={m: v for m, v in counters.items() if v is not None},
        url=url if isinstance(url, str) and url.startswith("https://") else None,
    )
