"""The systemd notification protocol (sd_notify) and a watchdog fed only while polls progress.

Messages are ``KEY=VALUE`` lines sent as one datagram to the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a path, or an abstract socket when it starts with ``@``). Without the
variable every call does nothing. The socket is non-blocking and a failed send is logged once,
never raised: systemd being away must not stop or slow the daemon.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping

from kpiwatch.logging import get_logger
from kpiwatch.runtime import Runtime
from kpiwatch.scheduler import Scheduler

#: How often STATUS is refreshed (and the watchdog checked) at most, in seconds.
STATUS_INTERVAL = 10.0


def notify_address(value: str | None) -> str | None:
    """The socket address of ``$NOTIFY_SOCKET``: ``@name`` becomes the abstract ``\\0name``."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock and relative addresses are not supported


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between watchdog pings (half of ``$WATCHDOG_USEC``), or None when not asked.

    ``$WATCHDOG_PID``, when set, must name this process: the watchdog was meant for it.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if owner and (not owner.isdigit() or int(owner) != pid):
        return None
    return int(usec) / 2 / 1_000_000


def accounts_summary(runtime: Runtime) -> str:
    """A one-line STATUS text: how many accounts are up, down and not polled yet."""
    states = [status.state for status in runtime.accounts.values()]
    up, down = states.count("up"), states.count("down")
    pending = len(states) - up - down
    text = f"{len(states)} accounts: {up} up, {down} down"
    return text + (f", {pending} pending" if pending else "")


class SystemdNotifier:
    """Sends sd_notify messages; every method is a no-op outside a ``Type=notify`` service."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.address = notify_address(environ.get("NOTIFY_SOCKET"))
        self.watchdog_interval = watchdog_interval(environ, os.getpid()) if self.address else None
        self.log = get_logger()
        self._socket: socket.socket | None = None
        self._failed = False
        self._last_status: str | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """Send one message of ``KEY=VALUE`` lines; False when it could not be sent."""
        if self.address is None:
            return False
        message = "".join(f"{key}={value}\n" for key, value in fields.items()).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
                self._socket.setblocking(False)
            self._socket.sendto(message, self.address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                self.log.warning(
                    "cannot notify systemd; later failures are not logged",
                    socket=self.address.replace("\0", "@"),
                    error=str(exc),
                )
            return False
        return True

    def ready(self, status: str | None = None) -> None:
        """Start-up or a reload is complete."""
        self.send(READY=1, **self._status_field(status))

    def reloading(self) -> None:
        """A reload begins. MONOTONIC_USEC is what ``Type=notify-reload`` (systemd 253+) needs."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send(RELOADING=1, MONOTONIC_USEC=usec)

    def stopping(self) -> None:
        self.send(STOPPING=1, STATUS="stopping")

    def status(self, text: str) -> None:
        """Send STATUS when ``text`` differs from the last one sent."""
        fields = self._status_field(text)
        if fields:
            self.send(**fields)

    def ping(self) -> None:
        self.send(WATCHDOG=1)

    def _status_field(self, text: str | None) -> dict[str, str]:
        if text is None or text == self._last_status:
            return {}
        self._last_status = text
        return {"STATUS": text}

    async def run(self, status: Callable[[], str], healthy: Callable[[], bool]) -> None:
        """Refresh STATUS and ping the watchdog while ``healthy()``; runs until cancelled."""
        if not self.enabled:
            return
        period = min(self.watchdog_interval or STATUS_INTERVAL, STATUS_INTERVAL)
        stalled = False
        while True:
            await asyncio.sleep(period)
            self.status(status())
            if self.watchdog_interval is None:
                continue
            if healthy():
                self.ping()
                if stalled:
                    self.log.info("polls progress again; watchdog pings resumed")
                stalled = False
            elif not stalled:
                stalled = True
                self.log.error("polls make no progress; watchdog pings withheld")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class PollProgress:
    """Whether the scheduler makes progress, for the watchdog.

    Healthy when a poll finished since the last check, or when no poll is overrunning: a poll
    running past its timeout plus ``grace`` seconds (a collect that ignores cancellation), or a
    poller task that ended. A stuck scheduler therefore stops the pings; a blocked event loop
    stops them anyway, since the pings come from a task on it.
    """

    def __init__(self, runtime: Runtime, scheduler: Callable[[], Scheduler | None], grace: float):
        self.runtime = runtime
        self.scheduler = scheduler
        self.grace = grace
        self._finished = self._polls_finished()

    def _polls_finished(self) -> int:
        # per-platform histogram counts only grow, unlike per-account counters that reloads drop
        return sum(histogram.count for histogram in self.runtime.durations.values())

    def overrunning(self) -> list[str]:
        """The accounts whose poller is stuck or gone."""
        scheduler = self.scheduler()
        if scheduler is None:
            return []
        now = time.time()
        stuck = []
        for account_id, poller in scheduler.pollers.items():
            status = poller.status
            deadline = (status.last_attempt or now) + poller.plan.timeout.total_seconds()
            if (poller.task is not None and poller.task.done()) or (
                status.running and now > deadline + self.grace
            ):
                stuck.append(account_id)
        return stuck

    def __call__(self) -> bool:
        finished = self._polls_finished()
        progressed, self._finished = finished != self._finished, finished
        return progressed or not self.overrunning()
