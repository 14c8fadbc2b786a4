"""The promtool test of the recording rules: every record's value on hand-picked accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kpiwatch.alerting.promexport.aggregation import Aggregation, Records
from kpiwatch.alerting.promexport.fixtures import (
    STEP,
    TEST_CURRENCIES,
    Labels,
    Series,
    kpi_labels,
)
from kpiwatch.alerting.promexport.promql import labels_text
from kpiwatch.durations import format_duration

#: (numerator, denominator) of the record test's accounts: a and b in group 1, c in group 2,
#: a competitor in group 1 (left out), an account of group 1 with another basis or currency.
_RECORD_INPUTS = {
    "a": (1.0, 4.0),
    "b": (9.0, 12.0),
    "c": (3.0, 8.0),
    "competitor": (1000.0, 1000.0),
    "other": (2.0, 5.0),
}


def records_test_group(records: Records, windows: Sequence[str]) -> dict[str, Any] | None:
    """One test group: every record on accounts in two groups, a competitor and other labels.

    ``windows`` are the computed windows (formatted); None when there are no records.
    """
    if not records:
        return None
    series: dict[str, Series] = {}
    expected: dict[str, list[tuple[Labels, float]]] = {}
    by_kpi: dict[str, list[str]] = {}
    for name, (agg, _) in sorted(records.items()):
        by_kpi.setdefault(agg.kpi.name, []).append(name)
    for names in by_kpi.values():
        agg = records[names[0]][0]
        groupings = [records[n][1] for n in names]
        labels_all = sorted({label for g in groupings for label in g})
        accounts = _record_accounts(agg, labels_all, windows)
        for account_labels, numbers in accounts:
            for family, value in numbers.items():
                s = Series(family, account_labels, [value])
                series[s.text()] = s
        for name, grouping in zip(names, groupings, strict=True):
            expected[name] = _record_expectation(agg, grouping, accounts)
    samples = sorted(series.values(), key=Series.text)
    return {
        "interval": format_duration(STEP),
        "input_series": [{"series": s.text(), "values": s.samples([10])} for s in samples],
        "promql_expr_test": [
            {
                "expr": name,
                "eval_time": format_duration(5 * STEP),
                "exp_samples": [
                    {"labels": f"{name}{{{labels_text(labels)}}}", "value": value}
                    for labels, value in sorted(
                        expected[name], key=lambda item: sorted(item[0].items())
                    )
                ],
            }
            for name in sorted(expected)
        ],
    }


def _record_accounts(
    agg: Aggregation, labels: Sequence[str], windows: Sequence[str]
) -> list[tuple[Labels, dict[str, float]]]:
    """The accounts' labels and their series values (per family) of one KPI's records."""
    out = []
    alternative = (
        {"basis": agg.kpi.basis[1].name}
        if "basis" in agg.extra and len(agg.kpi.basis) > 1
        else {"currency": TEST_CURRENCIES[1]}
        if "currency" in agg.extra
        else None
    )
    for key, (num, den) in _RECORD_INPUTS.items():
        if key == "other" and alternative is None:
            continue
        group = 2 if key == "c" else 1
        account: Labels = {"platform": f"platform-{group}", "account": f"acct-{key}"}
        for name in labels:
            if name != "platform":
                account[name] = f"{name}-{group}"
        if key == "competitor":
            account["competitor"] = "true"
        account = kpi_labels(agg.kpi, {**account, "window": windows[0]})
        if key == "other" and alternative is not None:
            account.update(alternative)
        for window in windows[: 2 if key == "a" else 1]:
            window_labels = {**account, "window": window}
            factor = 1.0 if window == windows[0] else 10.0
            if agg.operation == "ratio":
                values = {agg.numerator: num * factor, agg.denominator: den * factor}
            else:
                values = {agg.family: num * 100 * factor}
                out.append(({**window_labels, "period": "previous"}, {agg.family: 7777.0 * factor}))
                window_labels["period"] = "current"
            out.append((window_labels, values))
    return out


def _record_expectation(
    agg: Aggregation,
    grouping: Sequence[str],
    accounts: list[tuple[Labels, dict[str, float]]],
) -> list[tuple[Labels, float]]:
    """The record's samples: per group, the ratio of the sums or the sum (no competitors)."""
    keep = sorted({*grouping, "window", *agg.extra})
    sums: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for labels, values in accounts:
        if labels.get("competitor") == "true" or labels.get("period") == "previous":
            continue
        key = tuple((k, labels[k]) for k in keep if labels.get(k))
        total = sums.setdefault(key, [0.0, 0.0])
        if agg.operation == "ratio":
            total[0] += values[agg.numerator]
            total[1] += values[agg.denominator]
        else:
            total[0] += values[agg.family]
    out = []
    for key, (num, den) in sums.items():
        out.append((dict(key), num / den if agg.operation == "ratio" else num))
    return out
