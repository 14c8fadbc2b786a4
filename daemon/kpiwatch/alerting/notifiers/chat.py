"""The ``apprise`` notifier: chat and e-mail (Slack, Microsoft Teams, Discord, e-mail, ...).

Each entry of ``urls`` is an apprise URL (``slack://``, ``workflows://`` (Microsoft Teams), ``discord://``,
``mailto://``, ``json://``, ...; https://github.com/caronc/apprise/wiki lists them). The URLs
hold tokens, so they are secrets: no message or log line quotes one, and the settings model
checks each with apprise's own parser so ``check-config`` reports a bad one by its index.

A notification becomes a title like Alertmanager's default subject, ``[FIRING:2] EngagementLow
(acme warning)``, and a plain-text body listing each alert's summary, description, other
annotations, labels, start (and end) time and source link.

Delivery: every URL is notified concurrently (apprise runs the blocking clients in its own
worker threads). When some fail, a retryable DeliveryError names them by index and service;
the retry of the same notification (same idempotency key) goes only to the URLs that have not
accepted it yet, so a chat room is not sent the message twice while this process runs.

apprise logs through the ``apprise`` logger, at DEBUG with full request URLs. That logger is
set to WARNING and cut off from the root logger here; its warnings of a failed call reach the
DeliveryError message, with URL tokens removed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from kpiwatch.alerting.model import Alert
from kpiwatch.alerting.notifiers.base import (
    DeliveryError,
    Notification,
    NotifierSetup,
    NotifierType,
    rfc3339,
)
from kpiwatch.alerting.notifiers.webhook import url_tokens

if TYPE_CHECKING:
    import apprise

#: Notifications whose partial delivery is remembered (to skip the URLs that accepted them).
_REMEMBERED = 512
_DETAIL = 300
#: apprise.LOGGER_NAME, known before apprise is imported.
APPRISE_LOGGER = "apprise"


def apprise_url_problem(url: str) -> str | None:
    """What is wrong with an apprise URL, or None. Names the scheme at most, never the URL."""
    _contain_apprise_logging()
    import apprise

    text = url.strip()
    scheme, sep, _ = text.partition("://")
    if not sep or not scheme:
        return "is not an apprise URL; write for example slack://TokenA/TokenB/TokenC"
    if scheme.lower() not in apprise.NotificationManager():
        return f"has the scheme {scheme!r}, which apprise does not know"
    if apprise.Apprise.instantiate(text) is None:
        return f"is not a complete {scheme}:// URL; see the apprise wiki for its parts"
    return None


def _check_url(value: SecretStr) -> SecretStr:
    problem = apprise_url_problem(value.get_secret_value())
    if problem:
        raise ValueError(f"the apprise URL {problem}")
    return value


AppriseURL = Annotated[SecretStr, AfterValidator(_check_url)]


class AppriseSettings(BaseModel):
    """Settings of an ``apprise`` notifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[AppriseURL] = Field(
        min_length=1,
        description="apprise URLs (slack://, workflows:// for Teams, discord://, mailto://, "
        "json://, ...); "
        "kept secret, since they hold tokens.",
    )


def title(notification: Notification) -> str:
    """Alertmanager's default subject: status, firing count, group and common label values."""
    status = notification.status.upper()
    if notification.status == "firing":
        firing = sum(1 for a in notification.alerts if a.status == "firing")
        status += f":{firing}"
    group = notification.group_labels
    if group:
        head = " ".join(group[k] for k in sorted(group))
        shown = set(group)
    else:
        head = ", ".join(sorted({a.labels.get("alertname", a.rule) for a in notification.alerts}))
        shown = {"alertname"}
    common = _common_labels(notification.alerts)
    rest = [common[k] for k in sorted(common) if k not in shown]
    return f"[{status}] {head}" + (f" ({' '.join(rest)})" if rest else "")


def body(notification: Notification) -> str:
    """A plain-text message describing every alert of ``notification``."""
    blocks = [_alert_text(alert) for alert in notification.alerts]
    if notification.truncated_alerts:
        blocks.append(f"... and {notification.truncated_alerts} more alerts")
    return "\n\n".join(blocks)


def _alert_text(alert: Alert) -> str:
    name = alert.labels.get("alertname", alert.rule)
    lines = [f"[{alert.status.upper()}] {name}"]
    annotations = dict(alert.annotations)
    for key in ("summary", "description"):
        if annotations.get(key):
            lines.append(annotations.pop(key))
    lines += [f"{key}: {value}" for key, value in sorted(annotations.items())]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
    if labels:
        lines.append(f"Labels: {labels}")
    when = f"Since: {rfc3339(alert.starts_at)}"
    if alert.status == "resolved" and alert.ends_at is not None:
        when += f"  Resolved: {rfc3339(alert.ends_at)}"
    lines.append(when)
    if alert.generator_url:
        lines.append(f"Source: {alert.generator_url}")
    return "\n".join(lines)


