"""The ``webhook`` notifier: POSTs Alertmanager's webhook payload (version "4") to one URL.

Any receiver written for Alertmanager's ``webhook_config`` understands the body. Each request
carries ``Content-Type: application/json``, ``User-Agent: kpiwatch/<version>``, the configured
``headers`` and ``Idempotency-Key``: the same value on every retry of one notification, so a
receiver that already processed it can drop the repeat.

With ``secret`` set, each request is signed (as GitHub and Stripe sign their webhooks)::

    X-Kpiwatch-Timestamp: 1767225600              Unix seconds when this attempt was sent
    X-Kpiwatch-Signature: sha256=<64 hex digits>  HMAC-SHA256, key = the secret (UTF-8),
                                                  message = timestamp + "." + raw body bytes

A receiver verifies it before parsing the body::

    signed = request.headers["X-Kpiwatch-Timestamp"].encode() + b"." + raw_body
    expected = "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Kpiwatch-Signature"])
    fresh = abs(time.time() - int(request.headers["X-Kpiwatch-Timestamp"])) <= 300

Compare in constant time, over the exact bytes received (not re-serialised JSON), and reject
stale timestamps so a captured request cannot be replayed later; use ``Idempotency-Key`` to drop
retries of a notification already handled. A retry is signed again with a new timestamp.

Outcomes: 2xx is delivered. 408, 429, 5xx, timeouts and connection errors are retried (a
``Retry-After`` header, in seconds or as an HTTP date, becomes the retry hint). Redirects are not
followed and, like every other 4xx, fail permanently. Error messages name the notifier, the host
and the status, never the URL's path, query or user info (URLs may carry tokens).

The helpers :func:`post_json`, :func:`display_host` and :func:`parse_retry_after` are shared
with the ``alertmanager`` notifier.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from yarl import URL

from kpiwatch import __version__
from kpiwatch.alerting.notifiers.base import (
    DeliveryError,
    Notification,
    NotifierSetup,
    NotifierType,
)

USER_AGENT = f"kpiwatch/{__version__}"
SIGNATURE_HEADER = "X-Kpiwatch-Signature"
TIMESTAMP_HEADER = "X-Kpiwatch-Timestamp"
#: Headers kpiwatch sets itself; ``headers:`` may not replace them.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Content-Type",
        "Content-Length",
        "Content-Encoding",
        "Transfer-Encoding",
        "Host",
        "Connection",
        "Idempotency-Key",
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
    )
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: Shortest URL part (path segment, query value) hidden from response excerpts as a token.
_MIN_TOKEN = 8
_EXCERPT = 200


class WebhookSettings(BaseModel):
    """Settings of a ``webhook`` notifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr = Field(
        description="http:// or https:// URL the payload is POSTed to; kept secret, since "
        "webhook URLs often carry a token."
    )
    secret: SecretStr | None = Field(
        None, description="Shared secret of the X-Kpiwatch-Signature HMAC-SHA256 header."
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra request headers, such as Authorization; values are kept secret.",
    )
    max_alerts: int = Field(
        0,
        ge=0,
        description="Most alerts in one payload (0: all); the rest are counted in truncatedAlerts.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        problem = http_url_problem(value.get_secret_value())
        if problem:
            raise ValueError(f"{problem}; write for example https://hooks.example.com/kpiwatch")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("secret is empty; give a long random string or remove the key")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        seen: set[str] = set()
        for name, header in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a valid header name; use letters, digits and '-', "
                    "for example X-Api-Key"
                )
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by kpiwatch; remove it from headers")
            if name.lower() in seen:
                raise ValueError(f"header {name!r} is given twice (names ignore case)")
            seen.add(name.lower())
            if any(c in header.get_secret_value() for c in "\r\n\0"):
                raise ValueError(f"the value of header {name!r} contains a line break")
        return value


def http_url_problem(url: str) -> str | None:
    """What is wrong with an http(s) URL for a notifier, or None. Never quotes the URL."""
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError):
        return "the URL cannot be parsed"
    if parsed.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if not parsed.host:
        return "the URL has no host"
    try:
        parsed.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        return "the URL's port is not a number from 1 to 65535"
    return None


