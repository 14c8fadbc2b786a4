"""The goal table of ``kpiwatch goals``: one row per goal with a progress bar, then its flags."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from kpiwatch.goals.model import GoalResult
from kpiwatch.kpi.catalogue import KpiUnit
from kpiwatch.kpi.compiled import Catalogue
from kpiwatch.kpi.report import format_value

BAR_CELLS = 20
FILLED, EMPTY, EXPECTED_MARK = "█", "░", "│"
HEADER = (
    "GOAL",
    "KPI",
    "STATUS",
    "PROGRESS",
    "CURRENT / TARGET",
    "EXPECTED",
    "PROJECTED",
    "DEADLINE",
    "OWNER",
)
_STATUS_COLOURS = {
    "not_started": "2",  # dim
    "on_track": "32",  # green
    "achieved": "1;32",
    "behind": "33",  # yellow
    "at_risk": "31",  # red
    "missed": "1;31",
}


def kpi_units(catalogue: Catalogue) -> dict[str, str]:
    """The unit of every KPI of the catalogue, by name."""
    return {name: kpi.definition.unit.value for name, kpi in catalogue.by_name.items()}


def format_goal_value(value: float | None, unit: str | None) -> str:
    """A goal value: ratios in % with 1 decimal, counts rounded and grouped, amounts plain."""
    if value is None or not math.isfinite(value):
        return "-"
    if unit == KpiUnit.RATIO:
        return f"{value * 100:.1f}%"
    if unit == KpiUnit.COUNT:
        return f"{round(value):,}"
    if unit is None:
        return f"{value:,.4g}"
    return format_value(value, unit)  # the currency is not known here: a plain amount


def progress_bar(progress: float | None, expected: float | None, cells: int = BAR_CELLS) -> str:
    """``cells`` cells filled to ``progress`` (clamped to 0..1), with │ inserted where
    ``expected`` (the elapsed fraction, 0..1) puts the linear path; None: no mark."""
    share = 0.0 if progress is None or math.isnan(progress) else min(1.0, max(0.0, progress))
    filled = round(share * cells)
    bar = FILLED * filled + EMPTY * (cells - filled)
    if expected is None:
        return bar + " "
    at = round(min(1.0, max(0.0, expected)) * cells)
    return bar[:at] + EXPECTED_MARK + bar[at:]


def _progress_cell(result: GoalResult) -> str:
    if result.criterion == "reach":
        bar = progress_bar(result.progress, result.elapsed)
        share = "-" if result.progress is None else f"{result.progress * 100:.0f}%"
        return f"{bar} {share}"
    bar = progress_bar(result.progress, None)
    if not result.judged_days:
        return f"{bar} no day judged yet"
    return f"{bar} {result.breach_days}/{result.judged_days} days in breach"


def _kpi_cell(result: GoalResult) -> str:
    measure = "" if result.measure == "value" else f", {result.measure}"
    return f"{result.kpi} ({result.window}{measure})"


def _status_cell(result: GoalResult) -> str:
    early = result.status == "on_track" and not result.judged
    return f"{result.status} (early)" if early else result.status


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _row(result: GoalResult, unit: str | None) -> tuple[str, ...]:
    target = format_goal_value(result.target, unit)
    if result.criterion == "stay_above":
        target = f"≥ {target}"
    elif result.criterion == "stay_below":
        target = f"≤ {target}"
    expected = format_goal_value(result.expected, unit) if result.criterion == "reach" else "-"
    projected = format_goal_value(result.projected, unit)
    if result.projected_met is not None:
        projected += " ✓" if result.projected_met else " ✗"
    return (
        result.name,
        _kpi_cell(result),
        _status_cell(result),
        _progress_cell(result),
        f"{format_goal_value(result.current, unit)} / {target}",
        expected,
        projected,
        f"{result.period.label} due {_date(result.period.end)}",
        result.owner or "-",
    )


def flag_lines(results: Sequence[GoalResult]) -> list[str]:
    """What a reader should look at beyond the status, one line each."""
    lines = []
    for r in results:
        if r.achievability.flagged:
            lines.append(f"{r.name}: not achievable: {r.achievability.detail}")
        if r.relevance.status == "vanity":
            detail = r.relevance.detail.removesuffix(": a possible vanity metric")
            lines.append(f"{r.name}: possible vanity metric: {detail}")
        if r.review_due and r.review_due_at is not None:
            lines.append(f"{r.name}: due for review since {_date(r.review_due_at)}")
        lines.extend(f"{r.name}: problem: {problem}" for problem in r.problems)
    return lines


def goals_table(
    results: Sequence[GoalResult],
    units: Mapping[str, str] | None = None,
    *,
    colour: bool = False,
) -> str:
    """The goals as an aligned text table and their flags below it. ``units`` gives each KPI's
    unit (:func:`kpi_units`; without it values print as plain numbers); ``colour`` marks the
    status with ANSI colours, for a terminal only."""
    units = units or {}
    rows = [HEADER, *(_row(r, units.get(r.kpi)) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    status_column = HEADER.index("STATUS")
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        if colour and number > 0:
            code = _STATUS_COLOURS[results[number - 1].status]
            cells[status_column] = f"\x1b[{code}m{cells[status_column]}\x1b[0m"
        lines.append("  ".join(cells).rstrip())
    flags = flag_lines(results)
    if flags:
        lines += ["", *flags]
    return "\n".join(lines)
