"""Renders docs/kpis.md from the KPI catalogue and the ``kpis:`` settings models.

Run ``python -m kpiwatch.kpis_doc > docs/kpis.md`` after changing the catalogue, the formula
language or the settings; a test fails while the committed file differs from
:func:`render_kpis_doc`. Worked examples are computed here with ``Expression.evaluate``.
"""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

import annotated_types
from pydantic import BaseModel

from kpiwatch import vocabulary
from kpiwatch.config import DEFAULT_WINDOWS, CustomKpi, KpiExportSettings, KpiSettings
from kpiwatch.config import SegmentSettings as SegmentSettingsModel
from kpiwatch.durations import format_duration
from kpiwatch.kpi.catalogue import INLINED, KpiDefinition, KpiUnit, Objective, builtin_kpis
from kpiwatch.kpi.compiled import KpiDefinitionError, build_catalogue
from kpiwatch.kpi.engine import PERIOD_NAMES
from kpiwatch.kpi.exposition import SEGMENT_FAMILIES
from kpiwatch.kpi.expressions import FUNCTIONS, Ref, parse
from kpiwatch.kpi.segments import DIMENSIONS, WEEKDAYS

#: The settings of ``kpis:`` that change built-in definitions: (section, field, another value
#: as an example, or None for a Literal field, whose other choices are the alternatives).
DEFINITION_SETTINGS: tuple[tuple[str, str, object], ...] = (
    ("interactions", "components", ["likes", "comments", "shares", "saves", "clicks"]),
    ("engagement_rate", "basis", ["followers"]),
    ("virality_rate", "basis", ["reach"]),
    ("conversion_rate", "basis", ["clicks"]),
    ("conversation_rates", "per", None),
    ("cost_per_acquisition", "per", None),
    ("roi", "costs", ["spend"]),
    ("roi", "margin", 0.4),
    ("referral_traffic", "mediums", ["social", "paid_social"]),
)

#: The custom KPIs of the example configuration in the section on custom KPIs.
CUSTOM_EXAMPLE: tuple[dict[str, str], ...] = (
    {
        "name": "video_view_rate",
        "title": "Video view rate",
        "expr": "video_views / impressions",
        "unit": "ratio",
        "objective": "reach",
        "description": "Video views per impression.",
    },
    {"name": "conversations", "expr": "comments + replies"},
    {
        "name": "conversations_per_post",
        "expr": "conversations / published_posts",
        "unit": "per_post",
    },
    {
        "name": "social_session_share",
        "expr": 'sessions(medium="social") / sessions',
        "unit": "ratio",
        "objective": "roi",
    },
    {
        "name": "service_score",
        "expr": "response_rate * customer_satisfaction",
        "unit": "ratio",
        "objective": "loyalty",
        "description": "Share of messages answered times the share of satisfied answers.",
    },
)

#: A custom KPI with a misspelt metric, whose load-time error the document quotes.
MISSPELT_EXAMPLE = {"name": "video_engagement", "expr": "engagments / video_views"}

#: The accounts of the aggregation example: (clicks, impressions).
AGGREGATION_EXAMPLE = {"A": (50, 1000), "B": (450, 3000)}

WIDTH = 96

_OBJECTIVES = {
    Objective.REACH: "How many people the accounts reach, and how the audience grows.",
    Objective.ENGAGEMENT: "How people interact with the content the accounts publish.",
    Objective.ROI: "What social media brings the business: visits, conversions and money.",
    Objective.LOYALTY: "Whether customers stay, recommend the brand and get answers.",
}

_UNITS = {
    KpiUnit.RATIO: "ratio (shown here as a percentage: 0.25 is 25 %)",
    KpiUnit.COUNT: "count",
    KpiUnit.PER_POST: "count per published post",
    KpiUnit.SECONDS: "seconds",
    KpiUnit.CURRENCY: "the account's currency",
}

_FUNCTIONS = {
    "first": "`first(a, b, ...)`: the first operand that is present (fallbacks)",
    "total": "`total(a, b, ...)`: the sum of the operands that are present; absent if none is",
    "min": "`min(a, b, ...)`: the smallest operand; absent if any operand is",
    "max": "`max(a, b, ...)`: the largest operand; absent if any operand is",
    "abs": "`abs(a)`: the absolute value",
    "start": "`start(x)`: a level metric's value at the start of the window",
    "delta": "`delta(x)`: the change of a level or running total over the window",
}

