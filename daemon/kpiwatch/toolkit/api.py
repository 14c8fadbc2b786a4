"""The HTTP client each collect call gets as ``ctx.api``: rate limits, quotas, retries and
error classes, so a platform plugin only says what to fetch and how to read it.

A platform describes its API once with an :class:`ApiPolicy` (``Platform(api=...)``). Every
request then:

1. waits for the credential's token bucket (``rate``), and refuses at once when the platform's
   last answer said the window is used up (``RateLimited`` with the reset time);
2. spends quota units (``daily_quota``, ``cost=``), or refuses with ``QuotaExhausted``. Every
   request sent is charged, retries included: YouTube charges every request, even an invalid
   or failed one, so the budget never believes more is left than the platform does;
3. is retried on 5xx, timeouts (``request_timeout``) and connection errors (``retries``,
   exponential backoff with jitter, honouring a short ``Retry-After``);
4. reads the rate-limit headers into the account's state (exported as gauges);
5. turns an error answer into the error class the scheduler counts: the platform's own
   ``classify`` first (Meta error codes, Google reasons), then by HTTP status.

Messages name the platform, the method and the URL without its query string (API keys travel
there) or user info, and quote at most 200 characters of the platform's error text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json as jsonlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from aiolimiter import AsyncLimiter

from kpiwatch.errors import (
    AuthError,
    BadResponse,
    CollectError,
    NotFound,
    QuotaExhausted,
    RateLimited,
    Unavailable,
)
from kpiwatch.toolkit.quota import QuotaBudget
from kpiwatch.toolkit.ratelimit import READERS, HeaderReader, RateLimitState, retry_after

RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class ApiResponse:
    """One answer: status, headers and body, with the JSON read on demand."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str  # without the query string
    platform: str = ""

    def json(self) -> Any:
        """The body as JSON; BadResponse when it is not."""
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            snippet = self.body[:80].decode("utf-8", "replace")
            raise BadResponse(
                f"{self.platform}: {self.url} answered HTTP {self.status} with a body that is "
                f"not JSON: {snippet!r}"
            ) from None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def error_text(self) -> str:
        """The platform's error message, if the body carries one (at most 200 characters)."""
        try:
            data = jsonlib.loads(self.body)
        except ValueError:
            return self.text()[:200]
        return _error_text(data)[:200]


def _error_text(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or error)
        for key in ("message", "detail", "error_description", "title"):
            if isinstance(data.get(key), str):
                return data[key]
        if isinstance(error, str):
            return error
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("detail") or errors[0])
    return str(data)[:200]


Classifier = Callable[[ApiResponse], CollectError | None]


@dataclass(frozen=True)
class ApiPolicy:
    """How kpiwatch talks to one platform's API."""

    rate: tuple[int, float] | None = None  # (calls, per seconds) per credential
    rate_limit_headers: str | HeaderReader | None = None  # "x", "mastodon", "ietf", "meta"
    daily_quota: int | None = None  # units per credential per day
    quota_timezone: str = "UTC"
    retries: int = 2  # extra attempts on 5xx, timeouts and connection errors
    backoff: float = 0.5  # first retry delay in seconds, doubled each time
    max_retry_wait: float = 5.0  # a longer Retry-After ends the poll instead of waiting
    classify: Classifier | None = None  # platform error bodies, before the HTTP status
    request_timeout: float | None = None  # seconds per request; a timeout is retried

    def __post_init__(self) -> None:
        name = self.rate_limit_headers
        if isinstance(name, str) and name not in READERS:
            raise ValueError(
                f"ApiPolicy: rate_limit_headers {name!r} is not known; use one of "
                f"{', '.join(sorted(READERS))} or a function (headers, now) -> RateLimitState"
            )
        if self.rate is not None and not (self.rate[0] >= 1 and self.rate[1] > 0):
            raise ValueError(f"ApiPolicy: rate {self.rate!r} must be (calls >= 1, per seconds > 0)")
        if self.daily_quota is not None and self.daily_quota < 1:
            raise ValueError(f"ApiPolicy: daily_quota {self.daily_quota} must be at least 1")
        try:
            ZoneInfo(self.quota_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"ApiPolicy: quota_timezone {self.quota_timezone!r} is not an IANA time zone "
                "(such as 'America/Los_Angeles' or 'UTC')"
            ) from None
        if self.retries < 0 or self.backoff < 0 or self.max_retry_wait < 0:
            raise ValueError("ApiPolicy: retries, backoff and max_retry_wait must not be negative")
        if self.request_timeout is not None and self.request_timeout <= 0:
            raise ValueError(f"ApiPolicy: request_timeout {self.request_timeout} must be positive")

    def header_reader(self) -> HeaderReader | None:
        if isinstance(self.rate_limit_headers, str):
            return READERS[self.rate_limit_headers]
        return self.rate_limit_headers


