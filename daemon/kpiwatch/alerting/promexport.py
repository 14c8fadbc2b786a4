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
data_quality rules (PromQL cannot do them honestly), group rules on KPIs PromQL cannot
aggregate (custom KPIs over other KPIs, share of voice, KPIs paired by group), group change
rules on ratios (the previous window's numerators are not exported).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateError, nodes

from kpiwatch import vocabulary
from kpiwatch.alerting.templates import ENVIRONMENT
from kpiwatch.config import Config
from kpiwatch.config_alerting import Condition, RuleConfig
from kpiwatch.durations import format_duration
from kpiwatch.kpi.compiled import Catalogue, CompiledKpi

RULES_FILE = "kpiwatch-rules.yml"
TESTS_FILE = "kpiwatch-rules.test.yml"
RECORD_GROUP = "kpiwatch-kpi-records"
ALERT_GROUP = "kpiwatch-alerts"
#: The step of the generated tests (input samples and rule evaluations).
STEP = timedelta(minutes=1)
_NOT_COMPETITOR = ("competitor", "!=", "true")
_TEST_CURRENCIES = ("EUR", "USD")

Labels = dict[str, str]


@dataclass(frozen=True)
class ExportedRules:
    """The two files' text, and the rules (or parts of rules) not exported, with the reason."""

    rules_yaml: str
    tests_yaml: str
    skipped: list[tuple[str, str]]
    alerts: tuple[str, ...] = ()
    records: tuple[str, ...] = ()


def write_export(exported: ExportedRules, directory: Path) -> list[Path]:
    """Write ``kpiwatch-rules.yml`` and ``kpiwatch-rules.test.yml`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((RULES_FILE, exported.rules_yaml), (TESTS_FILE, exported.tests_yaml)):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# PromQL text --------------------------------------------------------------------------------
def promql_string(value: str) -> str:
    """``value`` as a double-quoted PromQL string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


def regex_escape(value: str) -> str:
    """``value`` matched literally in an RE2 regular expression."""
    return "".join(f"\\{c}" if c in _RE2_SPECIAL else c for c in value)


def _number(value: float) -> str:
    """A float as PromQL reads it."""
    return repr(float(value))


Matcher = tuple[str, str, str]


def selector(metric: str, matchers: Iterable[Matcher]) -> str:
    """``metric{name="value",...}`` with the matchers sorted."""
    inner = ",".join(f"{n}{op}{promql_string(v)}" for n, op, v in sorted(set(matchers)))
    return f"{metric}{{{inner}}}" if inner else metric


def scope_matchers(scope: Mapping[str, str | list[str]]) -> list[Matcher]:
    """A value: equality; a list of values: an anchored alternation of the escaped values."""
    out: list[Matcher] = []
    for name, wanted in sorted(scope.items()):
        values = wanted if isinstance(wanted, list) else [wanted]
        if len(values) == 1:
            out.append((name, "=", values[0]))
        else:
            out.append((name, "=~", "|".join(regex_escape(v) for v in values)))
    return out


def _labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={promql_string(v)}" for k, v in sorted(labels.items()))


# Go template output (to write the expected annotations of the tests) --------------------------
def go_value(value: float) -> str:
    """``fmt.Sprint`` of a float64 (what ``{{ $value }}`` prints)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # digits before the decimal point
    exp = point - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{prefix}{text}{'0' * (point - len(text))}"
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_humanize(value: float) -> str:
    """Prometheus's ``humanize`` template function."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _go_g(value)
    prefix = ""
    if abs(value) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix = p
            value /= 1000
        return _go_g(value) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return _go_g(value) + prefix


def go_humanize_percentage(value: float) -> str:
    """Prometheus's ``humanizePercentage`` template function."""
    return _go_g(value * 100) + "%"


def _go_g(value: float) -> str:
    """Go's ``%.4g`` (the same as C's and Python's for finite values)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


# templates ------------------------------------------------------------------------------------
class Unconvertible(ValueError):
    """A kpiwatch template Prometheus's template language cannot express."""


@dataclass(frozen=True)
class _Part:
    """A literal text, the alert's value in a format, or a label of the alert's series."""

    text: str = ""
    value_format: str | None = None  # raw, humanize, percent, signed_percent
    label: str | None = None


_VALUE_FORMATS = {
    "raw": "{{ $value }}",
    "number": "{{ $value | humanize }}",
    "percent": "{{ $value | humanizePercentage }}",
    "signed_percent": "{{ if ge $value 0.0 }}+{{ end }}{{ $value | humanizePercentage }}",
}


@dataclass(frozen=True)
class GoTemplate:
    """A converted template: its Prometheus text, and how to render it for the tests."""

    parts: tuple[_Part, ...]

    @property
    def text(self) -> str:
        out = []
        for part in self.parts:
            if part.value_format is not None:
                out.append(_VALUE_FORMATS[part.value_format])
            elif part.label is not None:
                out.append(f"{{{{ $labels.{part.label} }}}}")
            else:
                out.append(part.text.replace("{{", '{{ "{{" }}'))
        return "".join(out)

    def render(self, labels: Mapping[str, str], value: float) -> str:
        """What Prometheus renders for an alert of series ``labels`` and ``value``."""
        out = []
        for part in self.parts:
            if part.value_format == "raw":
                out.append(go_value(value))
            elif part.value_format == "number":
                out.append(go_humanize(value))
            elif part.value_format == "percent":
                out.append(go_humanize_percentage(value))
            elif part.value_format == "signed_percent":
                out.append(("+" if value >= 0 else "") + go_humanize_percentage(value))
            elif part.label is not None:
                out.append(labels.get(part.label, ""))
            else:
                out.append(part.text)
        return "".join(out)

    @property
    def labels_used(self) -> set[str]:
        return {p.label for p in self.parts if p.label is not None}


@dataclass(frozen=True)
class TemplateNames:
    """What the names of a rule's templates mean in the exported alert.

    ``value_name``: the template name that is the alert's ``$value`` (``value`` or ``change``);
    ``constants``: names rendered once by kpiwatch's template engine; ``own_labels``: labels of
    ``labels.X`` that are constants (kpiwatch's own alert labels).
    """

    value_name: str | None
    constants: Mapping[str, Any]
    own_labels: Mapping[str, str]
    series_labels: frozenset[str] = frozenset({"account", "platform"})


def convert_template(text: str, names: TemplateNames) -> GoTemplate:
    """``text`` (a kpiwatch template) in Prometheus's template language.

    Raises :class:`Unconvertible` naming the part that has no equivalent.
    """
    try:
        tree = ENVIRONMENT.parse(text)
    except TemplateError as exc:
        raise Unconvertible(f"the template does not parse: {exc}") from None
    parts: list[_Part] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            raise Unconvertible(
                f"{{% {type(node).__name__.lower()} %}} blocks have no Prometheus equivalent"
            )
        for child in node.nodes:
            parts.append(_convert_node(child, names))
    return GoTemplate(tuple(_merge_text(parts)))


def _merge_text(parts: list[_Part]) -> list[_Part]:
    out: list[_Part] = []
    for part in parts:
        plain = part.value_format is None and part.label is None
        if plain and out and out[-1].value_format is None and out[-1].label is None:
            out[-1] = _Part(out[-1].text + part.text)
        elif not plain or part.text:
            out.append(part)
    return out


def _convert_node(node: nodes.Node, names: TemplateNames) -> _Part:
    if isinstance(node, nodes.TemplateData):
        return _Part(node.data)
    if _is_constant(node, names):
        return _Part(_render_constant(node, names))
    if isinstance(node, nodes.Name) and node.name == names.value_name:
        return _Part(value_format="raw")
    label = _label_of(node, names)
    if label is not None:
        return _Part(label=label)
    if isinstance(node, nodes.Filter) and node.name in _VALUE_FORMATS:
        inner = node.node
        if isinstance(inner, nodes.Name) and inner.name == names.value_name:
            return _Part(value_format=node.name)
    raise Unconvertible(_why_not(node, names))


def _why_not(node: nodes.Node, names: TemplateNames) -> str:
    inner = node.node if isinstance(node, nodes.Filter) and node.node is not None else node
    name = inner.name if isinstance(inner, nodes.Name) else None
    shown = f"{{{{ {_describe(node)} }}}}"
    if name == "value" and names.value_name == "change":
        return f"{shown}: the alert's value is the relative change, use {{{{ change }}}}"
    if name == "value":
        return f"{shown}: kpiwatch's value is the age of the data, the alert's value is 1"
    if name == "change":
        return f"{shown}: a threshold alert's value is the KPI value, not its change"
    if name == "previous":
        return f"{shown}: the previous value is not the alert's value"
    if name in names.series_labels or _label_of(inner, names) is not None:
        return f"{shown}: only the alert's value takes filters in Prometheus templates"
    return f"{shown} has no Prometheus equivalent"


def _label_of(node: nodes.Node, names: TemplateNames) -> str | None:
    if isinstance(node, nodes.Name) and node.name in names.series_labels:
        return node.name
    key = None
    if isinstance(node, nodes.Getattr) and _is_name(node.node, "labels"):
        key = node.attr
    elif (
        isinstance(node, nodes.Getitem)
        and _is_name(node.node, "labels")
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        key = node.arg.value
    if key is None or not key.isidentifier():
        return None
    return key


def _is_name(node: nodes.Node, name: str) -> bool:
    return isinstance(node, nodes.Name) and node.name == name


def _is_constant(node: nodes.Node, names: TemplateNames) -> bool:
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.Name):
        return node.name in names.constants
    if isinstance(node, nodes.Getattr | nodes.Getitem) and _is_name(node.node, "labels"):
        key = _label_of(node, names)
        return key is not None and key in names.own_labels
    if isinstance(node, nodes.Filter) and node.node is not None:
        return (
            not node.dyn_args
            and not node.dyn_kwargs
            and all(isinstance(a, nodes.Const) for a in node.args)
            and all(isinstance(k.value, nodes.Const) for k in node.kwargs)
            and _is_constant(node.node, names)
        )
    return False


def _render_constant(node: nodes.Node, names: TemplateNames) -> str:
    tree = nodes.Template([nodes.Output([node], lineno=1)], lineno=1)
    tree.set_environment(ENVIRONMENT)
    context = {**names.constants, "labels": dict(names.own_labels)}
    try:
        return ENVIRONMENT.from_string(tree).render(context)
    except Exception as exc:  # a filter refusing its constant: kpiwatch renders the source
        raise Unconvertible(f"{{{{ {_describe(node)} }}}} does not render: {exc}") from None


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Filter) and node.node is not None:
        return f"{_describe(node.node)} | {node.name}"
    if isinstance(node, nodes.Getattr):
        return f"{_describe(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_describe(node.node)}[...]"
    return type(node).__name__.lower()


