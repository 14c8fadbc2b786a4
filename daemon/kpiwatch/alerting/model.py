"""What the rule engine, the alert store, the router and the notifiers pass to each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

AlertStatus = Literal["firing", "resolved"]
#: States an alert is stored in. ``inactive`` alerts are not stored at all.
AlertState = Literal["pending", "firing", "resolved"]


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: 64-bit FNV-1a over the labels sorted by name,
    each as name, 0xff, value, 0xff; 16 hex digits. Same labels, same alert on every replica."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part:
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as notifiers see it: the fields of an Alertmanager alert.

    ``ends_at`` is None while the alert fires and the resolve time once resolved. ``notifiers``
    is the rule's list of notifier names, None for every notifier.
    """

    fingerprint: str
    rule: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    status: AlertStatus
    starts_at: float
    ends_at: float | None
    generator_url: str
    value: float | None = None
    notifiers: tuple[str, ...] | None = None


@dataclass(slots=True)
class AlertRecord:
    """The stored state of one alert (inactive alerts have no record).

    ``active_at``: when the condition first held (pending since then); ``fired_at``: when it
    started firing; ``last_true_at``: the last evaluation at which the condition held (for
    ``keep_firing_for``); ``resolved_at``: when it resolved (kept ``resolved_retention``).
    """

    fingerprint: str
    rule: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    active_at: float
    last_true_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    value: float | None = None
    notifiers: tuple[str, ...] | None = None
    generator_url: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def alert(self) -> Alert | None:
        """The alert notifiers see, or None while it is only pending."""
        if self.state == "pending" or self.fired_at is None:
            return None
        return Alert(
            self.fingerprint,
            self.rule,
            dict(self.labels),
            dict(self.annotations),
            "resolved" if self.state == "resolved" else "firing",
            self.fired_at,
            self.resolved_at,
            self.generator_url,
            self.value,
            self.notifiers,
        )
