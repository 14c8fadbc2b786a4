"""The daemon with one account of each second-wave platform, against fake APIs on loopback.

A real ``kpiwatch run`` subprocess polls Facebook, Instagram, Meta Ads, LinkedIn, TikTok and
Google Analytics 4 served by one FakeApi in this process (each plugin's base URL and token
endpoint settings point there), and every platform's metrics must appear on /metrics with the
values the fake APIs answered, with the rate-limit and quota gauges of their usage headers
and quota bodies, and the cost KPIs of the ad account. The fake answers are the documented
shapes of each API (each plugin's tests cover pagination, errors, removed metrics).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from processes import Kpiwatch, free_port
from prometheus_client.parser import text_string_to_metric_families

from kpiwatch.testing import FakeApi, Reply

pytestmark = pytest.mark.e2e

GRAPH = "/v24.0"
PAGE_ID = "104000000000001"
IG_USER_ID = "17841400000000001"
AD_ACCOUNT = "act_1234567890"
ORGANIZATION = "2414183"
PROPERTY = "123456789"

#: Meta's reporting days end at midnight Pacific time.
PACIFIC = ZoneInfo("America/Los_Angeles")
#: The ad account's and the GA4 property's time zone.
BERLIN = ZoneInfo("Europe/Berlin")

#: Credentials in the settings and from the token endpoints: none may reach the log.
SECRETS = {
    "facebook_token": "EAAPage-e2e-secret-token",
    "instagram_token": "EAAInsta-e2e-secret-token",
    "ads_token": "EAAAds-e2e-secret-token",
    "linkedin_secret": "WPL_AP1.e2e-client-secret",
    "linkedin_refresh": "AQ-e2e-linkedin-refresh",
    "linkedin_access": "AQ-e2e-linkedin-access",
    "tiktok_secret": "tt-e2e-client-secret",
    "tiktok_refresh": "rft.e2e-first-refresh",
    "tiktok_access": "act.e2e-access",
    "tiktok_rotated": "rft.e2e-rotated-refresh",
    "ga4_secret": "GOCSPX-e2e-secret",
    "ga4_refresh": "1//0g-e2e-refresh",
    "ga4_access": "ya29.e2e-access",
}

#: X-App-Usage of the Page token: 12 % of the app's calls used, so 88 % remain.
APP_USAGE = json.dumps({"call_count": 12, "total_cputime": 3, "total_time": 7})
#: X-Business-Use-Case-Usage of the Instagram account: 20 % used, 80 % remain.
IG_USAGE = json.dumps(
    {
        IG_USER_ID: [
            {
                "type": "instagram",
                "call_count": 20,
                "total_cputime": 5,
                "total_time": 9,
                "estimated_time_to_regain_access": 0,
            }
        ]
    }
)
#: X-Ad-Account-Usage of the ad account: 9.67 % used.
AD_USAGE = json.dumps(
    {"acc_id_util_pct": 9.67, "reset_time_duration": 0, "ads_api_access_tier": "standard_access"}
)
#: GA4's propertyQuota after the report: tokens left today and this hour.
TOKENS_LEFT_TODAY = 199_990
TOKENS_LEFT_THIS_HOUR = 39_990


def pacific_midnight() -> datetime:
    """The start of today in Los Angeles: the end of Meta's last complete reporting day."""
    today = datetime.now(PACIFIC).date()
    return datetime.combine(today, datetime.min.time(), tzinfo=PACIFIC)


def berlin_yesterday() -> date:
    return datetime.now(BERLIN).date() - timedelta(days=1)


def graph_time(moment: datetime) -> str:
    """A Graph API ``end_time``: ``2026-03-10T07:00:00+0000``."""
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S+0000")


