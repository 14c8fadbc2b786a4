"""Receivers for the alerting end-to-end tests: a loopback webhook receiver that runs in a
thread (the e2e tests are synchronous) and the real Alertmanager of the notifier tests."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from processes import http_get, wait_for

_UNIT_TESTS = str(Path(__file__).resolve().parents[1] / "unit")
if _UNIT_TESTS not in sys.path:
    sys.path.append(_UNIT_TESTS)

from notifier_receivers import Alertmanager, Received  # noqa: E402

__all__ = ["Alertmanager", "Hook", "HookReceiver", "Received", "wait_alertmanager_ready"]


@dataclass(frozen=True)
class Hook:
    """One request the receiver got, the status it answered and when it arrived."""

    received: Received
    status: int
    arrived: float

    def json(self) -> Any:
        return self.received.json()

    @property
    def key(self) -> str | None:
        return self.received.headers.get("Idempotency-Key")


class HookReceiver:
    """An aiohttp server on 127.0.0.1, in its own thread and event loop, that records every
    request. It answers 500 while ``failing`` is set and 200 otherwise."""

    def __init__(self) -> None:
        self.failing = False
        self._hooks: list[Hook] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> HookReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            future.result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def hooks(self) -> list[Hook]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._hooks)

    def answered(self, status: int) -> list[Hook]:
        return [h for h in self.hooks if h.status == status]

    def wait(self, predicate: Any, timeout: float, what: str) -> Any:
        """Poll ``predicate(hooks)`` until it returns something true; returns that."""
        return wait_for(lambda: predicate(self.hooks), timeout, what, interval=0.05)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(
            request.method, request.path, dict(request.query), request.headers, await request.read()
        )
        status = 500 if self.failing else 200
        with self._lock:
            self._hooks.append(Hook(received, status, time.time()))
        return web.Response(status=status, text="down" if status == 500 else "ok")


def wait_alertmanager_ready(alertmanager: Alertmanager, timeout: float = 20) -> None:
    def ready() -> bool:
        if alertmanager.proc.poll() is not None:
            raise AssertionError(f"alertmanager exited:\n{alertmanager.log()}")
        return http_get(f"{alertmanager.base}/-/ready", timeout=2)[0] == 200

    wait_for(ready, timeout, "alertmanager /-/ready", interval=0.05)
