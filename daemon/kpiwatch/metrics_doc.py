"""Renders docs/metrics.md from the raw metric vocabulary and the self-metric catalogue.

Run ``python -m kpiwatch.metrics_doc > docs/metrics.md`` after changing either catalogue; a
test fails while the committed file differs from :func:`render_metrics_doc`.
"""

from __future__ import annotations

import sys

from kpiwatch import vocabulary
from kpiwatch.errors import FAILURE_REASONS
from kpiwatch.runtime import DURATION_BUCKETS
from kpiwatch.selfmetrics import (
    ACCOUNT_LABELS,
    ALERT_METRICS,
    GOAL_METRICS,
    SELF_METRICS,
    SelfMetric,
)
from kpiwatch.vocabulary import Kind

_KINDS = {
    Kind.CURRENT: "A level at the moment of the poll (followers). No `window` label.",
    Kind.PERIOD: (
        "An aggregate over the window that ends at the sample time (impressions over 1d). "
        "Always has a `window` label; one account may export several windows of a metric."
    ),
    Kind.CUMULATIVE: (
        "A running total since the account began (posts published). No `window` label. "
        "It is a gauge, not a Prometheus counter: platforms may correct it downwards."
    ),
}

_HEADER = """\
# Metrics

<!-- Generated from daemon/kpiwatch/vocabulary.py and daemon/kpiwatch/selfmetrics.py by
     `python -m kpiwatch.metrics_doc > docs/metrics.md`. Do not edit by hand:
     tests/unit/test_metrics_doc.py fails while this file and the catalogues differ. -->

kpiwatch exports three kinds of metrics on `GET /metrics`:

- **raw metrics**, one gauge per metric of the platform-neutral vocabulary, holding the value
  each account's last poll returned; every platform plugin translates what its API returns into
  these names, and KPIs read only these names;
- **self-metrics** about kpiwatch itself: whether each account's polls succeed, how long they
  take, why they fail, the configuration reload status and the exporter's own figures;
- **KPI metrics**, computed by the KPI engine from the stored history: one gauge per KPI, the
  numerators and denominators of ratios, and the content segments (docs/kpis.md defines them).

Nothing else appears on `/metrics`: a test renders every kind of raw and self series and fails
on a family that is not in one of the tables below, and `promtool check metrics` has no
findings on it.

## Conventions

- **Names.** Prefix `kpiwatch_`, snake case, base units (`_seconds`), `_total` only on
  counters, ratios from 0 to 1 end in `_ratio`. A raw metric called `followers` in the
  vocabulary is exported as `kpiwatch_followers`.
- **Labels of an account's series.** `platform` (the plugin's platform name), `account` (the
  account id from the configuration), then the account's own `labels:` from the
  configuration, and `competitor="true"` on competitor accounts only (the label is absent on
  the others, so select own accounts with `competitor=""`). Labels never depend on the shard
  a replica serves.
- **Labels of raw metrics** add `window` on period metrics and the dimensions the table lists
  (`source`, `medium`, `currency`, `campaign`) when the platform reports them. These names,
  and `reason`, `job`, `instance`, `le` and `quantile`, cannot be used as account labels.
- **Missing is not zero.** A metric a platform did not return has no series; it is never
  exported as 0. A series disappears when its account is removed from the configuration.
  A 0 is a zero the platform reported. Alert on missing data with `absent()` or on
  `kpiwatch_up` and `kpiwatch_last_success_timestamp_seconds`.
- **Freshness.** Samples carry no timestamps (Prometheus assigns the scrape time); the value
  is the one of the account's last successful poll, which may be up to one poll interval
  old. `time() - kpiwatch_last_success_timestamp_seconds` says how old.
- **Rendering.** The exposition is rendered after changes (at most once per
  `server.metrics_min_render_interval`), off the event loop, and served from cache in the
  Prometheus text format 0.0.4 or, when the scraper asks for it, OpenMetrics 1.0.0; both can be
  gzip-compressed.

### Kinds

| Kind | Meaning |
|---|---|
"""

