"""Alerting with real processes: kpiwatch fires a rule on demo data and notifies a real
Alertmanager 0.25 and webhook receivers, through outages, reloads and a ``kill -9``."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alert_receivers import Alertmanager, Hook, HookReceiver, wait_alertmanager_ready
from processes import http_get, wait_for

pytestmark = pytest.mark.e2e

RULE = "FollowersSeen"
SECRET = "e2e-webhook-secret-7f3a"
ZERO_TIME = "0001-01-01T00:00:00Z"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
#: Labels our rule gives its alert (the rule's own and the account's).
OUR_LABELS = {
    "alertname": RULE,
    "kpi": "followers",
    "window": "1d",
    "severity": "warning",
    "account": "acme-micro",
    "platform": "demo_micro",
    "brand": "acme",
    "team": "growth",
}
FIRES = 0.0  # every account has followers above 0: the alert fires at the first poll
NEVER = 1e12  # no account has that many: the alert resolves


def write_config(path: Path, above: float, notifiers: list[dict[str, Any]]) -> Path:
    """A daemon polling one demo account every 2 s with one followers rule; fast timers."""
    listed = "".join(f"\n  - {json.dumps(n)}" for n in notifiers) if notifiers else " []"
    path.write_text(
        textwrap.dedent(f"""
        state_dir: ./state
        history: {{flush_interval: 200ms}}
        kpis: {{interval: 500ms}}
        defaults: {{interval: 2s, timeout: 5s, startup_spread: 0s}}
        shutdown_grace: 5s
        alerting:
          interval: 1s
          outbox: {{backoff_initial: 200ms, backoff_max: 1s, timeout: 2s}}
        accounts:
          - {{id: acme-micro, platform: demo_micro, labels: {{brand: acme}}}}
        rules:
          - name: {RULE}
            kpi: followers
            window: 1d
            condition: {{above: {above!r}}}
            labels: {{team: growth}}
            annotations:
              summary: "{{{{ account }}}} has {{{{ value | number }}}} followers"
              runbook_url: https://runbooks.example.com/followers
        notifiers:""")
        + listed
        + "\n"
    )
    return path


def webhook_notifier(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "hook",
        "type": "webhook",
        "url": url,
        "group_wait": "0s",
        "group_interval": "1s",
        "repeat_interval": "1h",
        **extra,
    }


def reload(daemon, config: Path, notifiers: list[dict[str, Any]]) -> None:
    """Rewrite the rule so that it no longer holds and reload by SIGHUP."""
    write_config(config, NEVER, notifiers)
    daemon.send(signal.SIGHUP)


def alerts(daemon, query: str = "") -> list[dict[str, Any]]:
    status, _, body = daemon.get("/api/v1/alerts" + query)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success"
    return answer["data"]["alerts"]


def our_alert(daemon, state: str) -> dict[str, Any] | None:
    found = [a for a in alerts(daemon) if a["rule"] == RULE and a["state"] == state]
    assert len(found) <= 1, found
    return found[0] if found else None


def metric(daemon, name: str, labels: dict[str, str]) -> float | None:
    """The value of the series ``name`` with exactly ``labels`` in /metrics, or None."""
    body = daemon.get("/metrics")[2].decode()
    for line in body.splitlines():
        found = re.fullmatch(re.escape(name) + r"(?:\{(.*)\})? (\S+)", line)
        if found and dict(re.findall(r'(\w+)="([^"]*)"', found[1] or "")) == labels:
            return float(found[2])
    return None


def statuses(hooks: list[Hook]) -> list[str]:
    return [h.json()["status"] for h in hooks]


def parse_time(text: str) -> datetime:
    assert RFC3339.match(text), text
    return datetime.fromisoformat(text)


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    hook = HookReceiver().start()
    yield hook
    hook.stop()


def test_alertmanager_delivers_firing_and_resolved(tmp_path, start_kpiwatch, receiver):
    alertmanager = Alertmanager(tmp_path, receiver.url("/from-alertmanager"))
    try:
        wait_alertmanager_ready(alertmanager)
        notifiers = [{"name": "am", "type": "alertmanager", "urls": [alertmanager.base]}]
        config = write_config(tmp_path / "kpiwatch.yaml", FIRES, notifiers)
        daemon = start_kpiwatch(config)
        daemon.wait_ready()

        firing = receiver.wait(
            lambda hooks: [h for h in hooks if h.json()["status"] == "firing"],
            20,
            "Alertmanager's firing notification",
        )[0].json()
        ours = our_alert(daemon, "firing")
        assert ours is not None
        assert firing["version"] == "4" and firing["receiver"] == "hook"
        assert firing["groupLabels"] == {"alertname": RULE}
        [sent] = firing["alerts"]
        assert sent["status"] == "firing"
        assert sent["labels"] == OUR_LABELS == ours["labels"]
        # Alertmanager computes the fingerprint itself: ours must agree with it.
        assert sent["fingerprint"] == ours["fingerprint"]
        assert sent["generatorURL"] == f"{daemon.base}/api/v1/alerts"
        assert sent["annotations"]["runbook_url"] == "https://runbooks.example.com/followers"
        assert sent["startsAt"] and parse_time(sent["startsAt"])

        status, _, body = http_get(f"{alertmanager.base}/api/v2/alerts")
        assert status == 200
        held = [a for a in json.loads(body) if a["labels"].get("alertname") == RULE]
        assert len(held) == 1, held
        assert held[0]["labels"] == OUR_LABELS
        assert held[0]["generatorURL"] == f"{daemon.base}/api/v1/alerts"
        assert held[0]["fingerprint"] == ours["fingerprint"]
        assert held[0]["status"]["state"] == "active"
        assert held[0]["annotations"] == sent["annotations"]

        reload(daemon, config, notifiers)
        resolved = receiver.wait(
            lambda hooks: [h for h in hooks if h.json()["status"] == "resolved"],
            20,
            "Alertmanager's resolved notification",
        )[0].json()
        [gone] = resolved["alerts"]
        assert gone["status"] == "resolved" and gone["labels"] == OUR_LABELS
        assert gone["fingerprint"] == ours["fingerprint"]
        assert parse_time(gone["endsAt"]) > parse_time(gone["startsAt"])
        # The firing notification came first, and nothing fired again afterwards.
        order = statuses(receiver.hooks)
        assert order.index("firing") < order.index("resolved")
        assert "firing" not in order[order.index("resolved") :]
        log = daemon.log()
        assert "Traceback" not in log, log
    finally:
        alertmanager.stop()


def check_webhook_shape(hook: Hook, status: str, daemon) -> dict[str, Any]:
    """Assert ``hook`` is Alertmanager's webhook payload (version 4) for our alert in
    ``status``, signed with SECRET; returns the alert."""
    headers = hook.received.headers
    assert hook.received.method == "POST" and hook.received.path == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"kpiwatch/\S+", headers["User-Agent"])
    assert headers["X-Team"] == "growth"
    # HMAC-SHA256 over "<timestamp>.<raw body>", as the webhook notifier documents.
    timestamp = headers["X-Kpiwatch-Timestamp"]
    assert abs(time.time() - int(timestamp)) <= 30
    signed = timestamp.encode() + b"." + hook.received.body
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, headers["X-Kpiwatch-Signature"])
    assert re.fullmatch(r"[0-9a-f]{16,}", headers["Idempotency-Key"])

    payload = hook.json()
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
    assert payload["receiver"] == "hook"
    assert payload["status"] == status
    assert payload["version"] == "4"
    assert payload["externalURL"] == daemon.base
    assert payload["groupLabels"] == {"alertname": RULE}
    assert payload["groupKey"] == '{}:{alertname="FollowersSeen"}'
    assert payload["truncatedAlerts"] == 0
    [alert] = payload["alerts"]
    assert set(alert) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert alert["status"] == status
    assert alert["labels"] == OUR_LABELS
    assert payload["commonLabels"] == OUR_LABELS
    assert payload["commonAnnotations"] == alert["annotations"]
    summary = alert["annotations"]["summary"]
    assert re.fullmatch(r"acme-micro has [0-9][0-9,.]* followers", summary), summary
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.com/followers"
    assert alert["generatorURL"] == f"{daemon.base}/api/v1/alerts"
    assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"])
    parse_time(alert["startsAt"])
    if status == "firing":
        assert alert["endsAt"] == ZERO_TIME
    else:
        assert parse_time(alert["endsAt"]) > parse_time(alert["startsAt"])
    return alert


def test_webhook_firing_then_resolved_signed(tmp_path, start_kpiwatch, receiver):
    notifiers = [webhook_notifier(receiver.url(), secret=SECRET, headers={"X-Team": "growth"})]
    config = write_config(tmp_path / "kpiwatch.yaml", FIRES, notifiers)
    daemon = start_kpiwatch(config)
    daemon.wait_ready()

    [first] = receiver.wait(lambda hooks: hooks, 20, "the firing webhook")
    firing = check_webhook_shape(first, "firing", daemon)
    ours = our_alert(daemon, "firing")
    assert ours is not None and firing["fingerprint"] == ours["fingerprint"]
    assert parse_time(firing["startsAt"]) == parse_time(ours["startsAt"])

    reload(daemon, config, notifiers)
    hooks = receiver.wait(lambda hooks: len(hooks) >= 2 and hooks, 20, "the resolved webhook")
    assert len(hooks) == 2, statuses(hooks)
    resolved = check_webhook_shape(hooks[1], "resolved", daemon)
    assert resolved["fingerprint"] == firing["fingerprint"]
    assert resolved["startsAt"] == firing["startsAt"]
    assert hooks[0].key != hooks[1].key
    gone = our_alert(daemon, "resolved")
    assert gone is not None and parse_time(resolved["endsAt"]) == parse_time(gone["endsAt"])


def test_receiver_down_then_back_gets_each_change_once(tmp_path, start_kpiwatch, receiver):
    receiver.failing = True
    notifiers = [webhook_notifier(receiver.url())]
    config = write_config(tmp_path / "kpiwatch.yaml", FIRES, notifiers)
    daemon = start_kpiwatch(config)
    daemon.wait_ready()

    # The firing notification is refused and retried; the alert resolves during the outage.
    receiver.wait(lambda hooks: len(hooks) >= 2, 20, "two refused firing notifications")
    reload(daemon, config, notifiers)
    wait_for(lambda: our_alert(daemon, "resolved"), 15, "the alert resolved")
    wait_for(
        lambda: metric(daemon, "kpiwatch_outbox_messages", {"notifier": "hook"}) == 2,
        15,
        "firing and resolved notifications both waiting in the outbox",
    )
    assert receiver.answered(200) == []
    refused = receiver.hooks
    assert set(statuses(refused)) == {"firing"}
    assert len({h.key for h in refused}) == 1  # retries of one message

    receiver.failing = False
    delivered = receiver.wait(
        lambda hooks: len(ok := [h for h in hooks if h.status == 200]) >= 2 and ok,
        20,
        "both notifications after the receiver recovered",
    )
    assert statuses(delivered) == ["firing", "resolved"]
    assert delivered[0].key == refused[0].key
    assert delivered[0].key != delivered[1].key
    wait_for(
        lambda: metric(daemon, "kpiwatch_outbox_messages", {"notifier": "hook"}) == 0,
        10,
        "an empty outbox",
    )
    retries = metric(
        daemon, "kpiwatch_notifications_total", {"notifier": "hook", "outcome": "retry"}
    )
    assert retries is not None and retries > 0
    assert retries == len(receiver.answered(500))  # one retry per refused request
    assert (
        metric(daemon, "kpiwatch_notifications_total", {"notifier": "hook", "outcome": "delivered"})
        == 2
    )
    # Two more group intervals: nothing else is sent for this one firing and one resolve.
    settle = time.time() + 2.5
    wait_for(
        lambda: (metric(daemon, "kpiwatch_rule_evaluation_timestamp_seconds", {}) or 0) > settle,
        10,
        "evaluations after the deliveries",
    )
    assert statuses(receiver.answered(200)) == ["firing", "resolved"]


def test_sigkill_with_pending_notification_delivers_after_restart(
    tmp_path, start_kpiwatch, receiver
):
    receiver.failing = True
    notifiers = [webhook_notifier(receiver.url())]
    config = write_config(tmp_path / "kpiwatch.yaml", FIRES, notifiers)
    first = start_kpiwatch(config)
    first.wait_ready()
    refused = receiver.wait(lambda hooks: len(hooks) >= 2 and hooks, 20, "refused attempts")
    assert set(statuses(refused)) == {"firing"}
    [key] = {h.key for h in refused}  # retries of one stored message
    starts_at = refused[0].json()["alerts"][0]["startsAt"]
    first.proc.send_signal(signal.SIGKILL)
    assert first.proc.wait(10) == -signal.SIGKILL
    assert receiver.answered(200) == []

    receiver.failing = False
    second = start_kpiwatch(config)
    second.wait_ready()
    delivered = receiver.wait(
        lambda hooks: [h for h in hooks if h.status == 200], 20, "the firing after the restart"
    )[0]
    assert delivered.key == key  # the same stored message, sent again
    payload = delivered.json()
    assert payload["status"] == "firing"
    assert payload["alerts"][0]["startsAt"] == starts_at
    assert payload["alerts"][0]["labels"] == OUR_LABELS

    # Several evaluations and group intervals later, the restarted daemon has kept the alert
    # firing since the first run and not notified it again (repeat_interval is 1h).
    settle = time.time() + 3
    wait_for(
        lambda: (metric(second, "kpiwatch_rule_evaluation_timestamp_seconds", {}) or 0) > settle,
        10,
        "evaluations after the restart",
    )
    restored = our_alert(second, "firing")
    assert restored is not None
    assert parse_time(restored["startsAt"]) == parse_time(starts_at)
    assert statuses(receiver.hooks) == ["firing"] * len(receiver.hooks)
    assert {h.key for h in receiver.hooks} == {key}
    assert len(receiver.answered(200)) == 1
    assert (
        metric(second, "kpiwatch_notifications_total", {"notifier": "hook", "outcome": "delivered"})
        == 1
    )
    assert metric(second, "kpiwatch_outbox_messages", {"notifier": "hook"}) == 0


def cli_alerts(config: Path, cwd: Path, *extra: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "kpiwatch", "alerts", "-c", str(config), "--json", *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["alerts"]


#: Fields of a listed alert that do not change while it fires.
STABLE = ("fingerprint", "rule", "state", "labels", "annotations", "startsAt", "endsAt")


def test_alerts_api_and_cli_list_the_firing_alert(tmp_path, start_kpiwatch):
    config = write_config(tmp_path / "kpiwatch.yaml", FIRES, [])
    daemon = start_kpiwatch(config)
    daemon.wait_ready()

    [firing] = wait_for(lambda: alerts(daemon, "?state=firing"), 15, "a firing alert in the API")
    assert firing["rule"] == RULE and firing["state"] == "firing"
    assert firing["labels"] == OUR_LABELS
    assert firing["value"] > 0 and firing["endsAt"] is None
    assert alerts(daemon, "?state=resolved") == []

    # The CLI reads the alert store of the running daemon.
    listed = wait_for(lambda: cli_alerts(config, tmp_path), 15, "the alert in `kpiwatch alerts`")
    [row] = listed
    assert {k: row[k] for k in STABLE} == {k: firing[k] for k in STABLE}

    assert daemon.stop() == 0
    # After a clean stop, the store still holds it as firing.
    [kept] = cli_alerts(config, tmp_path, "--state", "firing")
    assert {k: kept[k] for k in STABLE} == {k: firing[k] for k in STABLE}
