"""The alerting families of /metrics (catalogued in ``selfmetrics.ALERT_METRICS``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kpiwatch.exposition import FamilyHeader, family_header, label_string
from kpiwatch.selfmetrics import ALERT_METRICS

HEADERS: dict[str, FamilyHeader] = {
    m.name: family_header(m.name, m.family_name, m.text_type, m.type, m.description)
    for m in ALERT_METRICS
}
STATES = ("pending", "firing", "resolved")


@dataclass(frozen=True)
class AlertSection:
    """Ready-made families, as the exposition cache appends them."""

    families: tuple[tuple[FamilyHeader, bytes], ...]
    series: int


@dataclass
class AlertFigures:
    """What the section is rendered from."""

    rules: Sequence[tuple[str, str]]  # (rule, severity) of every configured rule
    alerts: Mapping[tuple[str, str], int]  # (rule, state) -> count
    evaluation_seconds: float | None
    evaluated_at: float | None
    evaluation_failures: Mapping[str, int]
    notifications: Mapping[tuple[str, str], int]  # (notifier, outcome) -> count
    outbox_depth: Mapping[str, int]
    outbox_oldest: Mapping[str, float]
    notifiers: Sequence[str]


def render(figures: AlertFigures) -> AlertSection:
    bodies: dict[str, list[str]] = {name: [] for name in HEADERS}

    def add(name: str, labels: Mapping[str, str], value: float) -> None:
        bodies[name].append(f"{name}{label_string(labels)} {float(value)!r}\n")

    for rule, severity in figures.rules:
        for state in STATES:
            count = figures.alerts.get((rule, state), 0)
            add("kpiwatch_alerts", {"rule": rule, "severity": severity, "state": state}, count)
    if figures.evaluation_seconds is not None:
        add("kpiwatch_rule_evaluation_duration_seconds", {}, figures.evaluation_seconds)
    if figures.evaluated_at is not None:
        add("kpiwatch_rule_evaluation_timestamp_seconds", {}, figures.evaluated_at)
    for rule, count in sorted(figures.evaluation_failures.items()):
        add("kpiwatch_rule_evaluation_failures_total", {"rule": rule}, count)
    for (notifier, outcome), count in sorted(figures.notifications.items()):
        add("kpiwatch_notifications_total", {"notifier": notifier, "outcome": outcome}, count)
    for notifier in figures.notifiers:
        depth = figures.outbox_depth.get(notifier, 0)
        add("kpiwatch_outbox_messages", {"notifier": notifier}, depth)
        add(
            "kpiwatch_outbox_oldest_age_seconds",
            {"notifier": notifier},
            figures.outbox_oldest.get(notifier, 0.0),
        )
    families = []
    series = 0
    for name, header in HEADERS.items():
        lines = bodies[name]
        if lines:
            families.append((header, "".join(lines).encode()))
            series += len(lines)
    return AlertSection(tuple(families), series)


@dataclass(frozen=True)
class CombinedSection:
    """Several extra sections appended one after the other."""

    families: tuple[tuple[FamilyHeader, bytes], ...]
    series: int

    @classmethod
    def of(cls, *sections: object) -> CombinedSection | None:
        present = [s for s in sections if s is not None]
        if not present:
            return None
        families = tuple(f for s in present for f in s.families)  # type: ignore[attr-defined]
        return cls(families, sum(s.series for s in present))  # type: ignore[attr-defined]
