"""Which notifications alerts cause and when: Alertmanager's grouping, timing and resend.

Pure logic, no I/O. The router keeps an in-memory copy of its group state (loaded from the
alert store at start). ``plan`` computes the notifications due at ``now`` and the group rows
that change, without changing the router; the caller stores the plan with
``AlertStore.commit`` and then calls ``accept``, so a failed commit leaves the router as it was
and the next ``plan`` computes the same notifications again.

``groups`` notifiers (webhook, chat) follow Alertmanager's dispatcher. Alerts are grouped by the
notifier's ``group_by`` labels (``['...']``: each alert alone; ``[]``: one group). A group is
created by its first firing alert and flushed ``group_wait`` later, then every
``group_interval``. A flush sends a notification when the receiver's picture is out of date
(Alertmanager's DedupStage): a firing alert it was not told about, every alert it was told
fires has resolved, or (with ``send_resolved``) one of them resolved; otherwise a group that
still fires is re-sent once ``repeat_interval`` has passed since the last notification.
A resolved alert is reported only to a receiver that was told it fires, and only once. So a
flapping alert causes at most one notification per ``group_interval``. A group none of whose
alerts are in the input any more is forgotten; the caller passes resolved alerts for
``resolved_retention``, which should be longer than ``group_interval`` (else a resolve that
happens between two flushes is never sent).

``state`` notifiers (Alertmanager) get one ``kind="state"`` notification with every firing and
resolved alert routed to them, when ``changed`` is true and what they would see differs from
the last one, or when ``resend_interval`` has passed; ``valid_for`` is four resend intervals,
as Prometheus sets ``endsAt`` (reference/prometheus-grafana.md, 1b).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from kpiwatch.alerting.model import Alert
from kpiwatch.alerting.notifiers.base import Notification, alert_to_dict
from kpiwatch.config_alerting import NotifierConfig

#: ``group_by: ['...']`` groups by every label: each alert is its own group.
GROUP_BY_ALL = "..."
#: The group key of a ``state`` notifier's snapshots (one ordered stream per notifier).
STATE_GROUP_KEY = "{}:state"
#: A ``state`` notification is valid for this many resend intervals (Prometheus: 4).
VALID_FOR_RESENDS = 4


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """A configured notifier as the router sees it: its settings and its type's ``receives``."""

    config: NotifierConfig
    receives: Literal["groups", "state"] = "groups"

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True, slots=True)
class GroupState:
    """Router state of one (notifier, group key), stored as one row of the alert store.

    ``sent``: the sorted (fingerprint, status) pairs the receiver was last told about, and
    ``last_sent_at`` when (None: never). A ``groups`` notifier with ``send_resolved: false``
    whose alerts all resolved is "told" an empty set without a message, as Alertmanager
    records it. ``digest`` (state notifiers) is a hash of the last snapshot's content.
    """

    notifier: str
    group_key: str
    group_labels: Mapping[str, str]
    created_at: float
    next_flush_at: float
    last_sent_at: float | None = None
    sent: tuple[tuple[str, str], ...] = ()
    digest: str = ""

    @property
    def firing(self) -> frozenset[str]:
        """Fingerprints the receiver was last told fire."""
        return frozenset(fp for fp, status in self.sent if status == "firing")


@dataclass(frozen=True)
class RoutePlan:
    """What one ``plan`` call decided: notifications to store in the outbox, group rows to
    upsert and (notifier, group key) rows to delete. Empty when nothing changed."""

    messages: list[Notification] = field(default_factory=list)
    groups: list[GroupState] = field(default_factory=list)
    forgotten: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.messages or self.groups or self.forgotten)


def group_labels(labels: Mapping[str, str], group_by: Sequence[str]) -> dict[str, str]:
    """The labels an alert is grouped by: those of ``group_by`` it has, or all for ``...``."""
    if GROUP_BY_ALL in group_by:
        return dict(labels)
    return {name: labels[name] for name in group_by if name in labels}


def group_key(labels: Mapping[str, str]) -> str:
    """Alertmanager's group key of the root route: ``{}:{alertname="X", team="a"}``."""
    inner = ", ".join(
        f"{name}={json.dumps(labels[name], ensure_ascii=False)}" for name in sorted(labels)
    )
    return "{}:{" + inner + "}"