def serve_facebook(api: FakeApi) -> None:
    """The Page's fields, its daily reach (week and 28 days: no data) and no recent posts."""
    usage = {"X-App-Usage": APP_USAGE}
    api.add(
        "GET",
        f"{GRAPH}/{PAGE_ID}",
        Reply(json={"id": PAGE_ID, "name": "Acme", "followers_count": 5120}, headers=usage),
    )
    api.add("GET", f"{GRAPH}/{PAGE_ID}/insights", Reply(json={"data": []}, headers=usage))
    reach = {
        "name": "page_total_media_view_unique",
        "period": "day",
        "values": [{"value": 950, "end_time": graph_time(pacific_midnight())}],
        "title": "Daily Total Media View Unique",
        "id": f"{PAGE_ID}/insights/page_total_media_view_unique/day",
    }
    api.add(
        "GET",
        f"{GRAPH}/{PAGE_ID}/insights",
        Reply(json={"data": [reach]}, headers=usage),
        query={"period": "day"},
    )
    api.add(
        "GET",
        f"{GRAPH}/{PAGE_ID}/posts",
        Reply(json={"data": [], "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}}),
    )


def serve_instagram(api: FakeApi) -> None:
    """The account's counts; insights with no data yet (missing, not zero) and no media."""
    api.add(
        "GET",
        f"{GRAPH}/{IG_USER_ID}",
        Reply(
            json={
                "id": IG_USER_ID,
                "username": "acme",
                "followers_count": 12800,
                "follows_count": 310,
                "media_count": 842,
            },
            headers={"X-Business-Use-Case-Usage": IG_USAGE},
        ),
    )
    api.add("GET", f"{GRAPH}/{IG_USER_ID}/insights", {"data": []})
    api.add("GET", f"{GRAPH}/{IG_USER_ID}/media", {"data": []})


def ad_row(campaign: str, name: str, spend: str, clicks: str, revenue: str) -> dict:
    """One campaign on yesterday (the account's day) of an Ads Insights report."""
    day = berlin_yesterday().isoformat()
    return {
        "campaign_id": campaign,
        "campaign_name": name,
        "spend": spend,
        "impressions": "10000",
        "clicks": clicks,
        "actions": [
            {"action_type": "link_click", "value": clicks},
            {"action_type": "purchase", "value": "4"},
        ],
        "action_values": [
            {"action_type": "purchase", "value": revenue},
            {"action_type": "omni_purchase", "value": revenue},
        ],
        "date_start": day,
        "date_stop": day,
    }


def serve_meta_ads(api: FakeApi) -> None:
    """The ad account (EUR, Berlin) and yesterday's report of two campaigns: spend 120.50 +
    79.50 = 200 EUR, clicks 400 + 100 = 500, purchases 4 + 4 = 8 (link clicks are no
    conversion), purchase value 500 + 300 = 800 EUR (omni_purchase repeats it: not counted)."""
    api.add(
        "GET",
        f"{GRAPH}/{AD_ACCOUNT}",
        {
            "name": "Acme Ads",
            "currency": "EUR",
            "timezone_name": "Europe/Berlin",
            "account_status": 1,
            "id": AD_ACCOUNT,
        },
    )
    rows = [
        ad_row("120200000000000001", "Spring sale", "120.50", "400", "500.00"),
        ad_row("120200000000000002", "Lead forms", "79.50", "100", "300.00"),
    ]
    api.add(
        "GET",
        f"{GRAPH}/{AD_ACCOUNT}/insights",
        Reply(
            json={"data": rows, "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}},
            headers={"X-Ad-Account-Usage": AD_USAGE},
        ),
    )


def serve_linkedin(api: FakeApi) -> None:
    """The token endpoint (programmatic refresh), the network size, no daily statistics yet
    and no posts."""
    api.add(
        "POST",
        "/oauth/v2/accessToken",
        {
            "access_token": SECRETS["linkedin_access"],
            "expires_in": 5184000,
            "refresh_token": SECRETS["linkedin_refresh"],
            "refresh_token_expires_in": 31103999,
            "scope": "r_organization_social,rw_organization_admin",
        },
    )
    urn = f"urn:li:organization:{ORGANIZATION}"
    api.add("GET", f"/rest/networkSizes/{urn}", {"firstDegreeSize": 33634367})
    empty = {"paging": {"count": 10, "start": 0, "links": []}, "elements": []}
    api.add("GET", "/rest/organizationalEntityFollowerStatistics", empty)
    api.add("GET", "/rest/organizationalEntityShareStatistics", empty)
    api.add("GET", "/rest/posts", empty)


def serve_tiktok(api: FakeApi) -> None:
    """The token endpoint (a rotated refresh token), the user's counters and no videos."""
    ok = {"code": "ok", "message": "", "log_id": "202611051230157F2A8C3D9E4B6A1F0C2D"}
    open_id = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
    api.add(
        "POST",
        "/tiktok-oauth/token/",
        {
            "access_token": SECRETS["tiktok_access"],
            "expires_in": 86400,
            "open_id": open_id,
            "refresh_expires_in": 31536000,
            "refresh_token": SECRETS["tiktok_rotated"],
            "scope": "user.info.basic,user.info.stats,video.list",
            "token_type": "Bearer",
        },
    )
    user = {"open_id": open_id, "follower_count": 4321, "following_count": 80, "video_count": 57}
    api.add("GET", "/v2/user/info/", {"data": {"user": user}, "error": ok})
    api.add(
        "POST",
        "/v2/video/list/",
        {"data": {"videos": [], "cursor": 0, "has_more": False}, "error": ok},
    )


def serve_ga4(api: FakeApi) -> None:
    """Google's token endpoint and a runReport answer for yesterday (Berlin): sessions from
    t.co and l.facebook.com in the Organic Social channel group, with the property quota."""
    api.add(
        "POST",
        "/google/token",
        {
            "access_token": SECRETS["ga4_access"],
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/analytics.readonly",
            "token_type": "Bearer",
        },
    )
    day = berlin_yesterday().strftime("%Y%m%d")
    metrics = ["sessions", "engagedSessions", "keyEvents", "totalRevenue"]
    rows = [
        (day, "t.co", "referral", "Organic Social", "120", "80", "6", "240.5"),
        (day, "l.facebook.com", "referral", "Organic Social", "50", "30", "2", "99.9"),
    ]
    quota = {
        "tokensPerDay": {"consumed": 10, "remaining": TOKENS_LEFT_TODAY},
        "tokensPerHour": {"consumed": 10, "remaining": TOKENS_LEFT_THIS_HOUR},
        "concurrentRequests": {"consumed": 0, "remaining": 10},
        "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
        "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
        "tokensPerProjectPerHour": {"consumed": 10, "remaining": 13_990},
    }
    body = {
        "dimensionHeaders": [
            {"name": name}
            for name in ("date", "sessionSource", "sessionMedium", "sessionDefaultChannelGroup")
        ],
        "metricHeaders": [
            {"name": name, "type": "TYPE_CURRENCY" if name == "totalRevenue" else "TYPE_INTEGER"}
            for name in metrics
        ],
        "rows": [
            {
                "dimensionValues": [{"value": v} for v in row[:4]],
                "metricValues": [{"value": v} for v in row[4:]],
            }
            for row in rows
        ],
        "rowCount": len(rows),
        "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Berlin"},
        "propertyQuota": quota,
        "kind": "analyticsData#runReport",
    }
    api.add("POST", f"/v1beta/properties/{PROPERTY}:runReport", body)


def serve_platforms(api: FakeApi) -> None:
    serve_facebook(api)
    serve_instagram(api)
    serve_meta_ads(api)
    serve_linkedin(api)
    serve_tiktok(api)
    serve_ga4(api)


def config(api: FakeApi, tmp: Path) -> str:
    s = SECRETS
    return f"""
state_dir: '{tmp / "state"}'
defaults: {{interval: 1m, timeout: 10s, jitter: 0, startup_spread: 1s}}
accounts:
  - id: e2e-facebook
    platform: facebook
    labels: {{brand: acme}}
    settings:
      page_id: '{PAGE_ID}'
      access_token: {s["facebook_token"]}
      base_url: '{api.url}'
  - id: e2e-instagram
    platform: instagram
    labels: {{brand: acme}}
    settings:
      ig_user_id: '{IG_USER_ID}'
      access_token: {s["instagram_token"]}
      base_url: '{api.url}'
  - id: e2e-meta-ads
    platform: meta_ads
    labels: {{brand: acme}}
    settings:
      ad_account_id: '{AD_ACCOUNT}'
      access_token: {s["ads_token"]}
      base_url: '{api.url}'
      days: 1
  - id: e2e-linkedin
    platform: linkedin
    labels: {{brand: acme}}
    settings:
      organization_id: '{ORGANIZATION}'
      client_id: 86dtbzz7zj1abc
      client_secret: {s["linkedin_secret"]}
      refresh_token: {s["linkedin_refresh"]}
      base_url: '{api.url}/rest'
      token_url: '{api.url}/oauth/v2/accessToken'
      history_days: 3
  - id: e2e-tiktok
    platform: tiktok
    labels: {{brand: acme}}
    settings:
      client_key: aw8kq3xw1r9zf0
      client_secret: {s["tiktok_secret"]}
      refresh_token: {s["tiktok_refresh"]}
      base_url: '{api.url}'
      token_url: '{api.url}/tiktok-oauth/token/'
  - id: e2e-ga4
    platform: ga4
    labels: {{brand: acme}}
    settings:
      property_id: '{PROPERTY}'
      oauth:
        client_id: 123-abc.apps.googleusercontent.com
        client_secret: {s["ga4_secret"]}
        refresh_token: '{s["ga4_refresh"]}'
        token_url: '{api.url}/google/token'
      api_url: '{api.url}/v1beta'
      history_days: 3
"""


#: Per account: the series (exported metric, extra labels, value) that /metrics must show.
EXPECTED: dict[str, list[tuple[str, dict[str, str], float]]] = {
    "e2e-facebook": [
        ("kpiwatch_followers", {}, 5120.0),
        ("kpiwatch_reach", {"window": "1d"}, 950.0),
    ],
    "e2e-instagram": [("kpiwatch_followers", {}, 12800.0), ("kpiwatch_posts", {}, 842.0)],
    "e2e-meta-ads": [
        ("kpiwatch_spend", {"window": "1d", "currency": "EUR", "campaign": "Spring sale"}, 120.5),
        ("kpiwatch_spend", {"window": "1d", "currency": "EUR", "campaign": "Lead forms"}, 79.5),
        ("kpiwatch_clicks", {"window": "1d"}, 500.0),
        ("kpiwatch_conversions", {"window": "1d"}, 8.0),
        ("kpiwatch_revenue", {"window": "1d", "currency": "EUR"}, 800.0),
    ],
    "e2e-linkedin": [("kpiwatch_followers", {}, 33634367.0)],
    "e2e-tiktok": [("kpiwatch_followers", {}, 4321.0), ("kpiwatch_posts", {}, 57.0)],
    "e2e-ga4": [
        ("kpiwatch_sessions", {"window": "1d", "source": "x", "medium": "social"}, 120.0),
        ("kpiwatch_sessions", {"window": "1d", "source": "facebook", "medium": "social"}, 50.0),
        (
            "kpiwatch_revenue",
            {"window": "1d", "source": "x", "medium": "social", "currency": "EUR"},
            240.5,
        ),
    ],
}

Series = dict[tuple[str, str], list[tuple[dict[str, str], float]]]


async def scrape(url: str) -> Series:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        text = await response.text()
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            account = sample.labels.get("account")
            if account:
                out.setdefault((sample.name, account), []).append((sample.labels, sample.value))
    return out


def value_of(series: Series, name: str, account: str, labels: dict[str, str]) -> float | None:
    for found, value in series.get((name, account), []):
        if all(found.get(k) == v for k, v in labels.items()):
            return value
    return None


def missing_series(series: Series, expected: dict[str, list]) -> list[str]:
    """The expected series not (yet) on /metrics with their value."""
    return [
        f"{account} {name}{labels}={value}"
        for account, wanted in expected.items()
        for name, labels, value in wanted
        if value_of(series, name, account, labels) != pytest.approx(value)
    ]


#: KPIs of the ad account worked out by hand from the served report (window 1d, this window):
#: cost per click 200 EUR / 500 clicks, cost per acquisition 200 EUR / 8 purchases, return on
#: ad spend 800 EUR / 200 EUR.
EXPECTED_KPIS = {
    "e2e-meta-ads": [
        (
            "kpiwatch_kpi_cost_per_click",
            {"window": "1d", "period": "current", "currency": "EUR"},
            0.4,
        ),
        (
            "kpiwatch_kpi_cost_per_acquisition",
            {"window": "1d", "period": "current", "currency": "EUR"},
            25.0,
        ),
        ("kpiwatch_kpi_return_on_ad_spend_ratio", {"window": "1d", "period": "current"}, 4.0),
    ]
}


async def test_every_second_wave_platform_polled_by_the_daemon_shows_on_metrics(fake_api, tmp_path):
    serve_platforms(fake_api)
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(config(fake_api, tmp_path))
    daemon = Kpiwatch(tmp_path, path, free_port())
    try:
        url = f"http://127.0.0.1:{daemon.port}/metrics"
        wanted = {**EXPECTED}
        for account, kpis in EXPECTED_KPIS.items():
            wanted[account] = [*wanted[account], *kpis]
        deadline = time.monotonic() + 25
        missing = ["nothing scraped yet"]
        series: Series = {}
        while time.monotonic() < deadline and daemon.proc.poll() is None:
            try:
                series = await scrape(url)
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
                continue
            missing = missing_series(series, wanted)
            if not missing:
                break
            await asyncio.sleep(0.3)
        log = daemon.log()
        assert not missing, f"missing on /metrics: {missing}; daemon log:\n{log[-4000:]}"
        for account in EXPECTED:
            assert value_of(series, "kpiwatch_up", account, {}) == 1.0, account
            assert value_of(series, "kpiwatch_metrics_disabled", account, {}) == 0.0, account
        # Meta's usage headers: 100 minus the largest percentage used
        assert value_of(series, "kpiwatch_rate_limit_remaining", "e2e-facebook", {}) == 88.0
        assert value_of(series, "kpiwatch_rate_limit_remaining", "e2e-instagram", {}) == 80.0
        ads_left = value_of(series, "kpiwatch_rate_limit_remaining", "e2e-meta-ads", {})
        assert ads_left == pytest.approx(100 - 9.67)
        # GA4's propertyQuota: the tokens left today and this hour
        assert value_of(series, "kpiwatch_quota_remaining_units", "e2e-ga4", {}) == (
            TOKENS_LEFT_TODAY
        )
        assert value_of(series, "kpiwatch_quota_limit_units", "e2e-ga4", {}) == 200_000
        assert value_of(series, "kpiwatch_rate_limit_remaining", "e2e-ga4", {}) == (
            TOKENS_LEFT_THIS_HOUR
        )
        # the OAuth platforms called their token endpoints and used the tokens they got
        assert [r.form()["refresh_token"] for r in fake_api.calls("/oauth/v2/accessToken")] == [
            SECRETS["linkedin_refresh"]
        ]
        (network,) = fake_api.calls(f"/rest/networkSizes/urn:li:organization:{ORGANIZATION}")
        assert network.headers["Authorization"] == f"Bearer {SECRETS['linkedin_access']}"
        assert network.headers["LinkedIn-Version"]
        (tiktok_token,) = fake_api.calls("/tiktok-oauth/token/")
        assert tiktok_token.form()["refresh_token"] == SECRETS["tiktok_refresh"]
        (user_info,) = fake_api.calls("/v2/user/info/")
        assert user_info.headers["Authorization"] == f"Bearer {SECRETS['tiktok_access']}"
        (report,) = fake_api.calls(f"/v1beta/properties/{PROPERTY}:runReport")
        assert report.headers["Authorization"] == f"Bearer {SECRETS['ga4_access']}"
        # secrets from the settings and the token endpoints never reach the log
        leaked = [name for name, secret in SECRETS.items() if secret in log]
        assert not leaked, f"secrets in the daemon log: {leaked}"
    finally:
        daemon.stop()
