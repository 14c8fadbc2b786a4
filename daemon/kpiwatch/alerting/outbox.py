"""The delivery worker: sends what the alert store's outbox holds, retrying until it is
delivered, dead-lettered or superseded.

Delivery is at-least-once. A message is marked delivered only after its notifier's ``send``
returned; if the daemon is killed between the two, the message is sent again after the
restart, with the same idempotency key (receivers that honour the key drop the duplicate).

Per notifier at most ``outbox.concurrency`` deliveries are in flight, and per (notifier, group
key) at most one, oldest first: a resolved notification never overtakes the firing one of its
group, even while that one waits for a retry. A failure (``DeliveryError``, the ``timeout``, or
any exception a notifier raises) is retried after an exponential backoff with jitter, or after
the receiver's ``retry_after`` (capped at ``backoff_max``); a permanent ``DeliveryError`` or a
message older than its notifier's ``max_age`` is dead-lettered. Logs name the notifier and the
DeliveryError's message (which must not hold secrets), never the notifier's URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from kpiwatch.alerting.notifiers.base import DeliveryError, Notifier
from kpiwatch.alerting.store import AlertStore, OutboxItem, Outcome
from kpiwatch.config_alerting import OutboxSettings, duration_text
from kpiwatch.logging import get_logger

if TYPE_CHECKING:
    import structlog

#: The worker looks at the outbox at least this often (expired messages, pruning).
IDLE_WAKE = 60.0
#: Delivered, dead and superseded messages are pruned this often.
PRUNE_EVERY = 3600.0
#: Pause after the alert store failed, so a broken disk does not spin the loop.
STORE_ERROR_PAUSE = 1.0
DEFAULT_MAX_AGE = timedelta(hours=24)
REMOVED_NOTIFIER = "the notifier is no longer configured"

OutcomeCallback = Callable[[str, Outcome], None]


def backoff_delay(failures: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Seconds before the next attempt after ``failures`` failed ones: uniform between
    ``initial`` and ``initial * 2 ** (failures - 1)``, never above ``maximum``."""
    ceiling = min(maximum, initial * 2.0 ** min(max(failures - 1, 0), 60))
    return rng.uniform(min(initial, ceiling), ceiling)


