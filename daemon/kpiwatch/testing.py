"""Test kit for platform plugins: a fake API on loopback and a one-poll runner.

Installed with kpiwatch as a pytest plugin (entry point ``pytest11``), so a plugin's own tests
get the ``fake_api`` fixture without importing anything::

    async def test_followers(fake_api):
        fake_api.add("GET", "/api/v1/accounts/lookup", Reply(json={"followers_count": 12}))
        run = await run_collect(PLATFORM, {"instance": fake_api.url, "account": "acme"})
        run.assert_metric("followers", 12)

:class:`FakeApi` is a real aiohttp server on 127.0.0.1. Each route answers with its recorded
replies in order (the last one repeats), with their status codes and headers, and records
every request. :func:`run_collect` polls one account exactly as the daemon does
(``kpiwatch.polling.poll_account``: timeout, error classes, result checks, ``ctx.api``) and
returns a :class:`CollectRun` to assert on, as the Datadog agent's ``aggregator`` does.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict
from pydantic import BaseModel

from kpiwatch.account_plan import AccountPlan
from kpiwatch.config import AccountConfig, Config
from kpiwatch.platform import Platform, Post, Sample
from kpiwatch.polling import PollOutcome, poll_account
from kpiwatch.toolkit.api import ApiLimits

__all__ = ["CollectRun", "FakeApi", "RecordedRequest", "Reply", "fake_api", "run_collect"]

try:  # pytest-asyncio's own marker works in its strict mode (its default) and in auto mode
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # another async runner (anyio) handles plain async fixtures
    _async_fixture = pytest.fixture


@dataclass(frozen=True)
class Reply:
    """One recorded answer: a JSON value or a raw body, a status and headers."""

    json: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str | None = None  # instead of json: sent as is (a malformed body)
    delay: float = 0.0  # seconds before answering (timeouts)

    def response(self) -> web.Response:
        headers = dict(self.headers)
        if self.body is not None:
            body = self.body.encode() if isinstance(self.body, str) else self.body
        else:
            body = jsonlib.dumps(self.json).encode()
            headers.setdefault("Content-Type", "application/json")
        return web.Response(status=self.status, body=body, headers=headers)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake API received."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # case-insensitive, as HTTP header names are
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))


@dataclass
class _Route:
    method: str
    path: str
    query: Mapping[str, str] | None
    replies: list[Reply]
    served: int = 0

    def matches(self, request: web.Request) -> bool:
        if request.method != self.method or request.path != self.path:
            return False
        return self.query is None or all(request.query.get(k) == v for k, v in self.query.items())

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class FakeApi:
    """A platform API on 127.0.0.1 that answers with recorded replies per route."""

    def __init__(self) -> None:
        self.routes: list[_Route] = []
        self.requests: list[RecordedRequest] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def add(
        self,
        method: str,
        path: str,
        *replies: Reply | Mapping[str, Any] | list[Any],
        query: Mapping[str, str] | None = None,
    ) -> FakeApi:
        """Answer ``method path`` (and, when given, only requests with these query values)
        with ``replies`` in order; the last one repeats. A dict or list is a 200 JSON reply.
        Routes added later win over earlier ones for the same request."""
        if not replies:
            raise ValueError("give at least one reply")
        recorded = [r if isinstance(r, Reply) else Reply(json=r) for r in replies]
        self.routes.insert(0, _Route(method.upper(), path, query, recorded))
        return self

    def calls(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """The requests received for ``path`` (and ``method``), in order."""
        return [
            r
            for r in self.requests
            if r.path == path and (method is None or r.method == method.upper())
        ]

    async def start(self) -> FakeApi:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                CIMultiDict(request.headers),
                body,
            )
        )
        for route in self.routes:
            if route.matches(request):
                reply = route.next_reply()
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                return reply.response()
        known = ", ".join(f"{r.method} {r.path}" for r in self.routes) or "none"
        return web.json_response(
            {"error": f"fake API: no route for {request.method} {request.path}; routes: {known}"},
            status=599,
        )


@_async_fixture
async def fake_api() -> AsyncIterator[FakeApi]:
    """A started :class:`FakeApi`; ``fake_api.url`` is its base URL."""
    api = await FakeApi().start()
    try:
        yield api
    finally:
        await api.close()


@dataclass
class CollectRun:
    """What one poll returned, with assertions in the manner of Datadog's ``aggregator``."""

    outcome: PollOutcome
    state: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def reason(self) -> str | None:
        """The failure reason the scheduler would count (``auth``, ``rate_limited``...)."""
        return self.outcome.reason

    @property
    def samples(self) -> list[Sample]:
        return self.outcome.samples

    @property
    def posts(self) -> list[Post]:
        return self.outcome.posts

    def values(self, metric: str, window: str | None = None, **dims: str) -> list[float]:
        """Values of ``metric`` (with ``window`` and these dimensions, when given)."""
        return [
            s.value
            for s in self.samples
            if s.metric == metric
            and (window is None or s.window == window)
            and all(s.dims.get(k) == v for k, v in dims.items())
        ]

    def assert_metric(
        self,
        metric: str,
        value: float | None = None,
        *,
        window: str | None = None,
        count: int | None = None,
        **dims: str,
    ) -> None:
        """Assert the poll returned ``metric`` (``count`` times; with ``value``)."""
        assert self.ok, f"the poll failed ({self.reason}): {self.outcome.message}"
        found = self.values(metric, window, **dims)
        where = f"{metric}" + (f" window={window}" if window else "") + (f" {dims}" if dims else "")
        if count is not None:
            assert len(found) == count, f"{where}: {len(found)} sample(s), expected {count}"
        else:
            assert found, f"{where}: no sample; got {sorted({s.metric for s in self.samples})}"
        if value is not None:
            assert all(abs(v - value) <= 1e-9 * max(1.0, abs(value)) for v in found), (
                f"{where}: {found}, expected {value}"
            )

    def assert_no_metric(self, metric: str) -> None:
        assert not self.values(metric), f"{metric} was returned: {self.values(metric)}"

    def assert_failed(self, reason: str) -> None:
        """Assert the poll failed with ``reason`` (an error class's ``reason``)."""
        assert not self.ok, f"the poll succeeded; expected it to fail with {reason}"
        assert self.reason == reason, f"failed with {self.reason} ({self.outcome.message})"