_CUSTOM_KEYS = {
    "name": "The KPI's name: up to 63 lower-case letters, digits and `_`, starting with a "
    "letter; not the name of a built-in KPI or of a vocabulary metric. Exported as "
    "`kpiwatch_kpi_<name>` with the suffix of the unit",
    "expr": "The formula (see below)",
    "unit": "The unit",
    "direction": "Whether a higher or a lower value is better",
    "objective": "The objective it serves",
    "title": "The title in reports",
    "description": "What it means",
}
_CUSTOM_EMPTY_DEFAULTS = {"title": "the name, capitalised", "description": "the formula"}

_HEADER = """\
# KPIs

<!-- Generated from daemon/kpiwatch/kpi/catalogue.py and daemon/kpiwatch/config.py by
     `python -m kpiwatch.kpis_doc > docs/kpis.md`. Do not edit by hand:
     tests/unit/test_kpis_doc.py fails while this file and the catalogue differ. -->
"""

_INTRODUCTION = (
    "A **KPI** in kpiwatch is a figure computed from the raw metrics of the vocabulary "
    "([metrics](metrics.md)) over a window of time: a numerator, optionally divided by a "
    "denominator, both written in the formula language described under "
    "[Custom KPIs](#custom-kpis). Each KPI serves one of four objectives (reach, engagement, "
    "return on investment, loyalty) and has a unit and a direction (whether a higher or a "
    "lower value is better). kpiwatch computes every KPI for every account and window, exports "
    "the values on `GET /metrics` and aggregates them over groups of accounts in the KPI report "
    "(`kpiwatch kpis --by LABELS`, `GET /api/v1/kpis?by=LABELS`).",
    "Where established tools disagree on a definition (is the engagement rate per reached "
    "account or per follower?), kpiwatch uses a default that the `kpis:` section of the "
    "configuration can change. Each KPI below says which definition it uses; "
    "[Choosing between definitions](#choosing-between-definitions) lists the settings.",
)


# --- formatting ---------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _codes(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) or "-"


def _starts_block(token: str) -> bool:
    """True when a line starting with ``token`` would not be a plain paragraph line."""
    return (
        token in ("+", "-", "*", "/", "=")
        or token[:1] in "#>|"
        or bool(re.fullmatch(r"\d+[.)]", token))
    )


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    """``text`` in lines of at most WIDTH characters, not broken inside code spans or links."""
    unbroken = r"`[^`]*`|\[[^\]]*\]\([^)]*\)| %"  # code spans, links, a space before %
    protected = re.sub(unbroken, lambda m: m.group().replace(" ", "\0"), text)
    lines: list[str] = []
    line, empty = first, True
    for token in protected.split():
        if empty:
            line += token
        elif len(line) + 1 + len(token) > WIDTH and not _starts_block(token):
            lines.append(line)
            line = rest + token
        else:
            line += " " + token
        empty = False
    lines.append(line)
    return [line.replace("\0", " ") for line in lines]


def _paragraphs(*texts: str) -> list[str]:
    lines: list[str] = []
    for text in texts:
        lines += [*_wrap(text), ""]
    return lines


def _bullets(*items: str) -> list[str]:
    lines: list[str] = []
    for item in items:
        lines += _wrap(item, "- ", "  ")
    return [*lines, ""]


def _number(value: float) -> str:
    """A plain number: thousands separated, at most four decimals, no trailing zeros."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def format_value(value: float, unit: KpiUnit) -> str:
    """A KPI value as the document shows it, for its unit."""
    if unit is KpiUnit.RATIO:
        return f"{_percent(value)} (ratio {value:.6g})"
    if unit is KpiUnit.CURRENCY:
        return f"{value:,.2f} in the account's currency"
    if unit is KpiUnit.SECONDS:
        return f"{_number(value)} s ({_number(value / 60)} minutes)"
    if unit is KpiUnit.PER_POST:
        return f"{_number(value)} per post"
    return _number(value)


def _yaml(value: object) -> str:
    """``value`` as written in the configuration file."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def kpi_heading(kpi: KpiDefinition) -> str:
    """The heading of a KPI's section (without the ``###``)."""
    return f"{kpi.title} (`{kpi.name}`)"


