"""sd_notify: the real daemon talks to a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import kpiwatch
from kpiwatch.config_loader import load_config_text
from kpiwatch.daemon import Daemon
from kpiwatch.plugins import PluginRegistry
from kpiwatch.sdnotify import SystemdNotifier, notify_address, watchdog_interval

WATCHDOG_USEC = 300_000  # pings every 0.15 s


class FakeSystemd:
    """Receives notifications on a datagram socket and keeps them with their arrival time."""

    def __init__(self, path: str, address: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self.sock, 4096)
            fields = dict(line.split("=", 1) for line in data.decode().splitlines())
            self.messages.append((time.monotonic(), fields))

    def with_key(self, key: str, since: float = 0.0) -> list[dict[str, str]]:
        return [m for t, m in self.messages if key in m and t >= since]

    async def wait_for(self, key: str, value: str | None = None, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(value in (None, m[key]) for m in self.with_key(key)):
            assert time.monotonic() < deadline, f"no {key} among {self.messages}"
            await asyncio.sleep(0.02)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kw-", dir="/tmp"))  # AF_UNIX paths: 108 bytes at most
    yield path
    shutil.rmtree(path)


@pytest.fixture
async def systemd(short_dir, monkeypatch):
    path = str(short_dir / "notify")
    fake = FakeSystemd(path, path)
    fake.task = asyncio.create_task(fake.receive())
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    yield fake
    fake.task.cancel()
    fake.sock.close()


def registry_with(collect) -> PluginRegistry:
    class Tiny:
        @kpiwatch.hookimpl
        def kpiwatch_register_platforms(self, register):
            register(kpiwatch.Platform(name="tiny", collect=collect))

    registry = PluginRegistry()
    registry.register_module(Tiny(), "tiny")
    registry.finish()
    return registry


def config_text(state_dir: Path, accounts: str, timeout: str = "1s") -> str:
    return (
        f"state_dir: '{state_dir}'\n"
        "server: {listen: '127.0.0.1:0'}\n"
        f"defaults: {{interval: 0.2s, timeout: {timeout}, jitter: 0}}\n"
        f"shutdown_grace: 2s\naccounts:\n{accounts}"
    )


def daemon_for(registry: PluginRegistry, current: dict[str, str]) -> Daemon:
    def load():
        return load_config_text(current["text"], "<test>", registry.platforms)

    return Daemon(registry=registry, loaded=load(), load=load)


async def test_ready_status_watchdog_reload_and_stop(systemd, short_dir):
    async def collect(ctx):
        return [kpiwatch.Sample("followers", 10)]

    registry = registry_with(collect)
    current = {"text": config_text(short_dir, "  - {id: a, platform: tiny}\n")}
    daemon = daemon_for(registry, current)
    await daemon.start()
    try:
        await systemd.wait_for("READY", "1")
        assert "STOPPING" not in str(systemd.messages)
        await systemd.wait_for("STATUS", "1 accounts: 1 up, 0 down")
        started = time.monotonic()
        await asyncio.sleep(0.8)
        assert len(systemd.with_key("WATCHDOG", since=started)) >= 3

        for accounts, ok in (
            ("  - {id: a, platform: tiny}\n  - {id: b, platform: nope}\n", False),
            ("  - {id: a, platform: tiny}\n  - {id: b, platform: tiny}\n", True),
        ):
            current["text"] = config_text(short_dir, accounts)
            before = len(systemd.messages)
            outcome = await daemon.reload()
            assert outcome.ok is ok  # a rejected configuration also ends the reload with READY
            await asyncio.sleep(0.1)
            after = [m for _t, m in systemd.messages[before:] if "WATCHDOG" not in m]
            assert after[0]["RELOADING"] == "1"
            now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            assert 0 < now_usec - int(after[0]["MONOTONIC_USEC"]) < 5_000_000
            assert after[1]["READY"] == "1"
        await systemd.wait_for("STATUS", "2 accounts: 2 up, 0 down")
    finally:
        await daemon.stop()
    await asyncio.sleep(0.05)
    assert systemd.with_key("STOPPING") == [{"STOPPING": "1", "STATUS": "stopping"}]


async def test_a_stuck_poll_stops_the_watchdog_pings(systemd, short_dir):
    release = asyncio.Event()

    async def collect_ignoring_cancellation(ctx):
        while not release.is_set():
            # swallowing the cancellation, the poll timeout cannot end it: the scheduler is stuck
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()
        return [kpiwatch.Sample("followers", 1)]

    registry = registry_with(collect_ignoring_cancellation)
    text = config_text(short_dir, "  - {id: a, platform: tiny}\n", timeout="0.2s")
    daemon = daemon_for(registry, {"text": text})
    await daemon.start()
    try:
        await systemd.wait_for("READY", "1")
        await asyncio.sleep(1.0)  # first poll ≤ 0.2 s, timeout 0.2 s, grace 0.15 s: overrunning
        assert daemon.runtime.accounts["a"].running
        quiet_since = time.monotonic()
        await asyncio.sleep(0.6)
        assert systemd.with_key("WATCHDOG", since=quiet_since) == []
        assert systemd.with_key("WATCHDOG")  # pinged while the poll was within its timeout

        release.set()  # the poll ends: progress again, pings resume
        resumed = time.monotonic()
        await asyncio.sleep(0.5)
        assert systemd.with_key("WATCHDOG", since=resumed)
    finally:
        release.set()
        await daemon.stop()


async def test_abstract_socket_address(short_dir):
    name = f"kpiwatch-test-{os.getpid()}-{short_dir.name}"
    fake = FakeSystemd("", "\0" + name)
    try:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.send(STATUS="hello") is True
        assert fake.sock.recv(100) == b"STATUS=hello\n"
    finally:
        fake.sock.close()


def test_unset_socket_is_a_no_op_and_a_missing_one_never_raises(short_dir):
    assert SystemdNotifier({}).send(READY=1) is False
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(short_dir / "absent")})
    assert notifier.enabled
    notifier.ready("x")
    assert notifier.send(READY=1) is False
    notifier.close()


def test_addresses_and_watchdog_intervals():
    assert notify_address("@abc") == "\0abc" and notify_address("/run/x") == "/run/x"
    assert notify_address(None) is None and notify_address("vsock:2:3") is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}, 7) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 7) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"}, 7) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}, 7) is None
    assert watchdog_interval({}, 7) is None
