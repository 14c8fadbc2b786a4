"""The ``alertmanager`` notifier: pushes alerts to ``POST /api/v2/alerts`` as Prometheus does.

It receives ``state`` notifications: every active and recently resolved alert, re-sent every
``resend_interval``. Each push is a JSON array of complete postable alerts (labels, annotations,
startsAt, endsAt, generatorURL): Alertmanager replaces annotations and generatorURL with those
of the latest post, so a partial alert would blank them.

- A firing alert gets ``endsAt = send time + valid_for``: Alertmanager resolves it by itself
  if kpiwatch stops re-sending it (with no ``valid_for``, endsAt is left out and Alertmanager
  uses its ``resolve_timeout``). A resolved alert carries its real resolve time.
- High availability: the same array goes to every URL in ``urls``, never to a load balancer.
  The Alertmanagers deduplicate by label set and gossip which notifications they sent.
- Delivered only when every Alertmanager accepted the push. Otherwise a retryable
  DeliveryError names the ones that failed; the retry posts to all of them again, which is
  harmless since a repeated post of the same labels only refreshes the alert. When every failure
  is a rejection (400 or 422: Alertmanager found the alerts invalid), the error is permanent.
- A state notification without alerts sends nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from yarl import URL

from kpiwatch.alerting.model import Alert
from kpiwatch.alerting.notifiers.base import (
    DeliveryError,
    Notification,
    NotifierSetup,
    NotifierType,
    rfc3339,
)
from kpiwatch.alerting.notifiers.webhook import http_url_problem, post_json

DEFAULT_API_PATH = "/api/v2/alerts"


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1)
    password: SecretStr


class AlertmanagerSettings(BaseModel):
    """Settings of an ``alertmanager`` notifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(
        min_length=1,
        description="Base URL of every Alertmanager of the cluster, such as "
        "http://alertmanager:9093 (each one is posted to).",
    )
    api_path: str = Field(DEFAULT_API_PATH, description="Path of the alerts API under each URL.")
    basic_auth: BasicAuth | None = Field(None, description="username and password.")
    bearer_token: SecretStr | None = Field(None, description="Sent as Authorization: Bearer.")

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for index, url in enumerate(value):
            problem = http_url_problem(url)
            if problem:
                raise ValueError(
                    f"urls[{index}]: {problem}; write for example http://alertmanager:9093"
                )
            parsed = URL(url.strip())
            if parsed.user or parsed.password:
                raise ValueError(
                    f"urls[{index}] has a user name or password; remove it from the URL and use "
                    "basic_auth: {username: ..., password: ...}"
                )
            if parsed.query_string or parsed.fragment:
                raise ValueError(f"urls[{index}] has a query or fragment; give the base URL only")
            key = str(parsed).rstrip("/")
            if key in seen:
                raise ValueError(f"urls[{index}] repeats an earlier URL; list each once")
            seen.add(key)
        return [url.strip() for url in value]

    @field_validator("api_path")
    @classmethod
    def _api_path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value:
            raise ValueError(f"api_path must be a path starting with '/', like {DEFAULT_API_PATH}")
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> AlertmanagerSettings:
        if self.basic_auth is not None and self.bearer_token is not None:
            raise ValueError("give basic_auth or bearer_token, not both")
        return self


def postable_alert(alert: Alert, now: float, valid_for: float) -> dict[str, Any]:
    """One element of the ``POST /api/v2/alerts`` array, always the complete alert."""
    body: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(alert.starts_at),
        "generatorURL": alert.generator_url,
    }
    if alert.status == "resolved" and alert.ends_at is not None:
        body["endsAt"] = rfc3339(alert.ends_at)
    elif valid_for > 0:
        body["endsAt"] = rfc3339(now + valid_for)
    return body


def endpoint(base_url: str, api_path: str) -> str:
    """The alerts API URL under an Alertmanager base URL (which may have a route prefix)."""
    return base_url.rstrip("/") + api_path


class AlertmanagerNotifier:
    """One configured ``alertmanager`` notifier: posts every push to each Alertmanager."""

    def __init__(self, setup: NotifierSetup, clock: Callable[[], float] = time.time) -> None:
        settings: AlertmanagerSettings = setup.settings
        self.name = setup.name
        self._http = setup.http
        self._timeout = setup.timeout
        self._clock = clock
        self._endpoints = [endpoint(url, settings.api_path) for url in settings.urls]
        self._headers: dict[str, str] = {}
        self._hidden: list[str] = []
        if settings.basic_auth is not None:
            password = settings.basic_auth.password.get_secret_value()
            credentials = f"{settings.basic_auth.username}:{password}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
            self._hidden.append(password)
        if settings.bearer_token is not None:
            token = settings.bearer_token.get_secret_value()
            self._headers["Authorization"] = f"Bearer {token}"
            self._hidden.append(token)

    def body(self, notification: Notification, now: float) -> bytes:
        alerts = [postable_alert(a, now, notification.valid_for) for a in notification.alerts]
        return json.dumps(alerts, ensure_ascii=False, separators=(",", ":")).encode()

    async def send(self, notification: Notification) -> None:
        if not notification.alerts:
            return
        body = self.body(notification, self._clock())
        outcomes = await asyncio.gather(
            *(self._post(url, body) for url in self._endpoints), return_exceptions=True
        )
        failures: list[DeliveryError] = []
        for outcome in outcomes:
            if isinstance(outcome, DeliveryError):
                failures.append(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
        if not failures:
            return
        total = len(self._endpoints)
        prefix = f"alertmanager {self.name!r}: {len(failures)} of {total} Alertmanagers failed"
        hints = [f.retry_after for f in failures if f.retry_after is not None]
        raise DeliveryError(
            f"{prefix}: " + "; ".join(str(f) for f in failures),
            retry_after=max(hints) if hints else None,
            permanent=all(f.permanent for f in failures),
        )

    async def _post(self, url: str, body: bytes) -> None:
        await post_json(
            self._http,
            url,
            body,
            what="Alertmanager",
            headers=self._headers,
            timeout=self._timeout,
            hidden=self._hidden,
            clock=self._clock,
        )


ALERTMANAGER = NotifierType(
    name="alertmanager",
    create=AlertmanagerNotifier,
    settings=AlertmanagerSettings,
    description="Pushes alerts to POST /api/v2/alerts of every listed Alertmanager.",
    receives="state",
)
