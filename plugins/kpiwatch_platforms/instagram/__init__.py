"""The ``instagram`` platform: an Instagram professional account's followers, follows and media
count, its insights over 1, 7 and 28 days (views, reach, profile views, website clicks,
interactions) and its recent media by type (image, video, reel, carousel) with their likes,
comments, views, reach, saves, shares and interactions; competitors through business
discovery. From the Meta Graph API (Facebook Login) or the Instagram API (Instagram Login).

README.md in this folder explains the set-up, the metrics, the 2025 metric removals and the
rate limits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch_platforms.instagram.collect import collect
from kpiwatch_platforms.instagram.settings import InstagramSettings
from kpiwatch_platforms.meta_graph import graph_policy

PLATFORM = kpiwatch.Platform(
    name="instagram",
    collect=collect,
    settings=InstagramSettings,
    description=(
        "Instagram professional account (Meta Graph API): followers, follows, media; insights "
        "over 1, 7 and 28 days (views, reach, profile views, website clicks, interactions); "
        "recent media by type with likes, comments, views, reach, saves, shares"
    ),
    metrics=(
        "followers",
        "following",
        "posts",
        "impressions",
        "reach",
        "profile_views",
        "clicks",
        "engagements",
        "likes",
        "comments",
        "saves",
        "shares",
        "video_views",
    ),
    max_concurrency=4,
    default_interval=timedelta(hours=1),  # insights lag up to 48 hours
    api=graph_policy(),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``instagram`` platform."""
    register(PLATFORM)
