"""The built-in notifier types against real receivers: loopback aiohttp servers, the real
Alertmanager 0.25 binary and apprise's json:// client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pluggy
import pytest
import structlog
from notifier_receivers import Alertmanager, Receiver, free_port
from pydantic import BaseModel, ValidationError

import kpiwatch
from kpiwatch.alerting.model import Alert, fingerprint
from kpiwatch.alerting.notifiers import builtin
from kpiwatch.alerting.notifiers.alertmanager import ALERTMANAGER
from kpiwatch.alerting.notifiers.base import (
    ZERO_TIME,
    DeliveryError,
    Notification,
    NotifierSetup,
    NotifierType,
)
from kpiwatch.alerting.notifiers.chat import APPRISE, title
from kpiwatch.alerting.notifiers.webhook import WEBHOOK, parse_retry_after

NOW = 1_800_000_000.0
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# helpers ----------------------------------------------------------------------------------
def make_alert(
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    *,
    status: str = "firing",
    starts_at: float = NOW - 600,
    ends_at: float | None = None,
) -> Alert:
    return Alert(
        fingerprint(labels),
        labels["alertname"],
        dict(labels),
        dict(annotations or {}),
        status,  # type: ignore[arg-type]
        starts_at,
        ends_at,
        f"http://127.0.0.1:9464/rules/{labels['alertname']}",
    )


def notify(
    alerts: list[Alert],
    *,
    status: str | None = None,
    kind: str = "group",
    key: str = "idem-1",
    valid_for: float = 0.0,
    group_labels: Mapping[str, str] | None = None,
) -> Notification:
    if status is None:
        status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    if group_labels is None:
        group_labels = {"alertname": alerts[0].labels["alertname"]} if alerts else {}
    return Notification(
        notifier="team",
        kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        group_key='{}:{alertname="EngagementLow"}',
        group_labels=group_labels,
        alerts=tuple(alerts),
        idempotency_key=key,
        external_url="http://127.0.0.1:9464",
        created_at=NOW,
        valid_for=valid_for,
    )


def create(
    kind: NotifierType,
    settings: dict[str, Any],
    http: aiohttp.ClientSession,
    timeout: float = 3.0,
    **kw: Any,
) -> Any:
    setup = NotifierSetup(
        "team", kind.settings.model_validate(settings), http, structlog.get_logger(), timeout
    )
    return kind.create(setup, **kw) if kw else kind.create(setup)


async def failure(notifier: Any, notification: Notification) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await notifier.send(notification)
    return caught.value


LOW_ACME = {
    "alertname": "EngagementLow",
    "account": "acme",
    "platform": "demo",
    "severity": "warning",
}
LOW_RIVAL = {**LOW_ACME, "account": "rival"}
SUMMARY = {"summary": "Engagement of acme is 1.2 %", "description": "below 2 % for 1h"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.stop()


# webhook ----------------------------------------------------------------------------------
def assert_v4_shape(payload: dict[str, Any]) -> None:
    """Every field of Alertmanager's webhook payload version 4, with its type."""
    assert set(payload) == {
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    }
    assert payload["version"] == "4"
    assert payload["status"] in ("firing", "resolved")
    for key in ("receiver", "externalURL", "groupKey"):
        assert isinstance(payload[key], str), key
    assert isinstance(payload["truncatedAlerts"], int)
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in payload[key].items())
    assert isinstance(payload["alerts"], list)
    for alert in payload["alerts"]:
        assert set(alert) == {
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint",
        }
        assert alert["status"] in ("firing", "resolved")
        for key in ("labels", "annotations"):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert[key].items())
        assert RFC3339.match(alert["startsAt"]), alert["startsAt"]
        assert RFC3339.match(alert["endsAt"]), alert["endsAt"]
        assert isinstance(alert["generatorURL"], str)
        assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"])


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_webhook_posts_the_version_4_payload_firing_then_resolved(http, receiver):
    notifier = create(WEBHOOK, {"url": receiver.url()}, http)
    firing = [make_alert(LOW_ACME, SUMMARY), make_alert(LOW_RIVAL, {"summary": "rival low"})]
    await notifier.send(notify(firing))
    resolved = [make_alert(LOW_ACME, SUMMARY, status="resolved", ends_at=NOW - 1.5)]
    await notifier.send(notify(resolved, key="idem-2"))

    first, second = (r.json() for r in await receiver.wait_requests(2))
    for payload in (first, second):
        assert_v4_shape(payload)
        assert payload["receiver"] == "team"
        assert payload["externalURL"] == "http://127.0.0.1:9464"
        assert payload["groupLabels"] == {"alertname": "EngagementLow"}
        assert payload["truncatedAlerts"] == 0
    assert first["status"] == "firing"
    common = dict(set(LOW_ACME.items()) & set(LOW_RIVAL.items()))
    assert first["commonLabels"] == common
    assert first["commonAnnotations"] == {}
    for sent, alert in zip(first["alerts"], firing, strict=True):
        assert sent["labels"] == alert.labels
        assert sent["annotations"] == alert.annotations
        assert sent["status"] == "firing"
        assert sent["endsAt"] == ZERO_TIME
        assert parse_time(sent["startsAt"]) == pytest.approx(alert.starts_at, abs=0.001)
        assert sent["generatorURL"] == alert.generator_url
        assert sent["fingerprint"] == fingerprint(alert.labels)
    assert second["status"] == "resolved"
    assert second["commonAnnotations"] == SUMMARY
    (gone,) = second["alerts"]
    assert gone["status"] == "resolved"
    assert parse_time(gone["endsAt"]) == pytest.approx(NOW - 1.5, abs=0.001)


