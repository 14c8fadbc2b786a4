"""The Page object's own fields: its follower count."""

from __future__ import annotations

import kpiwatch
from kpiwatch_platforms.meta_graph.client import GraphClient

PAGE_FIELDS = "id,name,followers_count"


async def page_samples(graph: GraphClient, page_id: str) -> list[kpiwatch.Sample]:
    """``followers`` from the Page's ``followers_count`` (left out when Meta does not send it:
    missing is not zero)."""
    body = await graph.body(page_id, {"fields": PAGE_FIELDS})
    followers = body.number(body.data, "followers_count", "")
    return [] if followers is None else [kpiwatch.Sample("followers", followers)]
