"""The delivery worker on a real alert store: retries until delivered, order per group,
growing backoff, Retry-After, dead letters, failures that stay local, at-least-once after
kill -9. Notifiers are small test doubles of the plugin interface."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from kpiwatch.alerting.model import Alert
from kpiwatch.alerting.notifiers.base import DeliveryError, Notification
from kpiwatch.alerting.outbox import OutboxWorker, backoff_delay
from kpiwatch.alerting.store import AlertStore
from kpiwatch.config_alerting import OutboxSettings

SETTINGS = OutboxSettings(
    backoff_initial=timedelta(milliseconds=10),
    backoff_max=timedelta(milliseconds=200),
    timeout=timedelta(milliseconds=300),
    concurrency=4,
)
SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cr3t-t0ken"


class FlakyNotifier:
    """Fails each message ``failures`` times (raising what ``error`` makes), then accepts it."""

    def __init__(
        self,
        failures: int = 0,
        error: Callable[[], Exception] = lambda: DeliveryError("HTTP 503 from the receiver"),
    ) -> None:
        self.failures = failures
        self.error = error
        self.attempts: list[tuple[float, str]] = []  # (monotonic time, idempotency key)
        self.delivered: list[Notification] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = 0.0
        self._failed: Counter[str] = Counter()

    async def send(self, notification: Notification) -> None:
        key = notification.idempotency_key
        self.attempts.append((time.monotonic(), key))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self._failed[key] < self.failures:
                self._failed[key] += 1
                raise self.error()
            self.delivered.append(notification)
        finally:
            self.in_flight -= 1

    def keys(self) -> list[str]:
        return [n.idempotency_key for n in self.delivered]


class UpperBound(random.Random):
    """Jitter that always picks the longest delay, so the backoff can be measured."""

    def uniform(self, a: float, b: float) -> float:
        return b


def message(
    key: str,
    notifier: str = "hook",
    group: str = '{}:{alertname="EngagementLow"}',
    status: str = "firing",
    created_at: float | None = None,
    kind: str = "group",
) -> Notification:
    alert = Alert(
        "0123456789abcdef",
        "EngagementLow",
        {"alertname": "EngagementLow"},
        {},
        status,  # type: ignore[arg-type]
        1.0,
        None if status == "firing" else 2.0,
        "http://kpiwatch:9464/rules/EngagementLow",
    )
    return Notification(
        notifier=notifier,
        kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        group_key=group,
        group_labels={},
        alerts=(alert,),
        idempotency_key=key,
        external_url="http://kpiwatch:9464",
        created_at=time.time() if created_at is None else created_at,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    opened = await AlertStore.open(tmp_path / "alerts.db")
    yield opened
    await opened.close()


@contextlib.asynccontextmanager
async def running(worker: OutboxWorker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def states(store: AlertStore) -> dict[str, str]:
    return {item.idempotency_key: state for item, state in await store.items()}


# -- retries -----------------------------------------------------------------------------------


async def test_a_message_failing_three_times_is_delivered_exactly_once(store: AlertStore) -> None:
    hook = FlakyNotifier(failures=3)
    outcomes: list[tuple[str, str]] = []
    worker = OutboxWorker(
        store, {"hook": hook}, SETTINGS, on_outcome=lambda n, o: outcomes.append((n, o))
    )
    await store.commit(messages=[message("m1")])
    async with running(worker):
        await until(lambda: len(hook.delivered) == 1)
        await until(lambda: ("hook", "delivered") in outcomes)
        await asyncio.sleep(0.1)  # nothing else happens afterwards
    assert hook.keys() == ["m1"]
    assert len(hook.attempts) == 4
    assert outcomes == [("hook", "retry")] * 3 + [("hook", "delivered")]
    ((item, state),) = await store.items()
    assert (state, item.attempts, item.last_error) == ("delivered", 4, "HTTP 503 from the receiver")
    stats = await store.stats(time.time())
    assert stats.depth == {}
    assert stats.outcomes == {("hook", "retry"): 3, ("hook", "delivered"): 1}


async def test_a_resolve_never_overtakes_its_firing_message(store: AlertStore) -> None:
    hook = FlakyNotifier(failures=2)
    worker = OutboxWorker(store, {"hook": hook}, SETTINGS)
    await store.commit(
        messages=[
            message("firing-a", group="A"),
            message("resolved-a", group="A", status="resolved"),
            message("firing-b", group="B"),
            message("resolved-b", group="B", status="resolved"),
        ]
    )
    async with running(worker):
        await until(lambda: len(hook.delivered) == 4)
    keys = hook.keys()
    assert keys.index("firing-a") < keys.index("resolved-a")
    assert keys.index("firing-b") < keys.index("resolved-b")
    # no attempt of a resolve before its firing message was delivered
    first_resolve_try = min(t for t, k in hook.attempts if k == "resolved-a")
    last_firing_try = max(t for t, k in hook.attempts if k == "firing-a")
    assert last_firing_try < first_resolve_try


async def test_backoff_delays_grow_up_to_backoff_max(store: AlertStore) -> None:
    settings = OutboxSettings(
        backoff_initial=timedelta(milliseconds=20),
        backoff_max=timedelta(milliseconds=80),
        timeout=timedelta(seconds=1),
    )
    hook = FlakyNotifier(failures=5)
    worker = OutboxWorker(store, {"hook": hook}, settings, rng=UpperBound())
    await store.commit(messages=[message("m1")])
    with capture_logs() as logs:
        async with running(worker):
            await until(lambda: len(hook.delivered) == 1)
    delays = [e["retry_in"] for e in logs if "retry_in" in e]
    assert delays == [0.02, 0.04, 0.08, 0.08, 0.08]  # initial, doubling, capped at backoff_max
    # and the worker really waited that long between attempts
    times = [t for t, _ in hook.attempts]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.9 * delay for gap, delay in zip(gaps, delays, strict=True))


def test_backoff_delay_stays_between_initial_and_the_doubled_ceiling() -> None:
    rng = random.Random(7)
    for failures in range(1, 12):
        ceiling = min(10.0, 0.5 * 2 ** (failures - 1))
        delays = [backoff_delay(failures, 0.5, 10.0, rng) for _ in range(200)]
        assert all(0.5 <= d <= ceiling for d in delays)
        if ceiling > 0.5:
            assert max(delays) - min(delays) > (ceiling - 0.5) / 2  # jittered, not fixed


async def test_retry_after_is_honoured_and_capped_at_backoff_max(store: AlertStore) -> None:
    settings = OutboxSettings(
        backoff_initial=timedelta(milliseconds=1),
        backoff_max=timedelta(milliseconds=150),
        timeout=timedelta(seconds=1),
    )
    short = FlakyNotifier(1, lambda: DeliveryError("HTTP 429", retry_after=0.06))
    long = FlakyNotifier(1, lambda: DeliveryError("HTTP 429", retry_after=3600))
    worker = OutboxWorker(store, {"short": short, "long": long}, settings)
    await store.commit(messages=[message("s", "short"), message("l", "long")])
    with capture_logs() as logs:
        async with running(worker):
            await until(lambda: len(short.delivered) == 1 and len(long.delivered) == 1)
    delays = {e["notifier"]: e["retry_in"] for e in logs if "retry_in" in e}
    assert delays == {"short": 0.06, "long": 0.15}
    assert short.attempts[1][0] - short.attempts[0][0] >= 0.9 * 0.06
    assert long.attempts[1][0] - long.attempts[0][0] >= 0.9 * 0.15


async def test_a_notifier_timing_out_is_retried(store: AlertStore) -> None:
    slow = FlakyNotifier()
    slow.delay = 10.0  # far beyond the 300 ms timeout
    outcomes: list[str] = []
    worker = OutboxWorker(
        store, {"slow": slow}, SETTINGS, on_outcome=lambda _, o: outcomes.append(o)
    )
    await store.commit(messages=[message("m1", "slow")])
    async with running(worker):
        await until(lambda: "retry" in outcomes)
        slow.delay = 0.0
        await until(lambda: len(slow.delivered) == 1)
    ((item, _),) = await store.items()
    assert item.last_error == "no answer within 0.3s"


# -- dead letters ------------------------------------------------------------------------------


async def test_messages_older_than_max_age_are_dead_lettered(store: AlertStore) -> None:
    down = FlakyNotifier(failures=10**6)
    outcomes: list[str] = []
    worker = OutboxWorker(
        store,
        {"down": down},
        SETTINGS,
        max_age={"down": timedelta(milliseconds=150)},
        on_outcome=lambda _, o: outcomes.append(o),
    )
    await store.commit(messages=[message("m1", "down")])
    async with running(worker):
        await until(lambda: "dead" in outcomes)
        tries = len(down.attempts)
        await asyncio.sleep(0.1)
    assert len(down.attempts) == tries  # never tried again
    assert tries >= 2
    assert await states(store) == {"m1": "dead"}
    ((item, _),) = await store.items()
    assert item.last_error == "HTTP 503 from the receiver; not delivered within max_age 150ms"
    assert (await store.stats(time.time())).dead == {"down": 1}


async def test_a_stale_message_is_dead_lettered_without_sending(store: AlertStore) -> None:
    hook = FlakyNotifier()
    worker = OutboxWorker(store, {"hook": hook}, SETTINGS, max_age={"hook": timedelta(hours=1)})
    await store.commit(
        messages=[
            message("stale", created_at=time.time() - 7200),
            message("fresh", status="resolved"),
        ]
    )
    async with running(worker):
        await until(lambda: len(hook.delivered) == 1)
    assert hook.keys() == ["fresh"]
    assert await states(store) == {"stale": "dead", "fresh": "delivered"}


async def test_a_permanent_error_is_dead_lettered_at_once(store: AlertStore) -> None:
    rejecting = FlakyNotifier(1, lambda: DeliveryError("HTTP 400: bad payload", permanent=True))
    worker = OutboxWorker(store, {"hook": rejecting}, SETTINGS)
    await store.commit(messages=[message("m1"), message("m2", status="resolved")])
    async with running(worker):
        await until(lambda: len(rejecting.attempts) == 2)
        await asyncio.sleep(0.05)
    assert await states(store) == {"m1": "dead", "m2": "dead"}
    assert len(rejecting.attempts) == 2


async def test_messages_of_a_removed_notifier_are_dead_lettered(store: AlertStore) -> None:
    outcomes: list[tuple[str, str]] = []
    await store.commit(messages=[message("m1", "removed")])
    worker = OutboxWorker(
        store, {"hook": FlakyNotifier()}, SETTINGS, on_outcome=lambda n, o: outcomes.append((n, o))
    )
    async with running(worker):
        await until(lambda: bool(outcomes))
    assert outcomes == [("removed", "dead")]
    assert await states(store) == {"m1": "dead"}


# -- isolation, concurrency, superseding -------------------------------------------------------


async def test_a_notifier_raising_a_plain_exception_does_not_stop_the_others(
    store: AlertStore,
) -> None:
    broken = FlakyNotifier(10**6, lambda: RuntimeError(f"cannot reach {SECRET_URL}"))
    good = FlakyNotifier()
    outcomes: Counter[tuple[str, str]] = Counter()
    worker = OutboxWorker(
        store,
        {"broken": broken, "good": good},
        SETTINGS,
        on_outcome=lambda n, o: outcomes.update([(n, o)]),
    )
    with capture_logs() as logs:
        await store.commit(messages=[message("b1", "broken"), message("g1", "good")])
        async with running(worker):
            await until(lambda: len(good.delivered) == 1)
            await until(lambda: outcomes[("broken", "retry")] >= 3)
            await store.commit(messages=[message("g2", "good", status="resolved")])
            worker.wake()
            await until(lambda: len(good.delivered) == 2)
    assert good.keys() == ["g1", "g2"]
    retries = [e for e in logs if e.get("notifier") == "broken"]
    assert retries
    assert all(e["error"] == "the notifier raised RuntimeError" for e in retries)
    assert SECRET_URL not in repr(logs)
    assert "s3cr3t" not in repr(logs)


async def test_deliveries_in_flight_are_limited_per_notifier(store: AlertStore) -> None:
    settings = OutboxSettings(concurrency=2, timeout=timedelta(seconds=1))
    hook = FlakyNotifier()
    hook.delay = 0.03
    worker = OutboxWorker(store, {"hook": hook}, settings)
    await store.commit(messages=[message(f"m{n}", group=f"g{n}") for n in range(8)])
    async with running(worker):
        await until(lambda: len(hook.delivered) == 8)
    assert hook.most_in_flight == 2


async def test_wake_delivers_a_new_message_without_waiting(store: AlertStore) -> None:
    hook = FlakyNotifier()
    worker = OutboxWorker(store, {"hook": hook}, SETTINGS)
    async with running(worker):
        await asyncio.sleep(0.05)  # idle: the worker now sleeps up to a minute
        await store.commit(messages=[message("m1")])
        started = time.monotonic()
        worker.wake()
        await until(lambda: len(hook.delivered) == 1, timeout=1.0)
    assert time.monotonic() - started < 0.5


async def test_a_snapshot_superseded_while_in_flight_is_not_retried(store: AlertStore) -> None:
    release = asyncio.Event()
    sent: list[str] = []

    class Alertmanager:
        async def send(self, notification: Notification) -> None:
            sent.append(notification.idempotency_key)
            if notification.idempotency_key == "s1":
                await release.wait()
                raise DeliveryError("HTTP 502")

    outcomes: list[str] = []
    settings = OutboxSettings(timeout=timedelta(seconds=2), backoff_initial=timedelta(0))
    worker = OutboxWorker(
        store, {"am": Alertmanager()}, settings, on_outcome=lambda _, o: outcomes.append(o)
    )
    await store.commit(messages=[message("s1", "am", "{}:state", kind="state")])
    async with running(worker):
        await until(lambda: sent == ["s1"])
        result = await store.commit(messages=[message("s2", "am", "{}:state", kind="state")])
        assert result.superseded == {"am": 1}
        worker.wake()
        await asyncio.sleep(0.05)
        assert sent == ["s1"]  # s2 waits: one message in flight per group
        release.set()
        await until(lambda: sent == ["s1", "s2"])
        await until(lambda: "delivered" in outcomes)
    assert outcomes == ["superseded", "delivered"]
    assert await states(store) == {"s1": "superseded", "s2": "delivered"}


# -- at least once -----------------------------------------------------------------------------

KILLED_SENDER = textwrap.dedent(
    """
    import asyncio, os, signal, sys, time
    from pathlib import Path
    from kpiwatch.alerting.model import Alert
    from kpiwatch.alerting.notifiers.base import Notification
    from kpiwatch.alerting.outbox import OutboxWorker
    from kpiwatch.alerting.store import AlertStore
    from kpiwatch.config_alerting import OutboxSettings

    class KilledAfterSending:
        async def send(self, notification):
            print(notification.idempotency_key, flush=True)  # "sent"
            os.kill(os.getpid(), signal.SIGKILL)  # before the worker marks it delivered

    async def main():
        store = await AlertStore.open(Path(sys.argv[1]))
        alert = Alert("0123456789abcdef", "R", {"alertname": "R"}, {}, "firing", 1.0, None, "")
        message = Notification("hook", "group", "firing", "{}:{}", {}, (alert,), "key-1",
                               "http://k", time.time())
        await store.commit(messages=[message])
        await OutboxWorker(store, {"hook": KilledAfterSending()}, OutboxSettings()).run()

    asyncio.run(main())
    """
)


async def test_a_kill_between_send_and_mark_sends_again_with_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    done = subprocess.run(
        [sys.executable, "-c", KILLED_SENDER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == "key-1\n"
    hook = FlakyNotifier()
    async with await AlertStore.open(path) as store:
        async with running(OutboxWorker(store, {"hook": hook}, SETTINGS)):
            await until(lambda: len(hook.delivered) == 1)
        assert await states(store) == {"key-1": "delivered"}
    assert hook.keys() == ["key-1"]