async def test_webhook_headers_and_idempotency_key_are_the_same_on_every_retry(http, receiver):
    receiver.answer(500, body="try later")
    notifier = create(WEBHOOK, {"url": receiver.url()}, http)
    notification = notify([make_alert(LOW_ACME, SUMMARY)], key="k-7f3a")
    error = await failure(notifier, notification)
    assert not error.permanent
    await notifier.send(notification)  # the retry is accepted
    first, retry = await receiver.wait_requests(2)
    for request in (first, retry):
        assert request.method == "POST"
        assert request.path == "/hook"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == f"kpiwatch/{kpiwatch.__version__}"
        assert request.headers["Idempotency-Key"] == "k-7f3a"
    assert first.body == retry.body


async def test_webhook_signature_verifies_with_an_independent_hmac(http, receiver):
    secret = "whsec-9b1c0e7d5f"
    settings = {
        "url": receiver.url(),
        "secret": secret,
        "headers": {"Authorization": "Bearer tok-123456789", "X-Team": "growth"},
    }
    notifier = create(WEBHOOK, settings, http)
    before = int(time.time())
    await notifier.send(notify([make_alert(LOW_ACME, SUMMARY)]))
    (request,) = await receiver.wait_requests(1)

    timestamp = request.headers["X-Kpiwatch-Timestamp"]
    assert before <= int(timestamp) <= time.time() + 1
    signed = timestamp.encode() + b"." + request.body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, request.headers["X-Kpiwatch-Signature"])
    forged = "sha256=" + hmac.new(b"wrong-secret", signed, hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(forged, request.headers["X-Kpiwatch-Signature"])
    tampered = timestamp.encode() + b"." + request.body.replace(b"acme", b"acmf")
    retyped = "sha256=" + hmac.new(secret.encode(), tampered, hashlib.sha256).hexdigest()
    assert retyped != request.headers["X-Kpiwatch-Signature"]
    assert request.headers["Authorization"] == "Bearer tok-123456789"
    assert request.headers["X-Team"] == "growth"


async def test_webhook_without_secret_sends_no_signature(http, receiver):
    await create(WEBHOOK, {"url": receiver.url()}, http).send(notify([make_alert(LOW_ACME)]))
    (request,) = await receiver.wait_requests(1)
    assert "X-Kpiwatch-Signature" not in request.headers
    assert "X-Kpiwatch-Timestamp" not in request.headers


@pytest.mark.parametrize(
    ("status", "headers", "permanent", "retry_after"),
    [
        (500, {}, False, None),
        (503, {"Retry-After": "7"}, False, 7.0),
        (429, {"Retry-After": "30"}, False, 30.0),
        (408, {}, False, None),
        (404, {}, True, None),
        (400, {}, True, None),
        (401, {}, True, None),
        (302, {"Location": "http://127.0.0.1:1/elsewhere"}, True, None),
    ],
)
async def test_webhook_answers_map_to_retryable_or_permanent_errors(
    http, receiver, status, headers, permanent, retry_after
):
    receiver.answer(status, headers)
    error = await failure(
        create(WEBHOOK, {"url": receiver.url()}, http), notify([make_alert(LOW_ACME)])
    )
    assert error.permanent is permanent
    assert error.retry_after == retry_after
    assert f"HTTP {status}" in str(error)
    assert "'team'" in str(error)
    assert len(receiver.requests) == 1  # a redirect is not followed


async def test_webhook_retry_after_as_http_date_becomes_seconds(http, receiver):
    when = datetime.fromtimestamp(int(time.time()) + 120, UTC)
    receiver.answer(429, {"Retry-After": format_datetime(when, usegmt=True)})
    error = await failure(
        create(WEBHOOK, {"url": receiver.url()}, http), notify([make_alert(LOW_ACME)])
    )
    assert not error.permanent
    assert error.retry_after == pytest.approx(when.timestamp() - time.time(), abs=2)


def test_parse_retry_after_reads_seconds_and_dates_and_ignores_garbage():
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 90, UTC), usegmt=True)
    assert parse_retry_after(date, now) == 90
    past = format_datetime(datetime.fromtimestamp(now - 90, UTC), usegmt=True)
    assert parse_retry_after(past, now) == 0
    assert parse_retry_after("12", now) == 12
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
    assert parse_retry_after(None, now) is None


