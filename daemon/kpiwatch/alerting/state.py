"""The alert state machine: inactive → pending → firing → resolved, as Prometheus runs it.

An observation (the condition holds) creates a pending alert; after the rule's ``for`` it
fires (at once when ``for`` is 0). When the condition stops holding, a pending alert is
forgotten and a firing one resolves, unless ``keep_firing_for`` keeps it firing a while longer.
Resolved alerts stay ``resolved_retention`` so notifiers and the API still see them; the
condition holding again in that time starts a new pending alert. Records are kept in the alert
store, so a restart continues a pending alert's ``for`` and never re-fires a firing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kpiwatch.alerting.evaluate import Observation
from kpiwatch.alerting.model import Alert, AlertRecord, fingerprint
from kpiwatch.alerting.rules import CompiledRule


@dataclass
class Step:
    """What one evaluation changed: records to store, fingerprints to delete, and whether an
    alert started firing or resolved (notifiers care only about those)."""

    changed: list[AlertRecord] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    transitions: list[tuple[str, str, str]] = field(default_factory=list)  # fp, from, to
    template_errors: dict[str, str] = field(default_factory=dict)  # rule -> first error

    @property
    def notify(self) -> bool:
        return any(to in ("firing", "resolved") for _, _, to in self.transitions)


class AlertStates:
    """Every stored alert by fingerprint, stepped once per evaluation."""

    def __init__(self, records: Iterable[AlertRecord] = (), resolved_retention: float = 900.0):
        self.records: dict[str, AlertRecord] = {r.fingerprint: r for r in records}
        self.resolved_retention = resolved_retention
        self._fingerprints: dict[tuple[tuple[str, str], ...], str] = {}

    def step(
        self,
        rules: Sequence[CompiledRule],
        observations: Mapping[str, Sequence[Observation]],
        now: float,
        generator_url: str,
        skipped: frozenset[str] = frozenset(),
    ) -> Step:
        """Apply one evaluation. ``skipped`` rules (whose evaluation failed) keep their alerts
        as they are, rather than resolving them for want of data."""
        step = Step()
        by_rule = {rule.name: rule for rule in rules}
        seen: set[str] = set()
        for rule in rules:
            if rule.name in skipped:
                seen.update(fp for fp, r in self.records.items() if r.rule == rule.name)
                continue
            for obs in observations.get(rule.name, ()):
                if rule.templates.empty:
                    labels, annotations, error = {}, {}, ""
                else:
                    labels, annotations, error = rule.templates.render(obs.context)
                if error:
                    step.template_errors.setdefault(rule.name, error)
                full = {**obs.labels, **{k: v for k, v in labels.items() if k not in obs.labels}}
                fp = self._fingerprint(full)
                if fp in seen:
                    continue  # two groups rendering the same labels: the first one wins
                seen.add(fp)
                self._observed(rule, fp, full, annotations, obs.value, now, generator_url, step)
        for fp, record in list(self.records.items()):
            if fp in seen:
                continue
            rule = by_rule.get(record.rule)
            self._not_observed(record, rule, now, step)
        return step

    def _fingerprint(self, labels: dict[str, str]) -> str:
        """The labels' fingerprint, remembered (alerts are seen again every evaluation)."""
        key = tuple(sorted(labels.items()))
        fp = self._fingerprints.get(key)
        if fp is None:
            if len(self._fingerprints) > 4 * len(self.records) + 1024:
                self._fingerprints.clear()
            fp = self._fingerprints[key] = fingerprint(labels)
        return fp

    def _observed(
        self,
        rule: CompiledRule,
        fp: str,
        labels: dict[str, str],
        annotations: dict[str, str],
        value: float | None,
        now: float,
        generator_url: str,
        step: Step,
    ) -> None:
        record = self.records.get(fp)
        hold = rule.config.for_.total_seconds()
        if record is None or record.state == "resolved":
            before = "resolved" if record is not None else "inactive"
            record = AlertRecord(
                fp, rule.name, labels, annotations, "pending", active_at=now, last_true_at=now
            )
            self.records[fp] = record
            step.transitions.append((fp, before, "pending"))
        # Stored again only when something a notifier or a restart needs changed.
        dirty = (
            step.transitions[-1:] == [(fp, "inactive", "pending")]
            or step.transitions[-1:] == [(fp, "resolved", "pending")]
            or record.annotations != annotations
            or record.notifiers != rule.notifiers
            or record.generator_url != generator_url
        )
        record.labels = labels
        record.annotations = annotations
        record.value = value
        record.last_true_at = now
        record.notifiers = rule.notifiers
        record.generator_url = generator_url
        if record.state == "pending" and now - record.active_at >= hold:
            record.fired_at = now  # before the state: readers on other threads see both
            record.state = "firing"
            step.transitions.append((fp, "pending", "firing"))
            dirty = True
        if dirty or rule.config.keep_firing_for.total_seconds() > 0:
            step.changed.append(record)

    def _not_observed(
        self, record: AlertRecord, rule: CompiledRule | None, now: float, step: Step
    ) -> None:
        fp = record.fingerprint
        if record.state == "pending":
            del self.records[fp]
            step.removed.append(fp)
            step.transitions.append((fp, "pending", "inactive"))
            return
        if record.state == "firing":
            keep = rule.config.keep_firing_for.total_seconds() if rule is not None else 0.0
            if now - record.last_true_at < keep:
                return
            record.resolved_at = now
            record.state = "resolved"
            step.changed.append(record)
            step.transitions.append((fp, "firing", "resolved"))
            return
        # resolved: forget after the retention
        if record.resolved_at is not None and now - record.resolved_at >= self.resolved_retention:
            del self.records[fp]
            step.removed.append(fp)

    def alerts(self) -> list[Alert]:
        """Firing and retained resolved alerts, for the router and the API."""
        out = []
        for record in self.records.values():
            alert = record.alert()
            if alert is not None:
                out.append(alert)
        out.sort(key=lambda a: (a.rule, sorted(a.labels.items())))
        return out

    def counts(self) -> dict[str, int]:
        out = {"pending": 0, "firing": 0, "resolved": 0}
        for record in self.records.values():
            out[record.state] += 1
        return out
