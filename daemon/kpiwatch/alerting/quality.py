"""Data-quality events of each account's latest poll, compared with the poll before it.

Fed from the poll path (cheap, on the loop); the rule engine reads the events of the latest
poll. An event stays until the account's next successful poll, which either repeats it or
clears it, so a data-quality alert resolves once the platform sends sane data again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kpiwatch import vocabulary
from kpiwatch.alerting.detect import DataQualityEvent, data_quality_events
from kpiwatch.platform import Sample

#: Metrics that should never fall between two polls: running totals and audience counts
#: (an audience shrinks slowly, never by a tenth in one poll; `jump` catches that).
_NEVER_FALL = frozenset(m.name for m in vocabulary.METRICS if m.kind is vocabulary.Kind.CUMULATIVE)


def series_key(sample: Sample) -> str:
    """``metric``, ``metric|window`` or ``metric|window|k=v,...`` (the event's series label)."""
    parts = [sample.metric]
    if sample.window or sample.dims:
        parts.append(sample.window or "")
    if sample.dims:
        parts.append(",".join(f"{k}={v}" for k, v in sorted(sample.dims.items())))
    return "|".join(parts)


class QualityTracker:
    """The previous poll's values of each account, and the events of its latest poll."""

    def __init__(
        self, checks: Iterable[str] = ("stopped", "backwards", "jump", "removed"), jump: float = 10
    ):
        self.checks = frozenset(checks)
        self.jump = jump
        self.previous: dict[str, dict[str, float]] = {}
        self.events: dict[str, list[DataQualityEvent]] = {}

    def configure(self, checks: Iterable[str], jump: float) -> None:
        self.checks = frozenset(checks)
        self.jump = jump

    def poll(
        self,
        account: str,
        samples: Sequence[Sample],
        removed: Mapping[str, str] | None = None,
    ) -> list[DataQualityEvent]:
        """Record one successful poll; return (and keep) its events. ``removed`` are metrics
        disabled for the account because the platform stopped serving them: each is a
        ``removed`` event as long as it stays disabled."""
        current = _newest(samples)
        before = self.previous.get(account)
        events: list[DataQualityEvent] = []
        if before is not None and current:
            cumulative = [k for k in current if k.split("|", 1)[0] in _NEVER_FALL]
            events = data_quality_events(before, current, cumulative, self.checks, self.jump)
        if "removed" in self.checks:
            for metric, detail in sorted((removed or {}).items()):
                events.append(DataQualityEvent("removed", metric, None, None, detail))
        if current:
            self.previous[account] = current
        self.events[account] = events
        return events

    def seed(self, account: str, samples: Sequence[Sample]) -> None:
        """Start from stored values (at start-up), so the first poll is compared too."""
        values = _newest(samples)
        if values:
            self.previous.setdefault(account, values)

    def forget(self, accounts: Iterable[str]) -> None:
        for account in accounts:
            self.previous.pop(account, None)
            self.events.pop(account, None)

    def snapshot(self) -> Mapping[str, list[DataQualityEvent]]:
        return {a: list(e) for a, e in self.events.items() if e}


def _newest(samples: Sequence[Sample]) -> dict[str, float]:
    """Each series' newest value (a sample without timestamp is the poll's own reading)."""
    values: dict[str, float] = {}
    stamps: dict[str, float] = {}
    for sample in samples:
        key = series_key(sample)
        ts = float("inf") if sample.timestamp is None else sample.timestamp.timestamp()
        if key not in stamps or ts >= stamps[key]:
            stamps[key] = ts
            values[key] = float(sample.value)
    return values
