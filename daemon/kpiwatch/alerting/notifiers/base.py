"""What a notifier type registers (``kpiwatch_register_notifiers``) and what it is sent.

A notifier type is a channel kind (``webhook``, ``alertmanager``, ``apprise`` or a plugin's).
Each entry of the configuration's ``notifiers:`` names a type and its settings; the daemon
creates one :class:`Notifier` per entry and hands it :class:`Notification` objects taken from
the durable outbox. ``send`` either returns (delivered) or raises :class:`DeliveryError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from kpiwatch.alerting.model import Alert

if TYPE_CHECKING:
    import aiohttp
    import structlog

NOTIFIER_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Alertmanager's zero time, which it sends as ``endsAt`` of a firing alert.
ZERO_TIME = "0001-01-01T00:00:00Z"


class NoSettings(BaseModel):
    """Settings model of a notifier type that takes none."""

    model_config = ConfigDict(extra="forbid")


class DeliveryError(Exception):
    """A delivery failed. ``permanent`` ones are not retried (dead-lettered at once);
    ``retry_after`` (seconds) is the receiver's own hint, such as a Retry-After header.
    The message must never contain a secret (URL tokens, passwords)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


def rfc3339(timestamp: float | None) -> str:
    """Alertmanager's time format; None is its zero time."""
    if timestamp is None:
        return ZERO_TIME
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass(frozen=True)
class Notification:
    """One message for one notifier.

    ``kind`` is ``group`` for a group of alerts (webhook, chat: the Alertmanager webhook
    payload) or ``state`` for every active and recently resolved alert (pushed to
    Alertmanager, which groups them itself). ``valid_for`` (state only) is how long a firing
    alert stays valid after it is sent: the notifier sets ``endsAt = send time + valid_for``.
    ``idempotency_key`` is the same on every retry of this message.
    """

    notifier: str
    kind: Literal["group", "state"]
    status: Literal["firing", "resolved"]
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    idempotency_key: str
    external_url: str
    created_at: float
    valid_for: float = 0.0
    truncated_alerts: int = 0

    def webhook_payload(self) -> dict[str, Any]:
        """The body Alertmanager's webhook receiver sends (version "4")."""
        alerts = [webhook_alert(a) for a in self.alerts]
        return {
            "receiver": self.notifier,
            "status": self.status,
            "alerts": alerts,
            "groupLabels": dict(self.group_labels),
            "commonLabels": _common([a.labels for a in self.alerts]),
            "commonAnnotations": _common([a.annotations for a in self.alerts]),
            "externalURL": self.external_url,
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": self.truncated_alerts,
        }

    def to_json(self) -> str:
        data = {
            "notifier": self.notifier,
            "kind": self.kind,
            "status": self.status,
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "alerts": [alert_to_dict(a) for a in self.alerts],
            "idempotency_key": self.idempotency_key,
            "external_url": self.external_url,
            "created_at": self.created_at,
            "valid_for": self.valid_for,
            "truncated_alerts": self.truncated_alerts,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Notification:
        data = json.loads(text)
        data["alerts"] = tuple(alert_from_dict(a) for a in data["alerts"])
        return cls(**data)


def webhook_alert(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(alert.ends_at),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "status": alert.status,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "generator_url": alert.generator_url,
        "value": alert.value,
        "notifiers": list(alert.notifiers) if alert.notifiers is not None else None,
    }


def alert_from_dict(data: Mapping[str, Any]) -> Alert:
    notifiers = data.get("notifiers")
    return Alert(
        data["fingerprint"],
        data["rule"],
        dict(data["labels"]),
        dict(data["annotations"]),
        data["status"],
        data["starts_at"],
        data["ends_at"],
        data["generator_url"],
        data.get("value"),
        tuple(notifiers) if notifiers is not None else None,
    )


def _common(mappings: list[Mapping[str, str]]) -> dict[str, str]:
    if not mappings:
        return {}
    first = mappings[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in mappings[1:])}


@dataclass
class NotifierSetup:
    """What a notifier type's ``create`` receives for one configured notifier."""

    name: str
    settings: Any  # an instance of the type's settings model
    http: aiohttp.ClientSession
    log: structlog.typing.FilteringBoundLogger
    timeout: float
    options: Mapping[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    """One configured notifier. ``send`` is awaited with a timeout; it returns when the
    notification was accepted and raises DeliveryError otherwise."""

    async def send(self, notification: Notification) -> None: ...


@dataclass(frozen=True)
class NotifierType:
    """A channel kind a plugin registers through ``kpiwatch_register_notifiers``.

    ``create`` builds a Notifier from a NotifierSetup. ``settings`` validates the type's keys of
    a ``notifiers:`` entry (declare secrets as ``SecretStr``). ``receives`` is ``groups`` for
    grouped notifications with their repeat interval (webhooks, chat) or ``state`` for the whole
    set of active alerts, re-sent every ``resend_interval`` (Alertmanager).
    """

    name: str
    create: Callable[[NotifierSetup], Notifier]
    settings: type[BaseModel] = NoSettings
    description: str = ""
    receives: Literal["groups", "state"] = "groups"

    def __post_init__(self) -> None:
        if not NOTIFIER_TYPE_NAME.match(self.name):
            raise ValueError(
                f"notifier type name {self.name!r} must be lower-case letters, digits and "
                "underscores, starting with a letter"
            )
        if not callable(self.create):
            raise TypeError(f"notifier type {self.name!r}: create must be callable")
        if not (isinstance(self.settings, type) and issubclass(self.settings, BaseModel)):
            raise TypeError(f"notifier type {self.name!r}: settings must be a pydantic model class")
