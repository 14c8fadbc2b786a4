"""The ``youtube`` platform: channel and video statistics from the YouTube Data API v3 (with
the videos published and, without Analytics, their views, likes and comments summed over the
1d, 7d and 28d windows) and, with the owner's OAuth token, daily channel totals from the
YouTube Analytics API v2.

README.md in this folder explains the set-up, the metrics and the quota.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.youtube.analytics import REPORT_ZONE
from kpiwatch_platforms.youtube.collect import collect
from kpiwatch_platforms.youtube.errors import classify
from kpiwatch_platforms.youtube.settings import YouTubeSettings

#: How kpiwatch talks to Google: no rate-limit headers; a daily quota of units per project,
#: reset at midnight Pacific time (the account's ``daily_quota`` setting overrides the size).
POLICY = ApiPolicy(
    rate=(10, 1.0),
    rate_limit_headers=None,
    daily_quota=10_000,
    quota_timezone=REPORT_ZONE.key,
    classify=classify,
)

PLATFORM = kpiwatch.Platform(
    name="youtube",
    collect=collect,
    settings=YouTubeSettings,
    description=(
        "YouTube channel: subscribers, videos and their views, likes and comments, summed per "
        "window (Data API v3); daily views, likes, comments, shares and subscribers "
        "gained/lost (Analytics API)"
    ),
    # account samples only (README: Metrics); the videos' own metrics are in the posts
    metrics=(
        "followers",
        "posts",
        "posts_published",
        "video_views",
        "likes",
        "comments",
        "shares",
        "followers_gained",
        "followers_lost",
    ),
    max_concurrency=4,
    default_interval=timedelta(minutes=30),
    api=POLICY,
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``youtube`` platform."""
    register(PLATFORM)
