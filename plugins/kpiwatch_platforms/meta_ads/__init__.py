"""The ``meta_ads`` platform: a Meta ad account's daily spend per campaign, impressions,
clicks, conversions and purchase value from the Marketing API's Ads Insights, for the cost
KPIs (CPC, CPM, CPA, ROAS). Kept apart from organic figures: it is its own account and
platform, so its impressions and clicks never mix with a Page's.

README.md in this folder explains the set-up, the metrics, attribution and the rate limits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch_platforms.meta_ads.collect import collect
from kpiwatch_platforms.meta_ads.settings import MetaAdsSettings
from kpiwatch_platforms.meta_graph import graph_policy

PLATFORM = kpiwatch.Platform(
    name="meta_ads",
    collect=collect,
    settings=MetaAdsSettings,
    description=(
        "Meta ad account (Marketing API Ads Insights): daily spend per campaign, impressions, "
        "clicks, conversions and purchase value, for CPC, CPM, CPA and ROAS"
    ),
    metrics=("spend", "impressions", "clicks", "conversions", "revenue"),
    max_concurrency=4,
    default_interval=timedelta(hours=1),
    api=graph_policy(),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register the ``meta_ads`` platform."""
    register(PLATFORM)