def _common_labels(alerts: Iterable[Alert]) -> dict[str, str]:
    alerts = list(alerts)
    if not alerts:
        return {}
    first = alerts[0].labels
    return {k: v for k, v in first.items() if all(a.labels.get(k) == v for a in alerts[1:])}


class _Target:
    """One apprise URL of a notifier, with its own apprise instance."""

    def __init__(self, index: int, url: str, service: apprise.Apprise, name: str) -> None:
        self.index = index
        self.service = service
        self.label = f"urls[{index}] ({name})"
        self.tokens = url_tokens(url)


class AppriseNotifier:
    """One configured ``apprise`` notifier."""

    def __init__(self, setup: NotifierSetup) -> None:
        _contain_apprise_logging()
        import apprise

        settings: AppriseSettings = setup.settings
        self.name = setup.name
        self._timeout = setup.timeout
        asset = apprise.AppriseAsset(app_id="kpiwatch", app_desc="kpiwatch alerts")
        self._targets: list[_Target] = []
        for index, secret in enumerate(settings.urls):
            url = secret.get_secret_value().strip()
            plugin = apprise.Apprise.instantiate(url, asset=asset)
            if plugin is None:
                raise ValueError(
                    f"apprise notifier {self.name!r}: urls[{index}] is not a usable apprise URL "
                    "(unknown scheme, missing parts, or a service disabled on this system)"
                )
            service = apprise.Apprise(asset=asset)
            service.add(plugin)
            self._targets.append(_Target(index, url, service, str(plugin.service_name)))
        self._pass_timeout = "timeout" in inspect.signature(apprise.Apprise.notify).parameters
        #: idempotency key -> indexes of the URLs that accepted it (partial deliveries only)
        self._accepted: OrderedDict[str, set[int]] = OrderedDict()

    async def send(self, notification: Notification) -> None:
        if not notification.alerts:
            return
        import apprise

        accepted = self._accepted.get(notification.idempotency_key, set())
        pending = [t for t in self._targets if t.index not in accepted]
        firing = notification.status == "firing"
        kwargs: dict[str, Any] = {
            "body": body(notification),
            "title": title(notification),
            "notify_type": apprise.NotifyType.WARNING if firing else apprise.NotifyType.SUCCESS,
            "body_format": apprise.NotifyFormat.TEXT,
        }
        if self._pass_timeout:
            kwargs["timeout"] = self._timeout
        outcomes = await asyncio.gather(*(self._notify(t, kwargs) for t in pending))
        failed = [
            (target, detail) for target, detail in zip(pending, outcomes, strict=True) if detail
        ]
        if not failed:
            self._accepted.pop(notification.idempotency_key, None)
            return
        failed_indexes = {target.index for target, _ in failed}
        accepted = accepted | {t.index for t in pending if t.index not in failed_indexes}
        self._remember(notification.idempotency_key, accepted)
        reasons = "; ".join(f"{target.label} {detail}" for target, detail in failed)
        raise DeliveryError(
            f"apprise {self.name!r}: {len(failed)} of {len(self._targets)} URLs failed: {reasons}"
        )

    async def _notify(self, target: _Target, kwargs: dict[str, Any]) -> str:
        """An empty string when ``target`` accepted the message, else why it did not."""
        try:
            result = await target.service.async_notify(**kwargs)
        except Exception as exc:  # apprise plugins may raise anything
            return f"failed ({type(exc).__name__})"
        try:
            if result:
                return ""
            return "failed" + _reported(result, target.tokens)
        finally:
            close = getattr(result, "close", None)
            if callable(close):
                close()

    def _remember(self, key: str, accepted: set[int]) -> None:
        self._accepted[key] = accepted
        self._accepted.move_to_end(key)
        while len(self._accepted) > _REMEMBERED:
            self._accepted.popitem(last=False)


def _reported(result: Any, tokens: list[str]) -> str:
    """apprise's own warnings about a failed call (apprise 2), with URL tokens removed."""
    logs = getattr(result, "logs", None)
    if not callable(logs):
        return ""
    messages = [
        str(entry.message)
        for entry in logs()
        if getattr(entry, "level", "") in ("WARNING", "ERROR", "CRITICAL")
    ]
    text = " ".join(" ".join(messages).split())
    for token in sorted((t for t in tokens if t), key=len, reverse=True):
        text = text.replace(token, "***")
    if len(text) > _DETAIL:
        text = text[:_DETAIL] + "..."
    return f": {text}" if text else ""


def _contain_apprise_logging() -> None:
    """Keep apprise's records (DEBUG ones hold full URLs) away from the root logger.

    Called before apprise is first imported, which already logs.
    """
    logger = logging.getLogger(APPRISE_LOGGER)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


APPRISE = NotifierType(
    name="apprise",
    create=AppriseNotifier,
    settings=AppriseSettings,
    description="Chat and e-mail (Slack, Microsoft Teams, Discord, e-mail, ...) through apprise.",
    receives="groups",
)
