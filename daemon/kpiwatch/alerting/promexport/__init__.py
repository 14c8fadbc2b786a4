"""Prometheus rules equivalent to kpiwatch's rules, and a ``promtool test rules`` file for them.

``kpiwatch rules export`` writes two files in the format of Prometheus 2.42:

* ``kpiwatch-rules.yml``: the group ``kpiwatch-kpi-records`` (recording rules of KPI formulas)
  and the group ``kpiwatch-alerts`` (one alerting rule per exported kpiwatch rule);
* ``kpiwatch-rules.test.yml``: for every alert, input series that make it fire and then stay
  quiet, with the exact labels and annotations expected; for every record, its value on
  hand-picked inputs (sums of small integers, so the expected values are exact).

**Recording rules** are named ``<level>:<family>:<operation>`` (the level:metric:operations
convention). The level is the rule's ``by`` labels, sorted and joined by ``_`` (``brand``,
``brand_region``), or ``all`` for ``by: []``; the family is the KPI's exported family
(``kpiwatch_kpi_engagement_rate_ratio``); the operation is ``ratio`` (the sum of the accounts'
``_numerator`` over the sum of their ``_denominator``, never an average of ratios; a zero sum of
denominators gives no value) or ``sum`` (the sum of the accounts' values, for KPIs that do not
divide). A record keeps ``window`` and, where the KPI has them, ``basis`` and ``currency``; it
covers the current window only (kpiwatch exports numerators for the current window only) and
leaves competitor accounts out, as kpiwatch's groups do. Records exist for the groupings rules
use, plus ``platform``, for the KPIs rules use.

**Alerting rules** (``alert`` is the rule's name): a threshold rule compares the KPI gauge of the
current period (``by`` containing ``account``: the per-account gauge with all its labels) or the
group aggregate (a record when the scope only names ``by`` labels, else the same aggregate over
the scoped accounts) with ``above``/``below``. A change rule computes ``(current - previous) /
|previous|`` of the same window and judges it only where ``|previous| > min_baseline``, as
kpiwatch does. A ``no_data`` rule fires for an account whose KPI or metric had a value within
``no_data + max(no_data, 10m) + for`` but none in the last ``no_data``: unlike kpiwatch,
Prometheus forgets a series after that look-back, and a KPI that never had a value does not
fire. ``scope`` becomes label matchers (a list: an anchored regex alternation of escaped values),
competitors are left out unless ``include_competitors``; ``for``, ``keep_firing_for``,
``severity``, ``kpi``/``metric``, ``window`` and the rule's labels are kept.

Templates: ``{{ value }}`` becomes ``{{ $value }}`` (the KPI value of a threshold rule, ``{{
change }}`` of a change rule), ``| number`` ``humanize``, ``| percent`` ``humanizePercentage``,
``| signed_percent`` the same with a ``+`` on rises; ``account``, ``platform`` and ``labels.X``
become ``{{ $labels.X }}``; names that do not change per alert (``threshold``, ``kpi``,
``window``, ``rule``, ``severity``, ``metric``) are rendered by kpiwatch's own template engine.
An annotation using anything else is replaced by a plain text; a label that cannot be converted
keeps the rule out.

Not exported, each listed in :attr:`ExportedRules.skipped` with the reason: anomaly and
data_quality rules (PromQL cannot do them honestly), goal rules (kpiwatch's goal tracker judges
them), group rules on KPIs PromQL cannot
aggregate (custom KPIs over other KPIs, share of voice, KPIs paired by group), group change
rules on ratios (the previous window's numerators are not exported).
"""

from kpiwatch.alerting.promexport.export import (
    ALERT_GROUP,
    RECORD_GROUP,
    RULES_FILE,
    TESTS_FILE,
    ExportedRules,
    export_rules,
    write_export,
)
from kpiwatch.alerting.promexport.goformat import go_humanize, go_humanize_percentage, go_value
from kpiwatch.alerting.promexport.promql import (
    promql_string,
    regex_escape,
    scope_matchers,
    selector,
)
from kpiwatch.alerting.promexport.templates import (
    GoTemplate,
    TemplateNames,
    Unconvertible,
    convert_template,
)

__all__ = [
    "ALERT_GROUP",
    "RECORD_GROUP",
    "RULES_FILE",
    "TESTS_FILE",
    "ExportedRules",
    "GoTemplate",
    "TemplateNames",
    "Unconvertible",
    "convert_template",
    "export_rules",
    "go_humanize",
    "go_humanize_percentage",
    "go_value",
    "promql_string",
    "regex_escape",
    "scope_matchers",
    "selector",
    "write_export",
]
