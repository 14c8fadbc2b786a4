"""The built-in ``demo`` plugin, loaded through the real plugin manager, and the demo config."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean

import aiohttp
import pydantic
import pytest
import structlog
import yaml

import kpiwatch
import kpiwatch_platforms.demo
from kpiwatch import vocabulary
from kpiwatch.config import Config
from kpiwatch.demo_config import demo_config_yaml
from kpiwatch.platform import Platform
from kpiwatch.plugins import PluginRegistry, load_plugins
from kpiwatch.result_check import check_result
from kpiwatch.vocabulary import Kind

DEMO_PLATFORMS = {
    "demo_photo",
    "demo_video",
    "demo_micro",
    "demo_pro",
    "demo_web",
    "demo_ads",
    "demo_crm",
}
SOCIAL = ("demo_photo", "demo_video", "demo_micro", "demo_pro")
NOW = datetime(2026, 11, 23, 13, 30, 15, tzinfo=UTC)  # a Monday
MOMENTS = (NOW, NOW + timedelta(hours=7, minutes=3), datetime(2026, 3, 1, 0, 0, tzinfo=UTC))

#: The raw metrics each KPI the project promises is computed from (docs/kpis.md).
KPI_INPUTS: dict[str, set[str]] = {
    "engagement_rate": {
        "likes",
        "comments",
        "shares",
        "saves",
        "reach",
        "impressions",
        "followers",
    },
    "engagement_per_post": {"engagements", "posts_published"},
    "follower_growth_rate": {"followers"},
    "net_new_followers": {"followers_gained", "followers_lost"},
    "reach": {"reach"},
    "impressions": {"impressions"},
    "ctr": {"clicks", "impressions"},
    "conversion_rate": {"conversions", "sessions"},
    "amplification_rate": {"shares", "followers"},
    "applause_rate": {"likes", "followers"},
    "conversation_rate": {"comments", "followers"},
    "virality": {"shares", "impressions"},
    "brand_mentions": {"mentions"},
    "share_of_voice": {"mentions"},
    "referral_traffic": {"sessions"},
    "bounce_rate": {"bounces", "sessions"},
    "cpc": {"spend", "clicks"},
    "cpm": {"spend", "impressions"},
    "cpa": {"spend", "conversions"},
    "roas": {"revenue", "spend"},
    "roi": {"revenue", "investment"},
    "clv": {"revenue", "orders", "customers", "customers_lost"},
    "nps": {"nps_promoters", "nps_passives", "nps_detractors"},
    "csat": {"csat_responses", "csat_satisfied"},
    "response_rate": {"messages_received", "replies"},
    "response_time": {"response_time_seconds"},
    "customer_retention_rate": {"customers", "customers_new"},
    "email_open_rate": {"email_opens", "emails_delivered"},
    "video_view_rate": {"video_views", "impressions"},
    "profile_visits": {"profile_views"},
}


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    registry = load_plugins(environ={})
    assert registry.errors == []
    return registry


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Poller:
    """Polls demo accounts the way the daemon does: a CollectContext per poll."""

    def __init__(self, registry: PluginRegistry, http: aiohttp.ClientSession) -> None:
        self.registry = registry
        self.http = http

    def platform(self, name: str) -> Platform:
        return self.registry.platforms[name]

    async def poll(
        self,
        name: str,
        now: datetime = NOW,
        account: str = "acme",
        competitor: bool = False,
        last_success: datetime | None = None,
        **settings: object,
    ) -> kpiwatch.CollectResult:
        platform = self.platform(name)
        ctx = kpiwatch.CollectContext(
            account_id=account,
            platform=name,
            settings=platform.settings.model_validate(settings),
            labels={"brand": "acme"},
            competitor=competitor,
            http=self.http,
            state={},
            log=structlog.get_logger(),
            now=now,
            last_success=last_success,
        )
        result = await platform.collect(ctx)
        assert isinstance(result, kpiwatch.CollectResult)
        return result


@pytest.fixture
def poller(registry: PluginRegistry, http: aiohttp.ClientSession) -> Poller:
    return Poller(registry, http)


def value(result: kpiwatch.CollectResult, metric: str, window: str | None = None, **dims) -> float:
    """The one sample of ``metric`` (with ``window`` and ``dims``) of a live poll."""
    found = [
        s.value
        for s in result.samples
        if s.metric == metric and s.window == window and dict(s.dims) == dims and not s.timestamp
    ]
    assert len(found) == 1, f"{metric} {window} {dims}: {found}"
    return found[0]


def windows_of(result: kpiwatch.CollectResult) -> Iterable[str]:
    return sorted({s.window for s in result.samples if s.window})


def as_json(result: kpiwatch.CollectResult) -> str:
    return json.dumps(
        {
            "samples": [[s.metric, s.value, s.window, dict(s.dims)] for s in result.samples],
            "posts": [
                [p.id, p.published_at.isoformat(), p.content_type, dict(p.metrics), p.url]
                for p in result.posts
            ],
        },
        sort_keys=True,
    )


# registration --------------------------------------------------------------------------------


def test_the_demo_plugin_registers_its_platforms_with_vocabulary_metrics(registry) -> None:
    demo = {n for n, owner in registry.platform_owner.items() if owner == "demo"}
    assert demo == DEMO_PLATFORMS
    for name in DEMO_PLATFORMS:
        platform = registry.platforms[name]
        assert platform.description
        assert platform.metrics
        unknown = set(platform.metrics) - set(vocabulary.BY_NAME)
        assert not unknown, f"{name} declares metrics outside the vocabulary: {unknown}"


@pytest.mark.parametrize("name", sorted(DEMO_PLATFORMS))
def test_settings_reject_unknown_keys_and_bad_values(registry, name: str) -> None:
    model = registry.platforms[name].settings
    assert model.model_validate({}).seed == 0
    with pytest.raises(pydantic.ValidationError, match="sede"):
        model.model_validate({"sede": 3})
    with pytest.raises(pydantic.ValidationError, match="fail_rate"):
        model.model_validate({"fail_rate": 1.5})
    with pytest.raises(pydantic.ValidationError, match="size"):
        model.model_validate({"size": 0})
    assert model.model_validate({"latency": "250ms"}).latency == pytest.approx(0.25)
    assert model.model_validate({"latency": 2}).latency == 2


def test_money_platforms_take_an_iso_currency_and_social_ones_a_follower_count(registry) -> None:
    for name in ("demo_web", "demo_ads", "demo_crm"):
        model = registry.platforms[name].settings
        assert model.model_validate({"currency": "USD"}).currency == "USD"
        with pytest.raises(pydantic.ValidationError, match="currency"):
            model.model_validate({"currency": "dollars"})
    for name in SOCIAL:
        model = registry.platforms[name].settings
        assert model.model_validate({"followers": 500}).followers == 500
        with pytest.raises(pydantic.ValidationError, match="currency"):
            model.model_validate({"currency": "EUR"})


# validity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DEMO_PLATFORMS))
@pytest.mark.parametrize("competitor", [False, True])
async def test_every_sample_and_post_is_valid_for_the_vocabulary(
    poller, name: str, competitor: bool
) -> None:
    for now in MOMENTS:
        result = await poller.poll(name, now, competitor=competitor, history_days=2)
        assert result.samples
        assert check_result(result, now).problems == []
        for sample in result.samples:
            metric = vocabulary.BY_NAME[sample.metric]
            assert (sample.window is not None) == (metric.kind is Kind.PERIOD), sample
            assert set(sample.dims) <= set(metric.dimensions), sample
            assert all(isinstance(v, str) and v for v in sample.dims.values()), sample
            assert isinstance(sample.value, int | float) and not isinstance(sample.value, bool)
            assert math.isfinite(sample.value) and sample.value >= 0, sample
        for post in result.posts:
            assert post.content_type in vocabulary.CONTENT_TYPES
            assert set(post.metrics) <= vocabulary.POST_METRICS
            assert all(v >= 0 and math.isfinite(v) for v in post.metrics.values())
            assert now - timedelta(days=14) < post.published_at <= now
            assert post.url and post.url.startswith("https://")
        assert len({p.id for p in result.posts}) == len(result.posts)


@pytest.mark.parametrize("name", sorted(DEMO_PLATFORMS))
async def test_declared_metrics_are_exactly_the_ones_produced(poller, name: str) -> None:
    produced: set[str] = set()
    for now in MOMENTS:
        result = await poller.poll(name, now)
        produced |= {s.metric for s in result.samples}
        assert set(windows_of(result)) == {"1d", "7d", "28d"}
    assert produced == set(poller.platform(name).metrics)


async def test_together_the_demo_platforms_feed_every_kpi_and_the_whole_vocabulary(
    poller,
) -> None:
    produced: set[str] = set()
    for name in DEMO_PLATFORMS:
        result = await poller.poll(name)
        produced |= {s.metric for s in result.samples}
        for post in result.posts:
            produced |= set(post.metrics)
    for kpi, inputs in KPI_INPUTS.items():
        assert inputs <= produced, f"KPI {kpi} lacks {inputs - produced}"
    assert set(vocabulary.BY_NAME) - produced == set()


async def test_web_traffic_comes_by_source_and_medium(poller) -> None:
    result = await poller.poll("demo_web")
    sources = {(s.dims["source"], s.dims["medium"]) for s in result.samples}
    assert {("photo", "social"), ("newsletter", "email"), ("search", "organic")} <= sources
    assert {medium for _, medium in sources} >= {"social", "email"}
    revenue = [s for s in result.samples if s.metric == "revenue"]
    assert all(s.dims["currency"] == "EUR" for s in revenue)
    usd = await poller.poll("demo_crm", currency="USD")
    assert {s.dims["currency"] for s in usd.samples if s.metric == "revenue"} == {"USD"}


async def test_ad_spend_comes_by_campaign(poller) -> None:
    result = await poller.poll("demo_ads")
    spend = [s for s in result.samples if s.metric == "spend" and s.window == "28d"]
    assert len({s.dims["campaign"] for s in spend}) >= 2
    assert all(s.dims["currency"] == "EUR" for s in spend)
    total = sum(s.value for s in spend)
    assert total > 0
    clicks = value(result, "clicks", "28d")
    assert 0 < total / clicks < 20, "CPC should be a plausible amount"


# determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DEMO_PLATFORMS))
async def test_the_same_moment_gives_the_same_result(poller, name: str) -> None:
    first = await poller.poll(name, account="acme-1", seed=3)
    second = await poller.poll(name, account="acme-1", seed=3)
    assert as_json(first) == as_json(second)
    other_seed = await poller.poll(name, account="acme-1", seed=4)
    other_account = await poller.poll(name, account="acme-2", seed=3)
    assert as_json(other_seed) != as_json(first)
    assert as_json(other_account) != as_json(first)


RESTART_SCRIPT = """
import asyncio, json, sys
from datetime import datetime
import kpiwatch
from kpiwatch.plugins import load_plugins

