"""docs/kpis.md agrees with the KPI catalogue, and its worked examples really compute."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kpiwatch import vocabulary
from kpiwatch.config import KpiSettings
from kpiwatch.kpi.catalogue import KpiDefinition, KpiUnit, builtin_kpis
from kpiwatch.kpi.compiled import build_catalogue, compile_definitions
from kpiwatch.kpi.engine import AccountMeta, InputTable, aggregate, compute
from kpiwatch.kpi.exposition import SEGMENT_FAMILIES
from kpiwatch.kpi.expressions import FUNCTIONS, Ref, parse
from kpiwatch.kpis_doc import render_kpis_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"
REGENERATE = "python -m kpiwatch.kpis_doc > docs/kpis.md"
KPIS = builtin_kpis()
OBJECTIVE_HEADINGS = {
    "reach": "## Reach",
    "engagement": "## Engagement",
    "roi": "## Return on investment",
    "loyalty": "## Loyalty",
}


@pytest.fixture(scope="module")
def doc() -> str:
    return render_kpis_doc()


def sections(text: str) -> dict[str, str]:
    """The text under each ``##`` and ``###`` heading, up to the next such heading."""
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def flat(text: str) -> str:
    """``text`` with every run of white space made one space (undoes line wrapping)."""
    return " ".join(text.split())


def kpi_section(text: str, kpi: KpiDefinition) -> str:
    heading = f"### {kpi.title} (`{kpi.name}`)"
    found = sections(text)
    assert heading in found, f"docs/kpis.md has no section {heading!r}"
    return found[heading]


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    """The cells of the table rows of ``text`` whose first cell is ``first_cell``."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if cells and cells[0] == first_cell:
                rows.append(cells)
    return rows


def codes(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


# --- the committed file --------------------------------------------------------------------------


def test_committed_doc_matches_the_catalogue(doc):
    assert DOC.read_text(encoding="utf-8") == doc, f"docs/kpis.md is out of date; run: {REGENERATE}"


def test_module_prints_the_doc(doc):
    result = subprocess.run(
        [sys.executable, "-m", "kpiwatch.kpis_doc"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == doc


# --- one section per KPI -------------------------------------------------------------------------


@pytest.mark.parametrize("kpi", KPIS, ids=lambda k: k.name)
def test_every_kpi_has_its_section(doc, kpi):
    body = kpi_section(doc, kpi)
    assert f"| Formula | `{kpi.formula}` |" in body
    assert f"| Exported metric | `{kpi.metric_name}`" in body
    assert f"| Better | {kpi.direction.value} |" in body
    assert flat(kpi.description) in flat(body)
    if kpi.definitions:
        assert f"**Definitions in use.** {flat(kpi.definitions)}" in flat(body)
    assert "**Worked example.**" in body
    summary = table_rows(doc, f"[`{kpi.name}`](#{anchor_of(f'{kpi.title} (`{kpi.name}`)')})")
    assert len(summary) == 1, f"{kpi.name} is not once in the summary table"
    assert summary[0][2:] == [
        kpi.objective.value,
        kpi.unit.value,
        kpi.direction.value,
        f"`{kpi.formula}`",
        f"`{kpi.metric_name}`",
    ]


def test_kpi_sections_are_the_catalogue_under_their_objectives(doc):
    headings = re.findall(r"^(##|###) (.*)$", doc, flags=re.MULTILINE)
    documented = {}
    objective = None
    for level, title in headings:
        if level == "##":
            objective = f"## {title}"
        elif match := re.fullmatch(r".* \(`([a-z0-9_]+)`\)", title):
            documented[match.group(1)] = objective
    expected = {k.name: OBJECTIVE_HEADINGS[k.objective.value] for k in KPIS}
    assert documented == expected


def anchor_of(heading: str) -> str:
    """GitHub's id of a heading: lower case, punctuation dropped, spaces made hyphens."""
    return re.sub(r"[^a-z0-9_\- ]", "", heading.lower()).replace(" ", "-")


def test_links_point_at_headings(doc):
    anchors = {anchor_of(h) for h in re.findall(r"^#+ (.*)$", doc, flags=re.MULTILINE)}
    targets = set(re.findall(r"\]\(#([^)]+)\)", doc))
    assert targets, "the document links to none of its sections"
    assert sorted(targets - anchors) == []


