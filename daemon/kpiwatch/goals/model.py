"""What the goal tracker computes for one goal: :class:`GoalResult` and its parts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kpiwatch.goals.period import Period

#: Every status a goal can have, in the order the status gauge lists them.
STATUSES = ("not_started", "on_track", "behind", "at_risk", "achieved", "missed")
FINAL_STATUSES = ("achieved", "missed")
Status = Literal["not_started", "on_track", "behind", "at_risk", "achieved", "missed"]


@dataclass(frozen=True)
class Achievability:
    """The pace a goal needs against the best pace its history shows (the A of SMART).

    Paces are KPI units per day in the KPI's good direction; ``ratio`` is required / best.
    """

    required_pace: float | None
    best_pace: float | None
    ratio: float | None
    flagged: bool
    detail: str


@dataclass(frozen=True)
class Relevance:
    """Whether the goal's KPI serves the objective its accounts declare (the R of SMART)."""

    status: Literal["aligned", "vanity", "undeclared"]
    detail: str


@dataclass(frozen=True)
class Outcome:
    """How a finished period of a recurring goal ended."""

    period: Period
    status: Status
    value: float | None
    target: float | None
    judged: bool = True  # False when the period ended without data


@dataclass
class GoalResult:
    """One goal at one instant. Values are in the KPI's unit (ratios 0-1)."""

    name: str
    kpi: str
    window: str
    measure: str
    criterion: str
    direction: str  # "higher" or "lower": which way the KPI improves
    owner: str
    objective: str
    description: str
    scope: dict[str, str | list[str]]
    period: Period
    now: float
    status: Status
    judged: bool  # False in the early window, before the start and without data
    elapsed: float
    current: float | None
    baseline: float | None
    target: float | None
    expected: float | None
    progress: float | None
    projected: float | None
    projected_met: bool | None
    achievability: Achievability
    relevance: Relevance
    review_due_at: float | None
    breach_days: int | None = None  # stay_above / stay_below: completed days in breach
    judged_days: int | None = None  # ... and completed days with a value
    previous: Outcome | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def review_due(self) -> bool:
        return self.review_due_at is not None and self.now >= self.review_due_at

    @property
    def breach_share(self) -> float | None:
        if not self.judged_days or self.breach_days is None:
            return None
        return self.breach_days / self.judged_days

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES and self.now >= self.period.end

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (times in RFC 3339 and unix seconds)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kpi": self.kpi,
            "window": self.window,
            "measure": self.measure,
            "criterion": self.criterion,
            "direction": self.direction,
            "owner": self.owner,
            "objective": self.objective,
            "description": self.description,
            "scope": self.scope,
            "period": _period_json(self.period),
            "status": self.status,
            "judged": self.judged,
            "elapsed_ratio": _num(self.elapsed),
            "current": _num(self.current),
            "baseline": _num(self.baseline),
            "target": _num(self.target),
            "expected": _num(self.expected),
            "progress_ratio": _num(self.progress),
            "projected": _num(self.projected),
            "projected_met": self.projected_met,
            "breach_days": self.breach_days,
            "judged_days": self.judged_days,
            "breach_share": _num(self.breach_share),
            "achievability": {k: _num(v) for k, v in asdict(self.achievability).items()},
            "relevance": asdict(self.relevance),
            "review_due": self.review_due,
            "review_due_at": _time(self.review_due_at),
            "previous": None,
            "problems": list(self.problems),
            "computed_at": _time(self.now),
        }
        if self.previous is not None:
            out["previous"] = {
                "period": _period_json(self.previous.period),
                "status": self.previous.status,
                "value": _num(self.previous.value),
                "target": _num(self.previous.target),
                "judged": self.previous.judged,
            }
        return out


def _num(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _time(ts: float | None) -> str | None:
    if ts is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _period_json(period: Period) -> dict[str, Any]:
    return {"label": period.label, "start": _time(period.start), "end": _time(period.end)}