# KPIs on /metrics -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Aggregation:
    """How PromQL aggregates a KPI over accounts: ``ratio`` or ``sum``, and the labels kept."""

    kpi: CompiledKpi
    operation: str
    extra: tuple[str, ...]  # basis, currency

    @property
    def family(self) -> str:
        return self.kpi.definition.metric_name

    @property
    def numerator(self) -> str:
        return f"kpiwatch_kpi_{self.kpi.name}_numerator"

    @property
    def denominator(self) -> str:
        return f"kpiwatch_kpi_{self.kpi.name}_denominator"

    def expression(self, by: Sequence[str], matchers: Sequence[Matcher]) -> str:
        """The aggregate over the accounts ``matchers`` select, per ``by``, window and extra."""
        grouping = ", ".join(sorted({*by, "window", *self.extra}))
        if self.operation == "sum":
            series = selector(self.family, [*matchers, ("period", "=", "current")])
            return f"sum by ({grouping}) ({series})"
        num = selector(self.numerator, matchers)
        den = selector(self.denominator, matchers)
        return f"sum by ({grouping}) ({num}) / (sum by ({grouping}) ({den}) != 0)"

    def previous_expression(self, by: Sequence[str], matchers: Sequence[Matcher]) -> str:
        grouping = ", ".join(sorted({*by, "window", *self.extra}))
        series = selector(self.family, [*matchers, ("period", "=", "previous")])
        return f"sum by ({grouping}) ({series})"


