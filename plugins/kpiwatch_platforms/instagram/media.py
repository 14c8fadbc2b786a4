"""The account's recent media (``GET /{ig-user-id}/media``) as posts, with their public
counts and, for the account itself, their lifetime insights (``GET /{ig-media-id}/insights``).

Media insights are refused per media type: ``(#100) The Media Insights API does not support
the views metric for this media product type`` leaves that metric out for that type in this
poll; a metric refused as invalid is disabled for the account (``media:plays``). A media
with too few viewers (``(#10) Not enough viewers for the media to show insights``) has no
insights: its post carries its likes and comments only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import kpiwatch
from kpiwatch_platforms.instagram.metrics import MEDIA_METRICS_BY_VERSION, content_type
from kpiwatch_platforms.meta_graph.client import GraphClient
from kpiwatch_platforms.meta_graph.errors import GraphError
from kpiwatch_platforms.meta_graph.insights import Refusal, fetch_insights
from kpiwatch_platforms.meta_graph.metric_lists import replacement_hint
from kpiwatch_platforms.meta_graph.reading import GraphBody
from kpiwatch_platforms.meta_graph.version import for_version

MEDIA_FIELDS = "id,media_type,media_product_type,timestamp,permalink,like_count,comments_count"
#: Media per page (Graph allows up to 100).
PAGE_SIZE = 25
#: Public counts of a media -> vocabulary metric.
COUNTS = {"like_count": "likes", "comments_count": "comments"}


def not_enough_viewers(error: GraphError) -> bool:
    """Instagram's answer for a media whose insights it withholds."""
    return error.code == 10 and "not enough viewers" in error.message.lower()


def media_post(
    body: GraphBody, item: dict[str, Any], path: str, now: datetime
) -> kpiwatch.Post | None:
    """A media as a post with its likes and comments (absent when hidden); None for one
    that is not published yet."""
    published = body.time(item, "timestamp", path)
    if published is None:
        raise body.bad(f"{path}timestamp", None, "the time the media was published")
    if published > now:
        return None
    metrics = {}
    for field, metric in COUNTS.items():
        value = body.number(item, field, path)
        if value is not None:
            metrics[metric] = value
    kind = content_type(
        body.text(item, "media_type", path), body.text(item, "media_product_type", path)
    )
    return kpiwatch.Post(
        id=body.ident(item, "id", path),
        published_at=published,
        content_type=kind,
        metrics=metrics,
        url=body.text(item, "permalink", path),
    )


class RecentMedia:
    """The media requests of one poll of one account."""

    def __init__(self, ctx: kpiwatch.CollectContext, graph: GraphClient, version: str) -> None:
        self.ctx = ctx
        self.graph = graph
        self.version = version
        self.metrics = [
            m
            for m in for_version(MEDIA_METRICS_BY_VERSION, version)
            if ctx.metric_enabled(f"media:{m.graph}")
        ]
        self.unsupported: dict[str, set[str]] = {}  # product type -> metrics refused for it
        self.served: set[str] = set()

    async def posts(
        self, ig_user_id: str, *, recent_days: int, max_posts: int, with_insights: bool
    ) -> list[kpiwatch.Post]:
        ctx = self.ctx
        since = ctx.now - timedelta(days=recent_days)

        def recent(body: GraphBody, item: dict[str, Any]) -> bool:
            published = body.time(item, "timestamp", "data[].")
            if published is None:
                raise body.bad("data[].timestamp", None, "the time the media was published")
            return published >= since

        params = {"fields": MEDIA_FIELDS, "limit": str(min(PAGE_SIZE, max_posts))}
        items = await self.graph.edge(
            f"{ig_user_id}/media", params, keep=recent, max_items=max_posts
        )
        posts = []
        for i, (body, item) in enumerate(items):
            post = media_post(body, item, f"data[{i}].", ctx.now)
            if post is None:
                continue
            if with_insights and self.metrics:
                product = body.text(item, "media_product_type", f"data[{i}].") or ""
                post = kpiwatch.Post(
                    post.id,
                    post.published_at,
                    post.content_type,
                    {**post.metrics, **await self._insights(post.id, product)},
                    post.url,
                )
            posts.append(post)
        for graph in self.served:
            if f"media:{graph}" in ctx.removed_metrics:
                ctx.metric_restored(f"media:{graph}")
        return posts

    async def _insights(self, media_id: str, product: str) -> dict[str, float]:
        skipped = self.unsupported.setdefault(product, set())
        by_graph = {m.graph: m.metric for m in self.metrics if m.graph not in skipped}
        if not by_graph:
            return {}
        refused: set[str] = set()

        def on_refused(name: str, why: Refusal, message: str) -> None:
            refused.add(name)
            if why is Refusal.UNSUPPORTED:
                skipped.add(name)  # not for this media type: the others still get it
                return
            hint = replacement_hint(MEDIA_METRICS_BY_VERSION, name, self.version)
            self.ctx.metric_removed(
                f"media:{name}", f"instagram: Meta refused media {name}{hint}. Meta: {message}"
            )
            self.metrics = [m for m in self.metrics if m.graph != name]

        values = await fetch_insights(
            self.graph,
            f"{media_id}/insights",
            list(by_graph),
            {},
            on_refused,
            no_data=not_enough_viewers,
        )
        self.served |= set(by_graph) - refused
        return {by_graph[v.name]: v.value for v in values if v.name in by_graph}
