"""The platform-neutral raw metric vocabulary.

Plugins translate what a platform returns into these names; KPIs read only these names.
docs/metrics.md is checked against this catalogue by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a raw metric relates to time."""

    CURRENT = "current"  # a level at the moment of the poll (followers)
    PERIOD = "period"  # an aggregate over a window ending at the sample time (impressions, 1d)
    CUMULATIVE = "cumulative"  # a running total since the account began (posts published)


class Unit(StrEnum):
    COUNT = "count"
    SECONDS = "seconds"
    CURRENCY = "currency"  # in the account's currency, named by the ``currency`` dimension


@dataclass(frozen=True)
class MetricDef:
    """One raw metric of the vocabulary."""

    name: str
    unit: Unit
    kind: Kind
    description: str
    dimensions: tuple[str, ...] = ()  # extra label names a sample may carry
    per_post: bool = False  # may appear in Post.metrics (lifetime value of one post)
    group: str = ""

    @property
    def exported_name(self) -> str:
        """The Prometheus metric name of this raw metric."""
        return f"kpiwatch_{self.name}"


#: Content types a Post may have; used for content-type segmentation.
CONTENT_TYPES = ("text", "image", "video", "reel", "carousel", "link", "story", "live", "other")

_C, _S, _M = Unit.COUNT, Unit.SECONDS, Unit.CURRENCY
_NOW, _PER, _CUM = Kind.CURRENT, Kind.PERIOD, Kind.CUMULATIVE
_WEB = ("source", "medium")


def _m(name, unit, kind, group, *rest, per_post=False) -> MetricDef:
    """A catalogue row: optional dimensions tuple, then the description."""
    *dimensions, description = rest
    dims = tuple(dimensions[0]) if dimensions else ()
    return MetricDef(name, unit, kind, description, dims, per_post, group)


# fmt: off
METRICS: tuple[MetricDef, ...] = (
    # audience
    _m("followers", _C, _NOW, "audience",
       "Accounts following this account (subscribers, page follows)."),
    _m("following", _C, _NOW, "audience",
       "Accounts this account follows."),
    _m("followers_gained", _C, _PER, "audience",
       "New followers during the window."),
    _m("followers_lost", _C, _PER, "audience",
       "Followers who left during the window."),
    # content
    _m("posts", _C, _CUM, "content",
       "Posts, videos or statuses published since the account began."),
    _m("posts_published", _C, _PER, "content",
       "Posts published during the window."),
    # visibility
    _m("impressions", _C, _PER, "visibility",
       "Times content was shown or viewed (views, impressions).", per_post=True),
    _m("reach", _C, _PER, "visibility",
       "Unique accounts that saw content during the window.", per_post=True),
    _m("video_views", _C, _PER, "visibility",
       "Video plays or views.", per_post=True),
    _m("profile_views", _C, _PER, "visibility",
       "Visits to the account's profile or page."),
    # engagement
    _m("engagements", _C, _PER, "engagement",
       "Interactions as the platform itself totals them.", per_post=True),
    _m("likes", _C, _PER, "engagement",
       "Likes, favourites and reactions.", per_post=True),
    _m("comments", _C, _PER, "engagement",
       "Comments and replies received on content.", per_post=True),
    _m("shares", _C, _PER, "engagement",
       "Shares, reposts, reblogs, retweets and quotes.", per_post=True),
    _m("saves", _C, _PER, "engagement",
       "Saves and bookmarks.", per_post=True),
    _m("clicks", _C, _PER, "engagement",
       "Link clicks on content or profile.", per_post=True),
    # conversation
    _m("mentions", _C, _PER, "conversation",
       "Mentions of the account or brand by others."),
    _m("messages_received", _C, _PER, "conversation",
       "Inbound messages and questions that call for an answer."),
    _m("replies", _C, _PER, "conversation",
       "Inbound messages the account answered."),
    _m("response_time_seconds", _S, _PER, "conversation",
       "Mean time to the first answer of inbound messages answered in the window."),
    # web
    _m("sessions", _C, _PER, "web", _WEB,
       "Website sessions, by traffic source and medium."),
    _m("engaged_sessions", _C, _PER, "web", _WEB,
       "Sessions that lasted, converted or viewed several pages."),
    _m("bounces", _C, _PER, "web", _WEB,
       "Sessions that were not engaged (single page, no interaction)."),
    _m("conversions", _C, _PER, "web", _WEB,
       "Conversions (key events, leads, purchases)."),
    # money
    _m("revenue", _M, _PER, "money", (*_WEB, "currency"),
       "Revenue attributed to the account or source."),
    _m("spend", _M, _PER, "money", ('currency', 'campaign'),
       "Advertising spend."),
    _m("investment", _M, _PER, "money", ('currency',),
       "Other spending on the channel (content, tools, staff) for ROI."),
    _m("orders", _C, _PER, "money",
       "Purchases made."),
    # customers
    _m("customers", _C, _NOW, "customers",
       "Active customers at the time of the sample."),
    _m("customers_new", _C, _PER, "customers",
       "Customers acquired during the window."),
    _m("customers_lost", _C, _PER, "customers",
       "Customers who churned during the window."),
    # surveys
    _m("nps_promoters", _C, _PER, "surveys",
       "NPS answers of 9 or 10."),
    _m("nps_passives", _C, _PER, "surveys",
       "NPS answers of 7 or 8."),
    _m("nps_detractors", _C, _PER, "surveys",
       "NPS answers of 0 to 6."),
    _m("csat_responses", _C, _PER, "surveys",
       "Customer-satisfaction survey answers."),
    _m("csat_satisfied", _C, _PER, "surveys",
       "CSAT answers in the top two boxes (4 or 5 of 5)."),
    # email
    _m("emails_delivered", _C, _PER, "email",
       "Marketing e-mails delivered."),
    _m("email_opens", _C, _PER, "email",
       "Unique opens of delivered e-mails."),
    _m("email_clicks", _C, _PER, "email",
       "Unique clicks in delivered e-mails."),
)
# fmt: on

BY_NAME: dict[str, MetricDef] = {m.name: m for m in METRICS}
POST_METRICS: frozenset[str] = frozenset(m.name for m in METRICS if m.per_post)


def get(name: str) -> MetricDef | None:
    """The vocabulary entry called ``name``, or None."""
    return BY_NAME.get(name)