def aggregation(kpi: CompiledKpi, config: Config) -> Aggregation | str:
    """How PromQL aggregates ``kpi`` over accounts as kpiwatch does, or why it cannot."""
    d = kpi.definition
    if kpi.derived is not None:
        return (
            "it is computed from other KPIs' group values (a custom KPI over ratio KPIs); only "
            "the per-account gauge exists"
        )
    if d.share_of_market:
        return (
            "its market is every own and competitor account of the group's platforms; summing "
            "the per-account market denominators would count it once per account"
        )
    if d.pairing == "group":
        return (
            "kpiwatch sums each input over the group before dividing (revenue and costs may "
            "come from different accounts); the exported numerators pair them per account"
        )
    extra = tuple(
        name for name, present in (("basis", bool(kpi.basis)), ("currency", kpi.money)) if present
    )
    if not kpi.has_ratio:
        return Aggregation(kpi, "sum", extra)
    if not config.kpis.export.components:
        return (
            "kpis.export.components is false, so its numerators and denominators are not exported"
        )
    return Aggregation(kpi, "ratio", extra)


def record_name(level: Sequence[str], agg: Aggregation) -> str:
    return f"{'_'.join(sorted(level)) or 'all'}:{agg.family}:{agg.operation}"


# the plan of one rule -------------------------------------------------------------------------
class Skip(Exception):
    """A rule that is not exported; the message is the reason."""


@dataclass
class _Test:
    """The input series and assertions of one alert's test group."""

    phases: list[int]  # samples per phase
    series: list[_Series]
    checks: list[tuple[int, list[tuple[Labels, float]]]]  # (eval step, [(labels, value)])


@dataclass
class _Series:
    name: str
    labels: Labels
    values: list[float | None]  # one per phase; None: no sample

    def text(self) -> str:
        return f"{self.name}{{{_labels_text(self.labels)}}}"

    def samples(self, phases: Sequence[int]) -> str:
        """The values in promtool's notation (``1x5`` is six samples, ``_x3`` three gaps)."""
        runs: list[list[Any]] = []
        for value, count in zip(self.values, phases, strict=True):
            if count <= 0:
                continue
            if runs and runs[-1][0] == value:
                runs[-1][1] += count
            else:
                runs.append([value, count])
        parts = []
        for value, count in runs:
            if value is None:
                parts.append("_" if count == 1 else f"_x{count}")
            else:
                text = _plain(value)
                parts.append(text if count == 1 else f"{text}x{count - 1}")
        return " ".join(parts)


def _plain(value: float) -> str:
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


@dataclass
class _Alert:
    rule: RuleConfig
    expr: str
    labels: dict[str, GoTemplate]
    annotations: dict[str, GoTemplate]
    test: _Test

    def as_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert": self.rule.name, "expr": self.expr}
        if self.rule.for_ > timedelta(0):
            out["for"] = format_duration(self.rule.for_)
        if self.rule.keep_firing_for > timedelta(0):
            out["keep_firing_for"] = format_duration(self.rule.keep_firing_for)
        out["labels"] = {k: self.labels[k].text for k in sorted(self.labels)}
        if self.annotations:
            out["annotations"] = {k: self.annotations[k].text for k in sorted(self.annotations)}
        return out

    def expected(self, series_labels: Labels, value: float) -> dict[str, Any]:
        labels = dict(series_labels)
        for key in sorted(self.labels):
            labels[key] = self.labels[key].render(series_labels, value)
        entry: dict[str, Any] = {"exp_labels": dict(sorted(labels.items()))}
        if self.annotations:
            entry["exp_annotations"] = {
                k: self.annotations[k].render(series_labels, value)
                for k in sorted(self.annotations)
            }
        return entry