def credential_key(credential: str | None) -> str:
    """A short, non-reversible name for a credential (never the secret itself)."""
    if not credential:
        return "anonymous"
    return "c" + hashlib.sha256(credential.encode()).hexdigest()[:12]


@dataclass
class ApiLimits:
    """Shared by every poll of a daemon: token buckets, quota budgets and the last rate-limit
    state, per (platform, credential)."""

    buckets: dict[tuple[str, str], AsyncLimiter] = field(default_factory=dict)
    quotas: dict[tuple[str, str], QuotaBudget] = field(default_factory=dict)
    states: dict[tuple[str, str], RateLimitState] = field(default_factory=dict)

    def bucket(self, platform: str, key: str, rate: tuple[int, float]) -> AsyncLimiter:
        limiter = self.buckets.get((platform, key))
        if limiter is None or (limiter.max_rate, limiter.time_period) != rate:
            limiter = self.buckets[(platform, key)] = AsyncLimiter(rate[0], rate[1])
        return limiter

    def quota(self, platform: str, key: str, units: int, timezone: str) -> QuotaBudget:
        budget = self.quotas.get((platform, key))
        if budget is None or budget.daily_units != units or budget.timezone != timezone:
            budget = self.quotas[(platform, key)] = QuotaBudget(
                f"{platform} quota", units, timezone
            )
        return budget