def display_host(url: str) -> str:
    """The host (and explicit port) of ``url``: all of it an error message may show."""
    try:
        parsed = URL(url)
        host = parsed.host or "?"
        port = parsed.explicit_port
    except (ValueError, TypeError):
        return "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def url_tokens(url: str) -> list[str]:
    """Parts of ``url`` that may be tokens: the URL, its password, long path segments and
    query values. They are removed from response excerpts before those reach a message."""
    tokens = [url]
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return tokens
    if parsed.password:
        tokens.append(parsed.password)
    if parsed.user:
        tokens.append(parsed.user)
    tokens += [part for part in parsed.parts if len(part) >= _MIN_TOKEN]
    tokens += [value for value in parsed.query.values() if len(value) >= _MIN_TOKEN]
    return tokens


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Kpiwatch-Signature value of one request."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


async def post_json(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    what: str,
    headers: Mapping[str, str],
    timeout: float,
    hidden: Iterable[str] = (),
    clock: Callable[[], float] = time.time,
) -> None:
    """POST a JSON body; return on 2xx, raise DeliveryError otherwise.

    ``what`` starts every error message (it names the notifier); the host follows. ``hidden``
    are secret strings removed from the response excerpt a message may quote.
    """
    where = f"{what} at {display_host(url)}"
    request_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        async with http.post(
            url,
            data=body,
            headers=request_headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            if 200 <= response.status < 300:
                return
            excerpt = _excerpt(await _read_some(response), [*hidden, *url_tokens(url)])
            status = f"HTTP {response.status}" + (f" {response.reason}" if response.reason else "")
            detail = f": {excerpt}" if excerpt else ""
            if response.status in (408, 429) or response.status >= 500:
                retry_after = parse_retry_after(response.headers.get("Retry-After"), clock())
                raise DeliveryError(f"{where} answered {status}{detail}", retry_after=retry_after)
            if 300 <= response.status < 400:
                raise DeliveryError(
                    f"{where} answered {status} (a redirect, which is not followed); configure "
                    "the URL it redirects to",
                    permanent=True,
                )
            raise DeliveryError(f"{where} answered {status}{detail}", permanent=True)
    except TimeoutError:
        raise DeliveryError(f"{where}: no answer within {timeout:g}s") from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{where}: {describe_client_error(exc)}") from None


def describe_client_error(exc: aiohttp.ClientError) -> str:
    """A message about a failed request that never includes the URL."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return f"cannot connect ({reason})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return f"bad HTTP response ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


async def _read_some(response: aiohttp.ClientResponse) -> bytes:
    try:
        return await response.content.read(4096)
    except (aiohttp.ClientError, TimeoutError):
        return b""


def _excerpt(raw: bytes, hidden: Iterable[str]) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    for secret in sorted((s for s in hidden if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def webhook_payload(notification: Notification, max_alerts: int) -> dict[str, Any]:
    """The payload of ``notification``, with at most ``max_alerts`` alerts (0: all).

    Firing alerts are kept before resolved ones and the dropped ones are added to
    ``truncatedAlerts``; unlike Alertmanager, the top-level status stays the group's own.
    """
    alerts = notification.alerts
    if max_alerts and len(alerts) > max_alerts:
        kept = sorted(alerts, key=lambda a: a.status != "firing")[:max_alerts]
        notification = dataclasses.replace(
            notification,
            alerts=tuple(kept),
            truncated_alerts=notification.truncated_alerts + len(alerts) - max_alerts,
        )
    return notification.webhook_payload()


class WebhookNotifier:
    """One configured ``webhook`` notifier."""

    def __init__(self, setup: NotifierSetup, clock: Callable[[], float] = time.time) -> None:
        settings: WebhookSettings = setup.settings
        self.name = setup.name
        self._http = setup.http
        self._timeout = setup.timeout
        self._clock = clock
        self._url = settings.url.get_secret_value().strip()
        self._secret = settings.secret.get_secret_value() if settings.secret else None
        self._headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
        self._max_alerts = settings.max_alerts
        self._hidden = [*self._headers.values(), *([self._secret] if self._secret else [])]

    def body(self, notification: Notification) -> bytes:
        """The exact bytes POSTed (and signed) for ``notification``."""
        payload = webhook_payload(notification, self._max_alerts)
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    async def send(self, notification: Notification) -> None:
        if not notification.alerts:
            return
        body = self.body(notification)
        headers = {**self._headers, "Idempotency-Key": notification.idempotency_key}
        if self._secret is not None:
            timestamp = str(int(self._clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, body)
        await post_json(
            self._http,
            self._url,
            body,
            what=f"webhook {self.name!r}",
            headers=headers,
            timeout=self._timeout,
            hidden=self._hidden,
            clock=self._clock,
        )


WEBHOOK = NotifierType(
    name="webhook",
    create=WebhookNotifier,
    settings=WebhookSettings,
    description="POSTs Alertmanager's webhook payload (version 4), optionally HMAC-signed.",
    receives="groups",
)
