"""The daemon with one account of each first-wave platform, against fake APIs on loopback.

A real ``kpiwatch run`` subprocess polls Mastodon, Bluesky, YouTube, X and a generic JSON API
served by one FakeApi in this process (each plugin's base URL setting points there), plus a
CSV file, and every platform's metrics must appear on /metrics with the values the fake APIs
answered. The fake answers are the documented shapes of each API (see each plugin's tests for
the details: pagination, errors, rate limits).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from processes import Kpiwatch, free_port
from prometheus_client.parser import text_string_to_metric_families

from kpiwatch.testing import FakeApi, Reply

pytestmark = pytest.mark.e2e

X_USER_ID = "2244994945"
MASTODON_ID = "14715"
RIVAL_ID = "23000"


def hashtag_status(ident: str) -> dict:
    """A public status by someone else, an hour old (Mastodon's Status entity)."""
    created = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    return {
        "id": ident,
        "created_at": created,
        "visibility": "public",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": "<p>#tag</p>",
        "reblog": None,
        "account": {"id": f"9{ident}", "username": f"fan{ident}", "acct": f"fan{ident}"},
        "media_attachments": [],
    }


def serve_platforms(api: FakeApi) -> None:
    # Mastodon: account lookup and its statuses (no token: public data)
    api.add(
        "GET",
        "/api/v1/accounts/lookup",
        Reply(
            json={
                "id": MASTODON_ID,
                "username": "acme",
                "acct": "acme",
                "created_at": "2016-11-24T10:02:12.085Z",
                "followers_count": 1200,
                "following_count": 150,
                "statuses_count": 640,
            },
            headers={
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "299",
                "X-RateLimit-Reset": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
            },
        ),
    )
    api.add("GET", f"/api/v1/accounts/{MASTODON_ID}/statuses", [])
    # a competitor on Mastodon, and the public hashtag timelines mentions come from: in the
    # last day, three statuses by others use #acme and one uses #rival
    api.add(
        "GET",
        "/api/v1/accounts/lookup",
        {
            "id": RIVAL_ID,
            "username": "rival",
            "acct": "rival",
            "followers_count": 800,
            "following_count": 20,
            "statuses_count": 90,
        },
        query={"acct": "rival"},
    )
    api.add("GET", f"/api/v1/accounts/{RIVAL_ID}/statuses", [])
    api.add("GET", "/api/v1/timelines/tag/acme", [hashtag_status(str(n)) for n in (1, 2, 3)])
    api.add("GET", "/api/v1/timelines/tag/rival", [hashtag_status("4")])
    # Bluesky: the public AppView's profile and author feed
    api.add(
        "GET",
        "/xrpc/app.bsky.actor.getProfile",
        {
            "did": "did:plc:z72i7hdynmk6r22z27h6tvur",
            "handle": "acme.bsky.social",
            "followersCount": 1520,
            "followsCount": 310,
            "postsCount": 842,
        },
    )
    api.add("GET", "/xrpc/app.bsky.feed.getAuthorFeed", {"feed": []})
    # YouTube Data API v3 (API key): the channel, its uploads playlist (empty)
    api.add(
        "GET",
        "/youtube/v3/channels",
        {
            "kind": "youtube#channelListResponse",
            "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
            "items": [
                {
                    "kind": "youtube#channel",
                    "id": "UC_x5XG1OV2P6uZZ5FSM9Ttw",
                    "contentDetails": {"relatedPlaylists": {"uploads": "UU_x5XG1OV2P6uZZ5FSM9Ttw"}},
                    "statistics": {
                        "viewCount": "123456",
                        "subscriberCount": "1500",
                        "hiddenSubscriberCount": False,
                        "videoCount": "87",
                    },
                }
            ],
        },
    )
    api.add("GET", "/youtube/v3/playlistItems", {"kind": "youtube#playlistItemListResponse"})
    # X API v2 (app-only bearer): the user's public metrics and an empty timeline
    limits = {
        "x-rate-limit-limit": "1500",
        "x-rate-limit-remaining": "1499",
        "x-rate-limit-reset": str(int(time.time()) + 900),
    }
    api.add(
        "GET",
        "/2/users/by/username/acme",
        Reply(
            json={
                "data": {
                    "id": X_USER_ID,
                    "name": "Acme",
                    "username": "acme",
                    "public_metrics": {
                        "followers_count": 583423,
                        "following_count": 2048,
                        "tweet_count": 14052,
                        "listed_count": 1672,
                        "like_count": 2170,
                    },
                }
            },
            headers=limits,
        ),
    )
    api.add(
        "GET",
        f"/2/users/{X_USER_ID}/tweets",
        Reply(json={"meta": {"result_count": 0}}, headers=limits),
    )
    # a generic JSON API mapped with JMESPath
    api.add("GET", "/api/stats", {"data": {"followers": 321, "visits_7d": 4500}})


def config(api: FakeApi, tmp: Path) -> str:
    csv_file = tmp / "finance.csv"
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date()
    csv_file.write_text(f"date,revenue\n{yesterday},1234.50\n")
    return f"""
state_dir: '{tmp / "state"}'
defaults: {{interval: 1m, timeout: 10s, jitter: 0, startup_spread: 1s}}
accounts:
  - id: e2e-mastodon
    platform: mastodon
    labels: {{brand: acme}}
    settings: {{instance: '{api.url}', account: acme, mention_hashtags: [acme]}}
  - id: e2e-rival-mastodon
    platform: mastodon
    competitor: true
    labels: {{brand: rival}}
    settings: {{instance: '{api.url}', account: rival, mention_hashtags: [rival]}}
  - id: e2e-bluesky
    platform: bluesky
    labels: {{brand: acme}}
    settings: {{handle: acme.bsky.social, appview_url: '{api.url}', pds_url: '{api.url}'}}
  - id: e2e-youtube
    platform: youtube
    labels: {{brand: acme}}
    settings:
      channel_id: UC_x5XG1OV2P6uZZ5FSM9Ttw
      api_key: AIzaSy-test-key-0123456789
      api_url: '{api.url}/youtube/v3'
      analytics_url: '{api.url}/v2'
  - id: e2e-x
    platform: x
    labels: {{brand: acme}}
    settings: {{username: acme, bearer_token: AAAA-test-bearer, base_url: '{api.url}'}}
  - id: e2e-json
    platform: http_json
    labels: {{brand: acme}}
    settings:
      url: '{api.url}/api/stats'
      metrics:
        - {{metric: followers, path: data.followers}}
        - {{metric: sessions, path: data.visits_7d, window: 7d}}
  - id: e2e-csv
    platform: csv
    labels: {{brand: acme}}
    settings:
      path: '{csv_file}'
      date: {{column: date}}
      columns:
        - {{column: revenue, metric: revenue, window: 1d, dims: {{currency: EUR}}}}
"""


#: Per account: (exported metric, extra labels, value) that /metrics must show.
EXPECTED = {
    "e2e-mastodon": ("kpiwatch_followers", {}, 1200.0),
    "e2e-bluesky": ("kpiwatch_followers", {}, 1520.0),
    "e2e-youtube": ("kpiwatch_followers", {}, 1500.0),
    "e2e-x": ("kpiwatch_followers", {}, 583423.0),
    "e2e-json": ("kpiwatch_sessions", {"window": "7d"}, 4500.0),
    "e2e-csv": ("kpiwatch_revenue", {"window": "1d", "currency": "EUR"}, 1234.5),
    "e2e-rival-mastodon": ("kpiwatch_followers", {}, 800.0),
}


async def scrape(url: str) -> dict[tuple[str, str], list[tuple[dict[str, str], float]]]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        text = await response.text()
    out: dict[tuple[str, str], list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            account = sample.labels.get("account")
            if account:
                out.setdefault((sample.name, account), []).append((sample.labels, sample.value))
    return out


async def wait_for_sample(
    url: str, name: str, account: str, labels: dict[str, str], timeout: float = 20
) -> float:
    """The value of one series of /metrics once it is there (the KPI engine computes after
    the polls are stored)."""
    deadline = time.monotonic() + timeout
    while True:
        for found, value in (await scrape(url)).get((name, account), []):
            if all(found.get(k) == v for k, v in labels.items()):
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {name}{labels} for {account} on /metrics")
        await asyncio.sleep(0.3)


async def test_every_platform_polled_by_the_daemon_shows_on_metrics(fake_api, tmp_path):
    serve_platforms(fake_api)
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(config(fake_api, tmp_path))
    daemon = Kpiwatch(tmp_path, path, free_port())
    try:
        url = f"http://127.0.0.1:{daemon.port}/metrics"
        deadline = time.monotonic() + 60
        missing: list[str] = list(EXPECTED)
        while time.monotonic() < deadline and daemon.proc.poll() is None:
            try:
                series = await scrape(url)
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
                continue
            missing = [
                account
                for account, (name, labels, value) in EXPECTED.items()
                if not any(
                    all(found.get(k) == v for k, v in labels.items()) and got == value
                    for found, got in series.get((name, account), [])
                )
            ]
            if not missing:
                break
            await asyncio.sleep(0.3)
        log = daemon.log_path.read_text(errors="replace")
        assert not missing, f"no expected metric yet for {missing}; daemon log:\n{log[-3000:]}"
        for account in EXPECTED:
            assert series[("kpiwatch_up", account)][0][1] == 1.0, account
        # rate-limit headers of Mastodon and X reached the gauges
        assert series[("kpiwatch_rate_limit_remaining", "e2e-mastodon")][0][1] == 299.0
        assert series[("kpiwatch_rate_limit_remaining", "e2e-x")][0][1] == 1499.0
        # YouTube counts its quota: one unit per list call
        quota = series[("kpiwatch_quota_remaining_units", "e2e-youtube")][0][1]
        assert 9_990 <= quota < 10_000
        # the competitor feeds share of voice: 3 of the 4 mentions on Mastodon are acme's
        voice = await wait_for_sample(
            url, "kpiwatch_kpi_share_of_voice_ratio", "e2e-mastodon", {"window": "1d"}
        )
        assert voice == pytest.approx(0.75)
        # secrets from the settings never reach the log
        assert "AIzaSy-test-key" not in log and "AAAA-test-bearer" not in log
    finally:
        daemon.stop()