@pytest.mark.parametrize("kpi", KPIS, ids=lambda k: k.name)
def test_raw_metrics_are_the_vocabulary_metrics_of_the_formula(doc, kpi):
    [row] = table_rows(kpi_section(doc, kpi), "Raw metrics")
    listed = codes(row[1])
    assert [n for n in listed if vocabulary.get(n) is None] == []
    names = set()
    for text in (kpi.numerator, kpi.denominator):
        if text is not None:
            names |= parse(text).names()
    assert {n for n in names if vocabulary.get(n)} <= set(listed)
    if kpi.basis:
        assert set(kpi.basis) <= set(listed)


# --- worked examples ---------------------------------------------------------------------------


def _references(node: ast.expr) -> set[str]:
    return {str(ref) for ref in parse(ast.unparse(node)).refs()}


def needed(node: ast.expr, given: set[str]) -> set[str]:
    """The references an example must give to compute ``node``.

    Of ``first(a, b, ...)`` only the operand the example uses: the first one it gives any
    input of (its other operands are fallbacks or preferences the example leaves absent).
    """
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "first":
            for operand in node.args:
                refs = needed(operand, given)
                if refs & given or not refs:
                    return refs
            return set().union(*(needed(operand, given) for operand in node.args))
        if node.func.id in FUNCTIONS and node.func.id not in ("start", "delta"):
            return set().union(*(needed(operand, given) for operand in node.args))
        return _references(node)
    if isinstance(node, ast.BinOp):
        return needed(node.left, given) | needed(node.right, given)
    if isinstance(node, ast.UnaryOp):
        return needed(node.operand, given)
    return _references(node)


def formula_texts(kpi: KpiDefinition) -> list[str]:
    texts = [kpi.numerator]
    if kpi.denominator is not None and not kpi.share_of_market:
        texts.append(kpi.denominator)
    return texts


@pytest.mark.parametrize("kpi", KPIS, ids=lambda k: k.name)
def test_examples_cover_their_formulas(kpi):
    given = set(kpi.example)
    need: set[str] = set()
    every: set[str] = set()
    for text in formula_texts(kpi):
        tree = ast.parse(parse(text).text, mode="eval").body
        need |= needed(tree, given)
        every |= _references(tree)
    if kpi.share_of_market:
        need.add(f"market({kpi.numerator})")
        every.add(f"market({kpi.numerator})")
    missing = sorted(need - given)
    assert missing == [], (
        f"the example of KPI {kpi.name!r} gives no value for {missing}; add them to its "
        "example in daemon/kpiwatch/kpi/catalogue.py"
    )
    unused = sorted(given - every)
    assert unused == [], f"the example of KPI {kpi.name!r} has inputs its formula never reads"


def expected_result(kpi: KpiDefinition) -> tuple[float, float | None, float]:
    """(numerator, denominator, value) of the example, with Expression.evaluate."""

    def lookup(ref: Ref) -> float | None:
        return kpi.example.get(str(ref))

    numerator = parse(kpi.numerator).evaluate(lookup)
    assert numerator is not None, f"the numerator of KPI {kpi.name!r} computes nothing"
    if kpi.share_of_market:
        denominator = kpi.example[f"market({kpi.numerator})"]
    elif kpi.denominator is not None:
        denominator = parse(kpi.denominator).evaluate(lookup)
        assert denominator, f"the denominator of KPI {kpi.name!r} is absent or 0"
    else:
        return numerator, None, numerator
    return numerator, denominator, numerator / denominator


def shown(value: float, unit: KpiUnit) -> str:
    if unit is KpiUnit.RATIO:
        return f"{value * 100:.2f} % (ratio {value:.6g})"
    if unit is KpiUnit.CURRENCY:
        return f"{value:,.2f} in the account's currency"
    if unit is KpiUnit.SECONDS:
        return f"{value:,.0f} s ({value / 60:g} minutes)"
    if unit is KpiUnit.PER_POST:
        return f"{value:g} per post"
    return f"{value:,.0f}"


@pytest.mark.parametrize("kpi", KPIS, ids=lambda k: k.name)
def test_worked_example_shows_inputs_and_result(doc, kpi):
    body = kpi_section(doc, kpi)
    for text, value in kpi.example.items():
        assert table_rows(body, f"`{text}`") == [[f"`{text}`", f"{value:,.0f}"]], text
    numerator, denominator, value = expected_result(kpi)
    result = shown(value, kpi.unit)
    if denominator is not None:
        result = f"{numerator:,.0f} / {denominator:,.0f} = {result}"
    assert f"**{kpi.title} = {result}**" in flat(body)


