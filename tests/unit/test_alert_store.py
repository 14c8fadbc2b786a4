"""The alert store on real SQLite files: alert and group state across reopening, one
transaction per commit (also under kill -9), outbox queues, superseded snapshots, stats."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from kpiwatch.alerting.model import Alert, AlertRecord, fingerprint
from kpiwatch.alerting.notifiers.base import Notification
from kpiwatch.alerting.router import GroupState, Router, RouteTarget
from kpiwatch.alerting.store import SCHEMA_VERSION, AlertStore, alert_state_path
from kpiwatch.config_alerting import AlertingSettings, NotifierConfig
from kpiwatch.store.models import StoreError

T0 = 1_800_000_000.0


def record(account: str = "acme", state: str = "firing", **changes: object) -> AlertRecord:
    labels = {"alertname": "EngagementLow", "account": account, "severity": "warning"}
    base = AlertRecord(
        fingerprint=fingerprint(labels),
        rule="EngagementLow",
        labels=labels,
        annotations={"summary": f"engagement on {account} is 1.2 %"},
        state=state,  # type: ignore[arg-type]
        active_at=T0 - 600,
        last_true_at=T0,
        fired_at=None if state == "pending" else T0 - 300,
        value=0.012,
        generator_url="http://kpiwatch:9464/rules/EngagementLow",
        extra={"threshold": 0.02, "window": "7d"},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def message(
    notifier: str = "hook",
    group: str = '{}:{alertname="EngagementLow"}',
    key: str = "k1",
    kind: str = "group",
    created_at: float = T0,
    status: str = "firing",
) -> Notification:
    alert = record().alert()
    assert alert is not None
    return Notification(
        notifier=notifier,
        kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        group_key=group,
        group_labels={"alertname": "EngagementLow"},
        alerts=(alert,),
        idempotency_key=key,
        external_url="http://kpiwatch:9464",
        created_at=created_at,
        valid_for=240.0 if kind == "state" else 0.0,
    )


def table(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the file with a separate plain sqlite3 connection."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
async def store(tmp_path: Path):
    opened = await AlertStore.open(tmp_path / "state" / "alerts.db")
    yield opened
    await opened.close()


# -- alert and group state ---------------------------------------------------------------------


async def test_alerts_and_groups_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    firing = record("acme", notifiers=("hook", "am"))
    pending = record("beta", "pending", value=None, extra={})
    gone = record("gamma")
    group = GroupState(
        "hook", '{}:{alertname="EngagementLow"}', {"alertname": "EngagementLow"},
        T0 - 60, T0 + 240, T0 - 60, (("0123456789abcdef", "firing"),), "",
    )  # fmt: skip
    async with await AlertStore.open(path) as store:
        await store.commit(alerts=[firing, pending, gone], groups=[group])
        await store.commit(alerts=[replace(firing, annotations={"summary": "new"})])
        await store.commit(removed=[gone.fingerprint])
    async with await AlertStore.open(path) as store:
        alerts = {a.fingerprint: a for a in await store.load_alerts()}
        groups = await store.load_groups()
    assert alerts == {
        firing.fingerprint: replace(firing, annotations={"summary": "new"}),
        pending.fingerprint: pending,
    }
    assert alerts[firing.fingerprint].notifiers == ("hook", "am")
    assert alerts[pending.fingerprint].notifiers is None
    assert groups == [group]
    # labels are canonical JSON: sorted keys, no spaces
    (labels,) = table(
        path, "SELECT labels FROM alerts WHERE fingerprint = ?", (pending.fingerprint,)
    )
    assert labels[0] == json.dumps(pending.labels, sort_keys=True, separators=(",", ":"))


async def test_a_restarted_router_sends_nothing_already_sent(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    targets = [RouteTarget(NotifierConfig(name="hook", type="webhook"))]
    firing = record()
    alert = firing.alert()
    assert alert is not None
    router = Router(targets, "http://kpiwatch:9464")
    plan = router.plan([alert], T0, True)
    assert len(plan.messages) == 1
    async with await AlertStore.open(path) as store:
        await store.commit([firing], (), plan.groups, plan.messages, plan.forgotten)
    router.accept(plan)
    async with await AlertStore.open(path) as store:
        restarted = Router(targets, "http://kpiwatch:9464", await store.load_groups())
        (stored,) = [r.alert() for r in await store.load_alerts()]
    assert restarted.plan([stored], T0 + 600, True).messages == []  # type: ignore[list-item]


async def test_forgotten_groups_are_deleted(store: AlertStore) -> None:
    group = GroupState("hook", "{}:{}", {}, T0, T0)
    await store.commit(groups=[group, replace(group, group_key='{}:{a="1"}')])
    await store.commit(forgotten=[("hook", "{}:{}")])
    assert [g.group_key for g in await store.load_groups()] == ['{}:{a="1"}']


async def test_a_failing_commit_stores_nothing(store: AlertStore) -> None:
    await store.commit(alerts=[record("acme")])
    with pytest.raises(sqlite3.IntegrityError):
        # the bad message is inserted last, after the alert and group rows
        await store.commit(
            alerts=[record("acme", annotations={"summary": "changed"}), record("beta")],
            groups=[GroupState("hook", "{}:{}", {}, T0, T0)],
            messages=[message(key="good"), message(key="bad", kind="bogus")],
        )
    assert await store.load_alerts() == [record("acme")]
    assert await store.load_groups() == []
    assert await store.items() == []


async def test_a_value_that_is_not_json_is_refused_before_any_sql(store: AlertStore) -> None:
    with pytest.raises(ValueError, match=r"alert EngagementLow \w+: extra cannot be stored"):
        await store.commit(alerts=[record(extra={"when": object()})], messages=[message()])
    assert await store.items() == []


# -- the outbox --------------------------------------------------------------------------------


async def test_a_message_with_a_known_idempotency_key_is_skipped(store: AlertStore) -> None:
    first = await store.commit(messages=[message(key="k1")])
    again = await store.commit(messages=[message(key="k1"), message(key="k2")])
    other = await store.commit(messages=[message(notifier="chat", key="k1")])
    assert len(first.message_ids) == 1
    assert len(again.message_ids) == 1
    assert len(other.message_ids) == 1
    assert [(i.notifier, i.idempotency_key) for i, _ in await store.items()] == [
        ("hook", "k1"),
        ("hook", "k2"),
        ("chat", "k1"),
    ]


async def test_due_gives_each_group_its_oldest_pending_message_only(store: AlertStore) -> None:
    group_a, group_b = '{}:{alertname="A"}', '{}:{alertname="B"}'
    await store.commit(
        messages=[
            message(group=group_a, key="a1"),
            message(group=group_a, key="a2", status="resolved"),
            message(group=group_b, key="b1"),
            message(notifier="chat", group=group_a, key="c1"),
        ]
    )
    heads = await store.due(T0, 10)
    assert [i.idempotency_key for i in heads] == ["a1", "b1", "c1"]
    assert [i.idempotency_key for i in await store.due(T0, 10, "hook")] == ["a1", "b1"]
    assert await store.due(T0 - 1, 10) == []
    assert len(await store.due(T0, 1)) == 1

    # a1 waits for a retry: a2 must not overtake it
    a1 = heads[0]
    assert await store.retry(a1.id, T0 + 30, "HTTP 503")
    assert [i.idempotency_key for i in await store.due(T0 + 10, 10, "hook")] == ["b1"]
    assert await store.next_due(T0 + 10) == T0 + 30
    # oldest due first: b1 (due since T0), then a1 (due at T0 + 30)
    assert [i.idempotency_key for i in await store.due(T0 + 30, 10, "hook")] == ["b1", "a1"]
    (retried,) = [i for i in await store.due(T0 + 30, 10, "hook") if i.id == a1.id]
    assert (retried.idempotency_key, retried.attempts, retried.last_error) == ("a1", 1, "HTTP 503")
    assert retried.notification == message(group=group_a, key="a1")

    await store.delivered(a1.id, T0 + 31)
    keys = [i.idempotency_key for i in await store.due(T0 + 31, 10, "hook")]
    assert keys == ["a2", "b1"]


async def test_dead_messages_unblock_their_group_and_are_counted(store: AlertStore) -> None:
    await store.commit(messages=[message(key="m1"), message(key="m2")])
    (head,) = await store.due(T0, 10)
    await store.dead(head.id, "HTTP 400: bad request", T0 + 1)
    (nxt,) = await store.due(T0 + 1, 10)
    assert nxt.idempotency_key == "m2"
    stats = await store.stats(T0 + 100)
    assert stats.depth == {"hook": 1}
    assert stats.oldest_age == {"hook": 100.0}
    assert stats.dead == {"hook": 1}
    states = {i.idempotency_key: s for i, s in await store.items()}
    assert states == {"m1": "dead", "m2": "pending"}


async def test_a_state_message_supersedes_older_pending_snapshots(store: AlertStore) -> None:
    s1 = message(notifier="am", kind="state", group="{}:state", key="s1")
    s2 = message(notifier="am", kind="state", group="{}:state", key="s2", created_at=T0 + 60)
    other = message(notifier="am2", kind="state", group="{}:state", key="o1")
    await store.commit(messages=[s1, message(notifier="am", key="g1"), other])
    (in_flight_id,) = [i.id for i, _ in await store.items("am") if i.idempotency_key == "s1"]
    result = await store.commit(messages=[s2])
    assert result.superseded == {"am": 1}
    states = {i.idempotency_key: s for i, s in await store.items()}
    assert states == {"s1": "superseded", "g1": "pending", "o1": "pending", "s2": "pending"}
    (superseded_by,) = table(
        store.path, "SELECT superseded_by FROM outbox WHERE id = ?", (in_flight_id,)
    )
    assert superseded_by[0] == result.message_ids[0]
    # s1 was being sent when s2 arrived: a failure is not retried, a success still counts
    assert await store.retry(in_flight_id, T0 + 90, "HTTP 503") is False
    await store.delivered(in_flight_id, T0 + 61)
    stats = await store.stats(T0 + 61)
    assert stats.outcomes == {("am", "superseded"): 1, ("am", "delivered"): 1}
    assert stats.depth == {"am": 2, "am2": 1}


async def test_finished_messages_are_pruned_after_a_day(store: AlertStore) -> None:
    await store.commit(messages=[message(key=f"m{n}", group=f"g{n}") for n in range(3)])
    first, second, _ = await store.due(T0, 10)
    await store.delivered(first.id, T0)
    await store.dead(second.id, "gone", T0 + 3600)
    assert await store.prune(T0 + 86400 + 1) == 1
    assert [s for _, s in await store.items()] == ["dead", "pending"]
    assert await store.prune(T0 + 86400 + 3601) == 1
    assert [s for _, s in await store.items()] == ["pending"]


async def test_messages_of_removed_notifiers_are_dead_lettered(store: AlertStore) -> None:
    await store.commit(messages=[message("hook", key="a"), message("old", key="b")])
    assert await store.drop_unknown({"hook"}, "no longer configured", T0) == {"old": 1}
    assert {i.notifier: s for i, s in await store.items()} == {"hook": "pending", "old": "dead"}
    assert (await store.stats(T0)).dead == {"old": 1}


# -- the file ----------------------------------------------------------------------------------


async def test_the_file_is_in_wal_mode_at_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "alerts.db"
    store = await AlertStore.open(path)
    await store.close()
    assert table(path, "PRAGMA journal_mode") == [("wal",)]
    assert table(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    async with await AlertStore.open(path) as again:  # opening twice migrates once
        assert await again.load_alerts() == []


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this kpiwatch understands"):
        await AlertStore.open(path)


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    path.write_bytes(b"this is no database, just some text " * 100)
    with pytest.raises(StoreError, match="not a usable kpiwatch alert state file"):
        await AlertStore.open(path)


def test_the_state_file_is_relative_to_state_dir_unless_absolute(tmp_path: Path) -> None:
    assert alert_state_path(tmp_path, AlertingSettings()) == tmp_path / "alerts.db"
    absolute = tmp_path / "elsewhere" / "a.db"
    assert alert_state_path(tmp_path / "x", AlertingSettings(state_file=str(absolute))) == absolute


# -- durability --------------------------------------------------------------------------------

KILLED_COMMITTER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from kpiwatch.alerting.model import AlertRecord
    from kpiwatch.alerting.router import RouteTarget, Router
    from kpiwatch.alerting.store import AlertStore
    from kpiwatch.config_alerting import NotifierConfig

    async def main():
        store = await AlertStore.open(Path(sys.argv[1]))
        records = [
            AlertRecord(f"fp{n:014d}", "EngagementLow", {"alertname": "EngagementLow",
                        "account": f"acct-{n}"}, {}, "firing", 1.0, 2.0, fired_at=2.0)
            for n in range(20)
        ]
        router = Router([RouteTarget(NotifierConfig(name="hook", type="webhook",
                                                    group_by=["account"]))], "http://k")
        plan = router.plan([r.alert() for r in records], 10.0, True)
        await store.commit(records, (), plan.groups, plan.messages, plan.forgotten)
        print(len(plan.messages), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


async def test_alerts_and_their_messages_survive_kill_9_after_commit(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    done = subprocess.run(
        [sys.executable, "-c", KILLED_COMMITTER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == "20\n"
    assert path.with_name(path.name + "-wal").exists()  # never checkpointed by a close
    async with await AlertStore.open(path) as store:
        alerts = await store.load_alerts()
        groups = await store.load_groups()
        due = await store.due(100.0, 100)
    assert len(alerts) == 20
    assert len(groups) == 20
    assert sorted(i.notification.alerts[0].labels["account"] for i in due) == sorted(
        f"acct-{n}" for n in range(20)
    )
    assert all(isinstance(i.notification.alerts[0], Alert) for i in due)
