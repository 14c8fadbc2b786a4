"""The catalogue of built-in KPI definitions.

Each KPI is a numerator and an optional denominator written in the KPI formula language
(:mod:`kpiwatch.kpi.expressions`) over vocabulary metrics. A name in a formula is a vocabulary
metric, or one of the count KPIs ``interactions`` and ``published_posts``, which are inlined; the
name
``basis`` stands for the first metric of the KPI's basis chain that the account reports (and
that is not zero). docs/kpis.md is generated from this catalogue and checked by a test.

The settings of ``kpis:`` (:class:`kpiwatch.config.KpiSettings`) choose between the definitions
established tools disagree on; :func:`builtin_kpis` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from kpiwatch.kpi.expressions import parse

if TYPE_CHECKING:
    from kpiwatch.config import KpiSettings


class Objective(StrEnum):
    """The business objective a KPI serves (the four goals of the seed on social-media goals)."""

    REACH = "reach"
    ENGAGEMENT = "engagement"
    ROI = "roi"
    LOYALTY = "loyalty"


class Direction(StrEnum):
    """Whether a higher or a lower value is better."""

    HIGHER = "higher"
    LOWER = "lower"


class KpiUnit(StrEnum):
    """The unit of a KPI's value; it decides the exported metric name's suffix."""

    RATIO = "ratio"  # 0-1 (ROAS and ROI may exceed 1), exported with the suffix _ratio
    COUNT = "count"
    PER_POST = "per_post"  # a count per published post
    SECONDS = "seconds"
    CURRENCY = "currency"  # in the account's currency, exported with a ``currency`` label

    @property
    def suffix(self) -> str:
        return {"ratio": "_ratio", "seconds": "_seconds"}.get(self.value, "")


#: How an aggregate over several accounts pairs numerators with denominators.
#: "account": sum numerators and denominators over the accounts that report both (the ratio of
#: sums of each account's own figures). "group": sum each input over the accounts that report
#: it, then apply the formula (for KPIs whose inputs come from different sources, such as
#: revenue from web analytics and investment from a spreadsheet).
Pairing = Literal["account", "group"]


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI: what it means, how it is computed, and a worked example."""

    name: str
    title: str
    unit: KpiUnit
    direction: Direction
    objective: Objective
    numerator: str
    denominator: str | None
    description: str
    example: Mapping[str, float]  # input (formula text of a reference) -> value
    basis: tuple[str, ...] = ()
    pairing: Pairing = "account"
    share_of_market: bool = False  # denominator summed over own and competitor accounts
    definitions: str = ""  # how established tools define it, and the setting that chooses
    custom: bool = False

    @property
    def formula(self) -> str:
        """The formula as written in docs and in the info metric (canonical form)."""
        if self.share_of_market:
            return f"{self.numerator} / market({self.numerator})"
        if self.denominator is None:
            return str(parse(self.numerator))
        return str(parse(f"({self.numerator}) / ({self.denominator})"))

    @property
    def metric_name(self) -> str:
        """The exported Prometheus name of the KPI's value."""
        return f"kpiwatch_kpi_{self.name}{self.unit.suffix}"


@dataclass(frozen=True)
class _Options:
    """The settings that change built-in definitions, with the defaults of KpiSettings."""

    components: tuple[str, ...] = ("likes", "comments", "shares", "saves")
    engagement_basis: tuple[str, ...] = ("reach", "impressions", "followers")
    virality_basis: tuple[str, ...] = ("impressions", "reach")
    conversion_basis: tuple[str, ...] = ("sessions", "clicks")
    kaushik_per: str = "post"
    acquisition: str = "conversions"
    roi_costs: tuple[str, ...] = ("spend", "investment")
    margin: float = 1.0
    referral_mediums: tuple[str, ...] = ("social",)
    extra: dict[str, object] = field(default_factory=dict)