async def test_webhook_errors_never_show_url_tokens_or_header_secrets(http, receiver):
    path = "/hooks/T0KEN-IN-PATH-4242"
    query_token = "QUERYTOKEN-4567"
    url = f"http://hookuser:pa55w0rd-xyz@127.0.0.1:{receiver.port}{path}?token={query_token}"
    header_secret = "api-key-secret-0001"
    receiver.answer(500, body=f"bad {query_token} at {path} with {header_secret}")
    receiver.answer(403, body=f"forbidden {header_secret}")
    settings = {"url": url, "headers": {"X-Api-Key": header_secret}}
    notifier = create(WEBHOOK, settings, http)
    notification = notify([make_alert(LOW_ACME)])
    errors = [await failure(notifier, notification), await failure(notifier, notification)]
    refused = url.replace(str(receiver.port), str(free_port()))
    errors.append(await failure(create(WEBHOOK, {**settings, "url": refused}, http), notification))

    assert [e.permanent for e in errors] == [False, True, False]
    assert receiver.requests[0].query == {"token": query_token}  # the query was really sent
    for error in errors:
        text = str(error)
        for secret in ("pa55w0rd-xyz", "hookuser", query_token, "T0KEN-IN-PATH", header_secret):
            assert secret not in text, text
        assert "127.0.0.1" in text
    assert "cannot connect" in str(errors[2])


async def test_webhook_timeout_is_retryable(http, receiver):
    receiver.answer(200, delay=1.0)
    notifier = create(WEBHOOK, {"url": receiver.url()}, http, timeout=0.2)
    error = await failure(notifier, notify([make_alert(LOW_ACME)]))
    assert not error.permanent
    assert "0.2s" in str(error)


async def test_webhook_max_alerts_truncates_keeping_firing_alerts_first(http, receiver):
    alerts = [
        make_alert({**LOW_ACME, "account": "gone"}, status="resolved", ends_at=NOW - 5),
        make_alert(LOW_ACME),
        make_alert(LOW_RIVAL),
    ]
    notifier = create(WEBHOOK, {"url": receiver.url(), "max_alerts": 2}, http)
    await notifier.send(notify(alerts))
    (request,) = await receiver.wait_requests(1)
    payload = request.json()
    assert_v4_shape(payload)
    assert [a["labels"]["account"] for a in payload["alerts"]] == ["acme", "rival"]
    assert payload["truncatedAlerts"] == 1
    assert payload["status"] == "firing"


async def test_webhook_sends_nothing_for_a_notification_without_alerts(http, receiver):
    await create(WEBHOOK, {"url": receiver.url()}, http).send(notify([], status="firing"))
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"url": "ftp://example.com/x"}, "http:// or https://"),
        ({"url": "https://"}, "no host"),
        ({"url": "http://example.com:99999/"}, "cannot be parsed"),
        ({"url": "https://example.com", "headers": {"Content-Type": "text/plain"}}, "set by"),
        ({"url": "https://example.com", "headers": {"X-A": "ok\r\nX-B: injected"}}, "line break"),
        ({"url": "https://example.com", "headers": {"bad header": "x"}}, "header name"),
        ({"url": "https://example.com", "secret": ""}, "secret is empty"),
        ({"url": "https://example.com", "max_alerts": -1}, "greater than or equal"),
        ({"url": "https://example.com", "token": "x"}, "extra"),
    ],
)
def test_webhook_settings_reject_bad_input_with_a_clear_message(settings, fragment):
    with pytest.raises(ValidationError) as caught:
        WEBHOOK.settings.model_validate(settings)
    assert fragment in str(caught.value)