# --- what a KPI reads ---------------------------------------------------------------------------


def _in_order(names: Iterable[str], text: str) -> list[str]:
    """``names`` in the order they first appear in ``text``."""

    def position(name: str) -> int:
        found = re.search(rf"\b{re.escape(name)}\b", text)
        return found.start() if found else len(text)

    return sorted(set(names), key=lambda n: (position(n), n))


def raw_metrics(kpi: KpiDefinition, catalogue: Mapping[str, KpiDefinition]) -> list[str]:
    """The vocabulary metrics the KPI reads, with inlined KPIs and ``basis`` expanded."""
    out: list[str] = []
    for text in (kpi.numerator, kpi.denominator):
        if text is None:
            continue
        expression = parse(text)
        for name in _in_order(expression.names(), expression.text):
            if name == "basis":
                expanded = list(kpi.basis)
            elif name in INLINED and name != kpi.name:
                expanded = raw_metrics(catalogue[name], catalogue)
            else:
                expanded = [name]
            out += [n for n in expanded if n not in out]
    return out


def _money(kpi: KpiDefinition, catalogue: Mapping[str, KpiDefinition]) -> bool:
    if kpi.unit is KpiUnit.CURRENCY:
        return True
    metrics = (vocabulary.get(n) for n in raw_metrics(kpi, catalogue))
    return any(m is not None and m.unit is vocabulary.Unit.CURRENCY for m in metrics)


def _aggregation(kpi: KpiDefinition, catalogue: Mapping[str, KpiDefinition]) -> str:
    if kpi.share_of_market:
        text = (
            "the group's own mentions over the mentions of all own and competitor accounts "
            "on the group's platforms"
        )
    elif kpi.pairing == "group":
        text = "each input summed over the group's accounts, then the formula"
    elif kpi.denominator is None:
        text = "the sum over the accounts"
    else:
        text = (
            "the sum of the numerators over the sum of the denominators of the accounts that "
            "report both"
        )
    if kpi.basis:
        text += ", per basis"
    if _money(kpi, catalogue):
        text += ", per currency"
    return text


def _labels(kpi: KpiDefinition, catalogue: Mapping[str, KpiDefinition]) -> list[str]:
    labels = ["window", "period"]
    if kpi.basis:
        labels.append("basis")
    if _money(kpi, catalogue):
        labels.append("currency")
    return labels


# --- worked examples ----------------------------------------------------------------------------


class WorkedExample(typing.NamedTuple):
    """A KPI's example inputs and what its formula gives on them."""

    inputs: list[tuple[str, float | None]]  # reference text and value (None: absent)
    numerator: float | None
    denominator: float | None
    value: float | None


def worked_example(kpi: KpiDefinition) -> WorkedExample:
    """The KPI's numerator and denominator evaluated on its example inputs.

    Inputs the formula read but the example leaves out are listed as absent.
    """
    read: list[str] = []

    def lookup(ref: Ref) -> float | None:
        text = str(ref)
        if text not in read:
            read.append(text)
        return kpi.example.get(text)

    numerator = parse(kpi.numerator).evaluate(lookup)
    if kpi.share_of_market:
        denominator = kpi.example.get(f"market({kpi.numerator})")
    elif kpi.denominator is not None:
        denominator = parse(kpi.denominator).evaluate(lookup)
    else:
        denominator = None
    if kpi.denominator is None and not kpi.share_of_market:
        value = numerator
    elif numerator is None or not denominator:
        value = None
    else:
        value = numerator / denominator
    inputs: list[tuple[str, float | None]] = list(kpi.example.items())
    inputs += [(text, None) for text in read if text not in kpi.example]
    return WorkedExample(inputs, numerator, denominator, value)


