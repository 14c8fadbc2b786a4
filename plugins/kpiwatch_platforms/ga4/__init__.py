"""The ``ga4`` platform: website sessions, engaged sessions, bounces, key events (conversions)
and revenue per day, traffic source and medium from the Google Analytics 4 Data API, mapped to
referral traffic and conversions per social platform.

README.md in this folder explains the set-up, the metrics and the token quotas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.ga4.collect import collect
from kpiwatch_platforms.ga4.errors import classify
from kpiwatch_platforms.ga4.metrics import VOCABULARY
from kpiwatch_platforms.ga4.settings import STANDARD_TOKENS_PER_DAY, GA4Settings

#: How kpiwatch talks to the Data API: no rate-limit headers (the token quotas come in the
#: answers' propertyQuota); a daily budget of tokens per property (the account's
#: ``tokens_per_day`` sets its size), reset at midnight Pacific time (unconfirmed); at most
#: 10 requests a second per property (GA4 allows 10 concurrent requests of a standard one).
POLICY = ApiPolicy(
    rate=(10, 1.0),
    rate_limit_headers=None,
    daily_quota=STANDARD_TOKENS_PER_DAY,
    quota_timezone="America/Los_Angeles",
    classify=classify,
)

PLATFORM = kpiwatch.Platform(
    name="ga4",
    collect=collect,
    settings=GA4Settings,
    description=(
        "Google Analytics 4 property: daily sessions, engaged sessions, bounces, key events "
        "and revenue by traffic source and medium (Data API runReport), for referral traffic "
        "and conversions from each social platform"
    ),
    metrics=VOCABULARY,
    max_concurrency=4,
    default_interval=timedelta(hours=1),
    api=POLICY,
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``ga4`` platform."""
    register(PLATFORM)
