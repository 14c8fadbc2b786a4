"""The ``x`` plugin: X (Twitter) API v2 accounts.

Followers, following and posts of the account, and its recent posts with their public
counters (likes, replies, reposts and quotes, bookmarks, impressions, video views) and, with
the account's own OAuth 2.0 authorisation, link clicks; the sums of those counters and the
number of posts published over the 1d, 7d and 28d windows the posts read cover. README.md in
this folder describes the set-up, the metrics and the limits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch.toolkit.windows import POSTS_PUBLISHED
from kpiwatch_platforms.x.collect import collect
from kpiwatch_platforms.x.mapping import ACCOUNT_FIELDS, POST_METRICS
from kpiwatch_platforms.x.problems import classify
from kpiwatch_platforms.x.settings import XSettings

PLATFORM = kpiwatch.Platform(
    name="x",
    collect=collect,
    settings=XSettings,
    description=(
        "X (Twitter) API v2: followers, following, posts; recent posts with likes, replies, "
        "reposts and quotes, bookmarks, impressions, video views, and link clicks with the "
        "account's own authorisation; their sums and the posts published per 1d/7d/28d window."
    ),
    # account samples only: counters, and the window sums of the posts (README: Metrics)
    metrics=(*ACCOUNT_FIELDS, POSTS_PUBLISHED, *POST_METRICS),
    max_concurrency=4,
    default_interval=timedelta(hours=1),  # reads are metered and limited per 15 min or day
    # X limits each endpoint per app (Bearer) or per user token, by plan: the x-rate-limit-*
    # headers say how much is left; no token bucket guesses the plan.
    api=ApiPolicy(rate_limit_headers="x", classify=classify),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``x`` platform."""
    register(PLATFORM)