def _example_lines(kpi: KpiDefinition) -> list[str]:
    example = worked_example(kpi)
    if example.value is None or example.numerator is None:
        raise ValueError(
            f"the worked example of KPI {kpi.name!r} computes no value; give every input of "
            "its formula in its example in daemon/kpiwatch/kpi/catalogue.py"
        )
    lines = ["**Worked example.**", "", "| Input | Value |", "|---|---|"]
    for text, value in example.inputs:
        shown = "absent (not reported)" if value is None else _number(value)
        lines.append(f"| `{_cell(text)}` | {shown} |")
    lines.append("")
    numerator = _number(example.numerator)
    result = format_value(example.value, kpi.unit)
    if example.denominator is None:
        text = f"`{kpi.numerator}` = {numerator}, so **{kpi.title} = {result}**."
    else:
        denominator = f"market({kpi.numerator})" if kpi.share_of_market else kpi.denominator
        share = _number(example.denominator)
        text = (
            f"Numerator `{kpi.numerator}` = {numerator}, denominator `{denominator}` = {share}, "
            f"so **{kpi.title} = {numerator} / {share} = {result}**."
        )
    return [*lines, *_paragraphs(text)]


# --- sections -----------------------------------------------------------------------------------


def _computation_section(catalogue: Mapping[str, KpiDefinition]) -> list[str]:
    windows = ", ".join(f"`{format_duration(w)}`" for w in DEFAULT_WINDOWS)
    current, previous = PERIOD_NAMES
    kpis = list(catalogue.values())
    group = _codes(k.name for k in kpis if k.pairing == "group")
    basis = _codes(k.name for k in kpis if k.basis)
    money = _codes(k.name for k in kpis if _money(k, catalogue))
    market = _codes(k.name for k in kpis if k.share_of_market)
    (a_clicks, a_shown), (b_clicks, b_shown) = AGGREGATION_EXAMPLE.values()
    clicks, shown = a_clicks + b_clicks, a_shown + b_shown
    rate_a, rate_b = a_clicks / a_shown, b_clicks / b_shown
    export = KpiExportSettings.model_fields
    return [
        "## How KPIs are computed",
        "",
        "### Windows",
        "",
        *_paragraphs(
            f"Every KPI is computed over each window of `kpis.windows` (default {windows}; "
            "whole hours of at least `1h`). Each window has two values: the window that ends at "
            f'the account\'s newest sample (`period="{current}"`) and the previous window of '
            f'equal length, which ends where the current one starts (`period="{previous}"`), '
            "for period-over-period change."
        ),
        "### Window values of the inputs",
        "",
        "A metric's value over a window W ending at time t is taken from the stored history:",
        "",
        *_bullets(
            "a total over a window (impressions, likes, sessions): the platform's own figure "
            "for that window where it reports one (its sample at t, found within max(1h, W/10) "
            "before t); otherwise, where the platform reports daily totals, the sum of the "
            "whole UTC day totals of the W/1d complete days before t's day, all of which must "
            "be present;",
            "a level (followers, customers): its value at the end of the window; `start(x)` is "
            "its value at the start of the window and `delta(x)` the change over the window;",
            "a running total (posts): its increase over the window (absent if it went down);",
            'a filtered reference (`sessions(medium="social")`) sums the series whose labels '
            "match; money in different currencies is never summed.",
        ),
        "### Missing inputs give no value",
        "",
        *_paragraphs(
            "A KPI whose inputs are missing has no value: its series is absent, never 0. An "
            "absent operand makes a sum, difference, product or quotient absent, and so does a "
            "division by zero. Only `first()` (the first input present) and `total()` (the sum "
            "of the inputs present) accept absent operands; that is how the built-in KPIs fall "
            "back, for instance from the platform's own total of engagements to the sum of its "
            "components."
        ),
        "### Aggregation over accounts",
        "",
        *_paragraphs(
            "The KPI report groups accounts by labels (`account`, `platform` or the accounts' "
            "own `labels:`). The ratio of a group is the **sum of the numerators over the sum "
            "of the denominators** of the accounts that report both, never the average of the "
            "accounts' ratios. With the click-through rate:"
        ),
        "| Account | Clicks | Impressions | Click-through rate |",
        "|---|---|---|---|",
        f"| A | {_number(a_clicks)} | {_number(a_shown)} | {_percent(rate_a)} |",
        f"| B | {_number(b_clicks)} | {_number(b_shown)} | {_percent(rate_b)} |",
        f"| A and B | {_number(clicks)} | {_number(shown)} | **{_percent(clicks / shown)}** |",
        "",
        *_paragraphs(
            f"The group's click-through rate is {_number(clicks)} / {_number(shown)} = "
            f"{_percent(clicks / shown)}, not the average of the two rates, "
            f"({_percent(rate_a)} + {_percent(rate_b)}) / 2 = {_percent((rate_a + rate_b) / 2)}, "
            "which would give A's few impressions the weight of B's many. Counts are summed."
        ),
        *_bullets(
            f"**Pairing by group.** The inputs of {group} may come from different accounts of "
            "a group (revenue from web analytics, costs from a spreadsheet), so each input is "
            "summed over the group and then the formula is applied.",
            f"**Per basis.** {basis} divide by a basis: the first metric of a chain that the "
            "account reports and that is not 0. The basis used is the `basis` label, and groups "
            "are formed per basis, so rates by reach and by followers are never mixed.",
            f"**Per currency.** {money} involve money; they are computed and aggregated per "
            "currency (the `currency` label) and never summed across currencies.",
        ),
        "### Competitor accounts and share of voice",
        "",
        *_paragraphs(
            "Accounts with `competitor: true` are polled, and their KPIs computed and exported, "
            'like the others (with the label `competitor="true"`), but they join group '
            "aggregates only when the report is grouped by `account`. They make up the market "
            f"of {market}: the mentions of an own account or group, divided by the mentions of "
            "all own and competitor accounts on the same platforms in the window."
        ),
        "### Exported series",
        "",
        *_bullets(
            "`kpiwatch_kpi_<name>` with the suffix of the unit (`_ratio`, `_seconds`): one "
            "series per account, window and period, with the account's labels, `window`, "
            f"`period` (`{current}`, `{previous}`) and, where they apply, `basis` and "
            "`currency`. The previous window is exported while `kpis.export.previous` is "
            f"`{_yaml(export['previous'].default)}` (the default).",
            "`kpiwatch_kpi_<name>_numerator` and `kpiwatch_kpi_<name>_denominator` of the KPIs "
            "that divide, for the current window, while `kpis.export.components` is "
            f"`{_yaml(export['components'].default)}` (the default). They can be summed across "
            "accounts: `sum by (basis, currency) (...numerator) / sum by (basis, currency) "
            "(...denominator)` aggregates a ratio in PromQL as kpiwatch does.",
            "`kpiwatch_kpi_info`: one series of value 1 per KPI, with the labels `kpi`, "
            "`title`, `objective`, `direction`, `unit` and `formula`.",
        ),
    ]


