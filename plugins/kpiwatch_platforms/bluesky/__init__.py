"""The built-in ``bluesky`` platform: profile counters, recent posts with likes, reposts,
quotes and replies from the public AppView, and mentions through an app-password session.

README.md in this folder describes the set-up, the metrics and the API's limits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.bluesky import xrpc
from kpiwatch_platforms.bluesky.collect import collect
from kpiwatch_platforms.bluesky.settings import BlueskySettings

#: The PDS answers with ``ratelimit-*`` headers (reset in unix seconds, policy ``3000;w=300``);
#: the AppView sends none. 10 calls a second per credential keeps within 3000 per 5 minutes.
API_POLICY = ApiPolicy(rate=(10, 1.0), rate_limit_headers="ietf", classify=xrpc.classify)

PLATFORM = kpiwatch.Platform(
    name="bluesky",
    collect=collect,
    settings=BlueskySettings,
    description="Bluesky (AT Protocol): followers, posts, likes, reposts, replies, mentions",
    metrics=(
        "followers",
        "following",
        "posts",
        "posts_published",
        "likes",
        "comments",
        "shares",
        "saves",
        "mentions",
    ),
    default_interval=timedelta(minutes=15),
    api=API_POLICY,
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``bluesky`` platform."""
    register(PLATFORM)
