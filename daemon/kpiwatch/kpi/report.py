"""The KPI table served by ``kpiwatch kpis`` and ``/api/v1/kpis``: values, previous, change."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kpiwatch.kpi.catalogue import KpiUnit
from kpiwatch.kpi.engine import InputTable, Results, aggregate, group_keys


def change_ratio(value: float | None, previous: float | None) -> float | None:
    """(value - previous) / |previous|; None when either is missing or previous is 0."""
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous)


def kpi_rows(
    results: Results, table: InputTable, window: int, by: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per KPI and group: value and previous value, absolute and relative change."""
    keys = group_keys(results.meta, by)
    rows: list[dict[str, Any]] = []
    for kpi in results.catalogue.kpis:
        d = kpi.definition
        current = aggregate(results, table, kpi.name, by, window, 0, keys)
        before = {
            tuple(sorted(g.labels.items())): g
            for g in aggregate(results, table, kpi.name, by, window, 1, keys)
        }
        for group in current:
            previous = before.get(tuple(sorted(group.labels.items())))
            prev_value = previous.value if previous else None
            rows.append(
                {
                    "kpi": d.name,
                    "title": d.title,
                    "objective": d.objective.value,
                    "unit": d.unit.value,
                    "direction": d.direction.value,
                    "labels": dict(group.labels),
                    "value": group.value,
                    "previous": prev_value,
                    "change": (
                        None
                        if group.value is None or prev_value is None
                        else group.value - prev_value
                    ),
                    "change_ratio": change_ratio(group.value, prev_value),
                    "numerator": group.numerator,
                    "denominator": group.denominator,
                    "accounts": group.accounts,
                }
            )
    return rows


def format_value(value: float | None, unit: str) -> str:
    """A value as a person reads it: ratios in %, money with 2 decimals, counts grouped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == KpiUnit.RATIO:
        return f"{value * 100:.2f}%"
    if unit == KpiUnit.CURRENCY:
        return f"{value:,.2f}"
    if unit == KpiUnit.SECONDS:
        return f"{value / 60:.1f} min" if value >= 60 else f"{value:.0f} s"
    if unit == KpiUnit.PER_POST or value != int(value):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def format_change(row: dict[str, Any]) -> str:
    """The change as the seed's KPI table writes it: points for ratios, amounts otherwise."""
    change = row["change"]
    if change is None:
        return "-"
    if row["unit"] == KpiUnit.RATIO:
        text = f"{change * 100:+.2f} pp"
    else:
        text = format_value(abs(change), row["unit"])
        text = ("+" if change >= 0 else "-") + text
    if row["change_ratio"] is not None:
        text += f" ({row['change_ratio'] * 100:+.1f}%)"
    return text


def table_lines(rows: Sequence[dict[str, Any]], by: Sequence[str]) -> list[str]:
    """The rows as an aligned text table."""
    header = [*(b.upper() for b in by), "KPI", "LABELS", "VALUE", "PREVIOUS", "CHANGE"]
    body = []
    for row in rows:
        labels = row["labels"]
        extra = ",".join(f"{k}={v}" for k, v in labels.items() if k not in by)
        body.append(
            [
                *(str(labels.get(b, "")) for b in by),
                row["kpi"],
                extra,
                format_value(row["value"], row["unit"]),
                format_value(row["previous"], row["unit"]),
                format_change(row),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *body]
    ]