def _summary_section(kpis: Sequence[KpiDefinition]) -> list[str]:
    lines = [
        "## All KPIs",
        "",
        "| KPI | Title | Objective | Unit | Better | Formula | Exported metric |",
        "|---|---|---|---|---|---|---|",
    ]
    for kpi in kpis:
        lines.append(
            f"| [`{kpi.name}`](#{anchor(kpi_heading(kpi))}) | {_cell(kpi.title)} "
            f"| {kpi.objective.value} | {kpi.unit.value} | {kpi.direction.value} "
            f"| `{_cell(kpi.formula)}` | `{kpi.metric_name}` |"
        )
    return [*lines, ""]


def _kpi_section(kpi: KpiDefinition, catalogue: Mapping[str, KpiDefinition]) -> list[str]:
    labels = _codes(_labels(kpi, catalogue))
    lines = [
        f"### {kpi_heading(kpi)}",
        "",
        *_paragraphs(kpi.description),
        "| | |",
        "|---|---|",
        f"| Formula | `{_cell(kpi.formula)}` |",
        f"| Unit | {_UNITS[kpi.unit]} |",
        f"| Better | {kpi.direction.value} |",
        f"| Raw metrics | {_codes(raw_metrics(kpi, catalogue))} |",
        f"| Aggregation | {_aggregation(kpi, catalogue)} |",
        f"| Exported metric | `{kpi.metric_name}` (labels {labels}) |",
        "",
    ]
    if kpi.definitions:
        lines += _paragraphs(f"**Definitions in use.** {kpi.definitions}")
    return lines + _example_lines(kpi)


def _objective_sections(kpis: Sequence[KpiDefinition]) -> list[str]:
    catalogue = {k.name: k for k in kpis}
    lines: list[str] = []
    for objective, text in _OBJECTIVES.items():
        title = "Return on investment" if objective is Objective.ROI else objective.value.title()
        lines += [f"## {title}", "", text, ""]
        for kpi in kpis:
            if kpi.objective is objective:
                lines += _kpi_section(kpi, catalogue)
    return lines


