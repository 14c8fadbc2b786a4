"""The ``facebook`` platform: a Facebook Page's followers, Page insights (views, reach,
engagements, profile views, clicks, follows) by day, week and 28 days, and its recent posts
with their reactions, comments, shares and insights, from the Meta Graph API.

README.md in this folder explains the set-up (the long-lived Page token), the metrics, the
2025 metric removals and the rate limits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch_platforms.facebook.collect import collect
from kpiwatch_platforms.facebook.settings import FacebookSettings
from kpiwatch_platforms.meta_graph import graph_policy

PLATFORM = kpiwatch.Platform(
    name="facebook",
    collect=collect,
    settings=FacebookSettings,
    description=(
        "Facebook Page (Meta Graph API): followers; Page insights by day, week and 28 days "
        "(views, reach, engagements, profile views, clicks, follows); recent posts with "
        "reactions, comments, shares, views, reach and clicks"
    ),
    metrics=(
        "followers",
        "impressions",
        "reach",
        "engagements",
        "profile_views",
        "clicks",
        "likes",
        "comments",
        "shares",
    ),
    max_concurrency=4,
    default_interval=timedelta(hours=1),  # Page insights update about once a day
    api=graph_policy(),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``facebook`` platform."""
    register(PLATFORM)