class OutboxWorker:
    """Delivers due outbox messages until ``stop``; ``wake`` after each commit."""

    def __init__(
        self,
        store: AlertStore,
        notifiers: Mapping[str, Notifier],
        settings: OutboxSettings,
        max_age: Mapping[str, timedelta] | None = None,
        on_outcome: OutcomeCallback | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        log: structlog.typing.FilteringBoundLogger | None = None,
    ) -> None:
        self._store = store
        self._notifiers = dict(notifiers)
        self._max_age = {
            name: (max_age or {}).get(name, DEFAULT_MAX_AGE).total_seconds()
            for name in self._notifiers
        }
        self._on_outcome = on_outcome
        self._clock = clock
        self._rng = rng or random.Random()
        self._log = log or get_logger(component="outbox")
        self._timeout = settings.timeout.total_seconds()
        self._initial = settings.backoff_initial.total_seconds()
        self._maximum = max(settings.backoff_max.total_seconds(), self._initial)
        self._concurrency = settings.concurrency
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: Counter[str] = Counter()
        self._busy_groups: set[tuple[str, str]] = set()
        self._finished: set[int] = set()  # ids whose delivery ended during the last due()
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_prune = 0.0

    def wake(self) -> None:
        """Look at the outbox now (call after a commit that added messages)."""
        self._wake.set()

    def stop(self) -> None:
        """End ``run``: no new deliveries start; those in flight get up to ``timeout``."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until ``stop`` is called."""
        try:
            await self._drop_unknown()
            while not self._stopping:
                self._wake.clear()
                delay = await self._cycle()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
        finally:
            await self._finish_in_flight()

    async def _cycle(self) -> float:
        """Start what is due; returns how long to sleep unless woken."""
        now = self._clock()
        try:
            await self._start_due(now)
            if now >= self._next_prune:
                await self._store.prune(now)
                self._next_prune = now + PRUNE_EVERY
            next_at = await self._store.next_due(now)
        except sqlite3.Error as exc:
            self._log.error("alert state file unusable", error=str(exc))
            return STORE_ERROR_PAUSE
        if next_at is None:
            return IDLE_WAKE
        return min(max(next_at - now, 0.0), IDLE_WAKE)

    async def _drop_unknown(self) -> None:
        try:
            dropped = await self._store.drop_unknown(
                self._notifiers, REMOVED_NOTIFIER, self._clock()
            )
        except sqlite3.Error as exc:
            self._log.error("alert state file unusable", error=str(exc))
            return
        for name, count in dropped.items():
            self._log.warning(
                "notifications dead-lettered", notifier=name, count=count, reason=REMOVED_NOTIFIER
            )
            for _ in range(count):
                self._report(name, "dead")

    async def _start_due(self, now: float) -> None:
        for name, notifier in self._notifiers.items():
            free = self._concurrency - self._in_flight[name]
            if free <= 0:
                continue
            # heads of queues in flight come back too: at most concurrency - free of them.
            # A delivery that ends while the query runs may be read as still pending: the ids
            # finished meanwhile are skipped, or that message would be sent twice.
            self._finished.clear()
            for item in await self._store.due(now, self._concurrency, name):
                if free <= 0:
                    break
                group = (name, item.group_key)
                if group in self._busy_groups or item.id in self._finished:
                    continue
                if now - item.created_at >= self._max_age[name]:
                    await self._expire(item, now)
                    continue
                self._busy_groups.add(group)
                self._in_flight[name] += 1
                free -= 1
                task = asyncio.create_task(self._deliver(item, notifier))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _expire(self, item: OutboxItem, now: float) -> None:
        reason = f"not delivered within max_age {duration_text(self._max_age_of(item))}"
        if item.last_error:
            reason = f"{item.last_error}; {reason}"
        await self._store.dead(item.id, reason, now, attempted=False)
        self._log.error(
            "notification dead-lettered",
            notifier=item.notifier,
            group_key=item.group_key,
            attempts=item.attempts,
            reason=reason,
        )
        self._report(item.notifier, "dead")
        self._wake.set()  # the next message of its group may be due

    def _max_age_of(self, item: OutboxItem) -> timedelta:
        return timedelta(seconds=self._max_age[item.notifier])

    async def _deliver(self, item: OutboxItem, notifier: Notifier) -> None:
        try:
            await self._attempt(item, notifier)
        except sqlite3.Error as exc:  # the message stays pending and is tried again
            self._log.error("alert state file unusable", error=str(exc))
            await asyncio.sleep(STORE_ERROR_PAUSE)
        finally:
            self._finished.add(item.id)
            self._busy_groups.discard((item.notifier, item.group_key))
            self._in_flight[item.notifier] -= 1
            self._wake.set()

    async def _attempt(self, item: OutboxItem, notifier: Notifier) -> None:
        name = item.notifier
        retry_after: float | None = None
        permanent = False
        try:
            async with asyncio.timeout(self._timeout):
                await notifier.send(item.notification)
        except DeliveryError as exc:
            error = str(exc) or "delivery failed"
            retry_after, permanent = exc.retry_after, exc.permanent
        except TimeoutError:
            error = f"no answer within {self._timeout:g}s"
        except Exception as exc:  # a notifier's bug must not stop the others
            error = f"the notifier raised {type(exc).__name__}"
        else:
            await self._store.delivered(item.id, self._clock())
            # state snapshots go out every resend_interval: only group messages log at info
            emit = self._log.info if item.kind == "group" else self._log.debug
            emit(
                "notification delivered",
                notifier=name,
                group_key=item.group_key,
                status=item.notification.status,
                attempts=item.attempts + 1,
            )
            self._report(name, "delivered")
            return
        now = self._clock()
        failures = item.attempts + 1
        if permanent or now - item.created_at >= self._max_age[name]:
            reason = error
            if not permanent:
                limit = duration_text(self._max_age_of(item))
                reason = f"{error}; not delivered within max_age {limit}"
            await self._store.dead(item.id, reason, now)
            self._log.error(
                "notification dead-lettered",
                notifier=name,
                group_key=item.group_key,
                attempts=failures,
                reason=reason,
            )
            self._report(name, "dead")
            return
        delay = self._retry_delay(failures, retry_after)
        if not await self._store.retry(item.id, now + delay, error):
            self._report(name, "superseded")  # a newer snapshot replaced it meanwhile
            return
        self._log.warning(
            "notification failed, will retry",
            notifier=name,
            group_key=item.group_key,
            attempts=failures,
            error=error,
            retry_in=round(delay, 3),
        )
        self._report(name, "retry")

    def _retry_delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self._maximum)
        return backoff_delay(failures, self._initial, self._maximum, self._rng)

    def _report(self, notifier: str, outcome: Outcome) -> None:
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(notifier, outcome)
        except Exception as exc:
            self._log.error("outcome callback raised", error=type(exc).__name__)

    async def _finish_in_flight(self) -> None:
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, late = await asyncio.wait(pending, timeout=self._timeout + 1.0)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
