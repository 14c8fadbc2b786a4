"""The Instagram account's own fields: followers, follows and media counts."""

from __future__ import annotations

from typing import Any

import kpiwatch
from kpiwatch_platforms.meta_graph.reading import GraphBody

ACCOUNT_FIELDS = "id,username,followers_count,follows_count,media_count"
#: Account field -> vocabulary metric.
COUNTS = {"followers_count": "followers", "follows_count": "following", "media_count": "posts"}


def account_samples(body: GraphBody, account: dict[str, Any], path: str) -> list[kpiwatch.Sample]:
    """``followers``, ``following`` and ``posts`` from the counts Meta sends (an absent count
    gives no sample: missing is not zero)."""
    samples = []
    for field, metric in COUNTS.items():
        value = body.number(account, field, path)
        if value is not None:
            samples.append(kpiwatch.Sample(metric, value))
    return samples