def _constraints(field: typing.Any) -> str:
    """The numeric and length limits of a pydantic field, in words."""
    symbols = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    parts = []
    for item in field.metadata:
        for attribute, symbol in symbols.items():
            limit = getattr(item, attribute, None)
            if isinstance(limit, int | float):
                parts.append(f"{symbol} {limit:g}")
        if isinstance(item, annotated_types.MinLen):
            parts.append(f"at least {item.min_length} item" + "s" * (item.min_length != 1))
    return ", ".join(parts)


def changed_kpis(settings: KpiSettings) -> list[str]:
    """Built-in KPIs computed differently under ``settings`` than under the defaults."""

    def shape(k: KpiDefinition) -> tuple[object, ...]:
        return (k.numerator, k.denominator, k.unit, k.basis)

    before = {k.name: shape(k) for k in builtin_kpis()}
    after = builtin_kpis(settings)
    changed = {k.name for k in after if before.get(k.name) != shape(k)}
    grown = True
    while grown:  # a KPI that uses a changed KPI by name changes with it
        grown = False
        for k in after:
            texts = [t for t in (k.numerator, k.denominator) if t is not None]
            if k.name not in changed and any(parse(t).names() & changed for t in texts):
                changed.add(k.name)
                grown = True
    return [k.name for k in after if k.name in changed]


def _choices_section() -> list[str]:
    lines = [
        "## Choosing between definitions",
        "",
        *_paragraphs(
            "These settings of `kpis:` change the definition of built-in KPIs (all other KPIs "
            "are defined one way). The last column lists the KPIs each setting changes."
        ),
        "| Setting | Default | Alternatives | Meaning | KPIs it changes |",
        "|---|---|---|---|---|",
    ]
    for section, name, example in DEFINITION_SETTINGS:
        model: type[BaseModel] = KpiSettings.model_fields[section].annotation  # type: ignore[assignment]
        field = model.model_fields[name]
        default = field.get_default(call_default_factory=True)
        if typing.get_origin(field.annotation) is typing.Literal:
            others = [c for c in typing.get_args(field.annotation) if c != default]
            alternatives = _codes(str(c) for c in others)
        else:
            others = [example]
            limits = _constraints(field)
            alternatives = f"e.g. `{_yaml(example)}`" + (f" ({limits})" if limits else "")
        changed: list[str] = []
        for other in others:
            settings = KpiSettings.model_validate({section: {name: other}})
            changed += [n for n in changed_kpis(settings) if n not in changed]
        lines.append(
            f"| `kpis.{section}.{name}` | `{_yaml(default)}` | {alternatives} "
            f"| {_cell(field.description or '')} | {_codes(changed)} |"
        )
    return [*lines, ""]


def _custom_yaml() -> list[str]:
    lines = ["```yaml", "kpis:", "  custom:"]
    for kpi in CUSTOM_EXAMPLE:
        for i, (key, value) in enumerate(kpi.items()):
            text = f"'{value}'" if any(c in value for c in '":#') else value
            lines.append(f"    {'  ' if i else '- '}{key}: {text}")
    return [*lines, "```", ""]


def _misspelt_message() -> str:
    try:
        build_catalogue(KpiSettings.model_validate({"custom": [MISSPELT_EXAMPLE]}))
    except KpiDefinitionError as exc:
        if exc.kpi != MISSPELT_EXAMPLE["name"]:
            raise
        return str(exc)
    raise ValueError(f"the misspelt custom KPI {MISSPELT_EXAMPLE} was accepted")


def _custom_keys() -> list[str]:
    lines = ["| Key | Default | Meaning |", "|---|---|---|"]
    for key, field in CustomKpi.model_fields.items():
        if field.is_required():
            default = "required"
        elif field.default == "":
            default = _CUSTOM_EMPTY_DEFAULTS.get(key, "empty")
        else:
            default = f"`{_yaml(field.default)}`"
        meaning = _CUSTOM_KEYS.get(key) or field.description or ""
        if typing.get_origin(field.annotation) is typing.Literal:
            meaning += ": " + _codes(str(c) for c in typing.get_args(field.annotation))
        lines.append(f"| `{key}` | {default} | {_cell(meaning)}. |")
    return [*lines, ""]


