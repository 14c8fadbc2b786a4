"""Loopback HTTP receivers and a real Alertmanager process for the notifier tests."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy


def free_port() -> int:
    """A port nothing listens on (a connection to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay: float = 0.0


class Receiver:
    """An aiohttp server on 127.0.0.1 that records every request and answers from a queue
    (200 once the queue is empty)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests: list[Received] = []
        self.answers: deque[Answer] = deque()
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, status: int, headers: dict[str, str] | None = None, **kw: Any) -> None:
        self.answers.append(Answer(status, headers or {}, **kw))

    async def wait_requests(self, count: int, timeout: float = 10) -> list[Received]:
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.requests) >= count)

        try:
            await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"waited {timeout}s for {count} requests, got {len(self.requests)}"
            ) from None
        return self.requests

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(
            request.method,
            request.path,
            dict(request.query),
            request.headers,
            await request.read(),
        )
        answer = self.answers.popleft() if self.answers else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        async with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
        return web.Response(status=answer.status, headers=answer.headers, text=answer.body)


class Alertmanager:
    """The real ``prometheus-alertmanager`` (Debian package) on a loopback port, clustering
    off, routing every alert to a webhook receiver at once (group_wait 0s, group_interval 1s)."""

    def __init__(self, tmp: Path, webhook_url: str) -> None:
        binary = shutil.which("prometheus-alertmanager")
        if binary is None:
            pytest.fail(
                "the prometheus-alertmanager binary is missing; `make test` installs the "
                "Debian package"
            )
        self.port = free_port()
        home = tmp / f"alertmanager-{self.port}"
        home.mkdir()
        config = home / "alertmanager.yml"
        config.write_text(
            "route:\n"
            "  receiver: hook\n"
            "  group_by: [alertname]\n"
            "  group_wait: 0s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: hook\n"
            "    webhook_configs:\n"
            f"      - url: {json.dumps(webhook_url)}\n"
            "        send_resolved: true\n"
        )
        self.log_path = home / "alertmanager.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, http: aiohttp.ClientSession, timeout: float = 20) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"alertmanager exited:\n{self.log()}")
            try:
                async with http.get(f"{self.base}/-/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"alertmanager not ready after {timeout}s:\n{self.log()}")

    async def alerts(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: the alerts Alertmanager holds as active."""
        async with http.get(f"{self.base}/api/v2/alerts") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