def test_webhook_settings_keep_url_and_header_values_secret():
    settings = WEBHOOK.settings.model_validate(
        {"url": "https://example.com/hook?token=abc123", "headers": {"X-Key": "k-secret"}}
    )
    assert "abc123" not in repr(settings) and "k-secret" not in repr(settings)


# alertmanager: unit checks against a loopback receiver ------------------------------------
async def test_alertmanager_posts_complete_alerts_with_ends_at_rules(http, receiver):
    base = f"http://127.0.0.1:{receiver.port}/prefix/"
    settings = {"urls": [base], "bearer_token": "am-token-xyz"}
    notifier = create(ALERTMANAGER, settings, http, clock=lambda: NOW)
    firing = make_alert(LOW_ACME, SUMMARY)
    resolved = make_alert(LOW_RIVAL, {"summary": "rival"}, status="resolved", ends_at=NOW - 30)
    await notifier.send(notify([firing, resolved], kind="state", valid_for=240))
    (request,) = await receiver.wait_requests(1)

    assert request.path == "/prefix/api/v2/alerts"
    assert request.headers["Authorization"] == "Bearer am-token-xyz"
    assert request.headers["Content-Type"] == "application/json"
    sent = request.json()
    assert isinstance(sent, list) and len(sent) == 2
    for item, alert in zip(sent, [firing, resolved], strict=True):
        assert set(item) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
        assert item["labels"] == alert.labels
        assert item["annotations"] == alert.annotations
        assert item["generatorURL"] == alert.generator_url
        assert parse_time(item["startsAt"]) == pytest.approx(alert.starts_at, abs=0.001)
    assert parse_time(sent[0]["endsAt"]) == pytest.approx(NOW + 240, abs=0.001)
    assert parse_time(sent[1]["endsAt"]) == pytest.approx(NOW - 30, abs=0.001)


async def test_alertmanager_basic_auth_and_no_valid_for(http, receiver):
    settings = {
        "urls": [f"http://127.0.0.1:{receiver.port}"],
        "basic_auth": {"username": "kpi", "password": "pw-secret-1"},
    }
    notifier = create(ALERTMANAGER, settings, http)
    await notifier.send(notify([make_alert(LOW_ACME)], kind="state", valid_for=0))
    (request,) = await receiver.wait_requests(1)
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"kpi:pw-secret-1").decode()
    )
    (item,) = request.json()
    assert "endsAt" not in item  # Alertmanager then applies its resolve_timeout


async def test_alertmanager_sends_nothing_for_an_empty_state(http, receiver):
    notifier = create(ALERTMANAGER, {"urls": [receiver.url("")]}, http)
    await notifier.send(notify([], kind="state", status="firing", valid_for=60))
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"urls": []}, "at least 1"),
        ({"urls": ["alertmanager:9093"]}, "http:// or https://"),
        ({"urls": ["http://u:p@am:9093"]}, "basic_auth"),
        ({"urls": ["http://am:9093?x=1"]}, "query"),
        ({"urls": ["http://am:9093", "http://am:9093/"]}, "repeats"),
        ({"urls": ["http://am:9093"], "api_path": "api/v2/alerts"}, "starting with '/'"),
        (
            {
                "urls": ["http://am:9093"],
                "bearer_token": "t",
                "basic_auth": {"username": "u", "password": "p"},
            },
            "not both",
        ),
    ],
)
def test_alertmanager_settings_reject_bad_input(settings, fragment):
    with pytest.raises(ValidationError) as caught:
        ALERTMANAGER.settings.model_validate(settings)
    assert fragment in str(caught.value)


# alertmanager: the real binary -------------------------------------------------------------
@pytest.fixture
async def start_alertmanager(tmp_path: Path, http):
    started: list[Alertmanager] = []

    async def start(webhook_url: str) -> Alertmanager:
        am = Alertmanager(tmp_path, webhook_url)
        started.append(am)
        await am.wait_ready(http)
        return am

    yield start
    for am in started:
        am.stop()


