"""The ``mastodon`` platform: account counters, recent statuses with favourites, boosts and
replies, and mentions, from any Mastodon server's REST API (public data needs no token).

README.md in this folder describes the set-up, the settings and every metric produced.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.mastodon.client import PLATFORM, classify
from kpiwatch_platforms.mastodon.collect import collect
from kpiwatch_platforms.mastodon.settings import MastodonSettings

#: Mastodon's default budget: 300 requests per 5 minutes per account, and per IP address.
API_POLICY = ApiPolicy(rate=(300, 300.0), rate_limit_headers="mastodon", classify=classify)

MASTODON = kpiwatch.Platform(
    name=PLATFORM,
    collect=collect,
    settings=MastodonSettings,
    api=API_POLICY,
    description="Mastodon (any server): followers, statuses, favourites, boosts, replies, mentions",
    metrics=(
        "followers",
        "following",
        "posts",
        "posts_published",
        "likes",
        "comments",
        "shares",
        "mentions",
    ),
    default_interval=timedelta(minutes=15),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the mastodon platform."""
    register(MASTODON)