async def run_collect(
    platform: Platform,
    settings: Mapping[str, Any] | BaseModel,
    *,
    account_id: str = "test-account",
    labels: Mapping[str, str] | None = None,
    competitor: bool = False,
    state: dict[str, Any] | None = None,
    last_success: datetime | None = None,
    timeout: float = 10.0,
    limits: ApiLimits | None = None,
    session: aiohttp.ClientSession | None = None,
) -> CollectRun:
    """Poll one account of ``platform`` once, as the scheduler does.

    ``settings`` are validated with the platform's settings model (as the configuration
    would). Pass the same ``state`` (and ``limits``) to a second call to continue where the
    first poll left off (cursors, refreshed tokens, rate-limit windows).
    """
    model = (
        settings
        if isinstance(settings, BaseModel)
        else platform.settings.model_validate(dict(settings))
    )
    account = AccountConfig(
        id=account_id, platform=platform.name, labels=dict(labels or {}), competitor=competitor
    )
    plan = AccountPlan.build(account, model, platform, Config())
    plan = AccountPlan(
        account,
        model,
        platform,
        plan.interval,
        timedelta(seconds=timeout),
        plan.jitter,
        plan.backoff_initial,
        plan.backoff_max,
        plan.startup_spread,
        plan.max_concurrency,
    )
    state = {} if state is None else state
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        outcome = await poll_account(
            plan, session=session, state=state, last_success=last_success, limits=limits
        )
    finally:
        if own:
            await session.close()
    return CollectRun(outcome, state)


def sample_names(samples: Sequence[Sample]) -> list[str]:
    """Sorted distinct metric names of ``samples`` (for readable assertion messages)."""
    return sorted({s.metric for s in samples})
