"""Configuration models of SMART goals: ``goals:`` and ``goal_tracking:``.

docs/configuration.md documents every key and docs/goals.md what each computation does. Checks
that need the KPI catalogue or the computed windows (unknown KPI, window not computed, a target
on the wrong side of the baseline for the KPI's direction) are in :mod:`kpiwatch.goals.compile`,
which reports them at the goal's line and field.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kpiwatch.config_types import Duration, Strict, positive

GOAL_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
#: A relative target: "+20%", "-15%", "+0.5%".
RELATIVE_TARGET = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*%\s*$")
#: A calendar period: a year "2027", a half "2027-H1", a quarter "2027-Q3", a month "2027-02".
CALENDAR_PERIOD = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?$")

Criterion = Literal["reach", "stay_above", "stay_below"]
Measure = Literal["value", "change", "total"]
ObjectiveName = Literal["reach", "engagement", "roi", "loyalty"]


class GoalBands(Strict):
    """How far behind the linear path a goal may fall before it is behind, or at risk."""

    behind: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Behind when progress trails the elapsed fraction by more than this "
        "(0.1 = 10 percentage points of the way from baseline to target).",
    )
    at_risk: float = Field(
        0.25,
        ge=0,
        le=1,
        description="At risk when progress trails by more than this and the projection misses.",
    )

    @model_validator(mode="after")
    def _order(self) -> GoalBands:
        if self.at_risk < self.behind:
            raise ValueError(
                f"bands.at_risk ({self.at_risk:g}) is below bands.behind ({self.behind:g}); "
                "at risk must be further behind, write for example {behind: 0.1, at_risk: 0.25}"
            )
        return self


class GoalConfig(Strict):
    """One SMART goal: a KPI of a scope moved from a baseline to a target within a period."""

    name: str = Field(description="The goal's id, the `goal` label; a-z, 0-9, '.', '_', '-'.")
    kpi: str = Field(description="A KPI of the catalogue (docs/kpis.md).")
    window: Duration | None = Field(
        None, description="KPI window, one of kpis.windows (default 28d, else the longest)."
    )
    measure: Measure = Field(
        "value",
        description="value: the KPI over its window; change: the KPI now minus at the period "
        "start (new followers); total: the KPI's daily values added up since the period start.",
    )
    scope: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Accounts the goal covers: account, platform or any label, each a value or "
        "a list; empty for every own account. Several accounts are aggregated (ratio of sums).",
    )
    include_competitors: bool = Field(False, description="Count competitor accounts too.")
    criterion: Criterion = Field(
        "reach", description="reach the target by the deadline, or stay_above / stay_below it."
    )
    target: float | str = Field(
        description="A value in the KPI's unit (0.05 = 5 % for ratios), or relative to the "
        "baseline: '+20%', '-10%'."
    )
    baseline: float | None = Field(
        None, description="The value at the start (default: measured from history at the start)."
    )
    start: date | None = Field(None, description="First day of the goal (00:00 UTC).")
    deadline: date | None = Field(
        None, description="The goal is due when this day begins (00:00 UTC)."
    )
    period: str | None = Field(
        None,
        description="A calendar period instead of start and deadline: 2027, 2027-H1, "
        "2027-Q1 or 2027-01.",
    )
    every: Literal["month", "quarter", "year"] | None = Field(
        None,
        description="A recurring target that restarts each calendar month, quarter or year "
        "(from start, until deadline when given).",
    )
    owner: str = Field("", description="Who answers for the goal (a person or a team).")
    objective: ObjectiveName | None = Field(
        None, description="Business objective the goal serves (default: the KPI's)."
    )
    description: str = ""
    review_every: Duration = Field(
        timedelta(days=90), description="The goal is due for review this long after `reviewed`."
    )
    reviewed: date | None = Field(
        None, description="Day of the last review (default: the goal's start)."
    )
    early_window: float = Field(
        0.2, ge=0, lt=1, description="Share of the period in which pace is not judged yet."
    )
    bands: GoalBands = GoalBands()
    max_breach: float = Field(
        0.1,
        ge=0,
        le=1,
        description="stay_above/stay_below: share of the period's days allowed in breach.",
    )
    trend: Duration = Field(
        timedelta(days=28), description="Recent history the projection's trend is fitted to."
    )
    achievable_factor: float = Field(
        2.0,
        gt=1,
        description="Flag the goal when its required pace exceeds this many times the best "
        "pace the history shows.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not GOAL_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid goal name; use lower-case letters, digits, '.', '_' "
                "and '-', starting with a letter or digit, for example ig-engagement-h1"
            )
        return value

    @field_validator("target")
    @classmethod
    def _target(cls, value: float | str) -> float | str:
        if isinstance(value, str) and not RELATIVE_TARGET.match(value):
            raise ValueError(
                f"target {value!r} is neither a number nor a relative target; write for "
                "example 0.05, 10000 or '+20%'"
            )
        return value

    @field_validator("period", mode="before")
    @classmethod
    def _year(cls, value: object) -> object:
        """``period: 2027`` is a year: YAML reads it as a number."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("period")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None and not CALENDAR_PERIOD.match(value):
            raise ValueError(
                f"period {value!r} is not a calendar period; write a year (2027), a half "
                "(2027-H1), a quarter (2027-Q1) or a month (2027-01)"
            )
        return value

    @field_validator("review_every", "trend")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        return positive(value, "this duration", "90d")

    @field_validator("trend")
    @classmethod
    def _trend(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=3) or value.total_seconds() % 86400:
            raise ValueError("trend must be whole days and at least 3d; write for example 28d")
        return value

    @model_validator(mode="after")
    def _time_bound(self) -> GoalConfig:
        if self.period is not None and (
            self.start is not None or self.deadline is not None or self.every is not None
        ):
            raise ValueError(
                "period replaces start, deadline and every; give period alone, or start and "
                "deadline, or every"
            )
        if (
            self.every is None
            and self.period is None
            and (self.start is None or self.deadline is None)
        ):
            raise ValueError(
                "a goal is time-bound: give start and deadline, a calendar period "
                "(period: 2027-Q1) or a recurring period (every: month)"
            )
        if self.start is not None and self.deadline is not None and self.deadline <= self.start:
            raise ValueError(
                f"deadline {self.deadline} is not after start {self.start}; the goal needs "
                "at least one day"
            )
        if self.criterion != "reach" and isinstance(self.target, str):
            raise ValueError(
                f"a {self.criterion} goal needs an absolute target (a limit), not "
                f"{self.target!r}; write for example 0.02"
            )
        if self.criterion != "reach" and self.measure == "total":
            raise ValueError(
                f"a {self.criterion} goal checks the KPI's value at the end of every day, and a "
                "total only grows through the period; use measure: value (window: 1d for a "
                "daily amount)"
            )
        if self.measure == "change" and self.baseline not in (None, 0):
            raise ValueError(
                "a change goal counts from 0 at the start of each period; remove baseline:"
            )
        if self.measure != "value" and isinstance(self.target, str):
            raise ValueError(
                f"a relative target ({self.target}) needs a baseline value; with measure "
                f"{self.measure} write the amount, for example target: 300"
            )
        return self

    @property
    def relative_target(self) -> float | None:
        """The relative target as a factor change (``'+20%'`` is 0.2), or None."""
        if not isinstance(self.target, str):
            return None
        match = RELATIVE_TARGET.match(self.target)
        assert match is not None
        sign = -1.0 if match.group(1) == "-" else 1.0
        return sign * float(match.group(2)) / 100


class GoalTrackingSettings(Strict):
    interval: Duration = Field(
        timedelta(minutes=1), description="Goals are recomputed this often (and on reload)."
    )
    history: Duration = Field(
        timedelta(days=365),
        description="History before a goal's start read for its achievability (best pace).",
    )
    outcome_for: Duration = Field(
        timedelta(days=7),
        description="How long after a period ends its outcome (achieved, missed) stays active "
        "for goal rules; recurring goals: at most until the next period ends.",
    )

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        return positive(value, "goal_tracking.interval", "1m")

    @field_validator("history")
    @classmethod
    def _history(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=7) or value.total_seconds() % 86400:
            raise ValueError(
                "goal_tracking.history must be whole days and at least 7d; write for example 365d"
            )
        return value
