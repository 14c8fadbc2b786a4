"""The business demo platforms: web analytics, an ad account and a CRM with surveys and e-mail."""

from __future__ import annotations

from dataclasses import dataclass

import kpiwatch
from kpiwatch_platforms.demo.base import Generator, count, money
from kpiwatch_platforms.demo.draws import Draws
from kpiwatch_platforms.demo.settings import BusinessSettings
from kpiwatch_platforms.demo.timeline import (
    WINDOWS,
    Curve,
    Moment,
    Vector,
    WeeklyClock,
    WindowParts,
    weekday,
)

Sample = kpiwatch.Sample


@dataclass(frozen=True)
class TrafficSource:
    source: str
    medium: str
    share: float  # of all sessions
    engaged: float  # engaged share of its sessions
    conversion: float  # conversions per engaged session


# Social sources carry the short names of the social demo platforms.
TRAFFIC_SOURCES = (
    TrafficSource("search", "organic", 0.40, 0.62, 0.025),
    TrafficSource("direct", "none", 0.22, 0.58, 0.035),
    TrafficSource("photo", "social", 0.08, 0.45, 0.012),
    TrafficSource("video", "social", 0.05, 0.40, 0.010),
    TrafficSource("micro", "social", 0.06, 0.38, 0.008),
    TrafficSource("pro", "social", 0.04, 0.56, 0.020),
    TrafficSource("newsletter", "email", 0.09, 0.70, 0.045),
    TrafficSource("ads", "cpc", 0.06, 0.42, 0.030),
)
#: Newsletter traffic by weekday: it follows the Tuesday and Thursday sends.
NEWSLETTER_DAYS = (0.5, 2.2, 0.8, 2.0, 0.6, 0.45, 0.45)
SEND_WEEKDAYS = frozenset({1, 3})


@dataclass(frozen=True, eq=False)
class WebProfile:
    key: str
    currency: str
    traffic: Curve  # sessions per day
    order_value: float
    quality: tuple[float, ...]  # per traffic source


class WebGenerator(Generator):
    """A GA4-like property: sessions, engaged sessions, bounces, conversions, revenue by source."""

    name = "demo_web"
    description = (
        "Pretend web analytics (GA4-like): sessions, engaged sessions, bounces, conversions and "
        "revenue by traffic source and medium."
    )
    metrics = ("sessions", "engaged_sessions", "bounces", "conversions", "revenue")
    settings_model = BusinessSettings
    WEEKDAY = (1.05, 1.05, 1.04, 1.02, 0.96, 0.85, 0.9)

    def __init__(self) -> None:
        self._clock = WeeklyClock(self.WEEKDAY)

    def profile(self, settings: BusinessSettings, account_id: str) -> WebProfile:
        key = f"{settings.seed}|{self.name}|{account_id}"
        draws = Draws(f"{key}|profile")
        level = 3000.0 * settings.size * draws.noise(0.3)
        traffic = Curve(f"{key}|traffic", level, draws.between(0.05, 0.35), self._clock, 0.02)
        return WebProfile(
            key=key,
            currency=settings.currency,
            traffic=traffic,
            order_value=55.0 * draws.noise(0.3),
            quality=tuple(draws.noise(0.15) for _ in TRAFFIC_SOURCES),
        )

    def daily(self, profile: WebProfile, day: int) -> Vector:
        """Per source: engaged sessions, bounces, conversions, revenue."""
        draws = Draws(f"{profile.key}|daily|{day}")
        wd = weekday(day)
        level = profile.traffic.at(day) * self.WEEKDAY[wd]
        out: Vector = []
        for source, quality in zip(TRAFFIC_SOURCES, profile.quality, strict=True):
            factor = NEWSLETTER_DAYS[wd] if source.source == "newsletter" else 1.0
            sessions = level * source.share * factor * quality * draws.noise(0.12)
            engaged = sessions * min(0.95, source.engaged * draws.noise(0.06))
            conversions = engaged * source.conversion * draws.noise(0.3)
            out += [engaged, sessions - engaged, conversions]
            out.append(conversions * profile.order_value * draws.noise(0.2))
        return out

    def samples(
        self, profile: WebProfile, moment: Moment, parts: WindowParts, competitor: bool
    ) -> list[kpiwatch.Sample]:
        out = []
        for window, days in WINDOWS:
            totals = parts.window(days, moment.fraction)
            for i, source in enumerate(TRAFFIC_SOURCES):
                dims = {"source": source.source, "medium": source.medium}
                engaged, bounces, conversions, revenue = totals[4 * i : 4 * i + 4]
                engaged_n, bounces_n = count(engaged), count(bounces)
                out += [
                    Sample("sessions", engaged_n + bounces_n, window, dims),
                    Sample("engaged_sessions", engaged_n, window, dims),
                    Sample("bounces", bounces_n, window, dims),
                    Sample("conversions", count(conversions), window, dims),
                    Sample(
                        "revenue", money(revenue), window, {**dims, "currency": profile.currency}
                    ),
                ]
        return out