_WINDOWS = """
### Windows

The `window` label of a period metric is a duration in its canonical spelling: `1d`, `7d`,
`28d`, `90d` (a platform's 24-hour figure is exported as `1d`, a weekly one as `7d`). Which
windows an account has depends on what its platform's API offers; compare values only within
one window.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _codes(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "-"


def _reason_text(reason: str, meaning: str) -> str:
    """The first paragraph of a reason's description, as a sentence."""
    if reason == "error":
        return "The plugin raised a CollectError with no more specific reason."
    text = " ".join(meaning.split("\n\n")[0].split())
    return _cell(text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."))


def _raw_section() -> list[str]:
    lines = [
        "## Raw metrics",
        "",
        "All raw metrics are gauges with the labels of their account (above). Unit `currency` is",
        "the account's own currency, named by the `currency` label.",
        "",
    ]
    groups: dict[str, list[vocabulary.MetricDef]] = {}
    for metric in vocabulary.METRICS:
        groups.setdefault(metric.group or "other", []).append(metric)
    for group, metrics in groups.items():
        lines += [
            f"### {group.capitalize()}",
            "",
            "| Metric | Unit | Kind | Dimensions | Per post | Description |",
            "|---|---|---|---|---|---|",
        ]
        for m in metrics:
            dims = _codes(m.dimensions)
            per_post = "yes" if m.per_post else "-"
            lines.append(
                f"| `{m.exported_name}` | {m.unit.value} | {m.kind.value} | {dims} "
                f"| {per_post} | {_cell(m.description)} |"
            )
        lines.append("")
    lines += [
        "*Per post*: the metric may also appear in a post's lifetime counters, which feed",
        "content-type segmentation and top-post reports rather than labels (post ids and titles",
        "are never labels).",
        "",
    ]
    return lines


def _plain_row(m: SelfMetric) -> str:
    """The table row of a self-metric without account labels."""
    labels = ", ".join(f"`{label}`" for label in m.labels)
    return f"| `{m.name}` | {m.type} | {m.unit or '-'} | {labels or '-'} | {_cell(m.description)} |"


def _self_section() -> list[str]:
    lines = [
        "## Self-metrics",
        "",
        "`<account>` stands for the labels of an account's series: `platform`, `account`, the",
        "account's own labels and `competitor` (on competitor accounts only).",
        "",
        "| Metric | Type | Unit | Labels | Description |",
        "|---|---|---|---|---|",
    ]
    for m in SELF_METRICS:
        names = [f"`{label}`" for label in m.labels]
        if m.labels[: len(ACCOUNT_LABELS)] == ACCOUNT_LABELS:
            names[: len(ACCOUNT_LABELS)] = ["`<account>`"]
        labels = ", ".join(names)
        lines.append(
            f"| `{m.name}` | {m.type} | {m.unit or '-'} | {labels or '-'} "
            f"| {_cell(m.description)} |"
        )
    lines += [
        "",
        "### Alerting",
        "",
        "The rule engine and the notification outbox (docs/alerting.md) export:",
        "",
        "| Metric | Type | Unit | Labels | Description |",
        "|---|---|---|---|---|",
    ]
    lines += [_plain_row(m) for m in ALERT_METRICS]
    lines += [
        "",
        "### Goals",
        "",
        "The goal tracker (docs/goals.md) exports, for every goal of the configuration (label",
        "`goal`, the goal's name), the figures of its current period. Unit \"KPI's unit\" is",
        "the unit of the goal's KPI (the `unit` label of `kpiwatch_goal_info`); ratios run from",
        "0 to 1. A value that is not known has no series.",
        "",
        "| Metric | Type | Unit | Labels | Description |",
        "|---|---|---|---|---|",
    ]
    lines += [_plain_row(m) for m in GOAL_METRICS]
    buckets = ", ".join(f"{b:g}" for b in DURATION_BUCKETS)
    lines += [
        "",
        "The buckets of `kpiwatch_collect_duration_seconds` are",
        f"{buckets} seconds and +Inf.",
        "`kpiwatch_build_info` and `kpiwatch_goal_info` are info metrics: in the Prometheus text",
        "format their TYPE is `gauge`, in OpenMetrics `info` (families `kpiwatch_build` and",
        "`kpiwatch_goal`).",
        "",
        "### Failure reasons",
        "",
        "The `reason` label of `kpiwatch_collect_failures_total` (and `last_error.reason` in",
        "`GET /api/v1/status`) is one of:",
        "",
        "| Reason | Meaning |",
        "|---|---|",
    ]
    for reason, meaning in FAILURE_REASONS.items():
        lines.append(f"| `{reason}` | {_reason_text(reason, meaning)} |")
    lines += [
        "",
        "### Useful queries",
        "",
        "| Question | PromQL |",
        "|---|---|",
        "| Accounts whose last poll failed | `kpiwatch_up == 0` |",
        "| Accounts not polled successfully for 2 hours "
        "| `time() - kpiwatch_last_success_timestamp_seconds > 7200` |",
        "| Failures per reason over the last hour "
        "| `sum by (platform, reason) (increase(kpiwatch_collect_failures_total[1h]))` |",
        "| 90th percentile poll duration by platform "
        "| `histogram_quantile(0.9, sum by (platform, le) "
        "(rate(kpiwatch_collect_duration_seconds_bucket[1h])))` |",
        "| The last configuration reload failed | `kpiwatch_config_last_reload_successful == 0` |",
        '| Own accounts only (no competitors) | `kpiwatch_followers{competitor=""}` |',
        "",
    ]
    return lines


def _kpi_section() -> list[str]:
    """The KPI families of the default configuration, from the KPI catalogue."""
    from kpiwatch.kpi.compiled import build_catalogue
    from kpiwatch.kpi.exposition import kpi_headers

    lines = [
        "",
        "## KPI metrics",
        "",
        "Every gauge below carries the account's labels (`platform`, `account`, the account's",
        "own labels, `competitor`) and `window`; KPI values also `period` (`current` or",
        "`previous`), KPIs with a basis chain `basis`, money KPIs `currency`, segments the",
        "segment (`content_type`, `weekday` or `hour`). Custom KPIs (`kpis.custom`) add one",
        "`kpiwatch_kpi_<name>` family each; settings that make a KPI a ratio add `_ratio`.",
        "Formulas, units and worked examples: [kpis.md](kpis.md).",
        "",
        "| Metric | Type | Description |",
        "|---|---|---|",
    ]
    for key, header in kpi_headers(build_catalogue()):
        text = header.text.decode().split("\n", 1)[0].split(" ", 3)[3]
        kind = "info" if key == "kpiwatch_kpi_info" else "gauge"
        lines.append(f"| `{key}` | {kind} | {_cell(text)} |")
    lines.append("")
    return lines


def render_metrics_doc() -> str:
    """The text of docs/metrics.md."""
    lines = [_HEADER.rstrip("\n")]
    lines += [f"| {kind.value} | {_cell(text)} |" for kind, text in _KINDS.items()]
    lines.append(_WINDOWS)
    lines += _raw_section()
    lines += _self_section()
    lines += _kpi_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.write(render_metrics_doc())


if __name__ == "__main__":
    main()