@dataclass
class _Context:
    config: Config
    catalogue: Catalogue
    windows: list[str]
    records: dict[str, tuple[Aggregation, tuple[str, ...]]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _rule_window(rule: RuleConfig, config: Config) -> str:
    window = rule.watched_window or min(config.kpis.windows)
    if window not in config.kpis.windows:
        computed = ", ".join(format_duration(w) for w in config.kpis.windows)
        raise Skip(f"window {format_duration(window)} is not computed (kpis.windows: {computed})")
    return format_duration(window)


def _grouped(rule: RuleConfig) -> bool:
    return "account" not in rule.by


def _kpi_of(rule: RuleConfig, catalogue: Catalogue) -> CompiledKpi:
    kpi = catalogue.by_name.get(rule.kpi or "")
    if kpi is None:
        raise Skip(f"unknown KPI {rule.kpi!r}")
    return kpi


# the values the tests use ---------------------------------------------------------------------
def _step_of(value: float) -> float:
    return abs(value) / 2 if value != 0 else 0.5


def _threshold_targets(cond: Condition) -> tuple[float, float]:
    """(firing value, quiet value) of a threshold condition."""
    above, below = cond.above, cond.below
    if above is not None and below is not None:
        return above + _step_of(above), above / 2 + below / 2
    if above is not None:
        return above + _step_of(above), above - _step_of(above)
    assert below is not None
    return below - _step_of(below), below + _step_of(below)


def _change_targets(cond: Condition) -> tuple[float, float, float]:
    """(firing change, quiet change, direction +1/-1) of a change condition."""
    above, below = cond.change_above, cond.change_below
    if above is not None and below is not None:
        if above < below:
            raise Skip(
                f"change_above {above:g} is below change_below {below:g}: every change fires"
            )
        return below - _step_of(below), above / 2 + below / 2, -1.0
    if above is not None:
        return above + _step_of(above), above - _step_of(above), 1.0
    assert below is not None
    return below - _step_of(below), below + _step_of(below), -1.0


def _minutes(value: timedelta) -> int:
    return math.ceil(value / STEP)


def _clean(value: float) -> float:
    """``value`` to 12 significant digits: test inputs without float noise (0.1 + 0.2)."""
    return float(f"{value:.12g}")


def _split(total: float, members: int) -> list[float]:
    if members == 1:
        return [_clean(total)]
    return [_clean(total / 4), _clean(total * 3 / 4)]


# test accounts --------------------------------------------------------------------------------
def _first(scope: Mapping[str, str | list[str]], name: str) -> list[str]:
    wanted = scope.get(name)
    if wanted is None:
        return []
    return wanted if isinstance(wanted, list) else [wanted]


def _outside(values: Sequence[str], name: str) -> str:
    out = f"outside-{name}"
    while out in values:
        out += "-x"
    return out


@dataclass
class _Fixture:
    """The accounts of one alert's test: the watched ones and the decoys that must not count."""

    members: list[Labels]
    decoys: list[Labels]


def _fixture(rule: RuleConfig, template_labels: set[str]) -> _Fixture:
    scope = rule.scope
    base: Labels = {"platform": "example"}
    for name in sorted(scope):
        base[name] = _first(scope, name)[0]
    for name in [*rule.by, *sorted(template_labels)]:
        if name not in base and name not in ("account", "platform"):
            base[name] = f"{name}-1"
    accounts = _first(scope, "account")
    if _grouped(rule):
        ids = accounts[:2] if accounts else ["acct-a", "acct-b"]
    else:
        ids = accounts[:1] if accounts else ["acct-1"]
    members = [{**base, "account": i} for i in ids]
    decoys = []
    if scope:
        key = sorted(scope)[0]
        outside = {**members[0], key: _outside(_first(scope, key), key)}
        if key != "account" and not accounts:
            outside["account"] = "acct-outside"
        decoys.append(outside)
        dotted = _unescaped_match(scope)
        if dotted is not None:
            name, value = dotted
            dotted_decoy = {**members[0], name: value}
            if name != "account" and not accounts:
                dotted_decoy["account"] = "acct-dotted"
            decoys.append(dotted_decoy)
    if not rule.include_competitors:
        rival = {**members[0], "competitor": "true"}
        if not accounts:
            rival["account"] = "acct-competitor"
        decoys.append(rival)
    return _Fixture(members, decoys)


def _unescaped_match(scope: Mapping[str, str | list[str]]) -> tuple[str, str] | None:
    """A (label, value) outside the scope that its regex would match were ``.`` not escaped."""
    for name in sorted(scope):
        values = _first(scope, name)
        for value in values if len(values) > 1 else []:
            other = value.replace(".", "x")
            if other not in values:
                return name, other
    return None


def _kpi_extra(kpi: CompiledKpi, labels: Labels) -> Labels:
    out = dict(labels)
    if kpi.basis:
        out["basis"] = kpi.basis[0].name
    if kpi.money:
        out["currency"] = _TEST_CURRENCIES[0]
    return out


# threshold and change rules -------------------------------------------------------------------
def _kpi_alert(rule: RuleConfig, kpi: CompiledKpi, window: str, ctx: _Context) -> _Alert:
    kind = rule.condition.kind
    matchers: list[Matcher] = [*scope_matchers(rule.scope), ("window", "=", window)]
    if not rule.include_competitors:
        matchers.append(_NOT_COMPETITOR)
    agg: Aggregation | None = None
    if _grouped(rule):
        found = aggregation(kpi, ctx.config)
        if isinstance(found, str):
            raise Skip(f"KPI {kpi.name!r} cannot be aggregated in PromQL: {found}")
        agg = found
        if kind == "change" and agg.operation == "ratio":
            raise Skip(
                f"KPI {kpi.name!r} is a ratio and kpiwatch exports numerators and denominators "
                "of the current window only, so the previous group ratio cannot be computed "
                "in PromQL; use by: [account]"
            )
    if kind == "change" and not ctx.config.kpis.export.previous:
        raise Skip("kpis.export.previous is false, so the previous window is not exported")
    names = TemplateNames(
        value_name="value" if kind == "threshold" else "change",
        constants=_constants(rule, window),
        own_labels=_own_labels(rule, window),
    )
    labels, annotations = _converted(rule, names, ctx)
    templates = [*labels.values(), *annotations.values()]
    template_labels: set[str] = set().union(*(t.labels_used for t in templates))
    fixture = _fixture(rule, template_labels - {"account", "platform"})
    if kind == "threshold":
        expr, test = _threshold(rule, kpi, agg, matchers, fixture, ctx)
    else:
        expr, test = _change(rule, kpi, agg, matchers, fixture)
    return _Alert(rule, expr, labels, annotations, test)


def _constants(rule: RuleConfig, window: str | None) -> dict[str, Any]:
    cond = rule.condition
    threshold: Any = None
    for value in (cond.above, cond.below, cond.change_above, cond.change_below):
        if value is not None:
            threshold = value
            break
    if cond.no_data is not None:
        threshold = cond.no_data.total_seconds()
    return {
        "threshold": threshold,
        "kpi": rule.kpi or "",
        "metric": rule.metric or "",
        "window": window or "",
        "rule": rule.name,
        "severity": rule.severity,
    }


def _own_labels(rule: RuleConfig, window: str | None) -> dict[str, str]:
    out = {"alertname": rule.name, "severity": rule.severity}
    if rule.kpi is not None:
        out["kpi"] = rule.kpi
    if window is not None and rule.kpi is not None:
        out["window"] = window
    if rule.metric is not None:
        out["metric"] = rule.metric
    return out


def _converted(
    rule: RuleConfig, names: TemplateNames, ctx: _Context
) -> tuple[dict[str, GoTemplate], dict[str, GoTemplate]]:
    labels = {k: GoTemplate((_Part(v),)) for k, v in names.own_labels.items() if k != "alertname"}
    for key, text in rule.labels.items():
        try:
            labels[key] = convert_template(text, names)
        except Unconvertible as exc:
            raise Skip(f"label {key!r}: {exc}") from None
    annotations = {}
    for key, text in rule.annotations.items():
        try:
            annotations[key] = convert_template(text, names)
        except Unconvertible as exc:
            ctx.skipped.append(
                (rule.name, f"annotation {key!r}: {exc}; the exported rule has a plain text")
            )
            annotations[key] = GoTemplate((_Part(_plain_text(rule, names)),))
    return labels, annotations


def _plain_text(rule: RuleConfig, names: TemplateNames) -> str:
    cond = rule.condition
    subject = rule.kpi or rule.metric or "metric"
    window = names.constants.get("window")
    if window and rule.kpi:
        subject += f" ({window})"
    if cond.kind == "threshold":
        sides = []
        if cond.above is not None:
            sides.append(f"above {cond.above:g}")
        if cond.below is not None:
            sides.append(f"below {cond.below:g}")
        text = " or ".join(sides)
    elif cond.kind == "change":
        sides = []
        if cond.change_above is not None:
            sides.append(f"changed by more than {cond.change_above * 100:+.4g}%")
        if cond.change_below is not None:
            sides.append(f"changed by less than {cond.change_below * 100:+.4g}%")
        text = " or ".join(sides) + " against the previous window"
    else:
        assert cond.no_data is not None
        text = f"has had no value for {format_duration(cond.no_data)}"
    return f"{rule.name}: {subject} {text}"


def _condition(expression: str, above: float | None, below: float | None) -> str:
    sides = []
    if above is not None:
        sides.append(f"{expression} > {_number(above)}")
    if below is not None:
        sides.append(f"{expression} < {_number(below)}")
    return " or ".join(sides)


def _group_labels(member: Labels, by: Sequence[str], window: str, agg: Aggregation) -> Labels:
    out = {name: member[name] for name in by if member.get(name)}
    out["window"] = window
    if "basis" in agg.extra:
        out["basis"] = agg.kpi.basis[0].name
    if "currency" in agg.extra:
        out["currency"] = _TEST_CURRENCIES[0]
    return out


def _threshold(
    rule: RuleConfig,
    kpi: CompiledKpi,
    agg: Aggregation | None,
    matchers: list[Matcher],
    fixture: _Fixture,
    ctx: _Context,
) -> tuple[str, _Test]:
    cond = rule.condition
    fire, quiet = (_clean(v) for v in _threshold_targets(cond))
    window = next(v for n, _, v in matchers if n == "window")
    if agg is None:
        source = selector(kpi.definition.metric_name, [*matchers, ("period", "=", "current")])
        expr = _condition(source, cond.above, cond.below)
    else:
        name = record_name(rule.by, agg)
        scoped = set(rule.scope) <= set(rule.by) and not rule.include_competitors
        if scoped and ctx.records.get(name, (None, None))[1] == tuple(sorted(rule.by)):
            record_matchers = [m for m in matchers if m != _NOT_COMPETITOR]
            source = selector(name, record_matchers)
        else:
            source = f"({agg.expression(rule.by, matchers)})"
        expr = _condition(source, cond.above, cond.below)
    timeline = _Timeline(rule, phases=2)
    series: list[_Series] = []
    if agg is None:
        member = _kpi_extra(kpi, {**fixture.members[0], "window": window, "period": "current"})
        series.append(_Series(kpi.definition.metric_name, member, [fire, quiet]))
        for decoy in fixture.decoys:
            labels = _kpi_extra(kpi, {**decoy, "window": window, "period": "current"})
            series.append(_Series(kpi.definition.metric_name, labels, [fire, fire]))
        alert_labels = dict(member)
        value = fire
    else:
        count = len(fixture.members)
        values = _group_series(agg, fixture.members, window, [fire, quiet], count, series)
        value = values[0]
        decoy_value = _decoy_target(agg, cond, fire, quiet)
        weight = 100 * (4000.0 if count == 2 else 1000.0)
        for decoy in fixture.decoys:
            _decoy_series(agg, decoy, window, decoy_value, weight, 2, series)
        alert_labels = _group_labels(fixture.members[0], rule.by, window, agg)
    return expr, timeline.test(series, alert_labels, value)


def _group_series(
    agg: Aggregation,
    members: list[Labels],
    window: str,
    targets: list[float],
    count: int,
    out: list[_Series],
) -> list[float]:
    """Series of ``members`` whose aggregate is near each phase's target; the exact aggregates."""
    results = []
    if agg.operation == "sum":
        parts = [_split(t, count) for t in targets]
        for i, member in enumerate(members):
            labels = _kpi_extra(agg.kpi, {**member, "window": window, "period": "current"})
            out.append(_Series(agg.family, labels, [p[i] for p in parts]))
        for p in parts:
            results.append(p[0] + p[1] if count == 2 else p[0])
        return results
    dens = [1000.0, 3000.0][:count]
    # account a at half the target rate, b above it: the group is at the target
    nums = [
        [_clean(t * 500), _clean(t * 3500)] if count == 2 else [_clean(t * 1000)] for t in targets
    ]
    for i, member in enumerate(members):
        labels = _kpi_extra(agg.kpi, {**member, "window": window})
        out.append(_Series(agg.numerator, labels, [n[i] for n in nums]))
        out.append(_Series(agg.denominator, labels, [dens[i]] * len(targets)))
    for n in nums:
        results.append((n[0] + n[1]) / (dens[0] + dens[1]) if count == 2 else n[0] / dens[0])
    return results


def _decoy_target(agg: Aggregation, cond: Condition, fire: float, quiet: float) -> float:
    """A value that fires on its own and makes the group fire were the account counted."""
    if agg.operation == "ratio" and cond.above is None and (cond.below or 0) > 0:
        return 0.0
    return float(f"{10 * (fire - quiet):.6g}")


def _decoy_series(
    agg: Aggregation,
    labels: Labels,
    window: str,
    value: float,
    weight: float,
    phases: int,
    out: list[_Series],
) -> None:
    if agg.operation == "sum":
        series_labels = _kpi_extra(agg.kpi, {**labels, "window": window, "period": "current"})
        out.append(_Series(agg.family, series_labels, [value] * phases))
        return
    series_labels = _kpi_extra(agg.kpi, {**labels, "window": window})
    out.append(_Series(agg.numerator, series_labels, [_clean(value * weight)] * phases))
    out.append(_Series(agg.denominator, series_labels, [weight] * phases))


def _change(
    rule: RuleConfig,
    kpi: CompiledKpi,
    agg: Aggregation | None,
    matchers: list[Matcher],
    fixture: _Fixture,
) -> tuple[str, _Test]:
    cond = rule.condition
    fire, quiet, direction = _change_targets(cond)
    baseline = cond.min_baseline
    window = next(v for n, _, v in matchers if n == "window")
    family = kpi.definition.metric_name
    if agg is None:
        ignoring = "ignoring (basis, period)" if kpi.basis else "ignoring (period)"
        current = selector(family, [*matchers, ("period", "=", "current")])
        previous = selector(family, [*matchers, ("period", "=", "previous")])
        change = f"({current} - {ignoring} {previous}) / {ignoring} abs({previous})"
        guard = f"{ignoring} abs({previous}) > {_number(baseline)}"
    else:
        current = agg.expression(rule.by, matchers)
        previous = agg.previous_expression(rule.by, matchers)
        change = f"({current} - {previous}) / abs({previous})"
        guard = f"abs({previous}) > {_number(baseline)}"
    sides = _condition(f"({change})", cond.change_above, cond.change_below)
    expr = f"({sides}) and {guard}" if " or " in sides else f"{sides} and {guard}"
    level = max(100.0, 2 * baseline)
    extreme = baseline + direction * 1000 * max(baseline, 1.0)
    currents = [_clean(level + fire * level), _clean(level + quiet * level), extreme]
    previous_values = [level, level, baseline]
    timeline = _Timeline(rule, phases=3)
    series: list[_Series] = []
    if agg is None:
        member = _kpi_extra(kpi, {**fixture.members[0], "window": window})
        series.append(_Series(family, {**member, "period": "current"}, currents))
        series.append(_Series(family, {**member, "period": "previous"}, previous_values))
        for decoy in fixture.decoys:
            labels = _kpi_extra(kpi, {**decoy, "window": window})
            series.append(_Series(family, {**labels, "period": "current"}, [currents[0]] * 3))
            series.append(_Series(family, {**labels, "period": "previous"}, [level] * 3))
        alert_labels = {k: v for k, v in member.items() if not (k == "basis" and kpi.basis)}
        value = (currents[0] - previous_values[0]) / abs(previous_values[0])
    else:
        count = len(fixture.members)
        cur_parts = [_split(c, count) for c in currents[:2]] + [[extreme, 0.0][:count]]
        prev_parts = [_split(p, count) for p in previous_values[:2]] + [[baseline, 0.0][:count]]
        if count == 1:
            cur_parts[2], prev_parts[2] = [extreme], [baseline]
        for i, member in enumerate(fixture.members):
            labels = _kpi_extra(kpi, {**member, "window": window})
            series.append(
                _Series(family, {**labels, "period": "current"}, [c[i] for c in cur_parts])
            )
            series.append(
                _Series(family, {**labels, "period": "previous"}, [p[i] for p in prev_parts])
            )
        cur_sum = sum(cur_parts[0]) if count == 1 else cur_parts[0][0] + cur_parts[0][1]
        prev_sum = sum(prev_parts[0]) if count == 1 else prev_parts[0][0] + prev_parts[0][1]
        value = (cur_sum - prev_sum) / abs(prev_sum)
        decoy_current = _clean(level + 10 * (fire - quiet) * level)
        for decoy in fixture.decoys:
            labels = _kpi_extra(kpi, {**decoy, "window": window})
            series.append(_Series(family, {**labels, "period": "current"}, [decoy_current] * 3))
            series.append(_Series(family, {**labels, "period": "previous"}, [level] * 3))
        alert_labels = _group_labels(fixture.members[0], rule.by, window, agg)
    return expr, timeline.test(series, alert_labels, value)


class _Timeline:
    """Phases of a threshold or change test: firing, quiet, and (change) a guarded baseline.

    The firing phase lasts ``for`` plus 11 samples, the quiet one ``keep_firing_for`` plus 10,
    the baseline phase (previous value at ``min_baseline``, current value extreme) ``for`` plus
    10: an alert there would mean the baseline guard does not work. The checks sit on the exact
    steps where ``for`` and ``keep_firing_for`` end, so a wrong duration fails the test.
    """

    def __init__(self, rule: RuleConfig, phases: int) -> None:
        self.fire_at = _minutes(rule.for_)
        self.keep = _minutes(rule.keep_firing_for)
        self.phases = [self.fire_at + 11, self.keep + 10, self.fire_at + 10][:phases]

    def test(self, series: list[_Series], labels: Labels, value: float) -> _Test:
        firing = [(labels, value)]
        checks: list[tuple[int, list[tuple[Labels, float]]]] = []
        if self.fire_at:
            checks.append((self.fire_at - 1, []))
        checks.append((self.fire_at, firing))
        quiet_from = self.phases[0]
        if self.keep:
            checks.append((quiet_from + self.keep - 1, firing))
        checks.append((quiet_from + self.keep, []))
        if len(self.phases) == 3:
            checks.append((sum(self.phases) - 1, []))
        return _Test(list(self.phases), series, checks)


# no_data rules --------------------------------------------------------------------------------
def _no_data_alert(rule: RuleConfig, ctx: _Context) -> _Alert:
    limit = rule.condition.no_data
    assert limit is not None
    window = None
    if rule.kpi is not None:
        kpi = _kpi_of(rule, ctx.catalogue)
        window = _rule_window(rule, ctx.config)
        family = kpi.definition.metric_name
        extra: Labels = {"window": window, "period": "current"}
        base_matchers: list[Matcher] = [("window", "=", window), ("period", "=", "current")]
    else:
        metric = vocabulary.get(rule.metric or "")
        if metric is None:
            raise Skip(f"unknown metric {rule.metric!r}")
        family = metric.exported_name
        extra = {"window": format_duration(min(ctx.config.kpis.windows))}
        if metric.kind is not vocabulary.Kind.PERIOD:
            extra = {}
        base_matchers = []
    matchers = [*scope_matchers(rule.scope), *base_matchers]
    if not rule.include_competitors:
        matchers.append(_NOT_COMPETITOR)
    lookback = limit + max(limit, timedelta(minutes=10)) + rule.for_
    source = selector(family, matchers)
    expr = (
        f"group by (account, platform) (present_over_time({source}[{format_duration(lookback)}]))"
        f" unless group by (account, platform) "
        f"(present_over_time({source}[{format_duration(limit)}]))"
    )
    names = TemplateNames(None, _constants(rule, window), _own_labels(rule, window))
    labels, annotations = _converted(rule, names, ctx)
    fixture = _fixture(rule, set())
    member = fixture.members[0]
    # present for 6 samples, absent until the alert has fired, present again
    absent_from = 6
    first_true = 5 + int(limit / STEP) + 1
    fire_at = _minutes(rule.for_)
    keep = _minutes(rule.keep_firing_for)
    back = first_true + fire_at + 2
    phases = [absent_from, back - absent_from, keep + 11]
    series = [_Series(family, {**member, **extra}, [1.0, None, 1.0])]
    for decoy in fixture.decoys:
        series.append(_Series(family, {**decoy, **extra}, [1.0, None, 1.0]))
    alert_labels = {"account": member["account"], "platform": member["platform"]}
    firing = [(alert_labels, 1.0)]
    checks: list[tuple[int, list[tuple[Labels, float]]]] = [(5 + int(limit // STEP), [])]
    if fire_at:
        checks.append((first_true + fire_at - 1, []))
    checks.append((first_true + fire_at, firing))
    if keep:
        checks.append((back + keep - 1, firing))
    checks.append((back + keep, []))
    return _Alert(rule, expr, labels, annotations, _Test(phases, series, checks))


# records --------------------------------------------------------------------------------------
def _plan_records(rules: Sequence[RuleConfig], ctx: _Context) -> None:
    """Records of the groupings rules use (and per platform) of the KPIs they use."""
    wanted: dict[str, set[tuple[str, ...]]] = {}
    for rule in rules:
        if rule.kpi is None or rule.kpi not in ctx.catalogue.by_name:
            continue
        if rule.condition.kind not in ("threshold", "change"):
            continue
        groupings = wanted.setdefault(rule.kpi, set())
        groupings.add(("platform",))
        if _grouped(rule):
            groupings.add(tuple(sorted(rule.by)))
    for kpi_name in sorted(wanted):
        agg = aggregation(ctx.catalogue.by_name[kpi_name], ctx.config)
        if isinstance(agg, str):
            continue
        for grouping in sorted(wanted[kpi_name]):
            name = record_name(grouping, agg)
            if name not in ctx.records:
                ctx.records[name] = (agg, grouping)


def _records_yaml(ctx: _Context) -> list[dict[str, Any]]:
    out = []
    for name in sorted(ctx.records):
        agg, grouping = ctx.records[name]
        out.append({"record": name, "expr": agg.expression(grouping, [_NOT_COMPETITOR])})
    return out


def _records_test(ctx: _Context) -> dict[str, Any] | None:
    """One test group: every record on accounts in two groups, a competitor and other labels."""
    if not ctx.records:
        return None
    series: dict[str, _Series] = {}
    expected: dict[str, list[tuple[Labels, float]]] = {}
    windows = ctx.windows
    by_kpi: dict[str, list[str]] = {}
    for name, (agg, _) in sorted(ctx.records.items()):
        by_kpi.setdefault(agg.kpi.name, []).append(name)
    for names in by_kpi.values():
        agg = ctx.records[names[0]][0]
        groupings = [ctx.records[n][1] for n in names]
        labels_all = sorted({label for g in groupings for label in g})
        accounts = _record_accounts(agg, labels_all, windows)
        for account_labels, numbers in accounts:
            for family, value in numbers.items():
                s = _Series(family, account_labels, [value])
                series[s.text()] = s
        for name, grouping in zip(names, groupings, strict=True):
            expected[name] = _record_expectation(agg, grouping, accounts)
    samples = sorted(series.values(), key=_Series.text)
    return {
        "interval": _duration(STEP),
        "input_series": [{"series": s.text(), "values": s.samples([10])} for s in samples],
        "promql_expr_test": [
            {
                "expr": name,
                "eval_time": _duration(5 * STEP),
                "exp_samples": [
                    {"labels": f"{name}{{{_labels_text(labels)}}}", "value": value}
                    for labels, value in sorted(
                        expected[name], key=lambda item: sorted(item[0].items())
                    )
                ],
            }
            for name in sorted(expected)
        ],
    }


#: (numerator, denominator) of the record test's accounts: a and b in group 1, c in group 2,
#: a competitor in group 1 (left out), an account of group 1 with another basis or currency.
_RECORD_INPUTS = {
    "a": (1.0, 4.0),
    "b": (9.0, 12.0),
    "c": (3.0, 8.0),
    "competitor": (1000.0, 1000.0),
    "other": (2.0, 5.0),
}


def _record_accounts(
    agg: Aggregation, labels: Sequence[str], windows: Sequence[str]
) -> list[tuple[Labels, dict[str, float]]]:
    out = []
    alternative = (
        {"basis": agg.kpi.basis[1].name}
        if "basis" in agg.extra and len(agg.kpi.basis) > 1
        else {"currency": _TEST_CURRENCIES[1]}
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
        account = _kpi_extra(agg.kpi, {**account, "window": windows[0]})
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


# the files ------------------------------------------------------------------------------------
def _duration(value: timedelta) -> str:
    return format_duration(value)


def _alert_test(alert: _Alert) -> dict[str, Any]:
    test = alert.test
    return {
        "interval": _duration(STEP),
        "input_series": [
            {"series": s.text(), "values": s.samples(test.phases)}
            for s in sorted(test.series, key=_Series.text)
        ],
        "alert_rule_test": [
            {
                "eval_time": _duration(step * STEP),
                "alertname": alert.rule.name,
                "exp_alerts": [alert.expected(labels, value) for labels, value in firing],
            }
            for step, firing in test.checks
        ],
    }


_SKIP_KINDS = {
    "anomaly": (
        "anomaly rules compare the value with the median and MAD of same-weekday daily values; "
        "PromQL has no median absolute deviation over such a baseline, so kpiwatch evaluates "
        "them"
    ),
    "data_quality": (
        "data_quality rules judge each poll's samples (a metric missing from a poll, a counter "
        "going backwards, an implausible jump between two polls), which /metrics does not "
        "expose; kpiwatch evaluates them"
    ),
}


def _plan_alert(rule: RuleConfig, ctx: _Context) -> _Alert:
    kind = rule.condition.kind
    if kind in _SKIP_KINDS:
        raise Skip(_SKIP_KINDS[kind])
    for value in (
        rule.condition.above,
        rule.condition.below,
        rule.condition.change_above,
        rule.condition.change_below,
    ):
        if value is not None and not math.isfinite(value):
            raise Skip(f"the condition value {value} is not a finite number")
    if kind == "no_data":
        return _no_data_alert(rule, ctx)
    kpi = _kpi_of(rule, ctx.catalogue)
    window = _rule_window(rule, ctx.config)
    return _kpi_alert(rule, kpi, window, ctx)


def _header(source: str, ctx: _Context, what: str) -> str:
    lines = [
        f"# {what}, generated by `kpiwatch rules export` from {source}.",
        "# Do not edit: change the kpiwatch configuration and export again.",
        "# Format: Prometheus 2.42 (`promtool check rules`, `promtool test rules`).",
    ]
    if what.startswith("Prometheus rules"):
        notes = _kpi_notes(ctx)
        if notes:
            lines.append("#")
            lines.append("# KPIs PromQL cannot aggregate over accounts (per-account gauges only):")
            lines.extend(_comment(f"- {name}: {reason}") for name, reason in notes)
        if ctx.skipped:
            lines.append("#")
            lines.append("# Not exported, or exported with a plain annotation:")
            lines.extend(_comment(f"- {name}: {reason}") for name, reason in ctx.skipped)
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())


def _kpi_notes(ctx: _Context) -> list[tuple[str, str]]:
    out = []
    for kpi in sorted(ctx.catalogue.kpis, key=lambda k: k.name):
        found = aggregation(kpi, ctx.config)
        if isinstance(found, str):
            out.append((kpi.name, found))
    return out


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)


def export_rules(
    config: Config, catalogue: Catalogue, source: str = "its configuration"
) -> ExportedRules:
    """Prometheus rules equivalent to ``config.rules``, with their ``promtool`` tests.

    ``source`` names the configuration in the files' header (for example its path).
    """
    ctx = _Context(config, catalogue, [format_duration(w) for w in config.kpis.windows])
    _plan_records(config.rules, ctx)
    alerts: list[_Alert] = []
    for rule in config.rules:
        try:
            alerts.append(_plan_alert(rule, ctx))
        except Skip as exc:
            ctx.skipped.append((rule.name, str(exc)))
    groups = []
    records = _records_yaml(ctx)
    if records:
        groups.append({"name": RECORD_GROUP, "rules": records})
    if alerts:
        groups.append({"name": ALERT_GROUP, "rules": [a.as_yaml() for a in alerts]})
    tests: list[dict[str, Any]] = []
    records_test = _records_test(ctx)
    if records_test is not None:
        tests.append(records_test)
    tests.extend(_alert_test(alert) for alert in alerts)
    tests_doc: dict[str, Any] = {
        "rule_files": [RULES_FILE],
        "evaluation_interval": _duration(STEP),
    }
    if len(groups) > 1:
        tests_doc["group_eval_order"] = [g["name"] for g in groups]
    tests_doc["tests"] = tests
    rules_yaml = _header(source, ctx, "Prometheus rules") + _dump({"groups": groups})
    tests_yaml = _header(source, ctx, f"Unit tests of {RULES_FILE}") + _dump(tests_doc)
    return ExportedRules(
        rules_yaml,
        tests_yaml,
        list(ctx.skipped),
        tuple(a.rule.name for a in alerts),
        tuple(sorted(ctx.records)),
    )


__all__ = [
    "ExportedRules",
    "GoTemplate",
    "TemplateNames",
    "Unconvertible",
    "convert_template",
    "export_rules",
    "promql_string",
    "regex_escape",
    "scope_matchers",
    "write_export",
]