async def main():
    platforms = load_plugins(environ={}).platforms
    out = {}
    for name in sys.argv[2:]:
        p = platforms[name]
        ctx = kpiwatch.CollectContext("acme-1", name, p.settings(seed=3), {}, False, None, {},
                                      None, datetime.fromisoformat(sys.argv[1]))
        r = await p.collect(ctx)
        out[name] = [[s.metric, s.value, s.window, dict(s.dims)] for s in r.samples]
        out[name + ":posts"] = [[p.id, dict(p.metrics)] for p in r.posts]
    print(json.dumps(out, sort_keys=True))

asyncio.run(main())
"""


async def test_a_restarted_process_gives_the_same_values(poller) -> None:
    names = sorted(DEMO_PLATFORMS)
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", RESTART_SCRIPT, NOW.isoformat(), *names],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        outputs.append(json.loads(run.stdout))
    assert outputs[0] == outputs[1]
    for name in names:
        here = await poller.poll(name, account="acme-1", seed=3)
        assert outputs[0][name] == json.loads(
            json.dumps([[s.metric, s.value, s.window, dict(s.dims)] for s in here.samples])
        )


# behaviour over time ------------------------------------------------------------------------


@pytest.mark.parametrize("name", SOCIAL)
async def test_followers_grow_over_a_month_on_average(poller, name: str) -> None:
    ratios = []
    for i in range(12):
        before = await poller.poll(name, NOW, account=f"brand-{i}")
        after = await poller.poll(name, NOW + timedelta(days=30), account=f"brand-{i}")
        ratios.append(value(after, "followers") / value(before, "followers"))
        assert value(after, "posts") >= value(before, "posts")
    assert mean(ratios) > 1.0
    assert sum(r > 1 for r in ratios) >= 8


async def test_followers_do_not_only_grow_day_by_day(poller) -> None:
    """Noise and unfollow waves: some days lose followers, none of them do nothing at all."""
    nets = []
    for day in range(1, 120):
        result = await poller.poll("demo_micro", NOW + timedelta(days=day), account="noisy")
        assert value(result, "followers_lost", "1d") > 0
        nets.append(value(result, "followers_gained", "1d") - value(result, "followers_lost", "1d"))
    assert any(n < 0 for n in nets) and sum(n > 0 for n in nets) > len(nets) / 2


async def test_values_move_between_polls_of_one_day(poller) -> None:
    early = await poller.poll("demo_photo", NOW)
    later = await poller.poll("demo_photo", NOW + timedelta(hours=5))
    assert value(early, "impressions", "1d") != value(later, "impressions", "1d")
    assert value(early, "followers") != value(later, "followers")


async def daily_mean(poller, name, metric, weekdays, accounts=3, weeks=8, **dims) -> float:
    """Mean of the ``1d`` value of ``metric`` over whole UTC days with the given weekdays."""
    values = []
    start = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
    for week in range(weeks):
        for wd in weekdays:
            end_of_day = start + timedelta(days=7 * week + wd + 1)  # 00:00 after the day
            for a in range(accounts):
                result = await poller.poll(name, end_of_day, account=f"season-{a}")
                values.append(value(result, metric, "1d", **dims))
    return mean(values)


async def test_weekends_differ_from_weekdays(poller) -> None:
    weekdays, weekend = (1, 2), (5, 6)
    pro_week = await daily_mean(poller, "demo_pro", "impressions", weekdays)
    pro_weekend = await daily_mean(poller, "demo_pro", "impressions", weekend)
    assert pro_weekend < 0.7 * pro_week, "a professional network is quiet at weekends"
    video_week = await daily_mean(poller, "demo_video", "video_views", weekdays)
    video_weekend = await daily_mean(poller, "demo_video", "video_views", weekend)
    assert video_weekend > 1.1 * video_week, "people watch more videos at weekends"


async def test_the_1d_window_at_midnight_is_the_previous_day_and_7d_sums_days(poller) -> None:
    midnight = datetime(2026, 6, 10, tzinfo=UTC)
    week = await poller.poll("demo_crm", midnight)
    days = [await poller.poll("demo_crm", midnight - timedelta(days=d)) for d in range(7)]
    summed = sum(value(r, "orders", "1d") for r in days)
    assert abs(value(week, "orders", "7d") - summed) <= 4  # each day rounded on its own


# consistency ------------------------------------------------------------------------------


@pytest.mark.parametrize("now", MOMENTS)
async def test_social_values_are_consistent(poller, now: datetime) -> None:
    for name in SOCIAL:
        result = await poller.poll(name, now)
        day_before = await poller.poll(name, now - timedelta(days=1))
        for window in ("1d", "7d", "28d"):
            impressions = value(result, "impressions", window)
            assert impressions > 0
            if name in ("demo_photo", "demo_pro"):
                assert value(result, "reach", window) <= impressions
            if name != "demo_video":
                assert value(result, "clicks", window) < impressions
            if name == "demo_pro":
                assert value(result, "replies", window) <= value(
                    result, "messages_received", window
                )
        # follower changes add up (each side rounded separately)
        net = value(result, "followers_gained", "1d") - value(result, "followers_lost", "1d")
        change = value(result, "followers") - value(day_before, "followers")
        assert abs(net - change) <= 2
        # posts published in a window are the posts of that window
        published = value(result, "posts") - value(day_before, "posts")
        assert value(result, "posts_published", "1d") == published
        last_week = [p for p in result.posts if p.published_at > now - timedelta(days=7)]
        assert value(result, "posts_published", "7d") == len(last_week)


async def test_business_values_are_consistent(poller) -> None:
    for now in MOMENTS:
        web = await poller.poll("demo_web", now)
        for s in web.samples:
            if s.metric == "sessions":
                dims = dict(s.dims)
                engaged = value(web, "engaged_sessions", s.window, **dims)
                bounces = value(web, "bounces", s.window, **dims)
                assert engaged + bounces == s.value
                assert value(web, "conversions", s.window, **dims) <= engaged
        ads = await poller.poll("demo_ads", now)
        crm = await poller.poll("demo_crm", now)
        for w in ("1d", "7d", "28d"):
            assert value(ads, "reach", w) <= value(ads, "impressions", w)
            assert value(ads, "clicks", w) < value(ads, "impressions", w)
            assert value(ads, "conversions", w) <= value(ads, "clicks", w)
            assert value(crm, "email_opens", w) <= value(crm, "emails_delivered", w)
            assert value(crm, "email_clicks", w) <= value(crm, "email_opens", w)
            assert value(crm, "csat_satisfied", w) <= value(crm, "csat_responses", w)
            assert value(crm, "replies", w) <= value(crm, "messages_received", w)
            assert value(crm, "customers_lost", w) < value(crm, "customers")
            assert value(crm, "revenue", w, currency="EUR") > value(crm, "orders", w) > 0


# posts ------------------------------------------------------------------------------------


async def test_posts_vary_in_content_type_hour_and_weekday(poller) -> None:
    posts = []
    for i in range(4):
        posts += (await poller.poll("demo_photo", account=f"poster-{i}")).posts
    assert len({p.content_type for p in posts}) >= 4
    assert len({p.published_at.hour for p in posts}) >= 6
    assert len({p.published_at.weekday() for p in posts}) >= 5


async def test_content_types_perform_differently(poller) -> None:
    by_type: dict[str, list[dict]] = {}
    for i in range(12):
        result = await poller.poll("demo_photo", account=f"creator-{i}")
        for post in result.posts:
            if post.published_at < NOW - timedelta(days=3):  # counters have settled
                by_type.setdefault(post.content_type, []).append(dict(post.metrics))

    def ratio(kind: str, top: str, bottom: str) -> float:
        return sum(m[top] for m in by_type[kind]) / sum(m[bottom] for m in by_type[kind])

    assert mean(m["reach"] for m in by_type["reel"]) > mean(m["reach"] for m in by_type["image"])
    assert ratio("carousel", "saves", "reach") > ratio("image", "saves", "reach")
    assert all("video_views" in m for m in by_type["reel"])
    assert not any("video_views" in m for m in by_type["image"])


async def test_post_counters_grow_with_age_and_settle(poller) -> None:
    now = NOW
    first = {p.id: p for p in (await poller.poll("demo_micro", now)).posts}
    later = {p.id: p for p in (await poller.poll("demo_micro", now + timedelta(hours=6))).posts}
    common = first.keys() & later.keys()
    assert common
    grew = 0
    for post_id in common:
        a, b = first[post_id].metrics, later[post_id].metrics
        assert all(b[m] >= a[m] for m in a)
        assert a["impressions"] >= a["likes"]
        grew += b["impressions"] > a["impressions"]
    assert grew > 0
    young = [p for p in first.values() if now - p.published_at < timedelta(hours=12)]
    assert any(later[p.id].metrics["impressions"] > p.metrics["impressions"] for p in young)


async def test_competitors_show_only_public_metrics(poller) -> None:
    own = await poller.poll("demo_photo", account="rival")
    rival = await poller.poll("demo_photo", account="rival", competitor=True)
    public = {"followers", "following", "posts", "posts_published", "mentions"}
    assert {s.metric for s in rival.samples} == public
    assert value(rival, "followers") == value(own, "followers")
    assert [p.id for p in rival.posts] == [p.id for p in own.posts]
    for post in rival.posts:
        assert set(post.metrics) <= {"likes", "comments", "shares", "video_views"}
        assert "likes" in post.metrics


# failures, latency, history -----------------------------------------------------------------


async def test_fail_rate_one_always_fails_as_unavailable(poller) -> None:
    for minutes in range(5):
        with pytest.raises(kpiwatch.Unavailable) as caught:
            await poller.poll("demo_photo", NOW + timedelta(minutes=minutes), fail_rate=1)
        assert caught.value.reason == "unavailable"


async def test_fail_rate_fails_some_time_slots_deterministically(poller) -> None:
    async def fails(now: datetime) -> bool:
        try:
            await poller.poll("demo_web", now, fail_rate=0.5)
        except kpiwatch.Unavailable:
            return True
        return False

    moments = [NOW + timedelta(minutes=m) for m in range(60)]
    outcomes = [await fails(m) for m in moments]
    assert 10 <= sum(outcomes) <= 50
    assert outcomes == [await fails(m) for m in moments]


async def test_latency_delays_the_answer(poller) -> None:
    started = time.monotonic()
    await poller.poll("demo_pro", latency="50ms")
    assert time.monotonic() - started >= 0.05


async def test_history_returns_past_midnights_as_they_were_polled(poller) -> None:
    result = await poller.poll("demo_photo", history_days=3)
    stamps = Counter(s.timestamp for s in result.samples)
    live = stamps.pop(None)
    midnights = sorted(stamps)
    today = NOW.replace(hour=0, minute=0, second=0)
    assert midnights == [today - timedelta(days=d) for d in (2, 1, 0)]
    assert all(count == live for count in stamps.values())
    at_midnight = await poller.poll("demo_photo", today - timedelta(days=1))
    past = [s for s in result.samples if s.timestamp == today - timedelta(days=1)]
    assert [(s.metric, s.value, s.window) for s in past] == [
        (s.metric, s.value, s.window) for s in at_midnight.samples
    ]
    since = await poller.poll(
        "demo_photo", history_days=3, last_success=today - timedelta(hours=30)
    )
    assert {s.timestamp for s in since.samples} == {None, today - timedelta(days=1), today}
    none = await poller.poll("demo_photo")
    assert {s.timestamp for s in none.samples} == {None}


# the built-in demo configuration -------------------------------------------------------------


def test_the_demo_configuration_is_valid_and_complete(registry) -> None:
    text = demo_config_yaml()
    assert text.startswith("#")
    config = Config.model_validate(yaml.safe_load(text))
    assert config.defaults.interval == timedelta(seconds=30)
    assert config.defaults.timeout == timedelta(seconds=10)
    own: dict[str, set[str]] = {}
    competitors = [a for a in config.accounts if a.competitor]
    for account in config.accounts:
        platform = registry.platforms[account.platform]
        platform.settings.model_validate(account.settings)
        if not account.competitor:
            own.setdefault(account.labels["brand"], set()).add(account.platform)
    assert len(own) >= 2
    assert all(platforms == DEMO_PLATFORMS for platforms in own.values())
    assert 2 <= len(competitors) <= 4
    assert {a.labels["brand"] for a in competitors}.isdisjoint(own)


async def test_every_demo_account_can_be_polled(poller) -> None:
    config = Config.model_validate(yaml.safe_load(demo_config_yaml()))
    for account in config.accounts:
        platform = poller.platform(account.platform)
        settings = platform.settings.model_validate({**account.settings, "fail_rate": 0})
        ctx = kpiwatch.CollectContext(
            account.id,
            account.platform,
            settings,
            account.labels,
            account.competitor,
            poller.http,
            {},
            structlog.get_logger(),
            NOW,
        )
        result = await platform.collect(ctx)
        assert check_result(result, NOW).problems == []


def test_the_demo_configuration_takes_a_listen_address_and_many_accounts(registry) -> None:
    config = Config.model_validate(yaml.safe_load(demo_config_yaml(listen="0.0.0.0:9999")))
    assert config.server.listen == "0.0.0.0:9999"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when there is one
    big = Config.model_validate(yaml.load(demo_config_yaml(accounts=10_000), Loader=loader))
    assert len(big.accounts) == 10_000
    assert len({a.id for a in big.accounts}) == 10_000
    assert {a.platform for a in big.accounts} == DEMO_PLATFORMS
    assert len({a.labels["brand"] for a in big.accounts}) >= 2
    assert any(a.competitor for a in big.accounts)
    for account in big.accounts[:50]:
        registry.platforms[account.platform].settings.model_validate(account.settings)
    assert Config.model_validate(yaml.safe_load(demo_config_yaml(accounts=3))).accounts[2].id
    assert Config.model_validate(yaml.safe_load(demo_config_yaml(accounts=0))).accounts == []


def test_the_demo_configuration_module_does_not_import_the_plugin() -> None:
    code = (
        "import sys, kpiwatch.demo_config as d; d.demo_config_yaml(accounts=5); "
        "print(any(m.startswith('kpiwatch_platforms') for m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "False"


def test_the_sample_configuration_of_the_plugin_is_valid(registry) -> None:
    path = Path(kpiwatch_platforms.demo.__file__).with_name("sample.yaml")
    config = Config.model_validate(yaml.safe_load(path.read_text()))
    assert {a.platform for a in config.accounts} == DEMO_PLATFORMS
    assert any(a.competitor for a in config.accounts)
    for account in config.accounts:
        registry.platforms[account.platform].settings.model_validate(account.settings)
