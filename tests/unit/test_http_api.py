"""The HTTP API serves every route over real HTTP: negotiation, readiness, status, reload."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urljoin

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from kpiwatch.exposition import ExpositionCache
from kpiwatch.http_api import (
    ReloadOutcome,
    accepts_gzip,
    bound_port,
    create_app,
    start_server,
    wants_openmetrics,
)
from kpiwatch.platform import Sample
from kpiwatch.runtime import AccountStatus, Runtime

NOW = 1_800_000_000.0
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def make_runtime() -> Runtime:
    runtime = Runtime()
    runtime.config_loaded = True
    runtime.started_at = NOW - 120
    runtime.add_account(
        AccountStatus(
            "acme-demo",
            "demo",
            {"brand": "acme"},
            state="up",
            polls=3,
            failures=Counter(rate_limited=1),
            last_attempt=NOW - 10,
            last_success=NOW - 9.5,
            last_duration=0.5,
            next_poll=NOW + 890,
            last_sample_count=2,
        )
    )
    runtime.add_account(
        AccountStatus(
            "rival-demo",
            "demo",
            {},
            competitor=True,
            state="down",
            polls=2,
            failures=Counter(auth=2),
            consecutive_failures=2,
            last_attempt=NOW - 5,
            last_duration=0.25,
            last_error_reason="auth",
            last_error_message="HTTP 401 from the platform",
            last_error_at=NOW - 4.75,
        )
    )
    runtime.add_account(AccountStatus("new-mastodon", "mastodon", {}, running=True))
    runtime.store_samples("acme-demo", [Sample("followers", 1234)])
    return runtime


def info() -> dict[str, object]:
    return {"source": "/etc/kpiwatch/config.yaml", "accounts_configured": 3}


async def reload_ok() -> ReloadOutcome:
    return ReloadOutcome(ok=True, problems=[], changes={"added": ["x"], "removed": []})


async def reload_bad() -> ReloadOutcome:
    return ReloadOutcome(ok=False, problems=["config.yaml:3: accounts[0].id is missing"])


async def reload_crashes() -> ReloadOutcome:
    raise RuntimeError("token=s3cret leaked into a message")


async def client_for(runtime: Runtime, reload=reload_ok) -> TestClient:
    cache = ExpositionCache(runtime, build_info={"version": "1.0.0", "python": "3.11.4"})
    await cache.render_now()
    app = create_app(runtime=runtime, exposition=cache, reload=reload, info=info)
    client = TestClient(TestServer(app, host="127.0.0.1"), auto_decompress=False)
    await client.start_server()
    return client


@pytest.fixture
async def client():
    client = await client_for(make_runtime())
    yield client
    await client.close()


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)


async def test_landing_page_links_every_endpoint_and_counts_accounts(client):
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert "<title>kpiwatch" in page
    assert "1 up, 1 down, 1 pending" in page
    parser = Links()
    parser.feed(page)
    targets = {urljoin("http://host/", href) for href in parser.hrefs}
    assert {
        "http://host/metrics",
        "http://host/healthz",
        "http://host/readyz",
        "http://host/api/v1/status",
    } <= targets
    for href in parser.hrefs:  # every link leads somewhere
        followed = await client.get(urljoin("/", href))
        assert followed.status in (200, 503), href


async def test_metrics_default_is_prometheus_text_0_0_4(client):
    resp = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in resp.headers
    families = {f.name: f for f in parse_text(await resp.text())}
    followers = families["kpiwatch_followers"].samples
    assert [(s.labels["account"], s.value) for s in followers] == [("acme-demo", 1234)]


async def test_metrics_negotiates_openmetrics_for_prometheus(client):
    resp = await client.get(
        "/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "identity"}
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    body = await resp.text()
    assert body.endswith("# EOF\n")
    names = {f.name for f in parse_openmetrics(body)}
    assert {"kpiwatch_followers", "kpiwatch_up", "kpiwatch_build"} <= names
    assert "Accept" in resp.headers["Vary"]


async def test_metrics_text_when_openmetrics_is_refused(client):
    resp = await client.get("/metrics", headers={"Accept": "application/openmetrics-text;q=0"})
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")


async def test_metrics_gzip_when_the_client_accepts_it(client):
    plain = await (await client.get("/metrics", headers={"Accept-Encoding": "identity"})).read()
    resp = await client.get("/metrics", headers={"Accept-Encoding": "gzip, deflate"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in resp.headers["Vary"]
    assert gzip.decompress(await resp.read()) == plain
    om = await client.get(
        "/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
    )
    assert om.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await om.read()).endswith(b"# EOF\n")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", False),
        ("text/plain", False),
        ("*/*", False),
        ("application/openmetrics-text", True),
        (PROMETHEUS_ACCEPT, True),
        ("text/plain;q=1, application/openmetrics-text;q=0.5", False),
        ("Application/OpenMetrics-Text; version=1.0.0", True),
        ("application/openmetrics-text;q=0", False),
        ("application/openmetrics-text;q=bogus, text/plain", False),
    ],
)
def test_wants_openmetrics(accept, expected):
    assert wants_openmetrics(accept) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", False),
        ("identity", False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("*", True),
        ("*;q=0.1, gzip;q=0", False),
    ],
)
def test_accepts_gzip(header, expected):
    assert accepts_gzip(header) is expected


async def test_healthz_answers_ok(client):
    resp = await client.get("/healthz")
    assert (resp.status, await resp.text()) == (200, "ok\n")


async def test_readyz_is_503_until_config_and_first_polls_then_200():
    runtime = make_runtime()
    runtime.config_loaded = False
    client = await client_for(runtime)
    try:
        resp = await client.get("/readyz")
        assert resp.status == 503
        reasons = (await resp.json())["reasons"]
        assert "the configuration is not loaded yet" in reasons
        assert "1 of 3 accounts have not finished their first poll" in reasons

        runtime.config_loaded = True
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert (await resp.json())["reasons"] == [
            "1 of 3 accounts have not finished their first poll"
        ]

        runtime.accounts["new-mastodon"].state = "down"
        resp = await client.get("/readyz")
        assert resp.status == 200
        assert await resp.json() == {"ready": True, "reasons": []}
    finally:
        await client.close()


async def test_status_lists_every_account(client):
    resp = await client.get("/api/v1/status")
    assert resp.status == 200
    data = await resp.json()
    assert data["ready"] is False
    assert data["config"] == info()
    assert data["shard"] == {"index": 0, "count": 1}
    assert data["summary"] == {"up": 1, "down": 1, "pending": 1}
    assert datetime.fromisoformat(data["started_at"]).timestamp() == NOW - 120
    assert data["exposition"]["version"] == 1
    accounts = {a["id"]: a for a in data["accounts"]}
    assert set(accounts) == {"acme-demo", "rival-demo", "new-mastodon"}

    acme = accounts["acme-demo"]
    assert acme["platform"] == "demo"
    assert acme["labels"] == {"brand": "acme"}
    assert acme["competitor"] is False
    assert acme["state"] == "up"
    assert acme["failures"] == {"rate_limited": 1}
    assert acme["last_success"].endswith("Z")
    assert datetime.fromisoformat(acme["last_success"]).timestamp() == NOW - 9.5
    assert datetime.fromisoformat(acme["next_poll"]).timestamp() == NOW + 890
    assert acme["last_duration_seconds"] == 0.5
    assert acme["last_error"] is None

    rival = accounts["rival-demo"]
    assert rival["competitor"] is True
    assert rival["consecutive_failures"] == 2
    assert rival["last_success"] is None
    assert rival["last_error"]["reason"] == "auth"
    assert rival["last_error"]["message"] == "HTTP 401 from the platform"
    assert datetime.fromisoformat(rival["last_error"]["at"]).timestamp() == NOW - 4.75

    pending = accounts["new-mastodon"]
    assert pending["state"] == "pending"
    assert pending["running"] is True
    assert pending["last_attempt"] is None


async def test_status_filters_by_account_and_platform(client):
    by_platform = await (await client.get("/api/v1/status?platform=mastodon")).json()
    assert [a["id"] for a in by_platform["accounts"]] == ["new-mastodon"]
    by_account = await (await client.get("/api/v1/status?account=rival-demo")).json()
    assert [a["id"] for a in by_account["accounts"]] == ["rival-demo"]
    both = await (await client.get("/api/v1/status?account=rival-demo&platform=mastodon")).json()
    assert both["accounts"] == []
    missing = await client.get("/api/v1/status?account=nobody")
    assert missing.status == 404
    assert "nobody" in (await missing.json())["error"]


async def test_reload_success_returns_the_changes(client):
    resp = await client.post("/-/reload")
    assert resp.status == 200
    assert await resp.json() == {"status": "success", "changes": {"added": ["x"], "removed": []}}


async def test_reload_failure_returns_the_problems():
    client = await client_for(make_runtime(), reload=reload_bad)
    try:
        resp = await client.post("/-/reload")
        assert resp.status == 400
        assert await resp.json() == {
            "status": "error",
            "problems": ["config.yaml:3: accounts[0].id is missing"],
        }
    finally:
        await client.close()


async def test_reload_disabled_is_403():
    client = await client_for(make_runtime(), reload=None)
    try:
        resp = await client.post("/-/reload")
        assert resp.status == 403
        body = await resp.json()
        assert body["status"] == "error"
        assert "disabled" in body["error"]
        page = await (await client.get("/")).text()
        assert "disabled" in page
    finally:
        await client.close()


async def test_reload_that_raises_is_500_without_the_message():
    client = await client_for(make_runtime(), reload=reload_crashes)
    try:
        resp = await client.post("/-/reload")
        assert resp.status == 500
        text = await resp.text()
        assert "RuntimeError" in text
        assert "s3cret" not in text
    finally:
        await client.close()


async def test_wrong_method_and_unknown_path(client):
    assert (await client.get("/-/reload")).status == 405
    assert (await client.post("/metrics")).status == 405
    assert (await client.get("/nope")).status == 404


async def test_start_server_on_port_0_serves_real_http():
    runtime = make_runtime()
    cache = ExpositionCache(runtime)
    app = create_app(runtime=runtime, exposition=cache, reload=None, info=info)
    runner = await start_server(app, "127.0.0.1", 0)
    try:
        port = bound_port(runner)
        assert port > 0
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert (resp.status, await resp.text()) == (200, "ok\n")
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert "kpiwatch_build_info" in await resp.text()  # rendered on first request
            async with session.get(f"http://127.0.0.1:{port}/api/v1/status") as resp:
                assert json.loads(await resp.text())["accounts"]
    finally:
        await runner.cleanup()


async def test_start_server_on_a_busy_port_raises_oserror():
    runtime = Runtime()
    app = create_app(runtime=runtime, exposition=ExpositionCache(runtime), reload=None, info=dict)
    first = await start_server(app, "127.0.0.1", 0)
    try:
        second_app = create_app(
            runtime=runtime, exposition=ExpositionCache(runtime), reload=None, info=dict
        )
        with pytest.raises(OSError):
            await start_server(second_app, "127.0.0.1", bound_port(first))
    finally:
        await first.cleanup()