@dataclass(frozen=True)
class Campaign:
    name: str
    budget: float  # share of the account's daily budget
    cpm: float  # cost per 1000 impressions
    ctr: float  # clicks per impression
    cvr: float  # conversions per click
    frequency: float  # impressions per reached person per day
    flighted: bool = False  # runs every other fortnight


CAMPAIGNS = (
    Campaign("prospecting", 0.5, 7.5, 0.009, 0.025, 1.8),
    Campaign("retargeting", 0.3, 11.0, 0.018, 0.06, 3.2),
    Campaign("brand-awareness", 0.2, 4.0, 0.004, 0.008, 1.4, flighted=True),
)
#: Unique reach of several campaigns and days as a share of the summed daily reach.
ADS_REACH_OVERLAP = {1: 0.85, 7: 0.55, 28: 0.35}


@dataclass(frozen=True, eq=False)
class AdsProfile:
    key: str
    currency: str
    budget: float  # per day
    order_value: float
    efficiency: float


class AdsGenerator(Generator):
    """An ad account with a few campaigns: spend, impressions, reach, clicks, conversions."""

    name = "demo_ads"
    description = (
        "Pretend ad account: spend by campaign, impressions, reach, clicks, conversions and "
        "attributed revenue."
    )
    metrics = ("spend", "impressions", "reach", "clicks", "conversions", "revenue")
    settings_model = BusinessSettings
    WEEKDAY = (1.0, 1.02, 1.02, 1.0, 0.98, 0.95, 0.95)
    FIELDS = 6  # spend, impressions, reach, clicks, conversions, revenue per campaign

    def profile(self, settings: BusinessSettings, account_id: str) -> AdsProfile:
        key = f"{settings.seed}|{self.name}|{account_id}"
        draws = Draws(f"{key}|profile")
        return AdsProfile(
            key=key,
            currency=settings.currency,
            budget=300.0 * settings.size * draws.noise(0.3),
            order_value=70.0 * draws.noise(0.3),
            efficiency=draws.noise(0.2),
        )

    def daily(self, profile: AdsProfile, day: int) -> Vector:
        draws = Draws(f"{profile.key}|daily|{day}")
        busy = self.WEEKDAY[weekday(day)]
        out: Vector = []
        for campaign in CAMPAIGNS:
            running = not campaign.flighted or (day // 14) % 2 == 0
            spend = profile.budget * campaign.budget * busy * draws.noise(0.08) if running else 0.0
            impressions = spend / (campaign.cpm * draws.noise(0.1)) * 1000.0
            clicks = impressions * campaign.ctr * profile.efficiency * draws.noise(0.15)
            conversions = clicks * campaign.cvr * draws.noise(0.3)
            out += [
                spend,
                impressions,
                impressions / (campaign.frequency * draws.between(0.9, 1.1)),
                clicks,
                conversions,
                conversions * profile.order_value * draws.noise(0.2),
            ]
        return out

    def samples(
        self, profile: AdsProfile, moment: Moment, parts: WindowParts, competitor: bool
    ) -> list[kpiwatch.Sample]:
        out = []
        currency = {"currency": profile.currency}
        n = self.FIELDS
        for window, days in WINDOWS:
            totals = parts.window(days, moment.fraction)
            for i, campaign in enumerate(CAMPAIGNS):
                dims = {**currency, "campaign": campaign.name}
                out.append(Sample("spend", money(totals[n * i]), window, dims))

            def total(field: int, totals: Vector = totals) -> float:
                return sum(totals[field::n])

            out += [
                Sample("impressions", count(total(1)), window),
                Sample("reach", count(total(2) * ADS_REACH_OVERLAP[days]), window),
                Sample("clicks", count(total(3)), window),
                Sample("conversions", count(total(4)), window),
                Sample("revenue", money(total(5)), window, currency),
            ]
        return out


@dataclass(frozen=True, eq=False)
class CrmProfile:
    key: str
    currency: str
    customers: Curve
    order_rate: float  # orders per customer per day
    order_value: float
    investment: float  # per working day
    promoters: float
    detractors: float
    satisfied: float
    list_ratio: float  # newsletter subscribers per customer
    open_rate: float
    click_to_open: float
    reply_share: float
    response_hours: float


# Field order of a CRM day vector.
(
    NEW,
    LOST,
    ORDERS,
    REVENUE,
    INVESTMENT,
    PROMOTERS,
    PASSIVES,
    DETRACTORS,
    CSAT_RESPONSES,
    CSAT_SATISFIED,
    DELIVERED,
    OPENS,
    EMAIL_CLICKS,
    MESSAGES,
    REPLIES,
    ANSWER_SECONDS,
) = range(16)
CRM_COUNTS = {
    "customers_new": NEW,
    "customers_lost": LOST,
    "orders": ORDERS,
    "nps_promoters": PROMOTERS,
    "nps_passives": PASSIVES,
    "nps_detractors": DETRACTORS,
    "csat_responses": CSAT_RESPONSES,
    "csat_satisfied": CSAT_SATISFIED,
    "emails_delivered": DELIVERED,
    "email_opens": OPENS,
    "email_clicks": EMAIL_CLICKS,
    "messages_received": MESSAGES,
    "replies": REPLIES,
}


class CrmGenerator(Generator):
    """A shop's CRM: customers, orders, revenue, spending, NPS, CSAT, e-mail and support."""

    name = "demo_crm"
    description = (
        "Pretend CRM and shop: customers gained and lost, orders, revenue, investment, NPS and "
        "CSAT survey answers, newsletter e-mails, support messages and response times."
    )
    metrics = (
        "customers",
        *CRM_COUNTS,
        "revenue",
        "investment",
        "response_time_seconds",
    )
    settings_model = BusinessSettings
    WEEKDAY = (1.0, 1.04, 1.04, 1.02, 1.03, 0.92, 0.85)

    def __init__(self) -> None:
        self._clock = WeeklyClock(self.WEEKDAY)

    def profile(self, settings: BusinessSettings, account_id: str) -> CrmProfile:
        key = f"{settings.seed}|{self.name}|{account_id}"
        draws = Draws(f"{key}|profile")
        base = 5000.0 * settings.size * draws.noise(0.3)
        return CrmProfile(
            key=key,
            currency=settings.currency,
            customers=Curve(f"{key}|customers", base, draws.between(0.05, 0.3), self._clock),
            order_rate=0.012 * draws.noise(0.2),
            order_value=60.0 * draws.noise(0.25),
            investment=150.0 * settings.size * draws.noise(0.3),
            promoters=draws.between(0.42, 0.62),
            detractors=draws.between(0.08, 0.2),
            satisfied=draws.between(0.78, 0.92),
            list_ratio=draws.between(1.3, 2.0),
            open_rate=draws.between(0.22, 0.42),
            click_to_open=draws.between(0.08, 0.2),
            reply_share=draws.between(0.85, 0.99),
            response_hours=1.5 * draws.noise(0.4),
        )

    def daily(self, profile: CrmProfile, day: int) -> Vector:
        draws = Draws(f"{profile.key}|daily|{day}")
        wd = weekday(day)
        busy = self.WEEKDAY[wd]
        start = profile.customers.at(day)
        net = profile.customers.at(day + 1) - start
        churn = start * 0.0015 * draws.noise(0.3)
        orders = start * profile.order_rate * busy * draws.noise(0.15)
        answers = start * 0.0025 * busy * draws.noise(0.3)
        promoters = min(0.9, profile.promoters * draws.noise(0.1))
        detractors = min(0.95 - promoters, profile.detractors * draws.noise(0.2))
        csat = orders * 0.12 * draws.noise(0.2)
        if wd in SEND_WEEKDAYS:  # newsletter days
            delivered = start * profile.list_ratio * draws.between(0.96, 0.99)
        else:  # order confirmations and automations only
            delivered = orders * 2.5 * draws.noise(0.1)
        opens = delivered * min(0.9, profile.open_rate * draws.noise(0.12))
        messages = start * 0.003 * busy * draws.noise(0.3)
        replies = messages * min(1.0, profile.reply_share * draws.between(0.95, 1.03))
        working = 1.0 if wd < 5 else 0.3
        return [
            max(net, 0.0) + churn,
            max(-net, 0.0) + churn,
            orders,
            orders * profile.order_value * draws.noise(0.1),
            profile.investment * working * draws.noise(0.1),
            answers * promoters,
            answers * (1.0 - promoters - detractors),
            answers * detractors,
            csat,
            csat * min(0.99, profile.satisfied * draws.noise(0.05)),
            delivered,
            opens,
            opens * min(0.5, profile.click_to_open * draws.noise(0.2)),
            messages,
            replies,
            replies * profile.response_hours * 3600.0 * draws.noise(0.35),
        ]

    def samples(
        self, profile: CrmProfile, moment: Moment, parts: WindowParts, competitor: bool
    ) -> list[kpiwatch.Sample]:
        currency = {"currency": profile.currency}
        out = [Sample("customers", count(profile.customers.now(moment)))]
        for window, days in WINDOWS:
            totals = parts.window(days, moment.fraction)
            out += [Sample(m, count(totals[f]), window) for m, f in CRM_COUNTS.items()]
            out.append(Sample("revenue", money(totals[REVENUE]), window, currency))
            out.append(Sample("investment", money(totals[INVESTMENT]), window, currency))
            if totals[REPLIES] >= 0.5:
                mean = totals[ANSWER_SECONDS] / totals[REPLIES]
                out.append(Sample("response_time_seconds", round(mean, 1), window))
        return out