def _custom_section() -> list[str]:
    functions = [f"{_FUNCTIONS[name]};" for name in FUNCTIONS]
    functions[-1] = functions[-1].rstrip(";") + "."
    return [
        "## Custom KPIs",
        "",
        "`kpis.custom` adds KPIs of your own. Each entry has these keys:",
        "",
        *_custom_keys(),
        "For example:",
        "",
        *_custom_yaml(),
        "### The formula language",
        "",
        *_paragraphs(
            "A formula is arithmetic over names; it is parsed and checked, never run as code. "
            "It may use:"
        ),
        *_bullets(
            "the raw metrics of the vocabulary by name (`likes`, `sessions`; see "
            "[metrics](metrics.md));",
            'a metric filtered by its labels, such as `sessions(medium="social")` or '
            '`revenue(source="newsletter", currency="EUR")`: the matching series are summed;',
            "other KPIs by name (`interactions`, `published_posts`, `engagement_rate` or another "
            "custom KPI);",
            "numbers, `+`, `-`, `*`, `/`, unary minus and parentheses;",
            *functions,
        ),
        "### Checks when the configuration is loaded",
        "",
        *_paragraphs(
            "`kpiwatch check-config`, start-up and every reload refuse a custom KPI that cannot "
            "be computed, naming `kpis.custom[N].expr` and the fix:"
        ),
        *_bullets(
            "a name that is neither a metric nor a KPI, with the closest name as a suggestion;",
            "a division by a constant that is 0;",
            "KPIs that depend on themselves, directly or through others (`a` uses `b`, `b` "
            "uses `a`), with the cycle spelt out;",
            "`start()` or `delta()` of a metric that is a total over a window "
            "(`start(likes)`): they apply to levels such as `followers` and `customers`;",
            "a filter on a label the metric does not have, and filters or `start()`/`delta()` "
            "on a KPI;",
            "a name already used by a built-in KPI or a vocabulary metric.",
        ),
        *_paragraphs(
            f"For instance, a custom KPI with the formula `{MISSPELT_EXAMPLE['expr']}` is "
            "refused with:"
        ),
        *_wrap(_misspelt_message(), "> ", "> "),
        "",
        "### How custom KPIs are computed and aggregated",
        "",
        *_bullets(
            "A formula that is a division (`a / b` at its top) has a numerator and a "
            "denominator, like the built-in ratios: over a group of accounts its numerators and "
            "its denominators are summed and the group's value is their quotient "
            "(`video_view_rate` and `social_session_share` above).",
            "A formula without a division at its top is computed per account and summed over "
            "a group (`conversations`). Other formulas may use it by name: its formula is put "
            "in their place (`conversations_per_post` divides the sum of comments and replies "
            "by the posts published).",
            "A formula that uses KPIs that are ratios (`response_rate`, "
            "`customer_satisfaction`) is computed from those KPIs' values: for an account from "
            "the account's values, for a group from the group's aggregated values "
            "(`service_score`). It has no numerator or denominator series.",
        ),
    ]


def _segments_section() -> list[str]:
    fields = SegmentSettingsModel.model_fields
    families = [name for _, group in SEGMENT_FAMILIES for name, _ in group]
    by_hour = dict(SEGMENT_FAMILIES)["hour"]
    settings = [
        f"`kpis.segments.{key}` (default `{_yaml(field.default)}`): {field.description}"
        for key, field in fields.items()
    ]
    return [
        "## Content segments",
        "",
        *_paragraphs(
            "Besides KPIs over windows, kpiwatch sums the figures of the posts published in the "
            "segment window by the posts' features, to show which content and which times of "
            "publication work best. Posts are attributed by publication time: each post "
            "published in the window counts once, with its lifetime counters as last polled."
        ),
        "| Dimension (label) | Values |",
        "|---|---|",
        f"| `{DIMENSIONS[0]}` | {_codes(vocabulary.CONTENT_TYPES)} |",
        f"| `{DIMENSIONS[1]}` | {_codes(WEEKDAYS)} |",
        f"| `{DIMENSIONS[2]}` | `00` to `23` |",
        "",
        *_paragraphs(
            "For each account and each value of each dimension, with the label `window`, "
            f"kpiwatch exports {_codes(families)}. A post's engagements are the platform's "
            "total where it reports one, else the sum of `kpis.interactions.components`; the "
            "reach sums only the posts that report reach, and a segment without such posts "
            "has no reach series. Sum segments over accounts and divide the sums, for instance "
            "for the engagements per post by hour of publication:"
        ),
        "```promql",
        f"sum by (hour) ({by_hour[1][0]}) / sum by (hour) ({by_hour[0][0]})",
        "```",
        "",
        "Settings:",
        "",
        *_bullets(*settings),
        *_paragraphs(
            "The weekday and the hour are those of the publication in `kpis.segments.timezone`, "
            "daylight saving time included: set it to the time zone of the audience."
        ),
    ]


