"""The PromQL expressions of exported alerting rules: threshold, change and no_data."""

from __future__ import annotations

from datetime import timedelta

from kpiwatch.alerting.promexport.aggregation import Aggregation, Records, record_name
from kpiwatch.alerting.promexport.promql import NOT_COMPETITOR, Matcher, number, selector
from kpiwatch.config_alerting import RuleConfig
from kpiwatch.durations import format_duration
from kpiwatch.kpi.compiled import CompiledKpi


def comparison(expression: str, above: float | None, below: float | None) -> str:
    """``expression > above or expression < below``, with the sides that are given."""
    sides = []
    if above is not None:
        sides.append(f"{expression} > {number(above)}")
    if below is not None:
        sides.append(f"{expression} < {number(below)}")
    return " or ".join(sides)


def threshold_expr(
    rule: RuleConfig,
    kpi: CompiledKpi,
    agg: Aggregation | None,
    matchers: list[Matcher],
    records: Records,
) -> str:
    """The KPI gauge (``agg`` None) or the group aggregate compared with above/below.

    The aggregate is the record when the scope only names ``by`` labels and competitors are
    left out, else the aggregation over the scoped accounts.
    """
    cond = rule.condition
    if agg is None:
        source = selector(kpi.definition.metric_name, [*matchers, ("period", "=", "current")])
        return comparison(source, cond.above, cond.below)
    name = record_name(rule.by, agg)
    scoped = set(rule.scope) <= set(rule.by) and not rule.include_competitors
    if scoped and records.get(name, (None, None))[1] == tuple(sorted(rule.by)):
        source = selector(name, [m for m in matchers if m != NOT_COMPETITOR])
    else:
        source = f"({agg.expression(rule.by, matchers)})"
    return comparison(source, cond.above, cond.below)


def change_expr(
    rule: RuleConfig, kpi: CompiledKpi, agg: Aggregation | None, matchers: list[Matcher]
) -> str:
    """``(current - previous) / |previous|`` compared, where ``|previous| > min_baseline``."""
    cond = rule.condition
    baseline = cond.min_baseline
    if agg is None:
        family = kpi.definition.metric_name
        ignoring = "ignoring (basis, period)" if kpi.basis else "ignoring (period)"
        current = selector(family, [*matchers, ("period", "=", "current")])
        previous = selector(family, [*matchers, ("period", "=", "previous")])
        change = f"({current} - {ignoring} {previous}) / {ignoring} abs({previous})"
        guard = f"{ignoring} abs({previous}) > {number(baseline)}"
    else:
        current = agg.expression(rule.by, matchers)
        previous = agg.previous_expression(rule.by, matchers)
        change = f"({current} - {previous}) / abs({previous})"
        guard = f"abs({previous}) > {number(baseline)}"
    sides = comparison(f"({change})", cond.change_above, cond.change_below)
    return f"({sides}) and {guard}" if " or " in sides else f"{sides} and {guard}"


def no_data_expr(family: str, matchers: list[Matcher], limit: timedelta, for_: timedelta) -> str:
    """Accounts with a sample within ``limit + max(limit, 10m) + for_`` but none in ``limit``."""
    lookback = limit + max(limit, timedelta(minutes=10)) + for_
    source = selector(family, matchers)
    return (
        f"group by (account, platform) (present_over_time({source}[{format_duration(lookback)}]))"
        f" unless group by (account, platform) "
        f"(present_over_time({source}[{format_duration(limit)}]))"
    )