class ApiClient:
    """The requests of one poll of one account (``ctx.api``)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        platform: str,
        policy: ApiPolicy | None = None,
        limits: ApiLimits | None = None,
        clock: Callable[[], float] = time.time,
        dry_run: bool = False,
    ) -> None:
        self.session = session
        self.platform = platform
        self.policy = policy or ApiPolicy()
        self.limits = limits or ApiLimits()
        self.clock = clock
        #: ``kpiwatch collect``: nothing that changes the account's credentials (no OAuth2
        #: refresh, which would rotate away a refresh token the daemon keeps)
        self.dry_run = dry_run
        self.reader = self.policy.header_reader()
        self.rate_limit: RateLimitState | None = None  # the last one seen in this poll
        self.quota: QuotaBudget | None = None  # the budget this poll spent from
        self.requests = 0

    async def get_json(self, url: str, **options: Any) -> Any:
        """GET ``url`` and return its JSON body (see :meth:`request`)."""
        return (await self.request("GET", url, **options)).json()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        credential: str | None = None,
        cost: int = 1,
        auth: Any = None,
        accept: Callable[[ApiResponse], bool] | None = None,
    ) -> ApiResponse:
        """Send a request; return the answer when it is a success, raise the error class.

        ``credential`` (a token or key) selects the rate-limit bucket and quota budget; it is
        hashed, never logged. ``cost`` is the quota units each request sent spends (a retry
        spends again). ``auth`` is an :class:`~kpiwatch.toolkit.oauth.OAuth2` whose bearer
        token is sent, refreshed before it expires and once more on a 401. ``accept`` decides
        success instead of 2xx.
        """
        key = credential_key(credential or (auth.credential if auth is not None else None))
        where = f"{self.platform}: {method} {_no_query(url)}"
        policy = self.policy
        if policy.daily_quota is not None:
            self.quota = self.limits.quota(
                self.platform, key, policy.daily_quota, policy.quota_timezone
            )
        refreshed = False
        attempt = 0
        while True:
            self._refuse_if_exhausted(key, where)
            if policy.rate is not None:
                await self.limits.bucket(self.platform, key, policy.rate).acquire()
            send_headers = dict(headers or {})
            token = None
            if auth is not None:
                token = await auth.access_token(self)
                send_headers["Authorization"] = f"Bearer {token}"
            if self.quota is not None:  # each request sent is charged, a retry too
                self.quota.spend(cost, self.clock())
            try:
                response = await self._send(method, url, params, send_headers, json, data)
            except (TimeoutError, aiohttp.ClientError) as exc:
                if attempt < policy.retries:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                message = f"{where}: {type(exc).__name__} after {attempt + 1} tries"
                raise Unavailable(message) from None
            self._observe(key, response.headers)
            if accept(response) if accept is not None else 200 <= response.status < 300:
                return response
            if response.status == 401 and auth is not None and not refreshed:
                refreshed = True
                await auth.refresh(self, failed=token)
                continue
            error = policy.classify(response) if policy.classify is not None else None
            if error is None:
                error = self._by_status(response, key, where)
            if isinstance(error, QuotaExhausted) and self.quota is not None:
                error.retry_after = self.quota.exhaust(self.clock())
            if isinstance(error, Unavailable) and attempt < policy.retries:
                wait = error.retry_after
                if wait is None or wait <= policy.max_retry_wait:
                    attempt += 1
                    await asyncio.sleep(wait if wait is not None else self._backoff(attempt))
                    continue
            if isinstance(error, RateLimited) and error.retry_after:
                self._hold(key, error.retry_after)
            raise error

    async def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        json: Any,
        data: Any,
    ) -> ApiResponse:
        self.requests += 1
        options: dict[str, Any] = {}
        if self.policy.request_timeout is not None:  # else the session's own timeout
            options["timeout"] = aiohttp.ClientTimeout(total=self.policy.request_timeout)
        async with self.session.request(
            method, url, params=params, headers=headers, json=json, data=data, **options
        ) as answer:
            body = await answer.read()
            return ApiResponse(answer.status, answer.headers, body, _no_query(url), self.platform)

    def _backoff(self, attempt: int) -> float:
        base = self.policy.backoff * 2 ** (attempt - 1)
        return base * (0.5 + random.random() / 2)

    def _observe(self, key: str, headers: Mapping[str, str]) -> None:
        if self.reader is None:
            return
        state = self.reader(headers, self.clock())
        if state is not None:
            self.rate_limit = state
            self.limits.states[(self.platform, key)] = state

    def _hold(self, key: str, seconds: float) -> None:
        """Throttled (a 429, or the platform's own code): no request on this credential until
        the wait is over, also for platforms that send no rate-limit headers."""
        now = self.clock()
        known = self.limits.states.get((self.platform, key))
        reset_at = now + seconds
        if known is not None and known.exhausted and known.reset_at and known.reset_at > reset_at:
            return
        state = RateLimitState(known.limit if known else None, 0.0, reset_at, now)
        self.limits.states[(self.platform, key)] = state
        self.rate_limit = state

    def _refuse_if_exhausted(self, key: str, where: str) -> None:
        state = self.limits.states.get((self.platform, key))
        now = self.clock()
        if state is not None and state.exhausted and state.reset_at and state.reset_at > now:
            raise RateLimited(
                f"{where}: the rate limit is used up until the window resets",
                retry_after=state.reset_at - now,
            )

    def _by_status(self, response: ApiResponse, key: str, where: str) -> CollectError:
        status = response.status
        detail = response.error_text()
        text = f"{where} answered HTTP {status}" + (f": {detail}" if detail else "")
        now = self.clock()
        wait = retry_after(response.headers, now)
        if status == 429:
            state = self.limits.states.get((self.platform, key))
            if wait is None and state is not None and state.reset_at:
                wait = max(0.0, state.reset_at - now)
            return RateLimited(text, retry_after=wait)
        if status in (401, 403):
            return AuthError(text)
        if status in (404, 410):
            return NotFound(text)
        if status in RETRY_STATUSES or status >= 500:
            return Unavailable(text, retry_after=wait)
        return BadResponse(text)


def _no_query(url: str) -> str:
    """``url`` without its query string, fragment and user info (where secrets travel)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