def render_kpis_doc() -> str:
    """The text of docs/kpis.md."""
    kpis = builtin_kpis()
    catalogue = {k.name: k for k in kpis}
    lines = [_HEADER, *_paragraphs(*_INTRODUCTION)]
    lines += _computation_section(catalogue)
    lines += _summary_section(kpis)
    lines += _objective_sections(kpis)
    lines += _choices_section()
    lines += _custom_section()
    lines += _segments_section()
    lines += _platforms_section(kpis)
    return "\n".join(lines).rstrip("\n") + "\n"


#: Platforms of data typed in or exported by hand: they can carry any metric.
MANUAL_PLATFORMS = ("csv",)
#: Platforms that are not sources of real data (the demo) or feed anything they are mapped to.
_NOT_IN_TABLE_PREFIXES = ("demo_",)
_GENERIC = ("http_json",)


def builtin_platform_metrics() -> dict[str, tuple[str, ...]]:
    """The account-level metrics of each platform kpiwatch itself ships (not the demo, not
    third-party plugins installed beside it)."""
    from kpiwatch.plugins import load_plugins

    registry = load_plugins(environ={})
    shipped = {
        name
        for name, info in registry.plugins.items()
        if info.distribution == "kpiwatch" or info.source == "in process"
    }
    return {
        name: tuple(platform.metrics)
        for name, platform in sorted(registry.platforms.items())
        if registry.platform_owner.get(name) in shipped
        and not name.startswith(_NOT_IN_TABLE_PREFIXES)
        and name not in _GENERIC
    }


def _platforms_section(kpis: Sequence[KpiDefinition]) -> list[str]:
    from kpiwatch.kpi.compiled import build_catalogue
    from kpiwatch.kpi.coverage import coverage

    platforms = builtin_platform_metrics()
    found = coverage(build_catalogue(), platforms, manual=MANUAL_PLATFORMS)
    names = sorted(platforms, key=lambda n: (n == "csv", n))  # manual data last
    lines = [
        "## KPIs by platform",
        "",
        *_wrap(
            "Which of the platforms kpiwatch ships feed each KPI: a ✓ where an account of the "
            "platform alone gives the KPI a value (the engine is run on an account reporting "
            "exactly the metrics the platform reports, `Platform.metrics`). KPIs that add up "
            "inputs from several accounts of a group (ROI: revenue from web analytics, spend "
            "from ads) name the pairs of platforms that feed them together. `csv` imports "
            "any metric from spreadsheet or CRM exports (survey answers, revenue, costs), so "
            "it feeds every KPI; `http_json` maps any JSON API and is not listed. A test holds "
            "the KPIs that only `csv` feeds to the ones whose data no API serves."
        ),
        "",
        "| KPI | " + " | ".join(f"`{n}`" for n in names) + " | Together |",
        "|---|" + "---|" * len(names) + "---|",
    ]
    for kpi in kpis:
        cells = ["✓" if n in found.alone.get(kpi.name, ()) else "" for n in names]
        pairs = ", ".join(f"`{a}` + `{b}`" for a, b in found.together.get(kpi.name, ()))
        lines.append(
            f"| [{kpi.title}](#{anchor(kpi_heading(kpi))}) | " + " | ".join(cells) + f" | {pairs} |"
        )
    lines.append("")
    return lines


def main() -> None:
    sys.stdout.write(render_kpis_doc())


if __name__ == "__main__":
    main()
