"""The account and media insights metrics kpiwatch asks for, per Graph API version, and their
vocabulary names (README.md has the table).

Graph API v22.0 (2025-01-21) replaced ``impressions`` (account and media) and ``plays``,
``clips_replays_count``, ``ig_reels_aggregated_all_plays_count`` (media) by ``views``; from
2025-04-21 on every version refuses them. v21.0 (2024-10-02) had already ended the time series
of ``profile_views`` and ``website_clicks``: kpiwatch asks every account metric as
``metric_type=total_value``.
"""

from __future__ import annotations

from kpiwatch_platforms.meta_graph.metric_lists import InsightMetric

ACCOUNT_METRICS_BY_VERSION: dict[str, tuple[InsightMetric, ...]] = {
    "v21.0": (
        InsightMetric("impressions", "impressions"),
        InsightMetric("reach", "reach"),
        InsightMetric("profile_views", "profile_views"),
        InsightMetric("website_clicks", "clicks"),
        InsightMetric("total_interactions", "engagements"),
    ),
    "v22.0": (
        InsightMetric("views", "impressions"),
        InsightMetric("reach", "reach"),
        InsightMetric("profile_views", "profile_views"),
        InsightMetric("website_clicks", "clicks"),
        InsightMetric("total_interactions", "engagements"),
    ),
}

MEDIA_METRICS_BY_VERSION: dict[str, tuple[InsightMetric, ...]] = {
    "v21.0": (
        InsightMetric("impressions", "impressions"),
        InsightMetric("reach", "reach"),
        InsightMetric("saved", "saves"),
        InsightMetric("shares", "shares"),
        InsightMetric("total_interactions", "engagements"),
        InsightMetric("plays", "video_views"),
    ),
    "v22.0": (
        InsightMetric("views", "impressions"),
        InsightMetric("reach", "reach"),
        InsightMetric("saved", "saves"),
        InsightMetric("shares", "shares"),
        InsightMetric("total_interactions", "engagements"),
    ),
}

#: Account insight windows: days asked (since/until) per sample window.
WINDOW_DAYS: dict[str, int] = {"1d": 1, "7d": 7, "28d": 28}

#: media_product_type, else media_type -> content type.
PRODUCT_TYPES = {"REELS": "reel", "STORY": "story"}
MEDIA_TYPES = {"IMAGE": "image", "VIDEO": "video", "CAROUSEL_ALBUM": "carousel"}


def content_type(media_type: str | None, product_type: str | None) -> str:
    """A media's content type: reels and stories by product type, else by media type."""
    return PRODUCT_TYPES.get(product_type or "") or MEDIA_TYPES.get(media_type or "", "other")
