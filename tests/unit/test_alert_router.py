"""The router: grouping, group_wait, group_interval, repeat_interval, resolved notifications,
routing by alert.notifiers and Alertmanager state snapshots, with time walked forward by hand."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kpiwatch.alerting.model import Alert, fingerprint
from kpiwatch.alerting.notifiers.base import Notification
from kpiwatch.alerting.router import (
    STATE_GROUP_KEY,
    GroupState,
    RoutePlan,
    Router,
    RouteTarget,
)
from kpiwatch.config_alerting import NotifierConfig

T0 = 1_800_000_000.0
URL = "http://kpiwatch.example:9464"


def target(name: str = "hook", receives: str = "groups", **settings: Any) -> RouteTarget:
    kind = "alertmanager" if receives == "state" else "webhook"
    return RouteTarget(NotifierConfig(name=name, type=kind, **settings), receives)  # type: ignore[arg-type]


def alert(
    name: str = "EngagementLow",
    status: str = "firing",
    *,
    notifiers: tuple[str, ...] | None = None,
    started: float = T0,
    **labels: str,
) -> Alert:
    all_labels = {"alertname": name, "account": "acme", **labels}
    return Alert(
        fingerprint(all_labels),
        name,
        all_labels,
        {"summary": f"{name} on {all_labels['account']}"},
        status,  # type: ignore[arg-type]
        started,
        None if status == "firing" else started + 60,
        f"{URL}/rules/{name}",
        0.01,
        notifiers,
    )


def resolved(a: Alert, at: float) -> Alert:
    return Alert(
        a.fingerprint,
        a.rule,
        a.labels,
        a.annotations,
        "resolved",
        a.starts_at,
        at,
        a.generator_url,
        a.value,
        a.notifiers,
    )


def step(router: Router, alerts: list[Alert], now: float, changed: bool = True) -> RoutePlan:
    """One evaluation: plan, then accept as the daemon does after the store committed."""
    plan = router.plan(alerts, now, changed)
    router.accept(plan)
    return plan


def statuses(message: Notification) -> list[tuple[str, str]]:
    return [(a.labels["account"], a.status) for a in message.alerts]


# -- groups notifiers --------------------------------------------------------------------------


def test_a_new_group_waits_group_wait_then_sends_the_alertmanager_payload() -> None:
    router = Router([target(group_wait="30s")], URL)
    a = alert()
    first = step(router, [a], T0)
    assert first.messages == []
    assert [g.group_key for g in first.groups] == ['{}:{alertname="EngagementLow"}']
    assert step(router, [a], T0 + 29).messages == []

    (message,) = step(router, [a], T0 + 30).messages
    assert message.kind == "group"
    assert message.notifier == "hook"
    assert message.status == "firing"
    assert message.group_key == '{}:{alertname="EngagementLow"}'
    assert dict(message.group_labels) == {"alertname": "EngagementLow"}
    assert message.alerts == (a,)
    assert message.created_at == T0 + 30
    payload = message.webhook_payload()
    assert payload["groupKey"] == '{}:{alertname="EngagementLow"}'
    assert payload["externalURL"] == URL
    assert payload["commonLabels"] == {"alertname": "EngagementLow", "account": "acme"}


def test_changes_wait_for_group_interval_and_nothing_is_sent_while_unchanged() -> None:
    router = Router([target(group_wait="0s", group_interval="5m", repeat_interval="4h")], URL)
    a, b = alert(account="acme"), alert(account="beta")
    assert len(step(router, [a], T0).messages) == 1  # group_wait 0: at once
    # b joins the group 10 s later: it waits for the group's next flush, 5 m after the first
    for now in (T0 + 10, T0 + 120, T0 + 299):
        assert step(router, [a, b], now).messages == []
    (message,) = step(router, [a, b], T0 + 300).messages
    assert statuses(message) == [("acme", "firing"), ("beta", "firing")]
    # unchanged: every later flush up to the repeat interval is quiet
    for minutes in range(10, 240, 5):
        assert step(router, [a, b], T0 + minutes * 60).messages == []


def test_a_firing_group_is_re_sent_every_repeat_interval_with_a_new_key() -> None:
    router = Router([target(group_interval="1m", repeat_interval="1h")], URL)
    a = alert()
    sent = []
    for minute in range(0, 181):
        sent += [(minute, m) for m in step(router, [a], T0 + minute * 60).messages]
    assert [minute for minute, _ in sent] == [0, 60, 120, 180]
    keys = {m.idempotency_key for _, m in sent}
    assert len(keys) == 4


def test_a_plan_computed_again_carries_the_same_idempotency_key() -> None:
    router = Router([target()], URL)
    a = alert()
    first = router.plan([a], T0, True)  # e.g. the commit failed: not accepted
    again = router.plan([a], T0, True)
    assert first.messages[0].idempotency_key == again.messages[0].idempotency_key
    other = Router([target()], URL).plan([alert(account="beta")], T0, True)
    assert other.messages[0].idempotency_key != first.messages[0].idempotency_key


def test_a_resolve_is_sent_once_and_the_group_is_forgotten_when_its_alerts_go() -> None:
    router = Router([target(group_interval="1m")], URL)
    a, b = alert(account="acme"), alert(account="beta")
    step(router, [a, b], T0)
    # a resolves: reported at the next flush, b still fires, so the group still fires
    (message,) = step(router, [resolved(a, T0 + 20), b], T0 + 60).messages
    assert statuses(message) == [("acme", "resolved"), ("beta", "firing")]
    assert message.status == "firing"
    # a stays in the input (resolved_retention) but is not reported again
    assert step(router, [resolved(a, T0 + 20), b], T0 + 120).messages == []
    (last,) = step(router, [resolved(a, T0 + 20), resolved(b, T0 + 130)], T0 + 180).messages
    assert statuses(last) == [("beta", "resolved")]
    assert last.status == "resolved"
    for minute in range(4, 20):
        plan = step(router, [resolved(a, T0 + 20), resolved(b, T0 + 130)], T0 + minute * 60)
        assert plan.messages == []
    gone = step(router, [], T0 + 20 * 60)
    assert gone.forgotten == [("hook", '{}:{alertname="EngagementLow"}')]
    assert router.groups == {}


def test_an_alert_that_fires_again_starts_a_new_group_after_it_was_forgotten() -> None:
    router = Router([target(group_wait="30s", group_interval="1m")], URL)
    a = alert()
    step(router, [a], T0)
    assert len(step(router, [a], T0 + 30).messages) == 1
    assert len(step(router, [resolved(a, T0 + 40)], T0 + 90).messages) == 1
    step(router, [], T0 + 1000)
    assert step(router, [a], T0 + 2000).messages == []  # group_wait again
    assert len(step(router, [a], T0 + 2030).messages) == 1


def test_a_flapping_alert_sends_at_most_one_message_per_group_interval() -> None:
    router = Router([target(group_wait="0s", group_interval="5m")], URL)
    a = alert()
    times = []
    for tick in range(0, 60 * 60, 20):  # flips every 20 s for an hour
        current = a if (tick // 20) % 2 == 0 else resolved(a, T0 + tick)
        times += [T0 + tick for _ in step(router, [current], T0 + tick).messages]
    assert len(times) >= 4  # the flush sees it firing, then resolved, then firing again...
    assert all(later - earlier >= 300 for earlier, later in itertools.pairwise(times))
    assert len(times) <= 60 * 60 // 300 + 1


def test_without_send_resolved_resolves_send_nothing() -> None:
    router = Router([target(send_resolved=False, group_interval="1m")], URL)
    a, b = alert(account="acme"), alert(account="beta")
    assert len(step(router, [a, b], T0).messages) == 1
    # one resolves: nothing to tell
    assert step(router, [resolved(a, T0 + 10), b], T0 + 60).messages == []
    # all resolve: still nothing (and the group is done: no repeat later)
    assert step(router, [resolved(a, T0 + 10), resolved(b, T0 + 70)], T0 + 120).messages == []
    for hour in range(1, 6):
        later = T0 + hour * 3600
        assert step(router, [resolved(a, T0 + 10), resolved(b, T0 + 70)], later).messages == []


def test_without_send_resolved_a_repeat_lists_only_the_firing_alerts() -> None:
    router = Router([target(send_resolved=False, group_interval="1m", repeat_interval="1h")], URL)
    a, b = alert(account="acme"), alert(account="beta")
    step(router, [a, b], T0)
    (repeat,) = step(router, [resolved(a, T0 + 10), b], T0 + 3600).messages
    assert statuses(repeat) == [("beta", "firing")]


def test_group_by_dots_makes_each_alert_its_own_group_and_empty_one_group() -> None:
    alone = Router([target(group_by=["..."])], URL)
    together = Router([target(group_by=[])], URL)
    alerts = [alert(account="acme"), alert(account="beta"), alert("FollowersDrop")]
    single = step(alone, alerts, T0).messages
    assert sorted(m.group_key for m in single) == [
        '{}:{account="acme", alertname="EngagementLow"}',
        '{}:{account="acme", alertname="FollowersDrop"}',
        '{}:{account="beta", alertname="EngagementLow"}',
    ]
    assert all(len(m.alerts) == 1 for m in single)
    (one,) = step(together, alerts, T0).messages
    assert one.group_key == "{}:{}"
    assert dict(one.group_labels) == {}
    assert len(one.alerts) == 3


def test_alerts_reach_the_notifiers_they_name_or_all() -> None:
    router = Router([target("chat"), target("ops", group_by=["account"])], URL)
    everywhere = alert("EngagementLow")
    chat_only = alert("FollowersDrop", notifiers=("chat",), account="beta")
    unknown = alert("Reach", notifiers=("nowhere",))
    messages = step(router, [everywhere, chat_only, unknown], T0).messages
    by_notifier: dict[str, list[str]] = {}
    for message in messages:
        by_notifier.setdefault(message.notifier, []).extend(a.rule for a in message.alerts)
    assert sorted(by_notifier["chat"]) == ["EngagementLow", "FollowersDrop"]
    assert by_notifier["ops"] == ["EngagementLow"]
    assert {m.group_key for m in messages if m.notifier == "ops"} == {'{}:{account="acme"}'}


def test_group_state_carried_over_a_restart_sends_nothing_again() -> None:
    config = [target(group_interval="1m", repeat_interval="4h")]
    before = Router(config, URL)
    a = alert()
    assert len(step(before, [a], T0).messages) == 1
    after = Router(config, URL, before.groups.values())
    assert step(after, [a], T0 + 600).messages == []


def test_groups_of_notifiers_no_longer_configured_are_forgotten() -> None:
    stale = GroupState("old", '{}:{alertname="X"}', {"alertname": "X"}, T0, T0)
    router = Router([target()], URL, [stale])
    plan = step(router, [], T0)
    assert plan.forgotten == [("old", '{}:{alertname="X"}')]
    assert step(router, [], T0 + 1).forgotten == []


def test_next_due_is_the_earliest_flush() -> None:
    router = Router([target(group_wait="30s", group_interval="5m")], URL)
    assert router.next_due() is None
    step(router, [alert()], T0)
    assert router.next_due() == T0 + 30
    step(router, [alert()], T0 + 30)
    assert router.next_due() == T0 + 330


def test_a_notifier_name_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'hook' is configured twice"):
        Router([target(), target()], URL)


# -- state notifiers (Alertmanager) ------------------------------------------------------------


def test_a_state_notifier_gets_every_alert_at_once_and_again_each_resend_interval() -> None:
    router = Router([target("am", "state", resend_interval="1m")], URL)
    a, b = alert(account="acme"), alert(account="beta")
    (first,) = step(router, [a], T0).messages
    assert first.kind == "state"
    assert first.group_key == STATE_GROUP_KEY
    assert first.alerts == (a,)
    assert first.valid_for == 4 * 60
    # nothing new: quiet until the resend interval, even when the caller says "changed"
    assert step(router, [a], T0 + 10, changed=True).messages == []
    assert step(router, [a], T0 + 59, changed=False).messages == []
    (resend,) = step(router, [a], T0 + 60, changed=False).messages
    assert resend.idempotency_key != first.idempotency_key
    # a change goes out at once
    (change,) = step(router, [a, b], T0 + 70, changed=True).messages
    assert [x.labels["account"] for x in change.alerts] == ["acme", "beta"]
    # a resolve goes out at once and the resolved alert is re-sent while the caller keeps it
    (resolve,) = step(router, [resolved(a, T0 + 80), b], T0 + 80, changed=True).messages
    assert statuses(resolve) == [("acme", "resolved"), ("beta", "firing")]
    (again,) = step(router, [resolved(a, T0 + 80), b], T0 + 140, changed=False).messages
    assert statuses(again) == [("acme", "resolved"), ("beta", "firing")]
    # nothing left: no message, the row is forgotten
    plan = step(router, [], T0 + 1000, changed=True)
    assert plan.messages == []
    assert plan.forgotten == [("am", STATE_GROUP_KEY)]


def test_a_state_notifier_without_changed_waits_for_the_resend() -> None:
    router = Router([target("am", "state", resend_interval="2m")], URL)
    a, b = alert(account="acme"), alert(account="beta")
    step(router, [a], T0)
    assert step(router, [a, b], T0 + 30, changed=False).messages == []
    (message,) = step(router, [a, b], T0 + 120, changed=False).messages
    assert len(message.alerts) == 2
    assert message.valid_for == 480


def test_state_and_group_notifiers_side_by_side() -> None:
    router = Router([target("am", "state"), target("hook", group_wait="1m")], URL)
    messages = step(router, [alert()], T0).messages
    assert [(m.notifier, m.kind) for m in messages] == [("am", "state")]
    later = step(router, [alert()], T0 + 60).messages
    assert [(m.notifier, m.kind) for m in later] == [("am", "state"), ("hook", "group")]