def idempotency_key(notifier: str, key: str, sent: Iterable[tuple[str, str]], bucket: str) -> str:
    """Same inputs, same key: a retry of a stored message keeps its key; a repeat or a change
    falls in another time bucket or carries another (fingerprint, status) set."""
    text = "\x00".join(
        [notifier, key, bucket, *(f"{fp}\x01{status}" for fp, status in sorted(sent))]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _time_bucket(now: float, interval: float) -> str:
    """Two flushes of a group are at least ``group_interval`` apart, so they never share a
    bucket; replicas flushing within the same bucket compute the same key."""
    if interval <= 0:
        return repr(now)
    return str(math.floor(now / interval))


def _alert_order(alert: Alert) -> tuple[tuple[tuple[str, str], ...], str]:
    return tuple(sorted(alert.labels.items())), alert.fingerprint


def _snapshot_digest(alerts: Sequence[Alert]) -> str:
    """Hash of what a state notifier sends (the value is not sent, so it is left out)."""
    parts = []
    for alert in alerts:
        data = alert_to_dict(alert)
        data.pop("value", None)
        parts.append(data)
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _status(alerts: Iterable[Alert]) -> Literal["firing", "resolved"]:
    return "firing" if any(a.status == "firing" for a in alerts) else "resolved"


class Router:
    """Routes alerts to notifiers and decides when each group or snapshot is sent."""

    def __init__(
        self,
        notifiers: Sequence[RouteTarget],
        external_url: str,
        groups: Iterable[GroupState] = (),
    ) -> None:
        self.external_url = external_url
        self._targets: dict[str, RouteTarget] = {}
        for target in notifiers:
            if target.name in self._targets:
                raise ValueError(
                    f"notifier {target.name!r} is configured twice; give each notifier a "
                    "unique name"
                )
            self._targets[target.name] = target
        self._groups: dict[tuple[str, str], GroupState] = {}
        self._orphans: list[tuple[str, str]] = []  # rows of notifiers no longer configured
        for state in groups:
            key = (state.notifier, state.group_key)
            if state.notifier in self._targets:
                self._groups[key] = state
            else:
                self._orphans.append(key)

    @property
    def groups(self) -> Mapping[tuple[str, str], GroupState]:
        """The current group state by (notifier, group key)."""
        return dict(self._groups)

    def next_due(self) -> float | None:
        """The earliest time a ``plan`` can send something without new input (None: never)."""
        times: list[float] = []
        for (name, _), state in self._groups.items():
            target = self._targets[name]
            if target.receives == "groups":
                times.append(state.next_flush_at)
            elif state.last_sent_at is not None and state.sent:
                times.append(state.last_sent_at + target.config.resend_interval.total_seconds())
        return min(times, default=None)

    def plan(self, alerts: Sequence[Alert], now: float, changed: bool = True) -> RoutePlan:
        """The notifications due at ``now`` for ``alerts`` (firing ones and resolved ones still
        kept) and the group rows that change. Does not change the router: see ``accept``."""
        routed: dict[str, dict[str, Alert]] = {name: {} for name in self._targets}
        for alert in alerts:
            names = self._targets if alert.notifiers is None else alert.notifiers
            for name in names:
                bucket = routed.get(name)
                if bucket is None:
                    continue  # an unknown name: config validation reports it
                known = bucket.get(alert.fingerprint)
                if known is None or known.status == "resolved" or alert.status == "firing":
                    bucket[alert.fingerprint] = alert
        plan = RoutePlan(forgotten=list(self._orphans))
        for name, target in self._targets.items():
            members = sorted(routed[name].values(), key=_alert_order)
            if target.receives == "state":
                self._plan_state(target, members, now, changed, plan)
            else:
                self._plan_groups(target, members, now, plan)
        return plan

    def accept(self, plan: RoutePlan) -> None:
        """Adopt a plan's group rows once the store has committed them."""
        for key in plan.forgotten:
            self._groups.pop(key, None)
            if key in self._orphans:
                self._orphans.remove(key)
        for state in plan.groups:
            self._groups[(state.notifier, state.group_key)] = state

    # -- groups notifiers ----------------------------------------------------------------------

    def _plan_groups(
        self, target: RouteTarget, alerts: Sequence[Alert], now: float, plan: RoutePlan
    ) -> None:
        config = target.config
        grouped: dict[str, tuple[dict[str, str], list[Alert]]] = {}
        for alert in alerts:
            labels = group_labels(alert.labels, config.group_by)
            grouped.setdefault(group_key(labels), (labels, []))[1].append(alert)
        for name, key in self._groups:
            if name == config.name and key not in grouped:
                plan.forgotten.append((name, key))
        for key, (labels, members) in grouped.items():
            state = self._groups.get((config.name, key))
            created = state is None
            if state is None:
                if not any(a.status == "firing" for a in members):
                    continue  # resolved alerts of a group already done with
                wait = config.group_wait.total_seconds()
                state = GroupState(config.name, key, labels, now, now + wait)
            if now < state.next_flush_at:
                if created:
                    plan.groups.append(state)
                continue
            message, state = self._flush(target, state, members, now)
            plan.groups.append(state)
            if message is not None:
                plan.messages.append(message)

    def _flush(
        self, target: RouteTarget, state: GroupState, alerts: Sequence[Alert], now: float
    ) -> tuple[Notification | None, GroupState]:
        config = target.config
        interval = config.group_interval.total_seconds()
        told = state.firing
        firing = {a.fingerprint for a in alerts if a.status == "firing"}
        resolved = {a.fingerprint for a in alerts if a.status == "resolved"} & told
        if state.last_sent_at is None:
            update = bool(firing)
        elif not firing <= told:
            update = True
        elif not firing:
            update = bool(told)
        elif config.send_resolved and resolved:
            update = True
        else:
            update = now - state.last_sent_at >= config.repeat_interval.total_seconds()
        state = replace(state, next_flush_at=now + interval)
        if not update:
            return None, state
        included = tuple(
            a
            for a in alerts
            if a.fingerprint in firing or (config.send_resolved and a.fingerprint in resolved)
        )
        sent = tuple(sorted((a.fingerprint, a.status) for a in included))
        state = replace(state, last_sent_at=now, sent=sent)
        if not included:  # all resolved, send_resolved is off: nothing to say
            return None, state
        message = Notification(
            notifier=config.name,
            kind="group",
            status=_status(included),
            group_key=state.group_key,
            group_labels=dict(state.group_labels),
            alerts=included,
            idempotency_key=idempotency_key(
                config.name, state.group_key, sent, _time_bucket(now, interval)
            ),
            external_url=self.external_url,
            created_at=now,
        )
        return message, state

    # -- state notifiers -----------------------------------------------------------------------

    def _plan_state(
        self,
        target: RouteTarget,
        alerts: Sequence[Alert],
        now: float,
        changed: bool,
        plan: RoutePlan,
    ) -> None:
        config = target.config
        state = self._groups.get((config.name, STATE_GROUP_KEY))
        if not alerts:
            if state is not None:
                plan.forgotten.append((config.name, STATE_GROUP_KEY))
            return
        resend = config.resend_interval.total_seconds()
        digest = _snapshot_digest(alerts)
        if state is None or state.last_sent_at is None:
            due = True
        else:
            due = (changed and digest != state.digest) or now - state.last_sent_at >= resend
        if not due:
            return
        sent = tuple(sorted((a.fingerprint, a.status) for a in alerts))
        created_at = state.created_at if state is not None else now
        plan.groups.append(
            GroupState(config.name, STATE_GROUP_KEY, {}, created_at, now, now, sent, digest)
        )
        plan.messages.append(
            Notification(
                notifier=config.name,
                kind="state",
                status=_status(alerts),
                group_key=STATE_GROUP_KEY,
                group_labels={},
                alerts=tuple(alerts),
                idempotency_key=idempotency_key(config.name, STATE_GROUP_KEY, sent, repr(now)),
                external_url=self.external_url,
                created_at=now,
                valid_for=VALID_FOR_RESENDS * resend,
            )
        )
