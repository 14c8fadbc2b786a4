"""The ``linkedin`` plugin: LinkedIn organization pages through the Community Management API.

The page's follower count and daily follower gains, the daily share statistics of its posts
(impressions, clicks, likes, comments, shares, engagements) and its recent posts with their
lifetime statistics (also unique impressions as reach). README.md in this folder describes the
set-up, the metrics, the limits and the API versions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.linkedin.collect import collect
from kpiwatch_platforms.linkedin.errors import classify
from kpiwatch_platforms.linkedin.mapping import METRICS, TARGET_VERSION
from kpiwatch_platforms.linkedin.settings import LinkedInSettings

PLATFORM = kpiwatch.Platform(
    name="linkedin",
    collect=collect,
    settings=LinkedInSettings,
    description=(
        f"LinkedIn organization pages (Community Management API, LinkedIn-Version "
        f"{TARGET_VERSION}): followers, daily follower gains and share statistics "
        "(impressions, clicks, likes, comments, shares, engagements), recent posts with their "
        "statistics and reach."
    ),
    metrics=METRICS,
    max_concurrency=4,
    default_interval=timedelta(hours=3),  # daily statistics; limits are per day
    # LinkedIn sends no rate-limit headers; its limits are per app and member per day (429,
    # reset at midnight UTC). A small bucket keeps a poll's requests from bursting.
    api=ApiPolicy(rate=(10, 1.0), classify=classify),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``linkedin`` platform."""
    register(PLATFORM)