def test_aggregation_example_is_the_engines_ratio_of_sums(doc):
    assert table_rows(doc, "A") == [["A", "50", "1,000", "5.00 %"]]
    assert table_rows(doc, "B") == [["B", "450", "3,000", "15.00 %"]]
    assert table_rows(doc, "A and B") == [["A and B", "500", "4,000", "**12.50 %**"]]
    assert "500 / 4,000 = 12.50 %, not the average of" in flat(doc)
    assert "(5.00 % + 15.00 %) / 2 = 10.00 %" in flat(doc)

    [ctr] = [k for k in KPIS if k.name == "click_through_rate"]
    catalogue = compile_definitions([ctr])
    table = InputTable(catalogue.refs, windows=1)
    for account, (clicks, impressions) in {"a": (50, 1000), "b": (450, 3000)}.items():
        inputs = {(Ref("clicks"), 0, 0): clicks, (Ref("impressions"), 0, 0): impressions}
        table.set_row(AccountMeta(account, "demo", {"brand": "acme"}), inputs)
    [group] = aggregate(compute(table, catalogue), table, ctr.name, ["brand"], 0, 0)
    assert (group.numerator, group.denominator, group.accounts) == (500, 4000, 2)
    assert group.value == pytest.approx(0.125)


# --- settings, custom KPIs, segments ------------------------------------------------------------


def choice_rows(doc: str) -> dict[str, list[str]]:
    body = sections(doc)["## Choosing between definitions"]
    rows = {}
    for line in body.splitlines():
        if line.startswith("| `kpis."):
            cells = [c.strip() for c in line.split("|")[1:-1]]
            rows[codes(cells[0])[0]] = cells
    return rows


def test_every_setting_named_by_a_definition_is_in_the_choices(doc):
    named = {s for k in KPIS for s in re.findall(r"`(kpis\.[a-z_]+\.[a-z_]+)", k.definitions)}
    assert named, "no KPI names a setting; the test would check nothing"
    assert sorted(named - set(choice_rows(doc))) == []


def test_choices_show_defaults_and_alternatives_that_change_the_kpis(doc):
    defaults = KpiSettings()
    before = {k.name: (k.formula, k.unit, k.basis) for k in KPIS}
    for setting, (_, default, alternatives, _, changes) in choice_rows(doc).items():
        _, section, name = setting.split(".")
        assert yaml.safe_load(codes(default)[0]) == getattr(getattr(defaults, section), name)
        listed = set(codes(changes))
        for alternative in codes(alternatives):
            settings = KpiSettings.model_validate({section: {name: yaml.safe_load(alternative)}})
            after = {k.name: (k.formula, k.unit, k.basis) for k in builtin_kpis(settings)}
            changed = {n for n in before if before[n] != after[n]}
            assert changed, f"{setting}: {alternative} changes no KPI"
            assert changed <= listed, f"{setting}: {alternative} changes {changed - listed}"


def test_custom_kpi_example_loads_and_computes_as_described(doc):
    body = sections(doc)["## Custom KPIs"]
    [block] = re.findall(r"```yaml\n(.*?)```", body, flags=re.DOTALL)
    settings = KpiSettings.model_validate(yaml.safe_load(block)["kpis"])
    catalogue = build_catalogue(settings).by_name
    described = flat(sections(doc)["### How custom KPIs are computed and aggregated"])
    for custom in settings.custom:
        assert f"`{custom.name}`" in described, custom.name
    # divisions: a numerator and a denominator, summed separately over a group
    for name in ("video_view_rate", "social_session_share"):
        assert catalogue[name].denominator is not None, name
    # no division: computed per account, and put in place of its name in other formulas
    assert catalogue["conversations"].denominator is None
    assert catalogue["conversations_per_post"].numerator.names() == {"comments", "replies"}
    # uses ratio KPIs: computed from their values, without numerator or denominator
    assert catalogue["service_score"].derived is not None
    assert catalogue["service_score"].numerator is None


def test_formula_language_lists_every_function(doc):
    body = sections(doc)["### The formula language"]
    assert [f for f in FUNCTIONS if f"`{f}(" not in body] == []


def test_segments_section_names_every_family_and_the_time_zone(doc):
    body = sections(doc)["## Content segments"]
    for _, families in SEGMENT_FAMILIES:
        for name, _ in families:
            assert f"`{name}`" in body
    assert "`kpis.segments.timezone` (default `UTC`)" in body