def held(alerts: list[dict[str, Any]], labels: Mapping[str, str]) -> dict[str, Any] | None:
    return next((a for a in alerts if a["labels"] == dict(labels)), None)


@pytest.mark.e2e
async def test_real_alertmanager_takes_a_firing_alert_and_resolves_it(
    http, receiver, start_alertmanager
):
    am = await start_alertmanager(receiver.url("/am-hook"))
    notifier = create(ALERTMANAGER, {"urls": [am.base]}, http)
    now = time.time()
    alert = make_alert(LOW_ACME, SUMMARY, starts_at=now - 60)
    await notifier.send(notify([alert], kind="state", valid_for=120))

    shown = held(await am.alerts(http), LOW_ACME)
    assert shown is not None
    assert shown["status"]["state"] == "active"
    assert shown["annotations"] == SUMMARY
    assert shown["generatorURL"] == alert.generator_url
    assert parse_time(shown["startsAt"]) == pytest.approx(now - 60, abs=0.01)
    assert parse_time(shown["endsAt"]) == pytest.approx(now + 120, abs=5)

    (delivered,) = await receiver.wait_requests(1)
    firing_hook = delivered.json()
    assert firing_hook["status"] == "firing"
    assert firing_hook["alerts"][0]["generatorURL"] == alert.generator_url
    assert firing_hook["alerts"][0]["endsAt"] == ZERO_TIME
    # kpiwatch's own webhook payload has exactly the fields and types Alertmanager sends
    assert_v4_shape(firing_hook)
    ours = notify([alert]).webhook_payload()
    assert set(ours) == set(firing_hook)
    assert set(ours["alerts"][0]) == set(firing_hook["alerts"][0])

    ended = time.time()
    gone = make_alert(LOW_ACME, SUMMARY, starts_at=now - 60, status="resolved", ends_at=ended)
    await notifier.send(notify([gone], kind="state", key="idem-2", valid_for=120))
    assert held(await am.alerts(http), LOW_ACME) is None  # resolved alerts are not listed
    requests = await receiver.wait_requests(2)
    resolved_hook = requests[1].json()
    assert_v4_shape(resolved_hook)
    assert resolved_hook["status"] == "resolved"
    (sent,) = resolved_hook["alerts"]
    assert sent["labels"] == LOW_ACME
    assert sent["generatorURL"] == alert.generator_url
    assert parse_time(sent["endsAt"]) == pytest.approx(ended, abs=0.001)


@pytest.mark.e2e
async def test_real_alertmanagers_all_get_the_push_and_a_down_one_is_named(
    http, receiver, start_alertmanager
):
    first = await start_alertmanager(receiver.url("/one"))
    second = await start_alertmanager(receiver.url("/two"))
    notifier = create(ALERTMANAGER, {"urls": [first.base, second.base]}, http)
    await notifier.send(notify([make_alert(LOW_ACME, starts_at=time.time())], kind="state"))
    for am in (first, second):
        assert held(await am.alerts(http), LOW_ACME) is not None

    down = free_port()
    urls = [first.base, f"http://127.0.0.1:{down}", second.base]
    notifier = create(ALERTMANAGER, {"urls": urls}, http)
    rival = make_alert(LOW_RIVAL, starts_at=time.time())
    error = await failure(notifier, notify([rival], kind="state", valid_for=60))
    assert not error.permanent
    assert f"127.0.0.1:{down}" in str(error)
    assert "1 of 3" in str(error)
    assert f":{first.port}" not in str(error) and f":{second.port}" not in str(error)
    for am in (first, second):  # the ones up still took the push
        assert held(await am.alerts(http), LOW_RIVAL) is not None


@pytest.mark.e2e
async def test_real_alertmanager_rejection_is_permanent(http, receiver, start_alertmanager):
    am = await start_alertmanager(receiver.url())
    notifier = create(ALERTMANAGER, {"urls": [am.base]}, http)
    invalid = make_alert({"alertname": "EngagementLow", "bad-label": "x"})
    error = await failure(notifier, notify([invalid], kind="state", valid_for=60))
    assert error.permanent
    assert "HTTP 400" in str(error)


