"""The social demo platforms: an audience that grows, posts that perform, daily account totals."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import kpiwatch
from kpiwatch_platforms.demo.base import (
    PUBLIC_METRICS,
    PUBLIC_POST_METRICS,
    Generator,
    count,
)
from kpiwatch_platforms.demo.draws import Draws, cumulative
from kpiwatch_platforms.demo.settings import SocialSettings
from kpiwatch_platforms.demo.timeline import (
    DAY_SECONDS,
    REFERENCE_DAY,
    WINDOWS,
    Curve,
    Moment,
    Schedule,
    Vector,
    WeeklyClock,
    WindowParts,
    day_start,
    weekday,
    window_parts,
)

#: Days of posts a poll returns.
POST_DAYS = 14
#: Unique reach of a window as a share of the sum of its daily reaches (people come back).
REACH_OVERLAP = {1: 1.0, 7: 0.62, 28: 0.41}

# Field order of a social day vector.
(
    GAINED,
    LOST,
    IMPRESSIONS,
    REACH,
    VIDEO_VIEWS,
    PROFILE_VIEWS,
    LIKES,
    COMMENTS,
    SHARES,
    SAVES,
    CLICKS,
    MENTIONS,
    MESSAGES,
    REPLIES,
    ANSWER_SECONDS,
) = range(15)
PERIOD_FIELDS = {
    "followers_gained": GAINED,
    "followers_lost": LOST,
    "impressions": IMPRESSIONS,
    "video_views": VIDEO_VIEWS,
    "profile_views": PROFILE_VIEWS,
    "likes": LIKES,
    "comments": COMMENTS,
    "shares": SHARES,
    "saves": SAVES,
    "clicks": CLICKS,
    "mentions": MENTIONS,
    "messages_received": MESSAGES,
    "replies": REPLIES,
}


@dataclass(frozen=True)
class ContentType:
    """How one content type performs over its lifetime, relative to the audience."""

    name: str
    weight: float  # share of the account's posts
    reach: float  # lifetime reach / followers
    likes: float  # per reached account
    comments: float  # per like
    shares: float = 0.0  # per reached account
    saves: float = 0.0
    clicks: float = 0.0
    views: float = 0.0  # video views per impression; 0: not a video
    impressions: float = 1.3  # per reached account
    hours: float = 12.0  # time constant of the saturating growth of its counters
    lifetime: float | None = None  # hours after which counters stop (stories)


@dataclass(frozen=True)
class DailyRates:
    """Account totals of one ordinary day, relative to followers or reach."""

    reach: float  # reached accounts / followers
    impressions: float = 1.5  # per reached account
    video_views: float = 0.0  # per impression
    profile_views: float = 0.0  # per reached account
    likes: float = 0.04  # per reached account
    comments: float = 0.04  # per like
    shares: float = 0.003
    saves: float = 0.0
    clicks: float = 0.0  # per reached account, plus 8 % of profile views
    mentions: float = 0.0  # per follower
    messages: float = 0.0  # per follower
    churn: float = 0.0007  # share of followers leaving per day
    response_hours: float = 3.0


@dataclass(frozen=True, eq=False)
class SocialSpec:
    """The character of one pretend social platform."""

    name: str
    description: str
    host: str
    followers: int  # default audience at size 1
    following: bool  # whether the account follows others
    posts_per_week: float
    weekday: tuple[float, ...]  # activity Monday..Sunday
    posting_hours: tuple[float, ...]  # when accounts publish (24 weights, UTC)
    audience_hours: tuple[float, ...]  # when the audience is online (24 weights, UTC)
    content: tuple[ContentType, ...]
    rates: DailyRates
    account_metrics: tuple[str, ...]
    post_metrics: tuple[str, ...]
    engagement_parts: tuple[str, ...]  # what ``engagements`` totals on this platform


@dataclass(frozen=True, eq=False)
class SocialProfile:
    """Fixed parameters of one account."""

    key: str
    url: str
    audience: Curve
    following: Curve | None
    schedule: Schedule
    quality: float  # how well its content lands (1 is average)
    reply_share: float
    response_hours: float


class SocialGenerator(Generator):
    """A social platform driven by a :class:`SocialSpec`."""

    settings_model = SocialSettings

    def __init__(self, spec: SocialSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.description = spec.description
        self.metrics = spec.account_metrics
        self._account = frozenset(spec.account_metrics)
        self._clock = WeeklyClock(spec.weekday)
        best = max(spec.audience_hours)
        self._timing = tuple(0.7 + 0.6 * h / best for h in spec.audience_hours)
        self._hours = cumulative(spec.posting_hours)
        self._kinds = cumulative([c.weight for c in spec.content])
        counted = [m for m in spec.post_metrics if m != "engagements"]
        self._post_names = {
            c.name: tuple(m for m in counted if m != "video_views" or c.views) for c in spec.content
        }

    # parameters ----------------------------------------------------------------------------
    def profile(self, settings: SocialSettings, account_id: str) -> SocialProfile:
        key = f"{settings.seed}|{self.name}|{account_id}"
        draws = Draws(f"{key}|profile")
        spread = draws.noise(0.35)
        base = settings.followers
        if base is None:
            base = self.spec.followers * settings.size * spread
        audience = Curve(f"{key}|followers", float(base), draws.between(0.06, 0.55), self._clock)
        following = None
        if self.spec.following:
            following = Curve(
                f"{key}|following",
                draws.between(150, 1500) * math.sqrt(settings.size),
                draws.between(0.0, 0.08),
                WeeklyClock([1.0] * 7),
                wobble=0.01,
            )
        schedule = Schedule(
            key=f"{key}|posts",
            per_week=self.spec.posts_per_week * draws.between(0.6, 1.4),
            clock=self._clock,
            created=REFERENCE_DAY - int(draws.between(400, 3000)),
            hours=self._hours,
            kinds=self._kinds,
        )
        return SocialProfile(
            key=key,
            url=f"https://{self.spec.host}/{account_id}",
            audience=audience,
            following=following,
            schedule=schedule,
            quality=draws.noise(0.2),
            reply_share=draws.between(0.7, 0.97),
            response_hours=self.spec.rates.response_hours * draws.noise(0.3),
        )

    # account totals ------------------------------------------------------------------------
    def daily(self, profile: SocialProfile, day: int) -> Vector:
        rates = self.spec.rates
        draws = Draws(f"{profile.key}|daily|{day}")
        start = profile.audience.at(day)
        net = profile.audience.at(day + 1) - start
        busy = self.spec.weekday[weekday(day)]
        churn = start * rates.churn * busy * draws.noise(0.3)
        usual_posts = profile.schedule.per_week / 7.0
        posting = 0.75 + 0.25 * profile.schedule.count(day) / usual_posts
        reach = start * rates.reach * busy * posting * profile.quality * draws.noise(0.15)
        impressions = reach * rates.impressions * draws.between(0.92, 1.08)
        profile_views = reach * rates.profile_views * draws.noise(0.2)
        likes = reach * rates.likes * draws.noise(0.2)
        messages = start * rates.messages * busy * draws.noise(0.4)
        replies = messages * min(1.0, profile.reply_share * draws.between(0.93, 1.05))
        return [
            max(net, 0.0) + churn,
            max(-net, 0.0) + churn,
            impressions,
            reach,
            impressions * rates.video_views * draws.noise(0.2),
            profile_views,
            likes,
            likes * rates.comments * draws.noise(0.3),
            reach * rates.shares * draws.noise(0.3),
            reach * rates.saves * draws.noise(0.3),
            reach * rates.clicks * draws.noise(0.3) + 0.08 * profile_views,
            start * rates.mentions * busy * draws.noise(0.5),
            messages,
            replies,
            replies * profile.response_hours * 3600.0 * draws.noise(0.35),
        ]

    def prepare(
        self,
        profile: SocialProfile,
        day: int,
        daily: Callable[[int], Vector],
        with_posts: bool = True,
    ) -> SocialDay:
        schedule = profile.schedule
        published = {}
        for back in (0, *(days for _, days in WINDOWS)):
            seconds = tuple(s for _, s, _ in schedule.day_posts(day - back))
            published[back] = (schedule.before(day - back), seconds)
        posts = []
        for post_day in range(day - POST_DAYS, day + 1) if with_posts else ():
            todays = schedule.day_posts(post_day)
            if todays:
                audience = profile.audience.at(post_day)
                posts += [self._plan(profile, post_day, audience, *post) for post in todays]
        return SocialDay(window_parts(daily, day), tuple(posts), published)

    def samples(
        self, profile: SocialProfile, moment: Moment, prepared: SocialDay, competitor: bool
    ) -> list[kpiwatch.Sample]:
        wanted = self._account & PUBLIC_METRICS if competitor else self._account
        Sample = kpiwatch.Sample
        out = [Sample("followers", count(profile.audience.now(moment)))]
        if profile.following is not None and "following" in wanted:
            out.append(Sample("following", count(profile.following.now(moment))))
        published = prepared.published_by(0, moment.seconds)
        out.append(Sample("posts", published))
        engagement_fields = [PERIOD_FIELDS[p] for p in self.spec.engagement_parts]
        for window, days in WINDOWS:
            totals = prepared.parts.window(days, moment.fraction)
            values: dict[str, float] = {
                "posts_published": published - prepared.published_by(days, moment.seconds)
            }
            for metric, field in PERIOD_FIELDS.items():
                if metric in wanted:
                    values[metric] = count(totals[field])
            if "reach" in wanted:
                values["reach"] = count(totals[REACH] * REACH_OVERLAP[days])
            if "engagements" in wanted:
                values["engagements"] = sum(count(totals[f]) for f in engagement_fields)
            replies = totals[REPLIES]
            if "response_time_seconds" in wanted and replies >= 0.5:
                values["response_time_seconds"] = round(totals[ANSWER_SECONDS] / replies, 1)
            out.extend(Sample(metric, value, window) for metric, value in values.items())
        return out

    # posts -----------------------------------------------------------------------------------
    def posts(
        self, profile: SocialProfile, moment: Moment, prepared: SocialDay, competitor: bool
    ) -> list[kpiwatch.Post]:
        now = moment.at.timestamp()
        oldest = now - POST_DAYS * DAY_SECONDS
        parts = self.spec.engagement_parts
        engagements = "engagements" in self.spec.post_metrics and not competitor
        posts = []
        for plan in prepared.posts:
            if not oldest < plan.timestamp <= now:
                continue
            content = plan.content
            age_hours = (now - plan.timestamp) / 3600.0
            if content.lifetime is not None:
                age_hours = min(age_hours, content.lifetime)
            grown = 1.0 - math.exp(-age_hours / content.hours)
            names = zip(self._post_names[content.name], plan.totals, strict=True)
            all_values = {m: count(total * grown) for m, total in names}
            if competitor:
                values = {m: v for m, v in all_values.items() if m in PUBLIC_POST_METRICS}
            else:
                values = all_values
            if engagements:
                values["engagements"] = sum(all_values.get(p, 0) for p in parts)
            post_id = f"p{plan.index:06d}"
            url = f"{profile.url}/{post_id}"
            posts.append(kpiwatch.Post(post_id, plan.published_at, content.name, values, url))
        return posts

    def _plan(
        self,
        profile: SocialProfile,
        day: int,
        audience: float,
        index: int,
        second: int,
        kind: int,
    ) -> PlannedPost:
        """One post of ``day`` with the lifetime totals its counters approach."""
        content = self.spec.content[kind]
        draws = Draws(f"{profile.key}|post|{index}")
        timing = self._timing[second // 3600]
        busy = self.spec.weekday[weekday(day)]
        reach = audience * content.reach * timing * busy * profile.quality * draws.noise(0.45)
        impressions = reach * content.impressions * draws.between(0.9, 1.1)
        likes = reach * content.likes * draws.noise(0.25)
        totals = {
            "reach": reach,
            "impressions": impressions,
            "likes": likes,
            "comments": likes * content.comments * draws.noise(0.35),
            "shares": reach * content.shares * draws.noise(0.4),
            "saves": reach * content.saves * draws.noise(0.4),
            "clicks": reach * content.clicks * draws.noise(0.35),
        }
        if content.views:
            totals["video_views"] = impressions * content.views * draws.noise(0.15)
        published_at = day_start(day) + timedelta(seconds=second)
        return PlannedPost(
            index=index,
            published_at=published_at,
            timestamp=published_at.timestamp(),
            content=content,
            totals=array("d", [totals[m] for m in self._post_names[content.name]]),
        )


@dataclass(frozen=True, slots=True)
class PlannedPost:
    """A post and the lifetime totals of its counters (reached along a saturating curve).

    Kept compact, as every cached account holds two weeks of them: ``totals`` lines up with
    the metric names of its content type on the platform.
    """

    index: int  # the account's post number, its id is derived from it
    published_at: datetime
    timestamp: float
    content: ContentType
    totals: array[float]


@dataclass(frozen=True, slots=True)
class SocialDay:
    """What every poll of one account during one day shares."""

    parts: WindowParts
    posts: tuple[PlannedPost, ...]  # published during the last POST_DAYS days and today
    published: dict[int, tuple[int, tuple[int, ...]]]  # days back -> (posts before, seconds)

    def published_by(self, days_back: int, seconds: float) -> int:
        """Posts published up to ``seconds`` after 00:00 of the day ``days_back`` days ago."""
        before, todays = self.published[days_back]
        return before + sum(1 for s in todays if s <= seconds)