def _options(settings: KpiSettings | None) -> _Options:
    if settings is None:
        return _Options()
    return _Options(
        components=tuple(settings.interactions.components),
        engagement_basis=tuple(settings.engagement_rate.basis),
        virality_basis=tuple(settings.virality_rate.basis),
        conversion_basis=tuple(settings.conversion_rate.basis),
        kaushik_per=settings.conversation_rates.per,
        acquisition=settings.cost_per_acquisition.per,
        roi_costs=tuple(settings.roi.costs),
        margin=settings.roi.margin,
        referral_mediums=tuple(settings.referral_traffic.mediums),
    )


def _scaled(expression: str, factor: float) -> str:
    return expression if factor == 1 else f"{expression} * {factor:g}"


def builtin_kpis(settings: KpiSettings | None = None) -> tuple[KpiDefinition, ...]:
    """Every built-in KPI, with the choices of ``settings`` (None: the defaults)."""
    o = _options(settings)
    R, E, M, L = Objective.REACH, Objective.ENGAGEMENT, Objective.ROI, Objective.LOYALTY
    UP, DOWN = Direction.HIGHER, Direction.LOWER
    RATIO, COUNT, PER_POST = KpiUnit.RATIO, KpiUnit.COUNT, KpiUnit.PER_POST
    SECONDS, CURRENCY = KpiUnit.SECONDS, KpiUnit.CURRENCY
    per_follower = o.kaushik_per == "follower"
    kaushik_den = "published_posts * followers" if per_follower else "published_posts"
    kaushik_unit = RATIO if per_follower else PER_POST
    kaushik_example = {"published_posts": 20.0, "followers": 5000.0} if per_follower else {}
    kaushik_text = (
        "Kaushik's rates: by default per post (TrueSocialMetrics); with "
        "`kpis.conversation_rates.per: follower` per post and per follower (Avinash Kaushik, "
        "as quoted by HSMAI), a ratio."
    )
    referral = (
        f'sessions(medium="{o.referral_mediums[0]}")'
        if len(o.referral_mediums) == 1
        else "total(" + ", ".join(f'sessions(medium="{m}")' for m in o.referral_mediums) + ")"
    )
    costs = o.roi_costs[0] if len(o.roi_costs) == 1 else f"total({', '.join(o.roi_costs)})"
    revenue = _scaled("revenue", o.margin)
    components = ", ".join(o.components)
    interactions = f"first(engagements, total({components}))"
    kpis = (
        # reach ---------------------------------------------------------------------------------
        KpiDefinition(
            "followers",
            "Followers",
            COUNT,
            UP,
            R,
            "followers",
            None,
            "Accounts following the account at the end of the window.",
            {"followers": 12400.0},
        ),
        KpiDefinition(
            "net_new_followers",
            "Net new followers",
            COUNT,
            UP,
            R,
            "first(followers_gained - followers_lost, delta(followers))",
            None,
            "Followers gained minus followers lost in the window; where the platform does not "
            "report gains and losses, the change of the follower count.",
            {"followers_gained": 420.0, "followers_lost": 120.0},
            definitions="Hootsuite's 'net new followers' (gained - lost).",
        ),
        KpiDefinition(
            "follower_growth_rate",
            "Follower growth rate",
            RATIO,
            UP,
            R,
            "first(followers_gained - followers_lost, delta(followers))",
            "start(followers)",
            "Net new followers in the window as a share of the followers at its start.",
            {"followers_gained": 420.0, "followers_lost": 120.0, "start(followers)": 12000.0},
            definitions="new followers / followers at start (coda SMM template).",
        ),
        KpiDefinition(
            "reach",
            "Reach",
            COUNT,
            UP,
            R,
            "reach",
            None,
            "Unique accounts that saw the content in the window, as the platform counts them. "
            "An aggregate over several accounts is the sum of their reach (people reached by "
            "two accounts count twice).",
            {"reach": 38000.0},
        ),
        KpiDefinition(
            "impressions",
            "Impressions",
            COUNT,
            UP,
            R,
            "impressions",
            None,
            "Times content was shown or viewed in the window (Meta's 'views' since 2025).",
            {"impressions": 52000.0},
        ),
        KpiDefinition(
            "brand_mentions",
            "Brand mentions",
            COUNT,
            UP,
            R,
            "mentions",
            None,
            "Mentions of the account or brand by others in the window.",
            {"mentions": 450.0},
        ),
        KpiDefinition(
            "share_of_voice",
            "Share of voice",
            RATIO,
            UP,
            R,
            "mentions",
            "mentions",
            "The account's (or group's) mentions as a share of all mentions of the own and "
            "competitor accounts on the same platforms in the window. Competitor accounts are "
            "those with `competitor: true`.",
            {"mentions": 450.0, "market(mentions)": 1800.0},
            share_of_market=True,
        ),
        KpiDefinition(
            "social_shares",
            "Social media shares",
            COUNT,
            UP,
            R,
            "shares",
            None,
            "Shares, reposts, reblogs and quotes of the account's content in the window.",
            {"shares": 350.0},
        ),
        # engagement ----------------------------------------------------------------------------
        KpiDefinition(
            "interactions",
            "Engagements",
            COUNT,
            UP,
            E,
            interactions,
            None,
            "Interactions in the window: the platform's own total where it reports one, else "
            f"the sum of the reported components ({components}).",
            {"likes": 300.0, "comments": 45.0, "shares": 60.0, "saves": 45.0},
            definitions=(
                "Which interactions count differs by tool (Buffer adds link and profile clicks "
                "on X); `kpis.interactions.components` sets the components."
            ),
        ),
        KpiDefinition(
            "engagement_rate",
            "Engagement rate",
            RATIO,
            UP,
            E,
            "interactions",
            "basis",
            "Engagements in the window divided by the basis: the first of "
            f"{', '.join(o.engagement_basis)} that the account reports (not zero). The basis "
            "used is the `basis` label.",
            {"interactions": 450.0, "basis": 10000.0},
            basis=o.engagement_basis,
            definitions=(
                "By reach (Metricool, Flowbox, Hootsuite's ERR), by impressions (Buffer, "
                "Metricool for X and LinkedIn), by followers (Rival IQ, Orlo). "
                "`kpis.engagement_rate.basis` sets the chain; the default is reach, then "
                "impressions, then followers, as BrightBean Studio falls back."
            ),
        ),
        KpiDefinition(
            "published_posts",
            "Posts published",
            COUNT,
            UP,
            E,
            "first(posts_published, delta(posts))",
            None,
            "Posts published in the window.",
            {"posts_published": 20.0},
        ),
        KpiDefinition(
            "engagement_per_post",
            "Engagement per post",
            PER_POST,
            UP,
            E,
            "interactions",
            "published_posts",
            "Engagements in the window per post published in the window (activity counted "
            "when it happened, as Sprout's profile report does; per-post figures by "
            "publication time are the content segments).",
            {"interactions": 450.0, "published_posts": 20.0},
        ),
        KpiDefinition(
            "click_through_rate",
            "Click-through rate",
            RATIO,
            UP,
            E,
            "clicks",
            "impressions",
            "Link clicks per impression in the window.",
            {"clicks": 780.0, "impressions": 52000.0},
        ),
        *(
            KpiDefinition(
                name,
                title,
                kaushik_unit,
                UP,
                E,
                metric,
                kaushik_den,
                f"{noun} per post published in the window"
                + (" and per follower." if per_follower else "."),
                {metric: value, "published_posts": 20.0, **kaushik_example},
                definitions=kaushik_text,
            )
            for name, title, metric, noun, value in (
                ("amplification_rate", "Amplification rate", "shares", "Shares", 60.0),
                ("applause_rate", "Applause rate", "likes", "Likes", 300.0),
                ("conversation_rate", "Conversation rate", "comments", "Comments", 45.0),
            )
        ),
        KpiDefinition(
            "virality_rate",
            "Virality rate",
            RATIO,
            UP,
            E,
            "shares",
            "basis",
            f"Shares per {' (else '.join(o.virality_basis)}{')' * (len(o.virality_basis) - 1)} "
            "in the window.",
            {"shares": 60.0, "basis": 52000.0},
            basis=o.virality_basis,
            definitions=(
                "shares / impressions (socialk.it, bizway.io; some use reach): "
                "`kpis.virality_rate.basis` sets the chain."
            ),
        ),
        KpiDefinition(
            "email_open_rate",
            "E-mail open rate",
            RATIO,
            UP,
            E,
            "email_opens",
            "emails_delivered",
            "Unique opens per delivered marketing e-mail in the window.",
            {"email_opens": 2100.0, "emails_delivered": 10000.0},
        ),
        KpiDefinition(
            "email_click_rate",
            "E-mail click rate",
            RATIO,
            UP,
            E,
            "email_clicks",
            "emails_delivered",
            "Unique clicks per delivered marketing e-mail in the window.",
            {"email_clicks": 250.0, "emails_delivered": 10000.0},
        ),
        # roi -----------------------------------------------------------------------------------
        KpiDefinition(
            "referral_traffic",
            "Referral traffic",
            COUNT,
            UP,
            M,
            referral,
            None,
            "Website sessions from social media in the window (traffic medium "
            f"{', '.join(o.referral_mediums)}).",
            {referral: 1500.0},
            definitions="`kpis.referral_traffic.mediums` sets the mediums counted.",
        ),
        KpiDefinition(
            "conversion_rate",
            "Conversion rate",
            RATIO,
            UP,
            M,
            "conversions",
            "basis",
            f"Conversions per {' (else '.join(o.conversion_basis)}"
            f"{')' * (len(o.conversion_basis) - 1)} in the window.",
            {"conversions": 45.0, "basis": 1500.0},
            basis=o.conversion_basis,
            definitions=(
                "conversions / sessions (web analytics) or / clicks (ad platforms); "
                "`kpis.conversion_rate.basis` sets the chain."
            ),
        ),
        KpiDefinition(
            "bounce_rate",
            "Bounce rate",
            RATIO,
            DOWN,
            M,
            "bounces",
            "sessions",
            "Sessions that were not engaged, as a share of all sessions (GA4's definition: "
            "1 - engagement rate).",
            {"bounces": 620.0, "sessions": 1500.0},
        ),
        KpiDefinition(
            "ad_spend",
            "Ad spend",
            CURRENCY,
            DOWN,
            M,
            "spend",
            None,
            "Advertising spend in the window.",
            {"spend": 700.0},
        ),
        KpiDefinition(
            "revenue",
            "Revenue",
            CURRENCY,
            UP,
            M,
            "revenue",
            None,
            "Revenue attributed to the account or source in the window.",
            {"revenue": 4200.0},
        ),
        KpiDefinition(
            "cost_per_click",
            "Cost per click",
            CURRENCY,
            DOWN,
            M,
            "spend",
            "clicks",
            "Ad spend per click in the window.",
            {"spend": 700.0, "clicks": 1400.0},
        ),
        KpiDefinition(
            "cost_per_mille",
            "Cost per mille",
            CURRENCY,
            DOWN,
            M,
            "spend * 1000",
            "impressions",
            "Ad spend per thousand impressions in the window.",
            {"spend": 700.0, "impressions": 140000.0},
        ),
        KpiDefinition(
            "cost_per_acquisition",
            "Cost per acquisition",
            CURRENCY,
            DOWN,
            M,
            "spend",
            o.acquisition,
            f"Ad spend per {o.acquisition.replace('_', ' ')} in the window.",
            {"spend": 700.0, o.acquisition: 35.0},
            definitions=(
                "spend / conversions (ad platforms); the seed on marketing KPIs divides by new "
                "customers: `kpis.cost_per_acquisition.per: customers_new`."
            ),
        ),
        KpiDefinition(
            "return_on_ad_spend",
            "Return on ad spend",
            RATIO,
            UP,
            M,
            "revenue",
            "spend",
            "Attributed revenue per unit of ad spend in the window (4.0 means 400 %).",
            {"revenue": 2800.0, "spend": 700.0},
        ),
        KpiDefinition(
            "roi",
            "Return on investment",
            RATIO,
            UP,
            M,
            f"{revenue} - {costs}",
            costs,
            "(return - investment) / investment over the window; the return is revenue"
            + (f" times a margin of {o.margin:g}" if o.margin != 1 else "")
            + f", the investment {' + '.join(o.roi_costs)}. Inputs may come from different "
            "accounts of the group (revenue from web analytics, costs from a spreadsheet).",
            {"revenue": 4200.0, "spend": 700.0, "investment": 1300.0},
            pairing="group",
            definitions=(
                "(return - investment) / investment (the seed on social ROI). The Danish seed "
                "writes net income / investment, the same figure when net income is the profit. "
                "`kpis.roi.costs` lists the cost metrics, `kpis.roi.margin` turns revenue into "
                "gross profit."
            ),
        ),
        KpiDefinition(
            "customer_lifetime_value",
            "Customer lifetime value",
            CURRENCY,
            UP,
            M,
            f"{revenue} * start(customers)",
            "customers * customers_lost",
            "Revenue per customer in the window divided by the churn rate of the window "
            "(customers lost / customers at the start): the value a customer brings over the "
            "expected lifetime 1 / churn.",
            {
                "revenue": 9000.0,
                "start(customers)": 1000.0,
                "customers": 1020.0,
                "customers_lost": 25.0,
            },
            pairing="group",
            definitions=(
                "ARPU x margin / churn; the alternative AOV x purchase frequency x lifespan "
                "gives the same figure over one window. `kpis.roi.margin` applies here too."
            ),
        ),
        # loyalty -------------------------------------------------------------------------------
        KpiDefinition(
            "net_promoter_score",
            "Net Promoter Score",
            RATIO,
            UP,
            L,
            "nps_promoters - nps_detractors",
            "nps_promoters + nps_passives + nps_detractors",
            "Share of promoters (9-10) minus share of detractors (0-6) among the window's "
            "answers, from -1 to 1 (multiply by 100 for the usual -100 to 100 points).",
            {"nps_promoters": 120.0, "nps_passives": 50.0, "nps_detractors": 30.0},
        ),
        KpiDefinition(
            "customer_satisfaction",
            "Customer satisfaction (CSAT)",
            RATIO,
            UP,
            L,
            "csat_satisfied",
            "csat_responses",
            "Share of survey answers in the top two boxes (4 or 5 of 5) in the window.",
            {"csat_satisfied": 180.0, "csat_responses": 200.0},
        ),
        KpiDefinition(
            "response_rate",
            "Response rate",
            RATIO,
            UP,
            L,
            "replies",
            "messages_received",
            "Inbound messages answered per inbound message in the window.",
            {"replies": 92.0, "messages_received": 100.0},
        ),
        KpiDefinition(
            "response_time",
            "Response time",
            SECONDS,
            DOWN,
            L,
            "response_time_seconds * replies",
            "replies",
            "Mean time to the first answer, weighted by the answers of each account.",
            {"response_time_seconds": 1800.0, "replies": 92.0},
        ),
        KpiDefinition(
            "customer_retention_rate",
            "Customer retention rate",
            RATIO,
            UP,
            L,
            "customers - customers_new",
            "start(customers)",
            "(customers at the end - customers acquired in the window) / customers at the start.",
            {"customers": 1020.0, "customers_new": 45.0, "start(customers)": 1000.0},
        ),
    )
    return kpis


#: Count KPIs whose formulas other formulas may use by name (inlined when compiled).
INLINED = ("interactions", "published_posts")
