"""kpiwatch platform plugin ``hello``: audience, views and recent posts of Hello accounts.

Hello is the fictional social network of kpiwatch's docs/writing-plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch

from .api import POLICY
from .collect import collect
from .settings import HelloSettings

PLATFORM = kpiwatch.Platform(
    name="hello",
    collect=collect,
    settings=HelloSettings,
    description="Hello accounts: followers, views and recent posts.",
    metrics=("followers", "following", "posts", "impressions", "likes", "comments", "shares"),
    max_concurrency=4,  # accounts polled at the same time
    default_interval=timedelta(minutes=15),  # Hello updates its counters every few minutes
    api=POLICY,
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``hello`` platform."""
    register(PLATFORM)
