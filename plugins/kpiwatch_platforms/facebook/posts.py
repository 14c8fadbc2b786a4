"""The Page's recent posts (``GET /{page-id}/posts``) with their public counters and, for the
Page's own account, their lifetime insights (``GET /{post-id}/insights``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import kpiwatch
from kpiwatch_platforms.facebook.metrics import POST_METRICS_BY_VERSION
from kpiwatch_platforms.facebook.settings import FacebookSettings
from kpiwatch_platforms.meta_graph.client import GraphClient
from kpiwatch_platforms.meta_graph.insights import Refusal, fetch_insights
from kpiwatch_platforms.meta_graph.metric_lists import replacement_hint
from kpiwatch_platforms.meta_graph.reading import GraphBody
from kpiwatch_platforms.meta_graph.version import for_version

POST_FIELDS = (
    "id,created_time,permalink_url,status_type,shares,"
    "reactions.limit(0).summary(total_count),comments.limit(0).summary(total_count),"
    "attachments{media_type,type}"
)
#: Posts per page (Graph allows up to 100).
PAGE_SIZE = 25
#: attachments.media_type -> content type.
MEDIA_TYPES = {"photo": "image", "album": "carousel", "video": "video", "link": "link"}


def content_type(body: GraphBody, post: dict[str, Any], path: str) -> str:
    """``image``, ``carousel``, ``video``, ``reel`` (a video whose permalink is a /reel/ URL),
    ``link`` or ``text`` (no attachment); ``other`` for anything else."""
    attachments = body.objects(body.obj(post, "attachments", path), "data", f"{path}attachments.")
    if not attachments:
        return "video" if post.get("status_type") == "added_video" else "text"
    first = attachments[0]
    kind = MEDIA_TYPES.get(str(first.get("media_type") or ""), "")
    if not kind and first.get("type") == "share":
        kind = "link"
    if kind == "video" and "/reel/" in str(post.get("permalink_url") or ""):
        kind = "reel"
    return kind or "other"


def _summary_count(body: GraphBody, post: dict[str, Any], field: str, path: str) -> float | None:
    summary = body.obj(body.obj(post, field, path), "summary", f"{path}{field}.")
    return body.number(summary, "total_count", f"{path}{field}.summary.")


def public_counters(body: GraphBody, post: dict[str, Any], path: str) -> dict[str, float]:
    """``likes`` (all reactions), ``comments`` and ``shares``. Graph leaves ``shares`` out of a
    post nobody shared, so its absence counts as 0."""
    counters: dict[str, float] = {}
    likes = _summary_count(body, post, "reactions", path)
    comments = _summary_count(body, post, "comments", path)
    if likes is not None:
        counters["likes"] = likes
    if comments is not None:
        counters["comments"] = comments
    shares = body.obj(post, "shares", path)
    counters["shares"] = body.number(shares, "count", f"{path}shares.") or 0.0
    return counters


class RecentPosts:
    """The posts requests of one poll of one Page."""

    def __init__(
        self, ctx: kpiwatch.CollectContext, graph: GraphClient, settings: FacebookSettings
    ) -> None:
        self.ctx = ctx
        self.graph = graph
        self.settings = settings
        self.insight_metrics = [
            m
            for m in for_version(POST_METRICS_BY_VERSION, settings.api_version)
            if ctx.metric_enabled(m.graph)
        ]
        self.served: set[str] = set()

    async def posts(self, with_insights: bool) -> list[kpiwatch.Post]:
        settings, ctx = self.settings, self.ctx
        since = ctx.now - timedelta(days=settings.recent_days)
        params = {
            "fields": POST_FIELDS,
            "limit": str(min(PAGE_SIZE, settings.max_posts)),
            "since": str(int(since.timestamp())),
        }

        def recent(body: GraphBody, item: dict[str, Any]) -> bool:
            created = body.time(item, "created_time", "data[].")
            if created is None:
                raise body.bad("data[].created_time", None, "the time the post was published")
            return created >= since

        items = await self.graph.edge(
            f"{settings.page_id}/posts", params, keep=recent, max_items=settings.max_posts
        )
        posts = []
        for i, (body, item) in enumerate(items):
            path = f"data[{i}]."
            published = body.time(item, "created_time", path)
            if published is None or published > ctx.now:
                continue  # scheduled, not published yet
            metrics = public_counters(body, item, path)
            post_id = body.ident(item, "id", path)
            if with_insights and self.insight_metrics:
                metrics |= await self._insights(post_id)
            posts.append(
                kpiwatch.Post(
                    id=post_id,
                    published_at=published,
                    content_type=content_type(body, item, path),
                    metrics=metrics,
                    url=body.text(item, "permalink_url", path),
                )
            )
        for graph in self.served & ctx.removed_metrics.keys():
            ctx.metric_restored(graph)
        return posts

    async def _insights(self, post_id: str) -> dict[str, float]:
        """The post's lifetime views, reach and clicks that Meta serves."""
        by_graph = {m.graph: m.metric for m in self.insight_metrics}
        refused: set[str] = set()

        def on_refused(graph: str, why: Refusal, message: str) -> None:
            refused.add(graph)
            if why is Refusal.INVALID:  # removed: not asked again for any post
                hint = replacement_hint(POST_METRICS_BY_VERSION, graph, self.settings.api_version)
                self.ctx.metric_removed(
                    graph, f"facebook: Meta refused {graph}{hint}. Meta: {message}"
                )
                self.insight_metrics = [m for m in self.insight_metrics if m.graph != graph]

        values = await fetch_insights(
            self.graph, f"{post_id}/insights", list(by_graph), {"period": "lifetime"}, on_refused
        )
        self.served |= set(by_graph) - refused
        return {by_graph[v.name]: v.value for v in values if v.name in by_graph}
