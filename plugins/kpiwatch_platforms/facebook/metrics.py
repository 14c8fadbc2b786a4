"""The Page and post insights metrics kpiwatch asks for, per Graph API version, and their
vocabulary names (README.md has the table).

Meta removes insights metrics on dates, for every API version at once:
``page_impressions_unique`` (2025-06-15, replaced by ``page_total_media_view_unique``), all
``impressions`` metrics and ``page_fans`` (2025-11-15, replaced by the ``views`` family and
``page_follows``). The list of a version is the one to ask with it; a metric Meta refuses is
disabled for the account (a ``removed`` event) and the rest are still asked.
"""

from __future__ import annotations

from kpiwatch_platforms.meta_graph.metric_lists import InsightMetric

PAGE_METRICS_BY_VERSION: dict[str, tuple[InsightMetric, ...]] = {
    # before the 2025 removals: impressions and page fans
    "v21.0": (
        InsightMetric("page_impressions", "impressions"),
        InsightMetric("page_impressions_unique", "reach"),
        InsightMetric("page_post_engagements", "engagements"),
        InsightMetric("page_views_total", "profile_views"),
        InsightMetric("page_total_actions", "clicks"),
        InsightMetric("page_fans", "followers", level=True),
    ),
    # after them: views instead of impressions, follows instead of fans
    "v24.0": (
        InsightMetric("page_media_view", "impressions"),
        InsightMetric("page_total_media_view_unique", "reach"),
        InsightMetric("page_post_engagements", "engagements"),
        InsightMetric("page_views_total", "profile_views"),
        InsightMetric("page_total_actions", "clicks"),
        InsightMetric("page_follows", "followers", level=True),
    ),
}

POST_METRICS_BY_VERSION: dict[str, tuple[InsightMetric, ...]] = {
    "v21.0": (
        InsightMetric("post_impressions", "impressions"),
        InsightMetric("post_impressions_unique", "reach"),
        InsightMetric("post_clicks", "clicks"),
    ),
    "v24.0": (
        InsightMetric("post_media_view", "impressions"),
        InsightMetric("post_total_media_view_unique", "reach"),
        InsightMetric("post_clicks", "clicks"),
    ),
}

#: Insights periods and the window of their samples.
PERIOD_WINDOWS: dict[str, str] = {"day": "1d", "week": "7d", "days_28": "28d"}