# apprise ----------------------------------------------------------------------------------
async def test_apprise_json_url_delivers_title_and_body(http, receiver):
    url = f"json://127.0.0.1:{receiver.port}/chat"
    notifier = create(APPRISE, {"urls": [url]}, http)
    await notifier.send(notify([make_alert(LOW_ACME, SUMMARY), make_alert(LOW_RIVAL)]))
    resolved = make_alert(LOW_ACME, SUMMARY, status="resolved", ends_at=NOW)
    await notifier.send(notify([resolved], key="idem-2"))

    firing_msg, resolved_msg = (r.json() for r in await receiver.wait_requests(2))
    assert receiver.requests[0].path == "/chat"
    assert firing_msg["title"].startswith("[FIRING:2] EngagementLow")
    assert "Engagement of acme is 1.2 %" in firing_msg["message"]
    assert "below 2 % for 1h" in firing_msg["message"]
    assert "account=rival" in firing_msg["message"]
    assert firing_msg["type"] == "warning"
    assert resolved_msg["title"].startswith("[RESOLVED] EngagementLow")
    assert "Engagement of acme is 1.2 %" in resolved_msg["message"]
    assert resolved_msg["type"] == "success"


def test_apprise_title_follows_alertmanagers_default_subject():
    two = notify([make_alert(LOW_ACME), make_alert(LOW_RIVAL)])
    assert title(two) == "[FIRING:2] EngagementLow (demo warning)"
    one = notify([make_alert(LOW_ACME, status="resolved", ends_at=NOW)])
    assert title(one) == "[RESOLVED] EngagementLow (acme demo warning)"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_records() -> Iterator[list[logging.LogRecord]]:
    """Records reaching the root logger at any level (pytest's caplog also hooks loggers that
    do not propagate, so it cannot tell)."""
    root = logging.getLogger()
    handler, level = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(level)


async def test_apprise_down_receiver_is_retryable_and_hides_the_url(http, root_records):
    url = f"json://kpi:chat-pass-123@127.0.0.1:{free_port()}/T0KEN-PATH-99"
    notifier = create(APPRISE, {"urls": [url]}, http)
    error = await failure(notifier, notify([make_alert(LOW_ACME, SUMMARY)]))
    assert not error.permanent
    assert "'team'" in str(error) and "urls[0]" in str(error)
    for secret in ("chat-pass-123", "T0KEN-PATH-99"):
        assert secret not in str(error)
    # apprise's records (DEBUG ones carry request URLs) never reach the root logger
    assert not [r for r in root_records if r.name.startswith("apprise")]


async def test_apprise_retry_skips_the_urls_that_already_accepted(http, receiver):
    late_port = free_port()
    urls = [f"json://127.0.0.1:{receiver.port}/up", f"json://127.0.0.1:{late_port}/late"]
    notifier = create(APPRISE, {"urls": urls}, http)
    notification = notify([make_alert(LOW_ACME, SUMMARY)])
    error = await failure(notifier, notification)
    assert "1 of 2" in str(error) and "urls[1]" in str(error)

    late = await Receiver(late_port).start()
    try:
        await notifier.send(notification)  # the retry
        assert len(await late.wait_requests(1)) == 1
    finally:
        await late.stop()
    assert len(receiver.requests) == 1  # not sent twice


@pytest.mark.parametrize(
    "url", ["slack://", "nosuchscheme://abc/def", "not a url", "json://", "msteams://a/b"]
)
def test_apprise_settings_refuse_a_malformed_url_without_quoting_it(url):
    with pytest.raises(ValidationError) as caught:
        APPRISE.settings.model_validate({"urls": ["json://127.0.0.1/ok", url]})
    (problem,) = caught.value.errors()
    assert problem["loc"] == ("urls", 1)
    assert "apprise URL" in problem["msg"]
    if len(url) > 8:
        assert url not in problem["msg"]


# registration -----------------------------------------------------------------------------
def test_builtin_plugin_registers_the_three_types():
    manager = pluggy.PluginManager("kpiwatch")
    manager.register(builtin)
    registered: list[NotifierType] = []
    manager.hook.kpiwatch_register_notifiers(register=registered.append)
    by_name = {t.name: t for t in registered}
    assert set(by_name) == {"webhook", "alertmanager", "apprise"}
    assert by_name["alertmanager"].receives == "state"
    assert by_name["webhook"].receives == by_name["apprise"].receives == "groups"
    for kind in registered:
        assert issubclass(kind.settings, BaseModel) and kind.description
