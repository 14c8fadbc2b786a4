"""The ``tiktok`` plugin: the authorising TikTok account through the Display API v2.

Followers, following and videos of the account, and its recent public videos with their
views, likes, comments and shares. Access tokens are refreshed from a rotating refresh token
kept in the account's state. README.md in this folder describes the set-up, the metrics and
the limits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.tiktok.collect import collect
from kpiwatch_platforms.tiktok.envelope import RATE_LIMIT, RATE_WINDOW_SECONDS, classify
from kpiwatch_platforms.tiktok.mapping import USER_FIELDS, VIDEO_FIELDS
from kpiwatch_platforms.tiktok.settings import TikTokSettings

#: TikTok allows 600 requests per minute per endpoint (sliding window) and sends no
#: rate-limit headers: a token bucket per credential stays under it; error codes decide the
#: error classes.
POLICY = ApiPolicy(rate=(RATE_LIMIT, RATE_WINDOW_SECONDS), classify=classify)

PLATFORM = kpiwatch.Platform(
    name="tiktok",
    collect=collect,
    settings=TikTokSettings,
    description=(
        "TikTok Display API v2 (the authorising account): followers, following, videos; "
        "recent videos with views, likes, comments and shares."
    ),
    metrics=(*USER_FIELDS, *VIDEO_FIELDS),
    max_concurrency=4,
    default_interval=timedelta(hours=1),
    api=POLICY,
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``tiktok`` platform."""
    register(PLATFORM)
